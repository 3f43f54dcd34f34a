/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "domain/period.h"

#include <string.h>

#include "domain/civil.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int32_t period_utc_offset(const void *zone, int64_t unix_s)
{
    (void)zone;
    (void)unix_s;
    return 0;
}

local_date period_local_date(period_zone z, int64_t unix_ms)
{
    int64_t s = floor_div(unix_ms, 1000);
    int64_t local = s + z.offset(z.zone, s);
    local_date d;
    civil_date_from_days(floor_div(local, 86400), &d.year, &d.month, &d.day);
    return d;
}

int64_t period_local_midnight(period_zone z, local_date d)
{
    int64_t local = civil_days_from_date(d.year, d.month, d.day) * 86400;
    /* Solve t + offset(t) = local: the offset is piecewise constant, two steps settle it. */
    int64_t t = local - z.offset(z.zone, local);
    t = local - z.offset(z.zone, t);
    /* In a gap (midnight skipped by a DST change) t lands before the day or is not a fixed point:
     * the day then begins at the first instant whose local date is d. */
    local_date got = period_local_date(z, t * 1000);
    if (got.year != d.year || got.month != d.month || got.day != d.day) {
        int64_t lo = t - 2 * 86400, hi = t + 2 * 86400;
        int64_t target = civil_days_from_date(d.year, d.month, d.day);
        while (hi - lo > 1) { /* first second whose local day number is >= target */
            int64_t mid = lo + (hi - lo) / 2;
            int64_t ld = floor_div(mid + z.offset(z.zone, mid), 86400);
            if (ld >= target)
                hi = mid;
            else
                lo = mid;
        }
        t = hi;
    }
    return t * 1000;
}

static local_date next_day(local_date d)
{
    return period_date_from_days(period_date_days(d) + 1);
}

periods period_at(period_zone z, int64_t unix_ms)
{
    periods p;
    memset(&p, 0, sizeof p);
    p.today = period_local_date(z, unix_ms);
    p.day_key = period_date_days(p.today);
    p.month_key = p.today.year * 12 + (int64_t)p.today.month - 1;
    p.day_start_ms = period_local_midnight(z, p.today);
    p.day_end_ms = period_local_midnight(z, next_day(p.today));
    local_date first = {p.today.year, p.today.month, 1};
    local_date next_first =
        p.today.month == 12 ? (local_date){p.today.year + 1, 1, 1} : (local_date){p.today.year, p.today.month + 1, 1};
    p.month_start_ms = period_local_midnight(z, first);
    p.month_end_ms = period_local_midnight(z, next_first);
    return p;
}

int64_t period_date_days(local_date d)
{
    return civil_days_from_date(d.year, d.month, d.day);
}

local_date period_date_from_days(int64_t days)
{
    local_date d;
    civil_date_from_days(days, &d.year, &d.month, &d.day);
    return d;
}

void period_date_format(local_date d, char out[11])
{
    unsigned y = (unsigned)(d.year < 0 ? 0 : d.year > 9999 ? 9999 : d.year);
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + d.month / 10);
    out[6] = (char)('0' + d.month % 10);
    out[7] = '-';
    out[8] = (char)('0' + d.day / 10);
    out[9] = (char)('0' + d.day % 10);
    out[10] = '\0';
}

int period_date_parse(const char *s, local_date *out)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int v[3];
    if (!civil_digits(s, 4, &v[0]) || !civil_digits(s + 5, 2, &v[1]) || !civil_digits(s + 8, 2, &v[2]))
        return -1;
    if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || (unsigned)v[2] > civil_days_in_month(v[0], (unsigned)v[1]))
        return -1;
    *out = (local_date){v[0], (unsigned)v[1], (unsigned)v[2]};
    return 0;
}
