/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * zodiac.c and sky.c against a fake ephemeris: each body moves as lon(t) = l0 + v*dt + acc*dt²/2
 * (dt in days from a reference instant), so every event has an instant known in closed form.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "domain/civil.h"
#include "domain/sky.h"
#include "domain/zodiac.h"

/* 2026-W12 starts on Monday 2026-03-16T00:00Z. */
#define W12 INT64_C(1773619200)
#define DAY 86400

typedef struct fake_body {
    double l0;  /* degrees at `ref` */
    double v;   /* degrees per day at `ref` */
    double acc; /* degrees per day² */
    int64_t ref;
} fake_body;

typedef struct fake {
    fake_body b[ZODIAC_BODY_COUNT];
    unsigned long calls;
    unsigned long fail_at; /* answer an error on this call (1-based); 0: never */
    bool nan;
} fake;

static int fake_position(void *self, zodiac_body body, double jd_ut, sky_motion *out, app_err *err)
{
    fake *f = self;
    cr_assert(body < ZODIAC_BODY_COUNT);
    if (++f->calls == f->fail_at)
        return app_err_set(err, APP_STORE_UNAVAILABLE, "fake failure");
    const fake_body *b = &f->b[body];
    double dt = jd_ut - sky_jd_from_unix((double)b->ref);
    out->lon_deg = b->l0 + b->v * dt + 0.5 * b->acc * dt * dt;
    out->speed_deg_per_day = f->nan ? NAN : b->v + b->acc * dt;
    return 0;
}

/*
 * A still sky: body i rests at 15 + 30i degrees, in the middle of a sign. A body that moves over
 * a range holding no longitude 15 (mod 30) then makes no aspect or lunation with the still ones,
 * so the only events are those a test sets up.
 */
static void fake_still(fake *f, int64_t ref)
{
    memset(f, 0, sizeof *f);
    for (unsigned i = 0; i < ZODIAC_BODY_COUNT; i++)
        f->b[i] = (fake_body){.l0 = 15 + 30.0 * i, .ref = ref};
}

static sky_ephemeris fake_source(fake *f)
{
    return (sky_ephemeris){.position = fake_position, .self = f};
}

static sky_week week;

static void week_compute(fake *f, int64_t start)
{
    sky_ephemeris src = fake_source(f);
    app_err err;
    app_err_clear(&err);
    int rc = sky_week_compute(&src, start, &week, &err);
    cr_assert_eq(rc, 0, "sky_week_compute: %s", err.message);
    for (size_t i = 1; i < week.nevents; i++)
        cr_assert(week.events[i - 1].at <= week.events[i].at, "events out of order at %zu", i);
    for (size_t i = 0; i < week.nevents; i++)
        cr_assert(week.events[i].at >= week.start && week.events[i].at < week.end);
}

/* ---- zodiac ---- */

Test(zodiac, sign_names_in_both_languages)
{
    cr_assert_str_eq(zodiac_sign_name(ZODIAC_ARIES, ZODIAC_LANG_EN), "aries");
    cr_assert_str_eq(zodiac_sign_name(ZODIAC_PISCES, ZODIAC_LANG_EN), "pisces");
    cr_assert_str_eq(zodiac_sign_name(ZODIAC_ARIES, ZODIAC_LANG_FR), "bélier");
    cr_assert_str_eq(zodiac_sign_name(ZODIAC_GEMINI, ZODIAC_LANG_FR), "gémeaux");
    cr_assert_str_eq(zodiac_sign_name(ZODIAC_CAPRICORN, ZODIAC_LANG_FR), "capricorne");
    cr_assert_null(zodiac_sign_name(ZODIAC_SIGN_COUNT, ZODIAC_LANG_EN));
    cr_assert_null(zodiac_sign_name(ZODIAC_LEO, ZODIAC_LANG_COUNT));
    for (unsigned i = 0; i < ZODIAC_SIGN_COUNT; i++) {
        const char *name = zodiac_sign_name((zodiac_sign)i, ZODIAC_LANG_EN);
        zodiac_sign s = ZODIAC_SIGN_COUNT;
        cr_assert(zodiac_sign_from_name(slice_make(name, strlen(name)), &s) && s == (zodiac_sign)i);
    }
}

Test(zodiac, sign_from_name_ignores_case_and_nothing_else)
{
    zodiac_sign s = ZODIAC_ARIES;
    cr_assert(zodiac_sign_from_name(SLICE_LIT("SagiTTarius"), &s) && s == ZODIAC_SAGITTARIUS);
    const char *bad[] = {"", "arie", "ariesx", " aries", "aries ", "bélier", "scorpion", "leo\n", "capricornus"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert(!zodiac_sign_from_name(slice_make(bad[i], strlen(bad[i])), &s), "accepted '%s'", bad[i]);
    /* A slice is not NUL-terminated: only its bytes count. */
    cr_assert(zodiac_sign_from_name(slice_make("leonine", 3), &s) && s == ZODIAC_LEO);
}

Test(zodiac, bodies_have_names)
{
    cr_assert_str_eq(zodiac_body_name(ZODIAC_SUN), "sun");
    cr_assert_str_eq(zodiac_body_name(ZODIAC_MEAN_NODE), "mean_node");
    cr_assert_null(zodiac_body_name(ZODIAC_BODY_COUNT));
    zodiac_body b;
    cr_assert(zodiac_body_from_name(SLICE_LIT("Pluto"), &b) && b == ZODIAC_PLUTO);
    cr_assert(!zodiac_body_from_name(SLICE_LIT("node"), &b));
}

Test(zodiac, sign_and_degree_of_any_longitude)
{
    cr_assert_eq(zodiac_sign_of(0), ZODIAC_ARIES);
    cr_assert_eq(zodiac_sign_of(29.999999), ZODIAC_ARIES);
    cr_assert_eq(zodiac_sign_of(30), ZODIAC_TAURUS);
    cr_assert_eq(zodiac_sign_of(359.9999), ZODIAC_PISCES);
    cr_assert_eq(zodiac_sign_of(360), ZODIAC_ARIES);
    cr_assert_eq(zodiac_sign_of(-0.0001), ZODIAC_PISCES);
    cr_assert_eq(zodiac_sign_of(-1e-20), ZODIAC_ARIES); /* rounds to 360, which is 0 */
    cr_assert_eq(zodiac_sign_of(725), ZODIAC_ARIES);
    cr_assert_eq(zodiac_sign_of(-90), ZODIAC_CAPRICORN);
    cr_assert_float_eq(zodiac_degree_in_sign(45.5), 15.5, 1e-12);
    cr_assert_float_eq(zodiac_degree_in_sign(-0.5), 29.5, 1e-12);
    cr_assert_float_eq(zodiac_lon_normalize(-360), 0, 0);
    for (double lon = -720; lon < 720; lon += 0.37) {
        double d = zodiac_degree_in_sign(lon);
        cr_assert(d >= 0 && d < 30);
        double n = zodiac_lon_normalize(lon);
        cr_assert(n >= 0 && n < 360);
        cr_assert_float_eq(30.0 * zodiac_sign_of(lon) + d, n, 1e-9);
    }
}

Test(zodiac, whole_sign_solar_houses)
{
    cr_assert_eq(zodiac_house_solar(ZODIAC_ARIES, ZODIAC_ARIES), 1);
    cr_assert_eq(zodiac_house_solar(ZODIAC_TAURUS, ZODIAC_ARIES), 2);
    cr_assert_eq(zodiac_house_solar(ZODIAC_PISCES, ZODIAC_ARIES), 12);
    cr_assert_eq(zodiac_house_solar(ZODIAC_ARIES, ZODIAC_PISCES), 2);
    cr_assert_eq(zodiac_house_solar(ZODIAC_LIBRA, ZODIAC_ARIES), 7);
    cr_assert_eq(zodiac_house_solar(ZODIAC_CANCER, ZODIAC_CAPRICORN), 7);
    for (unsigned r = 0; r < ZODIAC_SIGN_COUNT; r++) {
        unsigned seen = 0;
        for (unsigned b = 0; b < ZODIAC_SIGN_COUNT; b++) {
            unsigned h = zodiac_house_solar((zodiac_sign)b, (zodiac_sign)r);
            cr_assert(h >= 1 && h <= 12);
            seen |= 1u << h;
        }
        cr_assert_eq(seen, 0x1ffeu, "each house once for reader %u", r);
    }
}

Test(zodiac, iso_week_parse_and_format)
{
    zodiac_week w;
    cr_assert(zodiac_week_parse(SLICE_LIT("2026-W12"), &w));
    cr_assert_eq(w.year, 2026);
    cr_assert_eq(w.week, 12);
    cr_assert_eq(zodiac_week_start(w), W12);
    char s[ZODIAC_WEEK_STR_SIZE];
    zodiac_week_format(w, s);
    cr_assert_str_eq(s, "2026-W12");
    zodiac_week_format((zodiac_week){1, 1}, s);
    cr_assert_str_eq(s, "0001-W01");

    /* 2026 and 2020 have 53 weeks (1 January a Thursday; a leap year starting on Wednesday), 2025 has 52. */
    cr_assert(zodiac_week_parse(SLICE_LIT("2026-W53"), &w) && w.week == 53);
    cr_assert(zodiac_week_parse(SLICE_LIT("2020-W53"), &w));
    cr_assert(zodiac_week_parse(SLICE_LIT("9999-W52"), &w));
    const char *bad[] = {"2025-W53",  "2026-W54",   "2026-W00", "2026-w12",  "2026W12",   "2026-W1",
                         "2026-W012", "0000-W01",   "+026-W12", " 2026-W12", "2026-W12 ", "2026-12",
                         "2026-W1a",  "2026-W12-1", "",         "2026-W-1",  "２026-W12"};
    w = (zodiac_week){7, 7};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert(!zodiac_week_parse(slice_make(bad[i], strlen(bad[i])), &w), "accepted '%s'", bad[i]);
    cr_assert(w.year == 7 && w.week == 7, "a failed parse left `out` untouched");
    cr_assert(!zodiac_week_parse(slice_make("2026-W12", 7), &w));
}

Test(zodiac, iso_week_boundaries)
{
    int64_t ms;
    cr_assert(civil_parse_rfc3339_str("2024-12-30T00:00:00Z", &ms));
    zodiac_week w = zodiac_week_of(ms / 1000);
    cr_assert(w.year == 2025 && w.week == 1, "2024-12-30 is in 2025-W01, got %d-W%u", w.year, w.week);
    w = zodiac_week_of(ms / 1000 - 1);
    cr_assert(w.year == 2024 && w.week == 52);
    cr_assert(civil_parse_rfc3339_str("2027-01-03T23:59:59Z", &ms));
    w = zodiac_week_of(ms / 1000);
    cr_assert(w.year == 2026 && w.week == 53);
    w = zodiac_week_of(-1); /* 1969-12-31T23:59:59Z: before the epoch, days are floored, not truncated */
    cr_assert(w.year == 1970 && w.week == 1, "got %d-W%u", w.year, w.week);
    w = zodiac_week_of(INT64_C(-5364662400)); /* 1800-01-01, a Wednesday */
    cr_assert(w.year == 1800 && w.week == 1);
}

Test(zodiac, iso_weeks_tile_the_calendar)
{
    /* Weeks follow each other without gap or overlap, and their count obeys the ISO rule. */
    for (int64_t y = 1; y <= 9999; y++) {
        int64_t jan1 = civil_days_from_date(y, 1, 1);
        int64_t wd = ((jan1 + 3) % 7 + 7) % 7; /* Monday 0 */
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        unsigned expect = (wd == 3 || (leap && wd == 2)) ? 53 : 52;
        cr_assert_eq(zodiac_weeks_in_year(y), expect, "year %lld", (long long)y);
        if (y < 1700 || y > 2500)
            continue;
        for (unsigned k = 1; k <= expect; k++) {
            zodiac_week w = {(int32_t)y, k};
            int64_t s = zodiac_week_start(w);
            cr_assert_eq(((s / DAY + 3) % 7 + 7) % 7, 0, "weeks start on Mondays");
            zodiac_week a = zodiac_week_of(s), b = zodiac_week_of(s + ZODIAC_WEEK_SECONDS - 1);
            cr_assert(a.year == y && a.week == k && b.year == y && b.week == k);
            zodiac_week n = zodiac_week_of(s + ZODIAC_WEEK_SECONDS);
            cr_assert(n.year == (k == expect ? y + 1 : y) && n.week == (k == expect ? 1 : k + 1));
        }
    }
}

/* ---- sky ---- */

Test(sky, names)
{
    cr_assert_str_eq(sky_event_kind_name(SKY_EVENT_LUNATION), "lunation");
    cr_assert_str_eq(sky_phase_name(SKY_FULL_MOON), "full_moon");
    cr_assert_str_eq(sky_aspect_name(SKY_TRINE), "trine");
    cr_assert_eq(sky_aspect_angle(SKY_OPPOSITION), 180);
    cr_assert_null(sky_phase_name(SKY_PHASE_COUNT));
}

Test(sky, positions_at_the_week_start)
{
    fake f;
    fake_still(&f, W12);
    f.b[ZODIAC_MERCURY] = (fake_body){.l0 = -20.25, .v = -0.5, .ref = W12};
    week_compute(&f, W12);
    const sky_position *p = &week.positions[ZODIAC_MERCURY];
    cr_assert_eq(p->body, ZODIAC_MERCURY);
    cr_assert_float_eq(p->lon_deg, 339.75, 1e-9);
    cr_assert_eq(p->sign, ZODIAC_PISCES);
    cr_assert_float_eq(p->degree, 9.75, 1e-9);
    cr_assert(p->retrograde);
    cr_assert(!week.positions[ZODIAC_SUN].retrograde, "a speed of 0 is not retrograde");
    cr_assert_eq(week.positions[ZODIAC_MEAN_NODE].sign, ZODIAC_AQUARIUS); /* 15 + 30 * 10 */
    cr_assert_eq(week.start, W12);
    cr_assert_eq(week.end, W12 + 7 * DAY);
}

Test(sky, an_ingress_across_360_at_its_instant)
{
    fake f;
    fake_still(&f, W12);
    /* 359° at the start, 1°/day: Aries at exactly start + 1 day. */
    f.b[ZODIAC_SUN] = (fake_body){.l0 = 359, .v = 1, .ref = W12};
    week_compute(&f, W12);
    cr_assert_eq(week.nevents, 1, "got %zu events", week.nevents);
    const sky_event *e = &week.events[0];
    cr_assert_eq(e->kind, SKY_EVENT_INGRESS);
    cr_assert_eq(e->body, ZODIAC_SUN);
    cr_assert_eq(e->sign, ZODIAC_ARIES);
    cr_assert(!e->retrograde);
    cr_assert_eq(e->at, W12 + DAY);
    cr_assert_float_eq(e->lon_deg, 0, 0);
}

Test(sky, a_retrograde_ingress_enters_the_previous_sign)
{
    fake f;
    fake_still(&f, W12);
    /* 2° at the start, going backwards 1°/day: back into Pisces after 2 days. */
    f.b[ZODIAC_MERCURY] = (fake_body){.l0 = 2, .v = -1, .ref = W12};
    week_compute(&f, W12);
    cr_assert_eq(week.nevents, 1, "got %zu events", week.nevents);
    const sky_event *e = &week.events[0];
    cr_assert(e->kind == SKY_EVENT_INGRESS && e->body == ZODIAC_MERCURY && e->retrograde);
    cr_assert_eq(e->sign, ZODIAC_PISCES);
    cr_assert_eq(e->at, W12 + 2 * DAY);
}

Test(sky, a_station_with_its_sign_and_degree)
{
    fake f;
    fake_still(&f, W12);
    /* Speed 0 at start + 3.5 days at 100° (10° Cancer), direct before, retrograde after. */
    f.b[ZODIAC_MERCURY] = (fake_body){.l0 = 100, .acc = -0.4, .ref = W12 + 302400};
    week_compute(&f, W12);
    cr_assert_eq(week.nevents, 1, "got %zu events", week.nevents);
    const sky_event *e = &week.events[0];
    cr_assert(e->kind == SKY_EVENT_STATION && e->body == ZODIAC_MERCURY);
    cr_assert(e->retrograde, "turns retrograde");
    cr_assert_eq(e->at, W12 + 302400);
    cr_assert_eq(e->sign, ZODIAC_CANCER);
    cr_assert_float_eq(zodiac_degree_in_sign(e->lon_deg), 10, 1e-6);

    /* The mirror image turns direct. */
    f.b[ZODIAC_MERCURY].acc = 0.4;
    week_compute(&f, W12);
    cr_assert_eq(week.nevents, 1);
    cr_assert(week.events[0].kind == SKY_EVENT_STATION && !week.events[0].retrograde);
}

Test(sky, a_sign_touched_between_two_samples_is_not_missed)
{
    fake f;
    fake_still(&f, W12);
    /*
     * Mars peaks at 30.001° at start + 49.5 h (samples are at every 3 h) and stays under 30° at
     * every sample: it enters Taurus at 48.43 h, stations and backs into Aries at 50.57 h.
     * Comparing signs at the samples would see nothing.
     */
    int64_t peak = W12 + 49 * 3600 + 1800;
    f.b[ZODIAC_MARS] = (fake_body){.l0 = 30.001, .acc = -1, .ref = peak};
    week_compute(&f, W12);
    cr_assert_eq(week.nevents, 3, "got %zu events", week.nevents);
    double half = sqrt(2 * 0.001) * DAY; /* 0.001 = acc/2 * dt² */
    const sky_event *in = &week.events[0], *st = &week.events[1], *out = &week.events[2];
    cr_assert(in->kind == SKY_EVENT_INGRESS && in->sign == ZODIAC_TAURUS && !in->retrograde);
    cr_assert_eq(in->at, peak - llround(half));
    cr_assert(st->kind == SKY_EVENT_STATION && st->retrograde && st->at == peak && st->sign == ZODIAC_TAURUS);
    cr_assert(out->kind == SKY_EVENT_INGRESS && out->sign == ZODIAC_ARIES && out->retrograde);
    cr_assert_eq(out->at, peak + llround(half));
}

Test(sky, a_fast_moon_loses_no_ingress_and_no_lunation)
{
    fake f;
    fake_still(&f, W12);
    /* 300°/day, 37.5° per sample step: many events between each pair of samples. */
    f.b[ZODIAC_MOON] = (fake_body){.l0 = 10, .v = 300, .ref = W12};
    week_compute(&f, W12);
    /* Longitude 10 -> 2110: boundaries 30..2100 (70); elongation from the Sun at 15: -5 -> 2095, 0..2070 (24). */
    size_t ingresses = 0, lunations = 0;
    for (size_t i = 0; i < week.nevents; i++) {
        const sky_event *e = &week.events[i];
        if (e->kind == SKY_EVENT_INGRESS) {
            ingresses++;
            cr_assert_eq(e->body, ZODIAC_MOON);
            cr_assert_eq(e->sign, (zodiac_sign)(ingresses % 12), "signs in order");
            double t = (30.0 * (double)ingresses - 10) / 300 * DAY;
            cr_assert_eq(e->at, W12 + llround(t), "ingress %zu", ingresses);
        } else {
            cr_assert_eq(e->kind, SKY_EVENT_LUNATION);
            cr_assert_eq(e->phase, (sky_phase)(lunations % 4));
            cr_assert_eq(e->sign, zodiac_sign_of(15 + 90.0 * (double)lunations), "the Moon's sign");
            double t = (90.0 * (double)lunations + 5) / 300 * DAY;
            cr_assert(llabs(e->at - (W12 + llround(t))) <= 1, "lunation %zu", lunations);
            lunations++;
        }
    }
    cr_assert_eq(ingresses, 70);
    cr_assert_eq(lunations, 24);
    cr_assert_eq(week.nevents, 94);
}

Test(sky, lunation_phases_and_the_moons_sign)
{
    fake f;
    fake_still(&f, W12);
    f.b[ZODIAC_SUN] = (fake_body){.l0 = 350, .v = 1, .ref = W12};
    /* The Moon 170° ahead of the Sun at the start (in Aries), gaining 12°/day: full after 10/12 day. */
    f.b[ZODIAC_MOON] = (fake_body){.l0 = 160, .v = 13, .ref = W12};
    week_compute(&f, W12);
    const sky_event *full = NULL;
    size_t lunations = 0;
    for (size_t i = 0; i < week.nevents; i++) {
        if (week.events[i].kind == SKY_EVENT_LUNATION) {
            full = &week.events[i];
            lunations++;
        }
    }
    cr_assert_eq(lunations, 1);
    cr_assert_eq(full->phase, SKY_FULL_MOON);
    cr_assert_eq(full->at, W12 + llround(10.0 / 12 * DAY));
    cr_assert_eq(full->body, ZODIAC_MOON);
    cr_assert_eq(full->other, ZODIAC_SUN);
    cr_assert_eq(full->sign, ZODIAC_VIRGO); /* 160 + 13 * 10/12 = 170.8° */
    cr_assert_float_eq(fabs(remainder(full->lon_deg - full->other_lon_deg, 360)), 180, 1e-3);
}

Test(sky, aspects_both_ways_through_a_relative_turn)
{
    fake f;
    fake_still(&f, W12);
    /*
     * Jupiter stays at 165° (15° Virgo). Venus swings out to 285.0005°, 120.0005° from it, and
     * back, turning at start + 4 days: two exact trines about 5 minutes apart, on either side of
     * the turn and within one sample step.
     */
    int64_t turn = W12 + 4 * DAY;
    f.b[ZODIAC_VENUS] = (fake_body){.l0 = 285.0005, .acc = -2, .ref = turn};
    week_compute(&f, W12);
    size_t trines = 0;
    double half = sqrt(0.0005) * DAY; /* 0.0005 = acc/2 * dt² */
    for (size_t i = 0; i < week.nevents; i++) {
        const sky_event *e = &week.events[i];
        if (e->kind != SKY_EVENT_ASPECT || e->other != ZODIAC_JUPITER)
            continue;
        cr_assert_eq(e->body, ZODIAC_VENUS);
        cr_assert_eq(e->aspect, SKY_TRINE);
        cr_assert_eq(e->sign, ZODIAC_CAPRICORN);
        cr_assert_eq(e->at, turn + (trines == 0 ? -1 : 1) * llround(half));
        cr_assert_float_eq(e->lon_deg - e->other_lon_deg, 120, 1e-6);
        trines++;
    }
    cr_assert_eq(trines, 2);
}

Test(sky, a_maximum_that_only_touches_a_target_counts_once)
{
    fake f;
    fake_still(&f, W12);
    /*
     * Venus peaks at exactly 285°, 120° from Jupiter, on a sample (exact in binary): the rising
     * piece reaches the target and the falling one leaves it; one exact trine, at the peak.
     */
    int64_t turn = W12 + 4 * DAY;
    f.b[ZODIAC_VENUS] = (fake_body){.l0 = 285, .acc = -2, .ref = turn};
    week_compute(&f, W12);
    size_t trines = 0;
    for (size_t i = 0; i < week.nevents; i++)
        if (week.events[i].kind == SKY_EVENT_ASPECT && week.events[i].other == ZODIAC_JUPITER) {
            trines++;
            cr_assert_eq(week.events[i].at, turn);
        }
    cr_assert_eq(trines, 1);
}

Test(sky, an_event_on_a_week_boundary_belongs_to_the_week_it_starts)
{
    fake f;
    fake_still(&f, W12);
    /* At 0° exactly at W12's start, moving forward: W12 holds the ingress, W11 does not. */
    f.b[ZODIAC_SUN] = (fake_body){.l0 = 0, .v = 1, .ref = W12};
    week_compute(&f, W12);
    cr_assert_eq(week.nevents, 1);
    cr_assert_eq(week.events[0].at, W12);
    week_compute(&f, W12 - 7 * DAY);
    cr_assert_eq(week.nevents, 0);

    /* The same backwards: at 0° at the start and leaving Aries at once. */
    f.b[ZODIAC_SUN].v = -1;
    week_compute(&f, W12);
    cr_assert_eq(week.nevents, 1);
    cr_assert(week.events[0].at == W12 && week.events[0].sign == ZODIAC_PISCES);
    week_compute(&f, W12 - 7 * DAY);
    cr_assert_eq(week.nevents, 0);
}

Test(sky, spans_and_capacity_are_checked)
{
    fake f;
    fake_still(&f, W12);
    f.b[ZODIAC_MOON] = (fake_body){.l0 = 10, .v = 300, .ref = W12};
    sky_ephemeris src = fake_source(&f);
    sky_event ev[10];
    size_t n = 99;
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(sky_events_find(&src, W12, W12, ev, 10, &n, &err), APP_VALIDATION_ERROR);
    cr_assert_eq(sky_events_find(&src, W12, W12 + SKY_SPAN_MAX_S + 1, ev, 10, &n, &err), APP_VALIDATION_ERROR);
    cr_assert_eq(sky_events_find(&src, W12, W12 + 7 * DAY, ev, 10, &n, &err), APP_INTERNAL_ERROR);
    cr_assert(strstr(err.message, "more than 10") != NULL, "%s", err.message);
    /* A short span with room. */
    cr_assert_eq(sky_events_find(&src, W12, W12 + 6000, ev, 10, &n, &err), 0);
    /* A new moon as the Moon passes the Sun at 15° (5° in 1440 s), then Taurus (20° in 5760 s). */
    cr_assert_eq(n, 2);
    cr_assert(ev[0].kind == SKY_EVENT_LUNATION && ev[0].at == W12 + 1440);
    cr_assert(ev[1].kind == SKY_EVENT_INGRESS && ev[1].at == W12 + 5760 && ev[1].sign == ZODIAC_TAURUS);
}

Test(sky, ephemeris_errors_stop_the_computation)
{
    fake f;
    fake_still(&f, W12);
    sky_ephemeris src = fake_source(&f);
    app_err err;
    app_err_clear(&err);
    f.fail_at = 300;
    cr_assert_eq(sky_week_compute(&src, W12, &week, &err), APP_STORE_UNAVAILABLE);
    cr_assert_str_eq(err.message, "fake failure");

    fake_still(&f, W12);
    f.nan = true;
    app_err_clear(&err);
    cr_assert_eq(sky_week_compute(&src, W12, &week, &err), APP_INTERNAL_ERROR);
    cr_assert(strstr(err.message, "non-finite") != NULL);
}

Test(sky, a_still_sky_has_no_events_and_costs_one_call_per_body_and_sample)
{
    fake f;
    fake_still(&f, W12);
    week_compute(&f, W12);
    cr_assert_eq(week.nevents, 0);
    /* Positions (11) + 58 samples (from start - 3 h to the end) of 11 bodies. */
    cr_assert_eq(f.calls, ZODIAC_BODY_COUNT * (1 + 1 + 7 * 8 + 1), "%lu calls", f.calls);
}
