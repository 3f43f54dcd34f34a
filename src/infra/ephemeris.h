/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_EPHEMERIS_H
#define STARMETER_INFRA_EPHEMERIS_H

/*
 * Positions from the Swiss Ephemeris (libswe), the only code that includes its header. It answers
 * the sky_ephemeris interface of domain/sky.h.
 *
 * The library keeps its state (open files, the data path) per thread, so the path is set again
 * in each thread the first time that thread computes, and every thread that computed should call
 * ephemeris_thread_cleanup before it exits.
 *
 * When the data files cannot be read, the library silently answers from its built-in Moshier
 * model instead (about 1" for the planets, a few " for the Moon: fine for astrology, but not what
 * was configured). Each run records which model answered, so the caller can report and log it.
 */
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/sky.h"

/* Where Debian's swe-basic-data installs sepl_18.se1, semo_18.se1 and seas_18.se1. */
#define EPHEMERIS_DEFAULT_PATH "/usr/share/libswe/ephe"
/* The library copies the path into a 256-byte buffer; keep room for its own suffixes. */
#define EPHEMERIS_PATH_MAX 200

/*
 * The years served, those of the *_18 files (they cover 1800-01-01T05:45 UT to
 * 2400-01-09T12:00 UT). Exactly: instants from EPHEMERIS_FIRST_UNIX (1800-01-02T00:00Z) to
 * EPHEMERIS_LAST_UNIX (2400-01-08T00:00Z) are accepted, which holds every ISO week from
 * 1800-W02 to 2399-W52 together with the 3-hour lead sky.c samples before a week.
 */
#define EPHEMERIS_YEAR_MIN 1800
#define EPHEMERIS_YEAR_MAX 2399
#define EPHEMERIS_FIRST_UNIX INT64_C(-5364576000)
#define EPHEMERIS_LAST_UNIX INT64_C(13570070400)

typedef enum ephemeris_model { EPHEMERIS_MODEL_SWISS, EPHEMERIS_MODEL_MOSHIER } ephemeris_model;

/* "swiss_ephemeris" or "moshier", as reported to clients. */
const char *ephemeris_model_name(ephemeris_model model);

/* The configuration: immutable once initialised, shared by every thread. */
typedef struct ephemeris {
    char path[EPHEMERIS_PATH_MAX + 1];
} ephemeris;

/*
 * Records the directory of the data files (NULL: EPHEMERIS_DEFAULT_PATH). Touches no file: a
 * missing directory shows as the Moshier model in the runs (see ephemeris_probe).
 * VALIDATION_ERROR when the path is empty or longer than EPHEMERIS_PATH_MAX.
 */
int ephemeris_init(ephemeris *eph, const char *path, app_err *err);

/*
 * One computation's context, caller-allocated (the stack will do), used by one thread. `model`
 * ends as EPHEMERIS_MODEL_MOSHIER if any position of the run came from the Moshier fallback.
 */
typedef struct ephemeris_run {
    const ephemeris *eph; /* borrowed; must outlive the run */
    ephemeris_model model;
    unsigned long calls;
} ephemeris_run;

void ephemeris_run_init(ephemeris_run *run, const ephemeris *eph);

/* The sky_ephemeris that computes through `run` (borrowed by the result). */
sky_ephemeris ephemeris_run_source(ephemeris_run *run);

/*
 * The sky_ephemeris `position` function; `self` is an ephemeris_run. Geocentric apparent
 * tropical longitude and its speed, from the files when they are readable.
 * VALIDATION_ERROR outside [EPHEMERIS_FIRST_UNIX, EPHEMERIS_LAST_UNIX]; INTERNAL_ERROR when the
 * library reports an error (its message is in `err`).
 */
int ephemeris_position(void *self, zodiac_body body, double jd_ut, sky_motion *out, app_err *err);

/* True when the whole of [start, end] (Unix seconds) can be computed. */
bool ephemeris_covers(int64_t start, int64_t end);

/*
 * Computes one position to learn which model answers with this configuration, in the calling
 * thread: for a readiness check or a warning at start-up.
 */
int ephemeris_probe(const ephemeris *eph, ephemeris_model *model, app_err *err);

/* Closes the calling thread's data files and frees the library's memory for it. */
void ephemeris_thread_cleanup(void);

#endif
