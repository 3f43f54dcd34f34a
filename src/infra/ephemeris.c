/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "infra/ephemeris.h"

#include <string.h>
#include <swephexp.h>

#include "core/str.h"

/* Our bodies in the library's numbering, spelled out so that neither enum's order matters. */
static const int32 swe_bodies[ZODIAC_BODY_COUNT] = {
    [ZODIAC_SUN] = SE_SUN,       [ZODIAC_MOON] = SE_MOON,           [ZODIAC_MERCURY] = SE_MERCURY,
    [ZODIAC_VENUS] = SE_VENUS,   [ZODIAC_MARS] = SE_MARS,           [ZODIAC_JUPITER] = SE_JUPITER,
    [ZODIAC_SATURN] = SE_SATURN, [ZODIAC_URANUS] = SE_URANUS,       [ZODIAC_NEPTUNE] = SE_NEPTUNE,
    [ZODIAC_PLUTO] = SE_PLUTO,   [ZODIAC_MEAN_NODE] = SE_MEAN_NODE,
};

/*
 * The path the library holds for this thread. libswe keeps it in thread-local state: a path set
 * by the thread that configured the server is not seen by an event-loop or worker thread, which
 * would then silently fall back to the library's compiled-in default or to Moshier.
 */
static _Thread_local bool tls_path_set;
static _Thread_local char tls_path[EPHEMERIS_PATH_MAX + 1];

const char *ephemeris_model_name(ephemeris_model model)
{
    return model == EPHEMERIS_MODEL_MOSHIER ? "moshier" : "swiss_ephemeris";
}

int ephemeris_init(ephemeris *eph, const char *path, app_err *err)
{
    if (path == NULL)
        path = EPHEMERIS_DEFAULT_PATH;
    if (path[0] == '\0' || str_copy(eph->path, sizeof eph->path, path) < 0)
        return app_err_field(err, "ephemeris_path", "must be a directory path of 1 to %d bytes", EPHEMERIS_PATH_MAX);
    return 0;
}

void ephemeris_run_init(ephemeris_run *run, const ephemeris *eph)
{
    *run = (ephemeris_run){.eph = eph, .model = EPHEMERIS_MODEL_SWISS};
}

sky_ephemeris ephemeris_run_source(ephemeris_run *run)
{
    return (sky_ephemeris){.position = ephemeris_position, .self = run};
}

static void path_ensure(const ephemeris *eph)
{
    /* Setting the path closes the thread's open files, so do it only when it changes. */
    if (tls_path_set && strcmp(tls_path, eph->path) == 0)
        return;
    swe_set_ephe_path(eph->path);
    memcpy(tls_path, eph->path, sizeof tls_path);
    tls_path_set = true;
}

bool ephemeris_covers(int64_t start, int64_t end)
{
    return start <= end && start >= EPHEMERIS_FIRST_UNIX && end <= EPHEMERIS_LAST_UNIX;
}

int ephemeris_position(void *self, zodiac_body body, double jd_ut, sky_motion *out, app_err *err)
{
    ephemeris_run *run = self;
    if ((unsigned)body >= ZODIAC_BODY_COUNT)
        return app_err_set(err, APP_INTERNAL_ERROR, "no such body: %d", (int)body);
    /* Outside the files the library would quietly switch to Moshier; say so instead. */
    if (!(jd_ut >= sky_jd_from_unix((double)EPHEMERIS_FIRST_UNIX) &&
          jd_ut <= sky_jd_from_unix((double)EPHEMERIS_LAST_UNIX)))
        return app_err_set(err, APP_VALIDATION_ERROR, "the sky is computed for the years %d to %d only",
                           EPHEMERIS_YEAR_MIN, EPHEMERIS_YEAR_MAX);
    path_ensure(run->eph);

    double xx[6];
    char serr[AS_MAXCH] = "";
    int32 flags = swe_calc_ut(jd_ut, swe_bodies[body], SEFLG_SWIEPH | SEFLG_SPEED, xx, serr);
    run->calls++;
    if (flags < 0)
        return app_err_set(err, APP_INTERNAL_ERROR, "swiss ephemeris: %s", serr);
    /*
     * The returned flags name the model that answered: SEFLG_MOSEPH replaces SEFLG_SWIEPH when
     * the files were not found. (The mean node is a formula and always reports SWIEPH.)
     */
    if ((flags & SEFLG_MOSEPH) || !(flags & SEFLG_SWIEPH))
        run->model = EPHEMERIS_MODEL_MOSHIER;
    out->lon_deg = xx[0];
    out->speed_deg_per_day = xx[3];
    return 0;
}

int ephemeris_probe(const ephemeris *eph, ephemeris_model *model, app_err *err)
{
    ephemeris_run run;
    ephemeris_run_init(&run, eph);
    sky_motion m;
    /* The Sun at J2000.0: always inside the files, and read from sepl_18.se1 like the planets. */
    int rc = ephemeris_position(&run, ZODIAC_SUN, 2451545.0, &m, err);
    if (rc == 0)
        *model = run.model;
    return rc;
}

void ephemeris_thread_cleanup(void)
{
    swe_close();
    tls_path_set = false;
}
