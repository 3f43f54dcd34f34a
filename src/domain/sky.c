/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * How events are found. Every event is the instant at which some quantity crosses a target:
 *   ingress   a body's longitude crosses a multiple of 30°;
 *   station   a body's speed crosses 0;
 *   lunation  Moon minus Sun crosses a multiple of 90°;
 *   aspect    body A minus body B crosses 0, 60, 90, 120, 180, 240, 270 or 300°.
 * The span is sampled every SKY_SAMPLE_STEP_S. Between two samples, each quantity is cut where
 * its derivative changes sign (a station, or two bodies at equal speed), so that it is monotonic
 * on every piece; on a monotonic piece the targets crossed are exactly those between its end
 * values, however many there are, and each is then located by Brent's method to well under a
 * second. Nothing is missed as long as a derivative does not change sign twice within a step,
 * which the bodies' dynamics rule out by a wide margin (stations are weeks apart).
 * Angles are unwrapped piece by piece with remainder(), so 359° -> 1° is a 2° step, not -358°.
 */
#include "domain/sky.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

/* The root finder stops when the instant is known to this many seconds. */
#define ROOT_TOL_S 0.05
#define ROOT_MAX_ITER 200

static const char *const kind_names[SKY_EVENT_KIND_COUNT] = {"ingress", "station", "lunation", "aspect"};
static const char *const phase_names[SKY_PHASE_COUNT] = {"new_moon", "first_quarter", "full_moon", "last_quarter"};
static const char *const aspect_names[SKY_ASPECT_COUNT] = {"conjunction", "sextile", "square", "trine", "opposition"};
static const unsigned aspect_angles[SKY_ASPECT_COUNT] = {0, 60, 90, 120, 180};

const char *sky_event_kind_name(sky_event_kind kind)
{
    return (unsigned)kind < SKY_EVENT_KIND_COUNT ? kind_names[kind] : NULL;
}

const char *sky_phase_name(sky_phase phase)
{
    return (unsigned)phase < SKY_PHASE_COUNT ? phase_names[phase] : NULL;
}

const char *sky_aspect_name(sky_aspect aspect)
{
    return (unsigned)aspect < SKY_ASPECT_COUNT ? aspect_names[aspect] : NULL;
}

unsigned sky_aspect_angle(sky_aspect aspect)
{
    assert((unsigned)aspect < SKY_ASPECT_COUNT);
    return aspect_angles[aspect];
}

/* Targets of each kind of quantity, in degrees within one turn. */
static const double ingress_targets[] = {0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330};
static const double lunation_targets[] = {0, 90, 180, 270};
static const double aspect_targets[] = {0, 60, 90, 120, 180, 240, 270, 300};

/* The bodies whose mutual aspects are reported: the Moon is too fast and the node is not a body. */
static bool takes_aspects(zodiac_body b)
{
    return b != ZODIAC_MOON && b != ZODIAC_MEAN_NODE;
}

/* A quantity whose crossings are events: lon(a), or lon(a) - lon(b) when a != b. */
typedef struct quantity {
    sky_event_kind kind; /* INGRESS (its turning points are stations), LUNATION or ASPECT */
    zodiac_body a, b;
} quantity;

/* One sample of every body; t is in seconds from the span's start. */
typedef struct row {
    double t;
    sky_motion m[ZODIAC_BODY_COUNT];
} row;

typedef struct scan {
    const sky_ephemeris *eph;
    int64_t start;
    double span; /* seconds */
    double jd0;  /* Julian Day of `start` */
    sky_event *out;
    size_t cap, n;
    app_err *err;
} scan;

static int motion_get(scan *sc, zodiac_body body, double t, sky_motion *out)
{
    int rc = sc->eph->position(sc->eph->self, body, sc->jd0 + t / 86400.0, out, sc->err);
    if (rc != 0)
        return rc;
    /* A NaN would silently break every comparison below; refuse it at the door. */
    if (!isfinite(out->lon_deg) || !isfinite(out->speed_deg_per_day))
        return app_err_set(sc->err, APP_INTERNAL_ERROR, "the ephemeris answered a non-finite position for %s",
                           zodiac_body_name(body));
    out->lon_deg = zodiac_lon_normalize(out->lon_deg);
    return 0;
}

static int row_fill(scan *sc, double t, row *r)
{
    r->t = t;
    for (unsigned b = 0; b < ZODIAC_BODY_COUNT; b++) {
        int rc = motion_get(sc, (zodiac_body)b, t, &r->m[b]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static double q_value(const quantity *q, const sky_motion *ma, const sky_motion *mb)
{
    return q->a == q->b ? ma->lon_deg : ma->lon_deg - mb->lon_deg;
}

static double q_deriv(const quantity *q, const sky_motion *ma, const sky_motion *mb)
{
    return q->a == q->b ? ma->speed_deg_per_day : ma->speed_deg_per_day - mb->speed_deg_per_day;
}

/* The quantity's value and derivative at t, from the ephemeris. */
static int q_eval(scan *sc, const quantity *q, double t, double *value, double *deriv, sky_motion *ma, sky_motion *mb)
{
    int rc = motion_get(sc, q->a, t, ma);
    if (rc == 0 && q->b != q->a)
        rc = motion_get(sc, q->b, t, mb);
    if (rc != 0)
        return rc;
    if (q->b == q->a)
        *mb = *ma;
    *value = q_value(q, ma, mb);
    *deriv = q_deriv(q, ma, mb);
    return 0;
}

/* What a root finder evaluates: the derivative (turning points) or value - target, wrapped. */
typedef struct root_ctx {
    scan *sc;
    const quantity *q;
    bool of_deriv;
    double target;
} root_ctx;

static int root_fn(root_ctx *c, double t, double *f)
{
    double v, d;
    sky_motion ma, mb;
    int rc = q_eval(c->sc, c->q, t, &v, &d, &ma, &mb);
    if (rc != 0)
        return rc;
    *f = c->of_deriv ? d : remainder(v - c->target, 360.0);
    return 0;
}

/*
 * Brent's method (as in Numerical Recipes' zbrent) on [a, b] where fa and fb, already known, do
 * not have the same sign. Returns the end itself when its value is exactly 0, which keeps events
 * that fall exactly on a sample in exactly one interval.
 */
static int root_find(root_ctx *ctx, double a, double fa, double b, double fb, double *root)
{
    assert(!(fa > 0 && fb > 0) && !(fa < 0 && fb < 0));
    double c = b, fc = fb, d = b - a, e = d;
    for (int iter = 0; iter < ROOT_MAX_ITER; iter++) {
        if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
            c = a;
            fc = fa;
            e = d = b - a;
        }
        if (fabs(fc) < fabs(fb)) {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        double tol1 = 2.0 * DBL_EPSILON * fabs(b) + 0.5 * ROOT_TOL_S;
        double xm = 0.5 * (c - b);
        if (fabs(xm) <= tol1 || fb == 0) {
            *root = b;
            return 0;
        }
        if (fabs(e) >= tol1 && fabs(fa) > fabs(fb)) {
            double s = fb / fa, p, q;
            if (a == c) {
                p = 2.0 * xm * s;
                q = 1.0 - s;
            } else {
                double qq = fa / fc, r = fb / fc;
                p = s * (2.0 * xm * qq * (qq - r) - (b - a) * (r - 1.0));
                q = (qq - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if (p > 0)
                q = -q;
            p = fabs(p);
            double min1 = 3.0 * xm * q - fabs(tol1 * q), min2 = fabs(e * q);
            if (2.0 * p < (min1 < min2 ? min1 : min2)) {
                e = d;
                d = p / q;
            } else {
                d = xm;
                e = d;
            }
        } else {
            d = xm;
            e = d;
        }
        a = b;
        fa = fb;
        b += fabs(d) > tol1 ? d : copysign(tol1, xm);
        int rc = root_fn(ctx, b, &fb);
        if (rc != 0)
            return rc;
    }
    /* Brent converges in a few dozen steps on any bracket; this is a broken ephemeris. */
    return app_err_set(ctx->sc->err, APP_INTERNAL_ERROR, "sky root finding did not converge");
}

/* Appends `ev`, found at t seconds from the start, when t lies in [0, span). */
static int event_add(scan *sc, double t, sky_event ev)
{
    if (!(t >= 0 && t < sc->span))
        return 0;
    if (sc->n == sc->cap)
        return app_err_set(sc->err, APP_INTERNAL_ERROR, "more than %zu sky events in one span", sc->cap);
    int64_t off = llround(t);
    int64_t last = (int64_t)ceil(sc->span) - 1;
    ev.at = sc->start + (off > last ? last : off);
    ev.lon_deg = zodiac_lon_normalize(ev.lon_deg);
    ev.other_lon_deg = zodiac_lon_normalize(ev.other_lon_deg);
    sc->out[sc->n++] = ev;
    return 0;
}

static int floor_mod(long a, int m)
{
    long r = a % m;
    return (int)(r < 0 ? r + m : r);
}

/* The event for `q` crossing `x` (unwrapped degrees) at t, moving up when `rising`. */
static int crossing_add(scan *sc, const quantity *q, double x, bool rising, double t)
{
    if (!(t >= 0 && t < sc->span))
        return 0; /* found in the lead before the span: spare the ephemeris calls below */
    sky_event ev = {.kind = q->kind, .body = q->a, .other = q->b, .retrograde = !rising};
    long whole = lround(x); /* targets are whole degrees */
    int turn = floor_mod(whole, 360);
    if (q->kind == SKY_EVENT_INGRESS) {
        /* Moving backwards across a boundary enters the sign before it. */
        ev.sign = (zodiac_sign)floor_mod(whole / 30 - (rising ? 0 : 1), ZODIAC_SIGN_COUNT);
        ev.lon_deg = ev.other_lon_deg = (double)turn;
        return event_add(sc, t, ev);
    }
    sky_motion ma, mb;
    double v, d;
    int rc = q_eval(sc, q, t, &v, &d, &ma, &mb);
    if (rc != 0)
        return rc;
    ev.lon_deg = ma.lon_deg;
    ev.other_lon_deg = mb.lon_deg;
    ev.sign = zodiac_sign_of(ma.lon_deg);
    ev.retrograde = false;
    if (q->kind == SKY_EVENT_LUNATION) {
        ev.phase = (sky_phase)(turn / 90);
    } else {
        int angle = turn <= 180 ? turn : 360 - turn;
        for (unsigned i = 0; i < SKY_ASPECT_COUNT; i++)
            if (aspect_angles[i] == (unsigned)angle)
                ev.aspect = (sky_aspect)i;
    }
    return event_add(sc, t, ev);
}

/*
 * `q` is monotonic on [t0, t1] from v0 to v1 (v1 wrapped). Adds every target crossed: rising,
 * those in (v0, v1]; falling, those in (v1, v0], so that the state "value >= target" changes at
 * the instant reported and a crossing exactly on a shared end is counted once. A piece that
 * starts at a turning point leaves out its start value: a maximum that just touches a target was
 * counted, once, by the piece that rose to it.
 */
static int crossings_scan(scan *sc, const quantity *q, double t0, double v0, double t1, double v1_raw,
                          bool from_turning_point)
{
    double v1 = v0 + remainder(v1_raw - v0, 360.0);
    if (v1 == v0)
        return 0;
    bool rising = v1 > v0;
    double lo = rising ? v0 : v1, hi = rising ? v1 : v0;
    const double *targets;
    size_t ntargets;
    switch (q->kind) {
    case SKY_EVENT_INGRESS:
        targets = ingress_targets;
        ntargets = sizeof ingress_targets / sizeof *ingress_targets;
        break;
    case SKY_EVENT_LUNATION:
        targets = lunation_targets;
        ntargets = sizeof lunation_targets / sizeof *lunation_targets;
        break;
    default:
        targets = aspect_targets;
        ntargets = sizeof aspect_targets / sizeof *aspect_targets;
        break;
    }
    root_ctx ctx = {.sc = sc, .q = q};
    for (double turn = floor(lo / 360.0) * 360.0; turn <= hi; turn += 360.0) {
        for (size_t i = 0; i < ntargets; i++) {
            double x = turn + targets[i];
            if (!(x > lo && x <= hi))
                continue;
            if (!rising && from_turning_point && x == hi)
                continue;
            double t;
            ctx.target = x;
            int rc = root_find(&ctx, t0, v0 - x, t1, v1 - x, &t);
            if (rc == 0)
                rc = crossing_add(sc, q, x, rising, t);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* All events of `q` between two consecutive samples. */
static int quantity_scan(scan *sc, const quantity *q, const row *ra, const row *rb)
{
    const sky_motion *aa = &ra->m[q->a], *ab = &ra->m[q->b], *ba = &rb->m[q->a], *bb = &rb->m[q->b];
    double va = q_value(q, aa, ab), da = q_deriv(q, aa, ab);
    double vb = q_value(q, ba, bb), db = q_deriv(q, ba, bb);
    /* "Retrograde" means speed < 0, so a speed of exactly 0 counts as direct, on both sides alike. */
    if ((da < 0) == (db < 0))
        return crossings_scan(sc, q, ra->t, va, rb->t, vb, false);

    root_ctx ctx = {.sc = sc, .q = q, .of_deriv = true};
    double tm, vm, dm;
    sky_motion ma, mb;
    int rc = root_find(&ctx, ra->t, da, rb->t, db, &tm);
    if (rc == 0)
        rc = q_eval(sc, q, tm, &vm, &dm, &ma, &mb);
    if (rc == 0 && q->kind == SKY_EVENT_INGRESS) {
        sky_event ev = {.kind = SKY_EVENT_STATION,
                        .body = q->a,
                        .other = q->a,
                        .sign = zodiac_sign_of(ma.lon_deg),
                        .lon_deg = ma.lon_deg,
                        .other_lon_deg = ma.lon_deg,
                        .retrograde = db < 0};
        rc = event_add(sc, tm, ev);
    }
    if (rc == 0)
        rc = crossings_scan(sc, q, ra->t, va, tm, vm, false);
    if (rc == 0)
        rc = crossings_scan(sc, q, tm, vm, rb->t, vb, true);
    return rc;
}

static int event_cmp(const void *pa, const void *pb)
{
    const sky_event *a = pa, *b = pb;
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    if (a->kind != b->kind)
        return (int)a->kind - (int)b->kind;
    if (a->body != b->body)
        return (int)a->body - (int)b->body;
    return (int)a->other - (int)b->other;
}

/* The quantities whose crossings are events; returns their number. */
static size_t quantities_list(quantity *qs)
{
    size_t n = 0;
    for (unsigned b = 0; b < ZODIAC_BODY_COUNT; b++)
        qs[n++] = (quantity){SKY_EVENT_INGRESS, (zodiac_body)b, (zodiac_body)b};
    qs[n++] = (quantity){SKY_EVENT_LUNATION, ZODIAC_MOON, ZODIAC_SUN};
    for (unsigned a = 0; a < ZODIAC_BODY_COUNT; a++)
        for (unsigned b = a + 1; b < ZODIAC_BODY_COUNT; b++)
            if (takes_aspects((zodiac_body)a) && takes_aspects((zodiac_body)b))
                qs[n++] = (quantity){SKY_EVENT_ASPECT, (zodiac_body)a, (zodiac_body)b};
    return n;
}

#define QUANTITIES_MAX (ZODIAC_BODY_COUNT + 1 + ZODIAC_BODY_COUNT * ZODIAC_BODY_COUNT / 2)

int sky_events_find(const sky_ephemeris *eph, int64_t start, int64_t end, sky_event *out, size_t cap, size_t *n,
                    app_err *err)
{
    *n = 0;
    if (end <= start || end - start > SKY_SPAN_MAX_S)
        return app_err_set(err, APP_VALIDATION_ERROR, "a sky span must last from 1 second to %d days",
                           SKY_SPAN_MAX_S / 86400);
    scan sc = {.eph = eph,
               .start = start,
               .span = (double)(end - start),
               .jd0 = sky_jd_from_unix((double)start),
               .out = out,
               .cap = cap,
               .err = err};
    quantity qs[QUANTITIES_MAX];
    size_t nq = quantities_list(qs);

    /* Two rows are enough: each interval is finished before the next sample is taken. */
    row rows[2];
    int rc = row_fill(&sc, -SKY_SAMPLE_STEP_S, &rows[0]);
    for (unsigned k = 0; rc == 0 && rows[k & 1].t < sc.span; k++) {
        const row *ra = &rows[k & 1];
        row *rb = &rows[(k + 1) & 1];
        double t = ra->t + SKY_SAMPLE_STEP_S;
        rc = row_fill(&sc, t < sc.span ? t : sc.span, rb);
        for (size_t i = 0; rc == 0 && i < nq; i++)
            rc = quantity_scan(&sc, &qs[i], ra, rb);
    }
    if (rc != 0)
        return rc;
    qsort(out, sc.n, sizeof *out, event_cmp);
    *n = sc.n;
    return 0;
}

int sky_positions_compute(const sky_ephemeris *eph, int64_t at, sky_position out[ZODIAC_BODY_COUNT], app_err *err)
{
    scan sc = {.eph = eph, .start = at, .jd0 = sky_jd_from_unix((double)at), .err = err};
    for (unsigned b = 0; b < ZODIAC_BODY_COUNT; b++) {
        sky_motion m;
        int rc = motion_get(&sc, (zodiac_body)b, 0, &m);
        if (rc != 0)
            return rc;
        out[b] = (sky_position){.body = (zodiac_body)b,
                                .lon_deg = m.lon_deg,
                                .sign = zodiac_sign_of(m.lon_deg),
                                .degree = zodiac_degree_in_sign(m.lon_deg),
                                .speed_deg_per_day = m.speed_deg_per_day,
                                .retrograde = m.speed_deg_per_day < 0};
    }
    return 0;
}

int sky_week_compute(const sky_ephemeris *eph, int64_t start, sky_week *out, app_err *err)
{
    out->start = start;
    out->end = start + ZODIAC_WEEK_SECONDS;
    out->nevents = 0;
    int rc = sky_positions_compute(eph, start, out->positions, err);
    if (rc == 0)
        rc = sky_events_find(eph, start, out->end, out->events, SKY_WEEK_EVENTS_MAX, &out->nevents, err);
    return rc;
}
