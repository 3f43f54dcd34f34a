/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_DOMAIN_PERIOD_H
#define STARMETER_DOMAIN_PERIOD_H

/*
 * Contract periods: the calendar day and month in the contract's time zone. Pure: the zone is
 * given as a function from a UTC instant to that zone's offset at that instant (the tz database
 * lives in infra), so DST days of 23 and 25 hours come out right.
 */
#include <stdint.h>

/* Seconds east of UTC in effect at `unix_s`. */
typedef int32_t (*period_offset_fn)(const void *zone, int64_t unix_s);

typedef struct period_zone {
    period_offset_fn offset;
    const void *zone;
} period_zone;

typedef struct local_date {
    int64_t year;
    unsigned month, day;
} local_date;

typedef struct periods {
    local_date today;
    int64_t day_start_ms, day_end_ms;     /* [start, end) in Unix ms */
    int64_t month_start_ms, month_end_ms; /* [start, end) */
    int64_t day_key;                      /* days since 1970-01-01 of the local date */
    int64_t month_key;                    /* year * 12 + month - 1 */
} periods;

/* The local date at `unix_ms`. */
local_date period_local_date(period_zone z, int64_t unix_ms);

/* The UTC instant (ms) at which local date `d` begins (its first existing instant, past a DST gap). */
int64_t period_local_midnight(period_zone z, local_date d);

/* The day and month containing `unix_ms`. */
periods period_at(period_zone z, int64_t unix_ms);

/* "YYYY-MM-DD" into out[11]. */
void period_date_format(local_date d, char out[11]);
/* Parses "YYYY-MM-DD" strictly. */
int period_date_parse(const char *s, local_date *out);
/* Days since 1970-01-01 and back. */
int64_t period_date_days(local_date d);
local_date period_date_from_days(int64_t days);

/* UTC itself, for tests and for contracts in UTC. */
int32_t period_utc_offset(const void *zone, int64_t unix_s);

#endif
