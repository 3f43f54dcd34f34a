/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Metering and contractual limits over HTTP: counted once, enforced exactly, shown consistently. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "integration/harness.h"

static th_server srv;
static app_clock tclock;
static store *faulty;

#define WEEKLY "/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2026-W47"

/*
 * Built three times: with the default durability on SQLite, with fsync (integration_test_metering_fsync),
 * and on PostgreSQL (integration_test_metering_postgres).
 */
#ifndef TEST_DURABILITY
#define TEST_DURABILITY 0
#endif
#ifndef TEST_POSTGRES
#define TEST_POSTGRES 0
#endif

static void setup(void)
{
    clock_test_init(&tclock, 1795000000000LL); /* 2026-11-18T11:06:40Z, a Wednesday */
    char dir[256];
    th_tmpdir(dir);
    char db[300];
    snprintf(db, sizeof db, "%s/starmeter.db", dir);
    app_err err;
    app_err_clear(&err);
    store *inner;
    if (TEST_POSTGRES) {
        char uri[512];
        th_pg_new_database(uri, sizeof uri);
        inner = store_pg_open(uri, 4, &err);
    } else {
        inner = store_sqlite_open(db, &err);
    }
    cr_assert_not_null(inner, "%s", err.message);
    faulty = store_faulty_new(inner, -1);
    th_opts o = {.clock = &tclock, .store = faulty, .dir = dir, .durability = TEST_DURABILITY};
    th_start(&srv, &o);
    srv.keep_dir = false; /* removed at stop */
}

static void teardown(void)
{
    th_stop(&srv);
}

TestSuite(metering, .init = setup, .fini = teardown, .timeout = 120);

static void admin_ok(const char *method, const char *path, const char *body)
{
    th_response r;
    long st = th_admin(&srv, method, path, body, &r);
    cr_assert(st == 200 || st == 201, "%s %s: %s", method, path, r.body);
    th_response_free(&r);
}

/* A plan (body), an account on it in `tz`, and `n` keys; returns the account id. */
static int64_t setup_account(const char *plan_body, const char *code, const char *tz, int n, char keys[][80])
{
    char path[128], body[160];
    admin_ok("POST", "/v1/admin/plans", plan_body);
    th_response r;
    th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"Acme\"}", &r);
    int64_t id = json_integer_value(json_object_get(th_data(&r), "id"));
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", (long long)id);
    snprintf(body, sizeof body, "{\"plan_code\":\"%s\",\"timezone\":\"%s\"}", code, tz);
    admin_ok("PUT", path, body);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", (long long)id);
    for (int i = 0; i < n; i++) {
        th_admin(&srv, "POST", path, "{\"label\":\"k\"}", &r);
        snprintf(keys[i], 80, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
        th_response_free(&r);
    }
    return id;
}

static long get(const char *path, const char *key, th_response *r)
{
    return th_keyed(&srv, path, key, r);
}

static json_t *summary(const char *key, th_response *r)
{
    cr_assert_eq(get("/v1/b2b/usage/summary", key, r), 200, "%s", r->body);
    return th_data(r);
}

static int64_t jint(json_t *o, const char *a, const char *b)
{
    return json_integer_value(json_object_get(json_object_get(o, a), b));
}

Test(metering, block_mode_refuses_exactly_past_the_limit)
{
    char keys[1][80];
    setup_account("{\"code\":\"b3\",\"name\":\"B3\",\"daily_limit\":3,\"monthly_limit\":100}", "b3", "UTC", 1, keys);
    th_response r;
    for (int i = 1; i <= 3; i++) {
        cr_assert_eq(get(WEEKLY, keys[0], &r), 200, "call %d: %s", i, r.body);
        json_t *u = json_object_get(json_object_get(r.json, "meta"), "usage");
        cr_assert_eq(jint(u, "daily", "used"), i);
        cr_assert_eq(jint(u, "daily", "limit"), 3);
        cr_assert_eq(jint(u, "daily", "remaining"), 3 - i);
        cr_assert_eq(jint(u, "monthly", "used"), i);
        char policy[256];
        cr_assert(th_header(&r, "ratelimit-policy", policy, sizeof policy));
        th_response_free(&r);
    }
    get(WEEKLY, keys[0], &r);
    th_assert_error(&r, 429, "b2b_quota_exceeded");
    json_t *d = json_object_get(json_object_get(r.json, "error"), "details");
    cr_assert_str_eq(json_string_value(json_object_get(d, "period")), "daily");
    cr_assert_eq(json_integer_value(json_object_get(d, "limit")), 3);
    cr_assert_eq(json_integer_value(json_object_get(d, "used")), 3);
    cr_assert_eq(json_integer_value(json_object_get(d, "remaining")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(d, "resets_at")), "2026-11-19T00:00:00Z");
    cr_assert_str_eq(json_string_value(json_object_get(d, "mode")), "block");
    th_response_free(&r);

    json_t *s = summary(keys[0], &r);
    cr_assert_eq(jint(s, "daily", "used"), 3);
    cr_assert_eq(jint(s, "daily", "blocked"), 1);
    cr_assert_eq(jint(s, "daily", "remaining"), 0);
    cr_assert_eq(jint(s, "monthly", "used"), 3);
    cr_assert_eq(jint(s, "cumulative", "used"), 3);
    th_response_free(&r);

    /* The first block of the day is an audit event. */
    th_admin(&srv, "GET", "/v1/admin/audit?action=quota.block", NULL, &r);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 1, "%s", r.body);
    th_response_free(&r);
}

Test(metering, overage_mode_serves_marks_and_caps)
{
    char keys[1][80];
    setup_account("{\"code\":\"ov\",\"name\":\"Ov\",\"daily_limit\":2,\"limit_mode\":\"overage\",\"overage_cap\":1}",
                  "ov", "UTC", 1, keys);
    th_response r;
    char h[16];
    for (int i = 1; i <= 2; i++) {
        cr_assert_eq(get(WEEKLY, keys[0], &r), 200);
        cr_assert(!th_header(&r, "x-quota-overage", h, sizeof h));
        th_response_free(&r);
    }
    cr_assert_eq(get(WEEKLY, keys[0], &r), 200, "%s", r.body);
    cr_assert(th_header(&r, "x-quota-overage", h, sizeof h));
    cr_assert_str_eq(h, "true");
    th_response_free(&r);
    get(WEEKLY, keys[0], &r);
    th_assert_error(&r, 429, "b2b_quota_exceeded");
    th_response_free(&r);
    json_t *s = summary(keys[0], &r);
    cr_assert_eq(jint(s, "daily", "used"), 3);
    cr_assert_eq(jint(s, "daily", "overage"), 1);
    cr_assert_eq(jint(s, "daily", "blocked"), 1);
    cr_assert_str_eq(json_string_value(json_object_get(s, "mode")), "overage");
    th_response_free(&r);
    th_request(&srv, "GET", "/metrics", NULL, NULL, &r);
    cr_assert(strstr(r.body, "b2b_usage_events_total{outcome=\"served\"} 2\n"), "%s", r.body);
    cr_assert(strstr(r.body, "b2b_usage_events_total{outcome=\"overage\"} 1\n"));
    cr_assert(strstr(r.body, "b2b_usage_events_total{outcome=\"blocked\"} 1\n"));
    cr_assert(strstr(r.body, "b2b_quota_exceeded_total{period=\"daily\",mode=\"overage\"} 2\n"));
    th_response_free(&r);
}

Test(metering, the_day_resets_at_local_midnight)
{
    char keys[1][80];
    setup_account("{\"code\":\"d1\",\"name\":\"D1\",\"daily_limit\":1}", "d1", "Europe/Paris", 1, keys);
    clock_test_set(&tclock, 1795042740000LL); /* 2026-11-18T22:59:00Z = 23:59 in Paris */
    th_response r;
    cr_assert_eq(get(WEEKLY, keys[0], &r), 200);
    th_response_free(&r);
    get(WEEKLY, keys[0], &r);
    th_assert_error(&r, 429, "b2b_quota_exceeded");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_object_get(r.json, "error"), "details"), "resets_at")),
        "2026-11-18T23:00:00Z", "midnight in Paris");
    th_response_free(&r);
    clock_test_set(&tclock, 1795042801000LL); /* 23:00:01Z = 00:00:01 on the 19th in Paris */
    cr_assert_eq(get(WEEKLY, keys[0], &r), 200, "%s", r.body);
    th_response_free(&r);
    json_t *s = summary(keys[0], &r);
    cr_assert_eq(jint(s, "daily", "used"), 1);
    cr_assert_eq(jint(s, "monthly", "used"), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "daily"), "period_start")),
                     "2026-11-18T23:00:00Z");
    th_response_free(&r);
    cr_assert_eq(get("/v1/b2b/usage/history?from=2026-11-17&to=2026-11-19", keys[0], &r), 200, "%s", r.body);
    json_t *days = json_object_get(th_data(&r), "days");
    cr_assert_eq(json_array_size(days), 3);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(days, 1), "requests")), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(days, 1), "blocked")), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(days, 2), "requests")), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(days, 0), "requests")), 0, "a day without calls");
    th_response_free(&r);
}

Test(metering, summary_history_and_credentials_add_up)
{
    char keys[3][80];
    setup_account("{\"code\":\"big\",\"name\":\"Big\",\"daily_limit\":1000}", "big", "UTC", 3, keys);
    th_response r;
    int calls[3] = {4, 2, 0};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < calls[k]; i++) {
            cr_assert_eq(get(WEEKLY, keys[k], &r), 200);
            th_response_free(&r);
        }
    clock_test_advance(&tclock, 86400 * 1000);
    cr_assert_eq(get(WEEKLY, keys[1], &r), 200);
    th_response_free(&r);

    json_t *s = summary(keys[0], &r);
    cr_assert_eq(jint(s, "daily", "used"), 1);
    cr_assert_eq(jint(s, "monthly", "used"), 7);
    cr_assert_eq(jint(s, "cumulative", "used"), 7);
    json_t *creds = json_object_get(s, "credentials");
    cr_assert_eq(json_array_size(creds), 3);
    int64_t month_sum = 0, day_sum = 0;
    for (size_t i = 0; i < 3; i++) {
        month_sum += jint(json_array_get(creds, i), "monthly", "used");
        day_sum += jint(json_array_get(creds, i), "daily", "used");
    }
    cr_assert_eq(month_sum, 7, "credentials add up to the account's month");
    cr_assert_eq(day_sum, 1);
    cr_assert_eq(jint(json_array_get(creds, 2), "monthly", "used"), 0, "an unused key shows zeros");
    th_response_free(&r);

    cr_assert_eq(get("/v1/b2b/usage/history?from=2026-11-01&to=2026-11-30", keys[2], &r), 200, "%s", r.body);
    cr_assert_eq(jint(th_data(&r), "totals", "requests"), 7, "history sums to the month");
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "days")), 30);
    th_response_free(&r);

    /* Another account's key cannot be named. */
    char other[1][80];
    setup_account("{\"code\":\"o\",\"name\":\"O\"}", "o", "UTC", 1, other);
    char path[200];
    snprintf(path, sizeof path, "/v1/b2b/usage/history?credential=%.12s", keys[0] + 8);
    get(path, other[0], &r);
    th_assert_error(&r, 403, "forbidden");
    th_response_free(&r);
    get("/v1/b2b/usage/history?from=2025-01-01&to=2026-11-30", keys[0], &r);
    th_assert_error(&r, 422, "validation_error");
    th_response_free(&r);
    get("/v1/b2b/usage/history?from=11/01/2026", keys[0], &r);
    th_assert_error(&r, 422, "validation_error");
    th_response_free(&r);
}

Test(metering, refusals_before_reservation_are_not_usage)
{
    char keys[1][80];
    int64_t id = setup_account("{\"code\":\"n\",\"name\":\"N\",\"daily_limit\":5}", "n", "UTC", 1, keys);
    th_response r;
    get("/v1/b2b/astrology/weekly-by-sign?sign=ophiuchus", keys[0], &r);
    th_assert_error(&r, 422, "validation_error");
    th_response_free(&r);
    get("/v1/b2b/astrology/weekly-by-sign?sign=leo&week=2026-W60&lang=de", keys[0], &r);
    th_assert_error(&r, 422, "validation_error");
    cr_assert_eq(
        json_array_size(json_object_get(json_object_get(json_object_get(r.json, "error"), "details"), "fields")), 2);
    th_response_free(&r);
    get(WEEKLY, "sm_live_nope", &r);
    th_assert_error(&r, 401, "invalid_api_key");
    th_response_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld", (long long)id);
    admin_ok("PATCH", path, "{\"status\":\"suspended\"}");
    get(WEEKLY, keys[0], &r);
    th_assert_error(&r, 403, "account_suspended");
    th_response_free(&r);
    admin_ok("PATCH", path, "{\"status\":\"active\"}");
    json_t *s = summary(keys[0], &r);
    cr_assert_eq(jint(s, "daily", "used"), 0);
    cr_assert_eq(jint(s, "daily", "blocked"), 0);
    th_response_free(&r);

    /* An account without a contract cannot make metered calls. */
    th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"Bare\"}", &r);
    int64_t bare = json_integer_value(json_object_get(th_data(&r), "id"));
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", (long long)bare);
    th_admin(&srv, "POST", path, NULL, &r);
    char bare_key[80];
    snprintf(bare_key, sizeof bare_key, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    th_response_free(&r);
    get(WEEKLY, bare_key, &r);
    th_assert_error(&r, 403, "forbidden");
    th_response_free(&r);
}

Test(metering, a_failed_commit_is_refunded_and_never_answered_2xx)
{
    /* The first overage of the day is committed to the store with its audit event before it is
     * answered (the common call is journaled): break the store for that commit. */
    char keys[1][80];
    setup_account("{\"code\":\"f\",\"name\":\"F\",\"daily_limit\":1,\"limit_mode\":\"overage\"}", "f", "UTC", 1, keys);
    th_response r;
    cr_assert_eq(get(WEEKLY, keys[0], &r), 200); /* computes and caches the week */
    th_response_free(&r);
    store_faulty_break(faulty, true);
    get(WEEKLY, keys[0], &r);
    th_assert_error(&r, 503, "store_unavailable");
    th_response_free(&r);
    store_faulty_break(faulty, false);
    /* The refused call gave its reservation back, and its overage is the first again. */
    cr_assert_eq(get(WEEKLY, keys[0], &r), 200, "%s", r.body);
    char over[16];
    cr_assert(th_header(&r, "x-quota-overage", over, sizeof over));
    th_response_free(&r);
    json_t *s = summary(keys[0], &r);
    cr_assert_eq(jint(s, "daily", "used"), 2);
    cr_assert_eq(jint(s, "daily", "overage"), 1);
    th_response_free(&r);
    th_response a;
    th_admin(&srv, "GET", "/v1/admin/audit?action=quota.overage", NULL, &a);
    cr_assert_eq(json_array_size(json_object_get(th_data(&a), "items")), 1, "%s", a.body);
    th_response_free(&a);
}

Test(metering, a_store_outage_is_absorbed_briefly_then_refused_and_nothing_is_lost)
{
    char keys[1][80];
    setup_account("{\"code\":\"d\",\"name\":\"D\",\"daily_limit\":100000,\"rate_per_second\":100000,"
                  "\"burst\":100000,\"credential_rate_per_second\":100000,\"credential_burst\":100000}",
                  "d", "UTC", 1, keys);
    th_response r;
    cr_assert_eq(get(WEEKLY, keys[0], &r), 200, "%s", r.body); /* computes and caches the week */
    th_response_free(&r);
    int served = 1, refused = 0;
    store_faulty_break(faulty, true);
    /* The journal counts the first calls of the outage; past its grace the calls are refused. */
    for (int i = 0; i < 800 && refused == 0; i++) {
        long st = get(WEEKLY, keys[0], &r);
        if (st == 200) {
            served++;
        } else {
            th_assert_error(&r, 503, "store_unavailable");
            refused++;
        }
        th_response_free(&r);
        usleep(10000);
    }
    cr_assert_eq(refused, 1, "the outage was never noticed (%d served)", served);
    cr_assert_gt(served, 1, "a short outage is absorbed by the journal");
    th_request(&srv, "GET", "/readyz", NULL, NULL, &r);
    th_assert_error(&r, 503, "store_unavailable");
    th_response_free(&r);
    store_faulty_break(faulty, false);
    /* It recovers by itself. */
    long st = 0;
    for (int i = 0; i < 300 && st != 200; i++) {
        st = get(WEEKLY, keys[0], &r);
        th_response_free(&r);
        if (st != 200)
            usleep(10000);
    }
    cr_assert_eq(st, 200, "metered calls never came back");
    served++;
    json_t *s = summary(keys[0], &r);
    cr_assert_eq(jint(s, "daily", "used"), served, "every 2xx counted, no 503 counted");
    th_response_free(&r);
}

Test(metering, an_idempotent_retry_is_served_once_and_counted_once)
{
    char keys[1][80];
    setup_account("{\"code\":\"i\",\"name\":\"I\",\"daily_limit\":10}", "i", "UTC", 1, keys);
    char hk[128];
    snprintf(hk, sizeof hk, "X-API-Key: %s", keys[0]);
    const char *h[] = {hk, "Idempotency-Key: order-2026-11-18-0001", NULL};
    th_response a, b;
    th_request(&srv, "GET", WEEKLY, h, NULL, &a);
    cr_assert_eq(a.status, 200, "%s", a.body);
    th_request(&srv, "GET", WEEKLY, h, NULL, &b);
    cr_assert_eq(b.status, 200, "%s", b.body);
    cr_assert_str_eq(a.body, b.body, "the stored answer, byte for byte");
    char replayed[16];
    cr_assert(th_header(&b, "idempotent-replayed", replayed, sizeof replayed));
    th_response_free(&a);
    th_response_free(&b);
    /* Same key, another request: a conflict, not a silent replay. */
    th_request(&srv, "GET", "/v1/b2b/astrology/weekly-by-sign?sign=leo&week=2026-W47", h, NULL, &a);
    th_assert_error(&a, 409, "idempotency_conflict");
    th_response_free(&a);
    json_t *s = summary(keys[0], &a);
    cr_assert_eq(jint(s, "daily", "used"), 1);
    th_response_free(&a);
}

/*
 * A call's rate limits are taken before any work of its own: a week not cached yet is computed
 * only once they admit it, and Idempotency-Key replays and conflicts take them like any call.
 * A credential burst of 3 at 1 call a second (the test clock stands still).
 */
Test(metering, rate_limits_come_before_a_computation_and_before_a_replay)
{
    char keys[1][80];
    int64_t id = setup_account("{\"code\":\"rl\",\"name\":\"RL\",\"daily_limit\":100,\"credential_rate_per_second\":1,"
                               "\"credential_burst\":3}",
                               "rl", "UTC", 1, keys);
    char hk[128];
    snprintf(hk, sizeof hk, "X-API-Key: %s", keys[0]);
    const char *h[] = {hk, "Idempotency-Key: rl-1", NULL};
    th_response r;
    th_request(&srv, "GET", "/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2031-W10", h, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(get("/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2031-W11", keys[0], &r), 200, "%s", r.body);
    th_response_free(&r);
    th_request(&srv, "GET", "/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2031-W10", h, NULL, &r);
    cr_assert_eq(r.status, 200, "the replay takes the third call: %s", r.body);
    th_response_free(&r);

    /* The bucket is empty: a week never computed is refused before it is computed... */
    cr_assert_eq(get("/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2031-W12", keys[0], &r), 429);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_object_get(r.json, "error"), "details"), "scope")),
        "credential");
    th_response_free(&r);
    /* ...and so are a replay and a conflicting reuse of the key. */
    th_request(&srv, "GET", "/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2031-W10", h, NULL, &r);
    th_assert_error(&r, 429, "rate_limited");
    th_response_free(&r);
    th_request(&srv, "GET", "/v1/b2b/astrology/weekly-by-sign?sign=leo&week=2031-W10", h, NULL, &r);
    th_assert_error(&r, 429, "rate_limited");
    th_response_free(&r);
    /* The customer's own summary would take a call too: the operator's view of the account. */
    char path[96];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/usage", (long long)id);
    cr_assert_eq(th_admin(&srv, "GET", path, NULL, &r), 200, "%s", r.body);
    cr_assert_eq(jint(th_data(&r), "daily", "used"), 2, "two calls served and counted; the replay is not counted");
    th_response_free(&r);
}

Test(metering, unmetered_plans_are_served_and_not_counted)
{
    char keys[1][80];
    setup_account("{\"code\":\"int\",\"name\":\"Internal\",\"daily_limit\":1,\"metered\":false}", "int", "UTC", 1,
                  keys);
    th_response r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(get(WEEKLY, keys[0], &r), 200, "%s", r.body);
        cr_assert(json_is_false(json_object_get(json_object_get(json_object_get(r.json, "meta"), "usage"), "metered")));
        th_response_free(&r);
    }
    json_t *s = summary(keys[0], &r);
    cr_assert_eq(jint(s, "daily", "used"), 0);
    th_response_free(&r);
}

static const char *hammer_key;
static atomic_int served, refused, other;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        th_response r;
        long st = get(WEEKLY, hammer_key, &r);
        if (st == 200)
            atomic_fetch_add(&served, 1);
        else if (st == 429)
            atomic_fetch_add(&refused, 1);
        else
            atomic_fetch_add(&other, 1);
        th_response_free(&r);
    }
    return NULL;
}

Test(metering, sixty_four_connections_serve_exactly_the_limit)
{
    char keys[1][80];
    setup_account("{\"code\":\"k\",\"name\":\"K\",\"daily_limit\":1000,\"rate_per_second\":1000000,"
                  "\"burst\":1000000,\"credential_rate_per_second\":1000000,\"credential_burst\":1000000}",
                  "k", "UTC", 1, keys);
    th_response r;
    get(WEEKLY, keys[0], &r); /* warms the week's cache: one call of the thousand */
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
    hammer_key = keys[0];
    pthread_t t[64];
    for (int i = 0; i < 64; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < 64; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&other), 0);
    cr_assert_eq(atomic_load(&served), 999, "with the warm-up call, exactly 1000 served");
    cr_assert_eq(atomic_load(&refused), 64 * 20 - 999);
    json_t *s = summary(keys[0], &r);
    cr_assert_eq(jint(s, "daily", "used"), 1000);
    cr_assert_eq(jint(s, "daily", "blocked"), 64 * 20 - 999);
    th_response_free(&r);
}

Test(metering, a_period_s_overage_is_what_it_served_as_overage_as_the_invoice_says)
{
    /* The month's limit makes the third call overage while the day is within its own: the day
     * and the month both hold it, as the rows (and the month's export) do. */
    char keys[1][80];
    setup_account("{\"code\":\"mo\",\"name\":\"Mo\",\"daily_limit\":100,\"monthly_limit\":2,"
                  "\"limit_mode\":\"overage\"}",
                  "mo", "UTC", 1, keys);
    th_response r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(get(WEEKLY, keys[0], &r), 200);
        th_response_free(&r);
    }
    json_t *s = summary(keys[0], &r);
    cr_assert_eq(jint(s, "daily", "used"), 3);
    cr_assert_eq(jint(s, "daily", "overage"), 1, "served as overage today, by the month's limit");
    cr_assert_eq(jint(s, "monthly", "overage"), 1);
    cr_assert_eq(jint(s, "cumulative", "overage"), 1, "the calls billed as overage");
    json_t *cred = json_array_get(json_object_get(s, "credentials"), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(cred, "daily"), "overage")), 1,
                 "the day is the sum of its credentials'");
    th_response_free(&r);
}

/* ---- usage alerts ---- */

/* The account's alerts (GET /v1/b2b/usage/alerts) as "day:80,month:50,..." in the answer's order. */
static void alerts_text(const char *key, char *out, size_t cap)
{
    th_response r;
    cr_assert_eq(get("/v1/b2b/usage/alerts", key, &r), 200, "%s", r.body);
    json_t *list = json_object_get(th_data(&r), "alerts");
    size_t i, len = 0;
    json_t *a;
    out[0] = '\0';
    json_array_foreach(list, i, a)
    {
        len += (size_t)snprintf(out + len, cap - len, "%s%s:%lld", i ? "," : "",
                                json_string_value(json_object_get(a, "period")),
                                (long long)json_integer_value(json_object_get(a, "threshold")));
        cr_assert(json_is_true(json_object_get(a, "current")));
    }
    th_response_free(&r);
}

static size_t audit_actions(const char *action)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/audit?action=%s&limit=200", action);
    th_response a;
    cr_assert_eq(th_admin(&srv, "GET", path, NULL, &a), 200, "%s", a.body);
    size_t n = json_array_size(json_object_get(th_data(&a), "items"));
    th_response_free(&a);
    return n;
}

Test(metering, each_threshold_is_raised_exactly_once_under_sixty_four_connections)
{
    char keys[1][80];
    int64_t id = setup_account("{\"code\":\"al\",\"name\":\"AL\",\"daily_limit\":1000,\"monthly_limit\":1200,"
                               "\"rate_per_second\":1000000,\"burst\":1000000,\"credential_rate_per_second\":1000000,"
                               "\"credential_burst\":1000000}",
                               "al", "UTC", 1, keys);
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", (long long)id);
    admin_ok("PUT", path, "{\"plan_code\":\"al\",\"overrides\":{\"alert_thresholds\":[100,50,80]}}");
    th_response r;
    get(WEEKLY, keys[0], &r);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
    char text[256];
    alerts_text(keys[0], text, sizeof text);
    cr_assert_str_eq(text, "", "no threshold at 1 call");
    hammer_key = keys[0];
    atomic_store(&served, 0);
    atomic_store(&refused, 0);
    pthread_t t[64];
    for (int i = 0; i < 64; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < 64; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&served), 999);
    /* Day: 500, 800, 1000 calls; month (1200): 600 and 960 reached, 1200 not. Newest first. */
    alerts_text(keys[0], text, sizeof text);
    cr_assert_str_eq(text, "day:100,month:80,day:80,month:50,day:50");
    cr_assert_eq(audit_actions("usage.threshold"), 5);

    th_response m;
    th_request(&srv, "GET", "/metrics", NULL, NULL, &m);
    cr_assert(strstr(m.body, "b2b_quota_threshold_total{period=\"day\",threshold=\"80\"} 1\n"), "%s", m.body);
    cr_assert(strstr(m.body, "b2b_quota_threshold_total{period=\"month\",threshold=\"50\"} 1\n"));
    cr_assert_null(
        strstr(m.body, "threshold=\"100\"} 1\nb2b_quota_threshold_total{period=\"month\",threshold=\"100\""));
    cr_assert_null(strstr(m.body, "threshold=\"81\""), "thresholds never reached are not rendered");
    th_response_free(&m);

    /* The event's figures, as the audit trail keeps them. */
    th_response a;
    th_admin(&srv, "GET", "/v1/admin/audit?action=usage.threshold&limit=200", NULL, &a);
    json_t *items = json_object_get(th_data(&a), "items");
    size_t i;
    json_t *ev;
    int seen = 0;
    json_array_foreach(items, i, ev)
    {
        json_t *d = json_object_get(ev, "details");
        const char *period = json_string_value(json_object_get(d, "period"));
        json_int_t pct = json_integer_value(json_object_get(d, "threshold"));
        json_int_t used = json_integer_value(json_object_get(d, "used"));
        json_int_t limit = json_integer_value(json_object_get(d, "limit"));
        cr_assert_eq(used, (limit * pct + 99) / 100, "%s %lld: used %lld", period, (long long)pct, (long long)used);
        cr_assert_str_eq(json_string_value(json_object_get(d, "period_start")),
                         strcmp(period, "day") == 0 ? "2026-11-18" : "2026-11-01");
        seen++;
    }
    cr_assert_eq(seen, 5);
    th_response_free(&a);

    /* The admin sees the same alerts; the next day starts with none of the day's. */
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/usage/alerts", (long long)id);
    cr_assert_eq(th_admin(&srv, "GET", path, NULL, &a), 200, "%s", a.body);
    cr_assert_eq(json_array_size(json_object_get(th_data(&a), "alerts")), 5);
    cr_assert_eq(json_array_size(json_object_get(th_data(&a), "thresholds")), 3);
    th_response_free(&a);
}

Test(metering, a_threshold_whose_commit_fails_is_raised_by_the_next_call)
{
    char keys[1][80];
    setup_account("{\"code\":\"af\",\"name\":\"AF\",\"daily_limit\":4,\"alert_thresholds\":[50]}", "af", "UTC", 1,
                  keys);
    th_response r;
    cr_assert_eq(get(WEEKLY, keys[0], &r), 200); /* 1 of 4 */
    th_response_free(&r);
    store_faulty_break(faulty, true);
    get(WEEKLY, keys[0], &r); /* 2 of 4: 50 %, written with its count, which fails */
    th_assert_error(&r, 503, "store_unavailable");
    th_response_free(&r);
    store_faulty_break(faulty, false);
    char text[64];
    alerts_text(keys[0], text, sizeof text);
    cr_assert_str_eq(text, "");
    cr_assert_eq(get(WEEKLY, keys[0], &r), 200, "%s", r.body); /* 2 of 4 again */
    th_response_free(&r);
    alerts_text(keys[0], text, sizeof text);
    cr_assert_str_eq(text, "day:50");
    cr_assert_eq(get(WEEKLY, keys[0], &r), 200); /* 3 of 4 */
    th_response_free(&r);
    cr_assert_eq(audit_actions("usage.threshold"), 1);
}

Test(metering, alerts_can_be_turned_off_and_bad_thresholds_are_refused)
{
    char keys[1][80];
    int64_t id = setup_account("{\"code\":\"ao\",\"name\":\"AO\",\"daily_limit\":1,\"alert_thresholds\":[]}", "ao",
                               "UTC", 1, keys);
    th_response r;
    cr_assert_eq(get(WEEKLY, keys[0], &r), 200);
    th_response_free(&r);
    char text[64];
    alerts_text(keys[0], text, sizeof text);
    cr_assert_str_eq(text, "", "an empty list turns alerts off");
    static const char *const bad[] = {"[0]", "[101]", "[80,80]", "[1,2,3,4,5,6]", "[\"80\"]", "80", "[80.5]", "null"};
    char body[128], path[128];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", (long long)id);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, "{\"plan_code\":\"ao\",\"overrides\":{\"alert_thresholds\":%s}}", bad[i]);
        th_admin(&srv, "PUT", path, body, &r);
        th_assert_error(&r, 422, "validation_error");
        cr_assert(strstr(r.body, "alert_thresholds"), "%s", r.body);
        th_response_free(&r);
        snprintf(body, sizeof body, "{\"alert_thresholds\":%s}", bad[i]);
        th_admin(&srv, "PATCH", "/v1/admin/plans/ao", body, &r);
        th_assert_error(&r, 422, "validation_error");
        th_response_free(&r);
    }
    /* The plan's list, sorted, and the contract's effective one. */
    cr_assert_eq(th_admin(&srv, "PATCH", "/v1/admin/plans/ao", "{\"alert_thresholds\":[90,10]}", &r), 200);
    json_t *list = json_object_get(th_data(&r), "alert_thresholds");
    cr_assert(json_array_size(list) == 2 && json_integer_value(json_array_get(list, 0)) == 10);
    th_response_free(&r);
    cr_assert_eq(th_admin(&srv, "GET", path, NULL, &r), 200);
    list = json_object_get(json_object_get(th_data(&r), "effective"), "alert_thresholds");
    cr_assert_eq(json_array_size(list), 2, "%s", r.body);
    cr_assert_null(json_object_get(json_object_get(th_data(&r), "overrides"), "alert_thresholds"));
    th_response_free(&r);
}

/*
 * The request a call that waits was parsed from stays where it is while more bytes are read: h2o
 * points into it (method, path, headers), and reading grows the connection's buffer, which would
 * move or free it. A large head (the buffer already past its first size), then as much again
 * pipelined while the report waits for the pool: under AddressSanitizer a read of the moved head
 * fails the test, and the answers must still come back whole and in order.
 */
Test(metering, a_large_request_that_waits_survives_the_bytes_read_meanwhile)
{
    char keys[1][80];
    setup_account("{\"code\":\"g\",\"name\":\"G\",\"daily_limit\":100}", "g", "UTC", 1, keys);
    static char pad[12000], req[16384], next[16384];
    memset(pad, 'p', sizeof pad - 1);
    int fd = th_dial(&srv, 0);
    int len =
        snprintf(req, sizeof req, "GET /v1/b2b/usage/summary HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nX-Pad: %s\r\n\r\n",
                 keys[0], pad);
    cr_assert_eq(send(fd, req, (size_t)len, MSG_NOSIGNAL), len);
    int nlen = snprintf(next, sizeof next, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", pad);
    for (int at = 0; at < nlen; at += 1500) { /* in pieces, each read growing the buffer */
        int l = nlen - at < 1500 ? nlen - at : 1500;
        cr_assert_eq(send(fd, next + at, (size_t)l, MSG_NOSIGNAL), l);
        usleep(200);
    }
    static char out[65536];
    th_read(fd, out, sizeof out, 5000, 2);
    close(fd);
    const char *first = strstr(out, "HTTP/1.1 200"), *second = first ? strstr(first + 1, "HTTP/1.1 200") : NULL;
    cr_assert(first != NULL && second != NULL, "two answers: %.300s", out);
    cr_assert_not_null(strstr(first, "\"cumulative\""), "the summary first: %.300s", first);
    cr_assert_not_null(strstr(second, "\"status\""), "the health check after: %.300s", second);
}

/*
 * A call that waits (for the writer's fsync with --durability fsync, for the pool on a week not
 * cached yet) keeps its connection read, so that no system call stops and restarts the reading:
 * what the client sends meanwhile is kept and answered after it, in order, on the same connection.
 */
Test(metering, requests_sent_while_a_call_waits_are_answered_after_it_in_order)
{
    char keys[1][80];
    setup_account("{\"code\":\"w\",\"name\":\"W\",\"daily_limit\":100}", "w", "UTC", 1, keys);
    int fd = th_dial(&srv, 0);
    char req[512];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n\r\n", WEEKLY, keys[0]);
    cr_assert_eq(send(fd, req, (size_t)len, MSG_NOSIGNAL), len);
    /* While it waits, a second call and a health check, in pieces. */
    const char *more[] = {req, "GET /healthz HTTP/1.1\r\nHost: x\r\n", "\r\n"};
    for (size_t i = 0; i < 3; i++) {
        usleep(1000);
        size_t l = strlen(more[i]);
        cr_assert_eq(send(fd, more[i], l, MSG_NOSIGNAL), (ssize_t)l);
    }
    static char out[65536];
    th_read(fd, out, sizeof out, 5000, 3);
    close(fd);
    const char *first = strstr(out, "HTTP/1.1 200"), *second = first ? strstr(first + 1, "HTTP/1.1 200") : NULL;
    const char *third = second ? strstr(second + 1, "HTTP/1.1 200") : NULL;
    cr_assert(first != NULL && second != NULL && third != NULL, "three answers: %.300s", out);
    cr_assert(strstr(first, "weekly") != NULL || strstr(first, "sign") != NULL, "%.300s", first);
    cr_assert_not_null(strstr(third, "\"status\""), "the health check last: %.300s", third);
    th_response r;
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(summary(keys[0], &r), "daily"), "used")), 2,
                 "both calls counted once");
    th_response_free(&r);
}
