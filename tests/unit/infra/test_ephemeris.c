/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The Swiss Ephemeris behind sky.c, checked against instants published by others
 * (tests/data/sky_events.tsv): within 2 minutes for instants given to the minute or second; the
 * same UTC date, sign and degree (within 1°) for stations given by date.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/civil.h"
#include "domain/sky.h"
#include "domain/zodiac.h"
#include "infra/ephemeris.h"

#define DATA_FILE STARMETER_SOURCE_DIR "/tests/data/sky_events.tsv"
#define INSTANT_TOLERANCE_S 120
#define DAY 86400

static ephemeris eph;

static void setup(void)
{
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(ephemeris_init(&eph, NULL, &err), 0);
}

static void teardown(void)
{
    ephemeris_thread_cleanup();
}

TestSuite(ephemeris, .init = setup, .fini = teardown, .timeout = 120);

/* Computes week `start` with `e`; returns the model that answered. */
static ephemeris_model week_compute(const ephemeris *e, int64_t start, sky_week *out)
{
    ephemeris_run run;
    ephemeris_run_init(&run, e);
    sky_ephemeris src = ephemeris_run_source(&run);
    app_err err;
    app_err_clear(&err);
    int rc = sky_week_compute(&src, start, out, &err);
    cr_assert_eq(rc, 0, "week starting %lld: %s", (long long)start, err.message);
    return run.model;
}

static int64_t week_start_of(const char *s)
{
    zodiac_week w;
    cr_assert(zodiac_week_parse(slice_make(s, strlen(s)), &w), "%s", s);
    return zodiac_week_start(w);
}

static const sky_event *event_find(const sky_week *w, sky_event_kind kind, zodiac_body body)
{
    for (size_t i = 0; i < w->nevents; i++)
        if (w->events[i].kind == kind && w->events[i].body == body)
            return &w->events[i];
    return NULL;
}

/* ---- the published instants ---- */

/* What one line of the data file expects. */
typedef struct expectation {
    int line;
    char text[256]; /* the line's "what" column, for messages */
    bool by_date;   /* precision "d": compare the UTC date only */
    int64_t at;     /* the instant, or 00:00Z of the date */
    sky_event_kind kind;
    zodiac_body body;
    zodiac_sign sign;
    bool has_sign;
    bool retrograde; /* station: turns retrograde */
    sky_phase phase; /* lunation */
    double degree;   /* within the sign; < 0 when not given */
} expectation;

static bool token_is(const char *tok, const char *lit)
{
    return strcmp(tok, lit) == 0;
}

static zodiac_sign sign_named(const char *tok, int line)
{
    zodiac_sign s;
    cr_assert(zodiac_sign_from_name(slice_make(tok, strlen(tok)), &s), "line %d: no sign '%s'", line, tok);
    return s;
}

/* "28°51'" or "26°" -> degrees within the sign. */
static double degree_parse(const char *tok, int line)
{
    char *end;
    long deg = strtol(tok, &end, 10);
    cr_assert(end != tok && strncmp(end, "°", strlen("°")) == 0, "line %d: bad degree '%s'", line, tok);
    end += strlen("°");
    long min = 0;
    if (*end != '\0') {
        const char *m = end;
        min = strtol(m, &end, 10);
        cr_assert(end != m && token_is(end, "'"), "line %d: bad minutes '%s'", line, tok);
    }
    cr_assert(deg >= 0 && deg < 30 && min >= 0 && min < 60, "line %d: '%s'", line, tok);
    return (double)deg + (double)min / 60.0;
}

/*
 * The "what" column: "ingress <body> -> <sign>", "lunation <phase> in <sign>",
 * "station <body> retrograde|direct[, <deg>°[<min>'] <sign>][ in <sign>][ (UTC date)]".
 */
static void what_parse(char *what, expectation *x)
{
    char *tok[16];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(what, " ,", &save); t && n < 16; t = strtok_r(NULL, " ,", &save))
        tok[n++] = t;
    cr_assert(n >= 2, "line %d: empty description", x->line);
    x->degree = -1;
    zodiac_body body = ZODIAC_SUN;
    if (token_is(tok[0], "ingress")) {
        cr_assert(n == 4 && token_is(tok[2], "->"), "line %d: '%s'", x->line, x->text);
        cr_assert(zodiac_body_from_name(slice_make(tok[1], strlen(tok[1])), &body), "line %d", x->line);
        x->kind = SKY_EVENT_INGRESS;
        x->body = body;
        x->sign = sign_named(tok[3], x->line);
        x->has_sign = true;
    } else if (token_is(tok[0], "lunation")) {
        cr_assert(n == 4 && token_is(tok[2], "in"), "line %d: '%s'", x->line, x->text);
        x->kind = SKY_EVENT_LUNATION;
        x->body = ZODIAC_MOON;
        bool found = false;
        for (unsigned p = 0; p < SKY_PHASE_COUNT; p++)
            if (token_is(tok[1], sky_phase_name((sky_phase)p))) {
                x->phase = (sky_phase)p;
                found = true;
            }
        cr_assert(found, "line %d: no phase '%s'", x->line, tok[1]);
        x->sign = sign_named(tok[3], x->line);
        x->has_sign = true;
    } else {
        cr_assert(token_is(tok[0], "station") && n >= 3, "line %d: '%s'", x->line, x->text);
        cr_assert(zodiac_body_from_name(slice_make(tok[1], strlen(tok[1])), &body), "line %d", x->line);
        x->kind = SKY_EVENT_STATION;
        x->body = body;
        cr_assert(token_is(tok[2], "retrograde") || token_is(tok[2], "direct"), "line %d", x->line);
        x->retrograde = token_is(tok[2], "retrograde");
        for (size_t i = 3; i < n; i++) {
            if (token_is(tok[i], "in") && i + 1 < n) {
                x->sign = sign_named(tok[++i], x->line);
                x->has_sign = true;
            } else if (strstr(tok[i], "°") != NULL && i + 1 < n) {
                x->degree = degree_parse(tok[i], x->line);
                x->sign = sign_named(tok[++i], x->line);
                x->has_sign = true;
            } else {
                cr_assert(token_is(tok[i], "(UTC") || token_is(tok[i], "date)"), "line %d: '%s'", x->line, tok[i]);
            }
        }
    }
}

static bool event_matches(const sky_event *e, const expectation *x)
{
    if (e->kind != x->kind || e->body != x->body)
        return false;
    if (x->kind == SKY_EVENT_LUNATION)
        return e->phase == x->phase;
    if (x->kind == SKY_EVENT_STATION)
        return e->retrograde == x->retrograde;
    return e->sign == x->sign && !e->retrograde;
}

/* Checks one line; returns false (after saying why) when it does not hold. */
static bool expectation_check(const expectation *x)
{
    /* The weeks that can hold the event: those of the tolerance window's ends, or of the date. */
    int64_t lo = x->by_date ? x->at : x->at - INSTANT_TOLERANCE_S;
    int64_t hi = x->by_date ? x->at + DAY - 1 : x->at + INSTANT_TOLERANCE_S;
    int64_t weeks[2] = {zodiac_week_start(zodiac_week_of(lo)), zodiac_week_start(zodiac_week_of(hi))};
    static sky_week w;
    const sky_event *best = NULL;
    sky_event found = {0};
    for (int k = 0; k < (weeks[1] == weeks[0] ? 1 : 2); k++) {
        ephemeris_model model = week_compute(&eph, weeks[k], &w);
        cr_assert_eq(model, EPHEMERIS_MODEL_SWISS, "the data files answered");
        for (size_t i = 0; i < w.nevents; i++) {
            const sky_event *e = &w.events[i];
            if (!event_matches(e, x))
                continue;
            if (best == NULL || llabs(e->at - x->at) < llabs(found.at - x->at)) {
                found = *e;
                best = &found;
            }
        }
    }
    char pub[21], got[21];
    civil_format_rfc3339(x->at * 1000, pub);
    if (best == NULL) {
        cr_log_error("line %d (%s, %s): no such event in the week", x->line, x->text, pub);
        return false;
    }
    civil_format_rfc3339(best->at * 1000, got);
    double deg = zodiac_degree_in_sign(best->lon_deg);
    cr_log_info("line %d: %-48s published %s computed %s (%+llds) %s %.3f°", x->line, x->text, pub, got,
                (long long)(best->at - x->at), zodiac_sign_name(best->sign, ZODIAC_LANG_EN), deg);
    bool ok = true;
    if (x->by_date && (best->at < x->at || best->at >= x->at + DAY)) {
        cr_log_error("line %d (%s): computed %s, not on %.10s", x->line, x->text, got, pub);
        ok = false;
    }
    if (!x->by_date && llabs(best->at - x->at) > INSTANT_TOLERANCE_S) {
        cr_log_error("line %d (%s): computed %s, published %s", x->line, x->text, got, pub);
        ok = false;
    }
    if (x->has_sign && best->sign != x->sign) {
        cr_log_error("line %d (%s): computed sign %s", x->line, x->text, zodiac_sign_name(best->sign, ZODIAC_LANG_EN));
        ok = false;
    }
    if (x->degree >= 0 && fabs(deg - x->degree) > 1.0) {
        cr_log_error("line %d (%s): computed %.3f°, published %.3f°", x->line, x->text, deg, x->degree);
        ok = false;
    }
    return ok;
}

Test(ephemeris, every_published_instant_of_the_data_file)
{
    FILE *f = fopen(DATA_FILE, "r");
    cr_assert_not_null(f, "cannot open %s", DATA_FILE);
    char line[1024];
    int lineno = 0, checked = 0, failed = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *cols[5];
        size_t n = 0;
        for (char *p = line; n < 5; n++) {
            cols[n] = p;
            char *tab = strchr(p, '\t');
            if (tab == NULL) {
                n++;
                break;
            }
            *tab = '\0';
            p = tab + 1;
        }
        cr_assert_eq(n, 5, "line %d: expected 5 tab-separated columns", lineno);
        cr_assert(strlen(cols[4]) > 0, "line %d: every instant needs its source", lineno);

        expectation x = {.line = lineno};
        snprintf(x.text, sizeof x.text, "%s", cols[3]);
        const char *prec = cols[2];
        int64_t ms;
        if (token_is(prec, "d")) {
            char stamp[32];
            snprintf(stamp, sizeof stamp, "%sT00:00:00Z", cols[1]);
            cr_assert(strlen(cols[1]) == 10 && civil_parse_rfc3339_str(stamp, &ms), "line %d: date", lineno);
            x.by_date = true;
        } else {
            cr_assert(token_is(prec, "s") || token_is(prec, "m"), "line %d: precision '%s'", lineno, prec);
            cr_assert(civil_parse_rfc3339_str(cols[1], &ms), "line %d: instant '%s'", lineno, cols[1]);
        }
        x.at = ms / 1000;
        what_parse(cols[3], &x);
        checked++;
        if (!expectation_check(&x))
            failed++;
    }
    fclose(f);
    cr_assert_geq(checked, 15, "the file holds the reference lines and ours");
    cr_assert_eq(failed, 0, "%d of %d published instants not matched (see the log)", failed, checked);
}

/* ---- the whole engine on real weeks ---- */

Test(ephemeris, week_2026_w12_holds_the_march_equinox)
{
    static sky_week w;
    int64_t start = week_start_of("2026-W12");
    cr_assert_eq(week_compute(&eph, start, &w), EPHEMERIS_MODEL_SWISS);
    const sky_event *eq = event_find(&w, SKY_EVENT_INGRESS, ZODIAC_SUN);
    cr_assert_not_null(eq, "the Sun enters Aries this week");
    cr_assert_eq(eq->sign, ZODIAC_ARIES);
    int64_t ms;
    cr_assert(civil_parse_rfc3339_str("2026-03-20T14:45:53Z", &ms));
    cr_assert(llabs(eq->at - ms / 1000) <= INSTANT_TOLERANCE_S, "at %lld", (long long)eq->at);
    /* At the week's start (Monday 16 March 00:00Z) the Sun is in late Pisces, Mercury retrograde. */
    cr_assert_eq(w.positions[ZODIAC_SUN].sign, ZODIAC_PISCES);
    cr_assert(w.positions[ZODIAC_SUN].degree > 25 && w.positions[ZODIAC_SUN].degree < 26);
    cr_assert(w.positions[ZODIAC_MERCURY].retrograde);
    cr_assert(w.positions[ZODIAC_MEAN_NODE].retrograde);
    const sky_event *st = event_find(&w, SKY_EVENT_STATION, ZODIAC_MERCURY);
    cr_assert(st != NULL && !st->retrograde, "Mercury turns direct on 20 March");
    const sky_event *nm = event_find(&w, SKY_EVENT_LUNATION, ZODIAC_MOON);
    cr_assert(nm != NULL && nm->phase == SKY_NEW_MOON && nm->sign == ZODIAC_PISCES);
    for (size_t i = 0; i < w.nevents; i++) {
        char at[21];
        const sky_event *e = &w.events[i];
        civil_format_rfc3339(e->at * 1000, at);
        cr_log_info("%s %-8s %-8s %-8s %-11s %7.3f %s%s%s", at, sky_event_kind_name(e->kind), zodiac_body_name(e->body),
                    zodiac_body_name(e->other), zodiac_sign_name(e->sign, ZODIAC_LANG_EN), e->lon_deg,
                    e->kind == SKY_EVENT_LUNATION ? sky_phase_name(e->phase) : "",
                    e->kind == SKY_EVENT_ASPECT ? sky_aspect_name(e->aspect) : "",
                    e->kind == SKY_EVENT_STATION ? (e->retrograde ? "retrograde" : "direct") : "");
    }
}

Test(ephemeris, a_year_of_weeks_misses_nothing_at_week_boundaries)
{
    /*
     * Week after week through 2026, each cyclic event follows the previous one in order: the Sun
     * and Moon enter the next sign, lunar phases come in turn, stations alternate. A missed or
     * doubled event anywhere (at a week boundary in particular) breaks the chain.
     */
    static sky_week w;
    int sun_sign = -1, moon_sign = -1, phase = -1, sun_ingresses = 0, new_moons = 0;
    int station_retro[ZODIAC_BODY_COUNT];
    for (unsigned b = 0; b < ZODIAC_BODY_COUNT; b++)
        station_retro[b] = -1;
    int64_t prev_at = INT64_MIN;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned weeks = zodiac_weeks_in_year(2026);
    for (unsigned k = 1; k <= weeks; k++) {
        int64_t start = zodiac_week_start((zodiac_week){2026, k});
        cr_assert_eq(week_compute(&eph, start, &w), EPHEMERIS_MODEL_SWISS);
        for (size_t i = 0; i < w.nevents; i++) {
            const sky_event *e = &w.events[i];
            cr_assert_geq(e->at, prev_at);
            prev_at = e->at;
            if (e->kind == SKY_EVENT_INGRESS && e->body == ZODIAC_SUN) {
                cr_assert(sun_sign < 0 || (int)e->sign == (sun_sign + 1) % 12);
                sun_sign = (int)e->sign;
                sun_ingresses++;
            } else if (e->kind == SKY_EVENT_INGRESS && e->body == ZODIAC_MOON) {
                cr_assert(moon_sign < 0 || (int)e->sign == (moon_sign + 1) % 12, "Moon ingress at %lld",
                          (long long)e->at);
                moon_sign = (int)e->sign;
            } else if (e->kind == SKY_EVENT_LUNATION) {
                cr_assert(phase < 0 || (int)e->phase == (phase + 1) % 4, "lunation at %lld", (long long)e->at);
                phase = (int)e->phase;
                new_moons += e->phase == SKY_NEW_MOON;
            } else if (e->kind == SKY_EVENT_STATION) {
                cr_assert(station_retro[e->body] < 0 || station_retro[e->body] != (int)e->retrograde);
                station_retro[e->body] = (int)e->retrograde;
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / weeks;
    cr_log_info("%.2f ms per week over %u weeks", ms, weeks);
    cr_assert_eq(sun_ingresses, 12);
    cr_assert(new_moons == 12 || new_moons == 13);
    cr_assert_geq(station_retro[ZODIAC_MERCURY], 0, "Mercury stations in 2026");
}

/* ---- the library's model, threads and range ---- */

Test(ephemeris, model_names)
{
    cr_assert_str_eq(ephemeris_model_name(EPHEMERIS_MODEL_SWISS), "swiss_ephemeris");
    cr_assert_str_eq(ephemeris_model_name(EPHEMERIS_MODEL_MOSHIER), "moshier");
}

Test(ephemeris, missing_files_are_reported_as_moshier)
{
    ephemeris none;
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(ephemeris_init(&none, "/nonexistent/starmeter-ephe", &err), 0);
    ephemeris_model m = EPHEMERIS_MODEL_SWISS;
    cr_assert_eq(ephemeris_probe(&none, &m, &err), 0);
    cr_assert_eq(m, EPHEMERIS_MODEL_MOSHIER);
    /* Moshier still finds the equinox to well within the tolerance. */
    static sky_week w;
    cr_assert_eq(week_compute(&none, week_start_of("2026-W12"), &w), EPHEMERIS_MODEL_MOSHIER);
    const sky_event *eq = event_find(&w, SKY_EVENT_INGRESS, ZODIAC_SUN);
    cr_assert(eq != NULL && llabs(eq->at - INT64_C(1774017953)) <= INSTANT_TOLERANCE_S);
    /* Switching back in the same thread sets the path again. */
    cr_assert_eq(ephemeris_probe(&eph, &m, &err), 0);
    cr_assert_eq(m, EPHEMERIS_MODEL_SWISS);
}

Test(ephemeris, init_checks_the_path)
{
    ephemeris e;
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(ephemeris_init(&e, "", &err), APP_VALIDATION_ERROR);
    char longp[EPHEMERIS_PATH_MAX + 2];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    cr_assert_eq(ephemeris_init(&e, longp, &err), APP_VALIDATION_ERROR);
    longp[EPHEMERIS_PATH_MAX] = '\0';
    cr_assert_eq(ephemeris_init(&e, longp, &err), 0);
    cr_assert_eq(ephemeris_init(&e, NULL, &err), 0);
    cr_assert_str_eq(e.path, EPHEMERIS_DEFAULT_PATH);
}

typedef struct thread_result {
    const ephemeris *eph;
    ephemeris_model model;
    int rc;
    int64_t equinox;
} thread_result;

static void *thread_main(void *arg)
{
    thread_result *r = arg;
    ephemeris_run run;
    ephemeris_run_init(&run, r->eph);
    sky_ephemeris src = ephemeris_run_source(&run);
    sky_week *w = malloc(sizeof *w);
    app_err err;
    app_err_clear(&err);
    r->rc = sky_week_compute(&src, INT64_C(1773619200), w, &err);
    r->model = run.model;
    const sky_event *eq = r->rc == 0 ? event_find(w, SKY_EVENT_INGRESS, ZODIAC_SUN) : NULL;
    r->equinox = eq ? eq->at : 0;
    free(w);
    ephemeris_thread_cleanup();
    return NULL;
}

Test(ephemeris, every_thread_gets_the_configured_path)
{
    /*
     * The main thread points the library at a missing directory; threads configured with the real
     * one must still read the files, since the library's path is per thread.
     */
    ephemeris none;
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(ephemeris_init(&none, "/nonexistent/starmeter-ephe", &err), 0);
    ephemeris_model m;
    cr_assert_eq(ephemeris_probe(&none, &m, &err), 0);
    cr_assert_eq(m, EPHEMERIS_MODEL_MOSHIER);

    enum { N = 4 };
    pthread_t th[N];
    thread_result res[N];
    for (int i = 0; i < N; i++) {
        res[i] = (thread_result){.eph = &eph};
        cr_assert_eq(pthread_create(&th[i], NULL, thread_main, &res[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_assert_eq(res[i].rc, 0);
        cr_assert_eq(res[i].model, EPHEMERIS_MODEL_SWISS, "thread %d", i);
        cr_assert_eq(res[i].equinox, res[0].equinox, "same answer in every thread");
    }
    cr_assert_eq(ephemeris_probe(&none, &m, &err), 0);
    cr_assert_eq(m, EPHEMERIS_MODEL_MOSHIER, "the main thread kept its own path");
}

Test(ephemeris, dates_outside_the_files_are_refused)
{
    ephemeris_run run;
    ephemeris_run_init(&run, &eph);
    sky_ephemeris src = ephemeris_run_source(&run);
    sky_motion m;
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(ephemeris_position(&run, ZODIAC_SUN, sky_jd_from_unix((double)EPHEMERIS_FIRST_UNIX - 1), &m, &err),
                 APP_VALIDATION_ERROR);
    cr_assert_eq(ephemeris_position(&run, ZODIAC_SUN, sky_jd_from_unix((double)EPHEMERIS_LAST_UNIX + 1), &m, &err),
                 APP_VALIDATION_ERROR);
    cr_assert_eq(ephemeris_position(&run, ZODIAC_BODY_COUNT, 2451545.0, &m, &err), APP_INTERNAL_ERROR);
    static sky_week w;
    /* 1800-W01 starts on 30 December 1799; 1800-W02 and 2399-W52 are the first and last weeks served. */
    cr_assert_eq(sky_week_compute(&src, week_start_of("1800-W01"), &w, &err), APP_VALIDATION_ERROR);
    int64_t first = week_start_of("1800-W02"), last = week_start_of("2399-W52");
    cr_assert(!ephemeris_covers(week_start_of("1800-W01"), week_start_of("1800-W01") + ZODIAC_WEEK_SECONDS));
    cr_assert(ephemeris_covers(first - SKY_SAMPLE_STEP_S, first + ZODIAC_WEEK_SECONDS));
    cr_assert(ephemeris_covers(last - SKY_SAMPLE_STEP_S, last + ZODIAC_WEEK_SECONDS));
    cr_assert_eq(week_compute(&eph, first, &w), EPHEMERIS_MODEL_SWISS);
    cr_assert_eq(week_compute(&eph, last, &w), EPHEMERIS_MODEL_SWISS);
}
