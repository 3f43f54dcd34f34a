/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "domain/quota.h"

int64_t quota_remaining(opt_i64 limit, int64_t used)
{
    if (!limit.present)
        return -1;
    return used >= limit.v ? 0 : limit.v - used;
}

const char *quota_period_name(quota_period p)
{
    return p == QUOTA_MONTHLY ? "monthly" : "daily";
}

/* One period's verdict on the next call. */
static quota_outcome judge(const limits *l, opt_i64 limit, int64_t used)
{
    if (!limit.present || used + 1 <= limit.v)
        return QUOTA_SERVE;
    if (l->mode == LIMIT_BLOCK)
        return QUOTA_BLOCK;
    /* Overage mode: the call would be overage number (used + 1 - limit) of this period. */
    if (l->overage_cap.present && used + 1 - limit.v > l->overage_cap.v)
        return QUOTA_BLOCK;
    return QUOTA_SERVE_OVERAGE;
}

quota_decision quota_decide(const limits *l, int64_t day_used, int64_t month_used)
{
    quota_outcome d = judge(l, l->daily_limit, day_used);
    quota_outcome m = judge(l, l->monthly_limit, month_used);
    quota_decision out = {.outcome = QUOTA_SERVE, .period = QUOTA_DAILY};
    /* The stricter outcome wins; between equals, the period with less room left reports it. */
    if (m > d || (m == d && m != QUOTA_SERVE &&
                  quota_remaining(l->monthly_limit, month_used) < quota_remaining(l->daily_limit, day_used))) {
        out.outcome = m;
        out.period = QUOTA_MONTHLY;
        out.limit = l->monthly_limit.v;
        out.used = month_used;
    } else if (d != QUOTA_SERVE) {
        out.outcome = d;
        out.period = QUOTA_DAILY;
        out.limit = l->daily_limit.v;
        out.used = day_used;
    }
    return out;
}

int64_t quota_threshold_calls(int64_t pct, opt_i64 limit)
{
    if (!limit.present || limit.v <= 0 || pct < 1 || pct > 100)
        return -1;
    /* ceil(pct * L / 100) with L = 100q + r, without the product's overflow */
    int64_t calls = limit.v / 100 * pct + (limit.v % 100 * pct + 99) / 100;
    return calls < 1 ? 1 : calls;
}

size_t quota_thresholds_due(const alert_set *alerts, opt_i64 limit, int64_t used, const uint8_t *done, size_t ndone,
                            uint8_t out[ALERT_THRESHOLDS_MAX])
{
    size_t n = 0;
    for (uint8_t i = 0; i < alerts->n && i < ALERT_THRESHOLDS_MAX; i++) {
        int64_t calls = quota_threshold_calls(alerts->pct[i], limit);
        bool recorded = false;
        for (size_t k = 0; k < ndone && !recorded; k++)
            recorded = done[k] == alerts->pct[i];
        if (calls > 0 && used >= calls && !recorded)
            out[n++] = alerts->pct[i];
    }
    return n;
}
