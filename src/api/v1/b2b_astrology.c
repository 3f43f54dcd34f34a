/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* GET /v1/b2b/astrology/weekly-by-sign: the metered product. */
#include <string.h>

#include "api/api.h"
#include "api/v1/metered.h"
#include "domain/zodiac.h"
#include "services/astrology.h"

typedef struct weekly {
    api_env *env;
    zodiac_week week;
    zodiac_sign sign;
    zodiac_lang lang;
    int compute_rc;
    app_err *compute_err; /* a miss only: the error struct stays out of the hit path's arena */
    slice text;           /* the cached answer once found, held until the response is written */
    ephemeris_model model;
} weekly;

static void release(void *held)
{
    astrology_release(held);
}

/* The cached answer, held for as long as the response needs its bytes; false on a miss. */
static bool hold(http_ctx *ctx, weekly *w)
{
    astrology_text *held = astrology_hold(w->env->astrology, w->week, w->sign, w->lang, &w->text, &w->model);
    if (held == NULL)
        return false;
    http_arena_hold(ctx, release, held);
    return true;
}

/* The answer from the cache, which validation (or the computation before it) has filled. */
static int handle(http_ctx *ctx, void *state, slice *data, slice *meta, const char **why)
{
    weekly *w = state;
    if (w->text.ptr == NULL && !hold(ctx, w)) { /* evicted since the computation: rare, not the caller's fault */
        *why = "the week left the cache before it could be served";
        return APP_INTERNAL_ERROR;
    }
    *data = w->text;
    *meta = w->model == EPHEMERIS_MODEL_SWISS ? SLICE_LIT("\"ephemeris\":\"swiss_ephemeris\"")
                                              : SLICE_LIT("\"ephemeris\":\"moshier\"");
    return 0;
}

static void compute_run(void *arg)
{
    weekly *w = arg;
    app_err_clear(w->compute_err);
    w->compute_rc = astrology_compute(w->env->astrology, w->week, w->compute_err);
}

static void compute_done(http_ctx *ctx, void *arg)
{
    weekly *w = arg;
    if (w->compute_rc != 0) {
        http_reply_error(ctx, w->compute_err);
        return;
    }
    api_metered(ctx, handle, w, true);
}

/* A miss: the caller's rate limits admitted it, so the week is computed on the pool. */
static void compute_admitted(http_ctx *ctx, void *arg)
{
    weekly *w = arg;
    w->compute_err = http_arena_alloc(ctx, sizeof *w->compute_err);
    http_defer(ctx, compute_run, compute_done, w);
}

static const char signs_allowed[] =
    "aries, taurus, gemini, cancer, leo, virgo, libra, scorpio, sagittarius, capricorn, aquarius, pisces";

void api_b2b_astrology_weekly(http_ctx *ctx)
{
    weekly *w = http_arena_alloc(ctx, sizeof *w);
    memset(w, 0, sizeof *w);
    w->env = http_app(ctx);
    app_err err;
    app_err_clear(&err);
    slice v;
    if (http_query(ctx, "sign", &v, &err)) {
        if (!zodiac_sign_from_name(v, &w->sign))
            app_err_field(&err, "sign", "must be one of %s", signs_allowed);
    } else if (http_query_count(ctx, "sign") == 0) {
        app_err_field(&err, "sign", "is required: one of %s", signs_allowed);
    }
    if (http_query(ctx, "lang", &v, &err)) {
        if (slice_eq(v, "en"))
            w->lang = ZODIAC_LANG_EN;
        else if (slice_eq(v, "fr"))
            w->lang = ZODIAC_LANG_FR;
        else
            app_err_field(&err, "lang", "must be one of en, fr");
    }
    if (http_query(ctx, "week", &v, &err)) {
        if (!zodiac_week_parse(v, &w->week))
            app_err_field(&err, "week", "must be an ISO week such as 2026-W12");
        else if (!ephemeris_covers(zodiac_week_start(w->week) - SKY_SAMPLE_STEP_S,
                                   zodiac_week_start(w->week) + ZODIAC_WEEK_SECONDS))
            app_err_field(&err, "week", "must lie between %d-W02 and %d-W52, the range of the ephemeris",
                          EPHEMERIS_YEAR_MIN, EPHEMERIS_YEAR_MAX);
    } else { /* absent (or refused above) */
        w->week = zodiac_week_of(clock_now_ms(w->env->clock) / 1000);
    }
    if (err.code != APP_OK) {
        http_reply_error(ctx, &err);
        return;
    }
    /* A hit continues at once, its rate limits taken with its quota; a miss takes them first,
     * then computes the week on the pool, off the event loop. */
    if (hold(ctx, w)) {
        api_metered(ctx, handle, w, false);
        return;
    }
    api_admit(ctx, compute_admitted, w);
}
