/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "core/clock.h"

#include <stdio.h>
#include <time.h>

static int64_t system_now_ms(const app_clock *self)
{
    (void)self;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const app_clock system_clock = {.now_ms = system_now_ms};

const app_clock *clock_system(void)
{
    return &system_clock;
}

static int64_t test_now_ms(const app_clock *self)
{
    return atomic_load(&self->fixed_ms);
}

void clock_test_init(app_clock *c, int64_t start_ms)
{
    c->now_ms = test_now_ms;
    atomic_store(&c->fixed_ms, start_ms);
}

void clock_test_set(app_clock *c, int64_t ms)
{
    atomic_store(&c->fixed_ms, ms);
}

void clock_test_advance(app_clock *c, int64_t delta_ms)
{
    atomic_fetch_add(&c->fixed_ms, delta_ms);
}

uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void clock_format_rfc3339_ms(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", frac % 1000);
}
