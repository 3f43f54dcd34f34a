/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_DOMAIN_QUOTA_H
#define STARMETER_DOMAIN_QUOTA_H

/*
 * Contract rules (DESIGN.md section 5). `used` counts the served metered calls of a period,
 * overage included. A call that would take `used` past a limit is refused in block mode; in
 * overage mode it is served and counted as overage, unless the period's overage would pass the
 * overage cap, which then blocks. Daily and monthly limits both apply; the tighter decides.
 * Unlimited (absent) limits never block.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/model.h"

typedef enum quota_period { QUOTA_DAILY = 0, QUOTA_MONTHLY = 1 } quota_period;
typedef enum quota_outcome { QUOTA_SERVE = 0, QUOTA_SERVE_OVERAGE, QUOTA_BLOCK } quota_outcome;

typedef struct quota_decision {
    quota_outcome outcome;
    quota_period period; /* for BLOCK and SERVE_OVERAGE: the period that decided */
    int64_t limit;       /* that period's limit */
    int64_t used;        /* that period's used before this call */
} quota_decision;

/* Decides the next call given the calls already served today and this month. */
quota_decision quota_decide(const limits *l, int64_t day_used, int64_t month_used);

/* max(limit - used, 0); for an absent limit, -1 (unlimited). */
int64_t quota_remaining(opt_i64 limit, int64_t used);

const char *quota_period_name(quota_period p);

/*
 * The calls of a period at which threshold `pct` of `limit` is reached: ceil(pct * limit / 100),
 * at least 1. A limit of 0 (nothing may be served) or an absent one has no threshold: -1.
 */
int64_t quota_threshold_calls(int64_t pct, opt_i64 limit);

/*
 * The thresholds of `alerts` due when a served call brings its period's usage to `used`: those
 * reached (threshold_calls <= used) and not among done[0..ndone) (already recorded). Each call adds
 * one, so the call that reaches a threshold finds it due; one that finds it due later (its counts
 * were seeded past it after a crash, or its writer failed) raises it late rather than never. Fills
 * out[] in ascending order; returns how many.
 */
size_t quota_thresholds_due(const alert_set *alerts, opt_i64 limit, int64_t used, const uint8_t *done, size_t ndone,
                            uint8_t out[ALERT_THRESHOLDS_MAX]);

#endif
