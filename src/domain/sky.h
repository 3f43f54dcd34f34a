/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_DOMAIN_SKY_H
#define STARMETER_DOMAIN_SKY_H

/*
 * The sky of a span of time: where the bodies stand, and the instants inside the span at which
 * something happens (a body changes sign or direction, a lunar phase, an exact major aspect).
 * Pure: the positions come from an ephemeris handed in by the caller (infra/ephemeris.h for the
 * Swiss Ephemeris, a formula in tests); nothing here allocates, reads a clock or does I/O.
 *
 * Times are Unix seconds (UTC). They are read as Universal Time, which differs from UTC by less
 * than 0.9 s, below the one-second resolution of the results.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/zodiac.h"

/* Where a body is and how fast it moves along the ecliptic. */
typedef struct sky_motion {
    double lon_deg;           /* geocentric apparent ecliptic longitude, tropical, of date; any finite value */
    double speed_deg_per_day; /* its derivative; negative while the body is retrograde */
} sky_motion;

/*
 * The ephemeris sky.c reads. `position` writes the motion of `body` at `jd_ut` (Julian Day,
 * Universal Time) and returns 0, or returns a code of the error table with `err` filled; sky.c
 * then stops and returns that code. `self` is handed back untouched. It is called a few hundred
 * to a thousand times per week computed, from the calling thread only.
 */
typedef struct sky_ephemeris {
    int (*position)(void *self, zodiac_body body, double jd_ut, sky_motion *out, app_err *err);
    void *self;
} sky_ephemeris;

/* The Julian Day (UT) of a Unix time: JD 2440587.5 is 1970-01-01T00:00Z. */
static inline double sky_jd_from_unix(double unix_s)
{
    return 2440587.5 + unix_s / 86400.0;
}

/*
 * The sampling step. Events are found between samples by following each quantity where it is
 * monotonic (see sky.c), so the step only has to be short enough that no quantity turns twice
 * within one step and moves less than 180° in it; 3 hours leaves orders of magnitude to spare.
 */
#define SKY_SAMPLE_STEP_S 10800
/* The longest span sky_events_find accepts, which bounds the work of one call. */
#define SKY_SPAN_MAX_S (31 * 86400)
/*
 * Far above what a real week holds (9 events on average, 21 at most over every week of 1800-2399);
 * reaching it is reported as an internal error.
 */
#define SKY_WEEK_EVENTS_MAX 128

typedef struct sky_position {
    zodiac_body body;
    double lon_deg; /* [0, 360) */
    zodiac_sign sign;
    double degree; /* within the sign, [0, 30) */
    double speed_deg_per_day;
    bool retrograde; /* speed < 0; the mean node always is */
} sky_position;

typedef enum sky_event_kind {
    SKY_EVENT_INGRESS,  /* a body enters a sign */
    SKY_EVENT_STATION,  /* a body's speed changes sign */
    SKY_EVENT_LUNATION, /* the Moon's elongation from the Sun reaches 0, 90, 180 or 270 degrees */
    SKY_EVENT_ASPECT,   /* two bodies are exactly 0, 60, 90, 120 or 180 degrees apart */
    SKY_EVENT_KIND_COUNT
} sky_event_kind;

typedef enum sky_phase { SKY_NEW_MOON, SKY_FIRST_QUARTER, SKY_FULL_MOON, SKY_LAST_QUARTER, SKY_PHASE_COUNT } sky_phase;

typedef enum sky_aspect {
    SKY_CONJUNCTION,
    SKY_SEXTILE,
    SKY_SQUARE,
    SKY_TRINE,
    SKY_OPPOSITION,
    SKY_ASPECT_COUNT
} sky_aspect;

typedef struct sky_event {
    int64_t at; /* Unix seconds, the nearest second to the exact instant, start <= at < end */
    sky_event_kind kind;
    /*
     * INGRESS, STATION: the body. LUNATION: the Moon. ASPECT: the first of the pair, in
     * zodiac_body order.
     */
    zodiac_body body;
    /* ASPECT: the second body. LUNATION: the Sun. Otherwise equal to `body`. */
    zodiac_body other;
    /*
     * INGRESS: the sign entered (backwards into the previous sign when `retrograde`).
     * STATION, LUNATION, ASPECT: the sign `body` is in at that instant.
     */
    zodiac_sign sign;
    double lon_deg;       /* `body`'s longitude, [0, 360); for an ingress, the sign boundary crossed */
    double other_lon_deg; /* `other`'s longitude */
    /* INGRESS: the body was moving backwards. STATION: it turns retrograde (false: it turns direct). */
    bool retrograde;
    sky_phase phase;   /* LUNATION only */
    sky_aspect aspect; /* ASPECT only */
} sky_event;

/* The sky of one week: positions at its start and what happens during it. */
typedef struct sky_week {
    int64_t start; /* Unix seconds: the week is [start, end) */
    int64_t end;
    sky_position positions[ZODIAC_BODY_COUNT]; /* at `start`, indexed by zodiac_body */
    size_t nevents;
    sky_event events[SKY_WEEK_EVENTS_MAX]; /* sorted by `at`, then kind, body, other */
} sky_week;

/* The positions of every body at `at`, indexed by zodiac_body. Errors are the ephemeris's. */
int sky_positions_compute(const sky_ephemeris *eph, int64_t at, sky_position out[ZODIAC_BODY_COUNT], app_err *err);

/*
 * Finds the events of [start, end) and writes them, sorted as in sky_week, to `out` (`cap`
 * entries, caller-owned); `*n` receives their number. The ephemeris is read on
 * [start - SKY_SAMPLE_STEP_S, end], so that an event at exactly `start` is kept and one at exactly
 * `end` is left to the next span.
 * Errors: VALIDATION_ERROR when end <= start or the span exceeds SKY_SPAN_MAX_S; INTERNAL_ERROR
 * when more than `cap` events are found or the ephemeris answers a non-finite value; otherwise the
 * ephemeris's own code. On error `*n` and `out` are unspecified.
 */
int sky_events_find(const sky_ephemeris *eph, int64_t start, int64_t end, sky_event *out, size_t cap, size_t *n,
                    app_err *err);

/* Fills `out` for the week [start, start + ZODIAC_WEEK_SECONDS); errors as above. */
int sky_week_compute(const sky_ephemeris *eph, int64_t start, sky_week *out, app_err *err);

/* "ingress", "station", "lunation", "aspect". */
const char *sky_event_kind_name(sky_event_kind kind);
/* "new_moon", "first_quarter", "full_moon", "last_quarter". */
const char *sky_phase_name(sky_phase phase);
/* "conjunction", "sextile", "square", "trine", "opposition". */
const char *sky_aspect_name(sky_aspect aspect);
/* 0, 60, 90, 120, 180. */
unsigned sky_aspect_angle(sky_aspect aspect);

#endif
