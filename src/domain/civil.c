/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "domain/civil.h"

#include <string.h>

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t civil_days_from_date(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void civil_date_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned civil_days_in_month(int64_t y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

bool civil_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool civil_parse_rfc3339(const char *s, size_t len, int64_t *unix_ms)
{
    int y, mo, d, h, mi, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return false;
    if (!civil_digits(s, 4, &y) || !civil_digits(s + 5, 2, &mo) || !civil_digits(s + 8, 2, &d) ||
        !civil_digits(s + 11, 2, &h) || !civil_digits(s + 14, 2, &mi) || !civil_digits(s + 17, 2, &sec))
        return false;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || (unsigned)d > civil_days_in_month(y, (unsigned)mo) || h > 23 ||
        mi > 59 || sec > 59)
        return false;
    size_t i = 19;
    int ms = 0;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3)
                ms = ms * 10 + (s[i] - '0');
            i++;
        }
        if (i == start)
            return false;
        for (size_t k = i - start; k < 3; k++)
            ms *= 10;
    }
    int offset_min = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (!civil_digits(s + i + 1, 2, &oh) || !civil_digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_min = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
        i += 6;
    } else {
        return false;
    }
    if (i != len)
        return false;
    int64_t days = civil_days_from_date(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)offset_min * 60;
    /* Only instants civil_format_rfc3339 can write back: 1970 to the end of 9999, in UTC. */
    if (secs < 0 || secs >= civil_days_from_date(10000, 1, 1) * 86400)
        return false;
    *unix_ms = secs * 1000 + ms;
    return true;
}

bool civil_parse_rfc3339_str(const char *s, int64_t *unix_ms)
{
    return civil_parse_rfc3339(s, strlen(s), unix_ms);
}

void civil_format_rfc3339(int64_t unix_ms, char out[21])
{
    int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_date_from_days(days, &y, &m, &d);
    unsigned h = (unsigned)(rem / 3600), mi = (unsigned)(rem % 3600 / 60), s = (unsigned)(rem % 60);
    /* Fixed layout written digit by digit: years outside 0..9999 are clamped, never overflow. */
    if (y < 0)
        y = 0;
    if (y > 9999)
        y = 9999;
    char *p = out;
    unsigned yy = (unsigned)y;
    *p++ = (char)('0' + yy / 1000);
    *p++ = (char)('0' + yy / 100 % 10);
    *p++ = (char)('0' + yy / 10 % 10);
    *p++ = (char)('0' + yy % 10);
    *p++ = '-';
    *p++ = (char)('0' + m / 10);
    *p++ = (char)('0' + m % 10);
    *p++ = '-';
    *p++ = (char)('0' + d / 10);
    *p++ = (char)('0' + d % 10);
    *p++ = 'T';
    *p++ = (char)('0' + h / 10);
    *p++ = (char)('0' + h % 10);
    *p++ = ':';
    *p++ = (char)('0' + mi / 10);
    *p++ = (char)('0' + mi % 10);
    *p++ = ':';
    *p++ = (char)('0' + s / 10);
    *p++ = (char)('0' + s % 10);
    *p++ = 'Z';
    *p = '\0';
}
