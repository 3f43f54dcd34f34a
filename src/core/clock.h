/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_CLOCK_H
#define STARMETER_CORE_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>

/*
 * The wall clock, injectable: services ask it for the time so tests can move time by hand. The
 * system clock reads CLOCK_REALTIME; a test clock returns what the test set.
 */
typedef struct app_clock {
    int64_t (*now_ms)(const struct app_clock *self); /* Unix time in milliseconds */
    _Atomic int64_t fixed_ms;                        /* the test clock's time */
} app_clock;

/* The process-wide system clock (stateless, never freed). */
const app_clock *clock_system(void);

/* Initialises a test clock at `start_ms`; `clock_test_advance` moves it (thread-safe). */
void clock_test_init(app_clock *c, int64_t start_ms);
void clock_test_set(app_clock *c, int64_t ms);
void clock_test_advance(app_clock *c, int64_t delta_ms);

static inline int64_t clock_now_ms(const app_clock *c)
{
    return c->now_ms(c);
}

/* Monotonic nanoseconds, for durations only. */
uint64_t clock_mono_ns(void);

/* Writes `ms` as RFC 3339 UTC with milliseconds ("2026-11-24T08:39:00.123Z") into out[32]. */
void clock_format_rfc3339_ms(int64_t ms, char out[32]);

#endif
