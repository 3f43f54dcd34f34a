/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "domain/gcra.h"

#define NS_PER_S 1000000000LL

/* Nanoseconds between two calls at the sustained rate. */
static int64_t interval(gcra_policy p)
{
    int64_t t = NS_PER_S / p.rate_per_second;
    return t > 0 ? t : 1;
}

gcra_result gcra_take(int64_t *tat, int64_t now_ns, gcra_policy p)
{
    int64_t t = interval(p);
    int64_t capacity = t * p.burst; /* the bucket, in time */
    int64_t base = *tat > now_ns ? *tat : now_ns;
    int64_t next = base + t;
    gcra_result r = {0};
    if (next - now_ns <= capacity) {
        *tat = next;
        r.allowed = true;
        r.remaining = (capacity - (next - now_ns)) / t;
        r.reset_ns = next - now_ns;
    } else {
        r.allowed = false;
        r.remaining = 0;
        r.reset_ns = base - now_ns;
        r.retry_after_ns = next - capacity - now_ns;
    }
    return r;
}

void gcra_refund(int64_t *tat, int64_t now_ns, gcra_policy p)
{
    int64_t t = interval(p);
    *tat -= t;
    if (*tat < now_ns)
        *tat = now_ns;
}

bool gcra_idle(int64_t tat, int64_t now_ns)
{
    return tat <= now_ns;
}

int64_t gcra_window_seconds(gcra_policy p)
{
    int64_t w = (p.burst + p.rate_per_second - 1) / p.rate_per_second;
    return w > 0 ? w : 1;
}
