/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_DOMAIN_GCRA_H
#define STARMETER_DOMAIN_GCRA_H

/*
 * The generic cell rate algorithm: a token bucket kept as one number per key, the theoretical
 * arrival time (TAT). A policy lets `burst` calls through at once and refills at `rate` per
 * second. Pure arithmetic on nanoseconds; the caller keeps the state and serialises updates.
 */
#include <stdbool.h>
#include <stdint.h>

typedef struct gcra_policy {
    int64_t rate_per_second; /* > 0 */
    int64_t burst;           /* > 0 */
} gcra_policy;

typedef struct gcra_result {
    bool allowed;
    int64_t remaining;      /* calls that would still pass now, after this one */
    int64_t reset_ns;       /* until the bucket is full again */
    int64_t retry_after_ns; /* refused: until the next call can pass; 0 when allowed */
} gcra_result;

/*
 * Decides a call at `now_ns` against state *tat (0 for a key never seen). Updates *tat only when
 * the call is allowed.
 */
gcra_result gcra_take(int64_t *tat, int64_t now_ns, gcra_policy p);

/* Gives back one call taken by gcra_take (when a later check refused the request). */
void gcra_refund(int64_t *tat, int64_t now_ns, gcra_policy p);

/* True when the key's bucket is full at now_ns: its state can be dropped without changing anything. */
bool gcra_idle(int64_t tat, int64_t now_ns);

/* The window of a policy in whole seconds: how long an empty bucket takes to fill (at least 1). */
int64_t gcra_window_seconds(gcra_policy p);

#endif
