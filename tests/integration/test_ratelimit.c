/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Rate limits over HTTP, on a frozen test clock so that no token comes back unless the test says. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "integration/harness.h"

static th_server srv;
static app_clock tclock;

/* The production limits on failed authentication (the harness relaxes them for other suites). */
static void tune(app_config *cfg)
{
    cfg->auth_fail_rate = 1;
    cfg->auth_fail_burst = 20;
}

static void start(int64_t global_burst)
{
    clock_test_init(&tclock, 1795000000000LL);
    th_opts o = {.clock = &tclock, .global_burst = global_burst, .tune = tune};
    th_start(&srv, &o);
}

static void teardown(void)
{
    th_stop(&srv);
}

static void setup(void)
{
    start(0);
}

TestSuite(ratelimit, .init = setup, .fini = teardown, .timeout = 60);

static void admin_ok(const char *method, const char *path, const char *body)
{
    th_response r;
    long st = th_admin(&srv, method, path, body, &r);
    cr_assert(st == 200 || st == 201, "%s %s: %s", method, path, r.body);
    th_response_free(&r);
}

/* An account on plan `code` with `n` keys; returns the account id. */
static int64_t account_with_keys(const char *plan_body, const char *code, int n, char keys[][80])
{
    char path[128], body[128];
    th_response r;
    long st = th_admin(&srv, "POST", "/v1/admin/plans", plan_body, &r);
    cr_assert(st == 201 || st == 422, "%s", r.body);
    th_response_free(&r);
    th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"Acme\"}", &r);
    int64_t id = json_integer_value(json_object_get(th_data(&r), "id"));
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", (long long)id);
    snprintf(body, sizeof body, "{\"plan_code\":\"%s\"}", code);
    admin_ok("PUT", path, body);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", (long long)id);
    for (int i = 0; i < n; i++) {
        th_admin(&srv, "POST", path, NULL, &r);
        snprintf(keys[i], 80, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
        th_response_free(&r);
    }
    return id;
}

static long call(const char *key, th_response *r)
{
    return th_keyed(&srv, "/v1/b2b/me", key, r);
}

static void expect_limited(const char *key, const char *scope, long long limit)
{
    th_response r;
    call(key, &r);
    th_assert_error(&r, 429, "rate_limited");
    json_t *d = json_object_get(json_object_get(r.json, "error"), "details");
    cr_assert_str_eq(json_string_value(json_object_get(d, "scope")), scope, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(d, "limit")), limit, "%s", r.body);
    cr_assert(json_integer_value(json_object_get(d, "window_seconds")) >= 1);
    long long retry = json_integer_value(json_object_get(d, "retry_after_seconds"));
    cr_assert(retry >= 1);
    char h[32];
    cr_assert(th_header(&r, "retry-after", h, sizeof h));
    cr_assert_eq(atoll(h), retry);
    th_response_free(&r);
}

Test(ratelimit, credential_then_account_scopes_with_headers)
{
    char keys[2][80];
    account_with_keys("{\"code\":\"tight\",\"name\":\"T\",\"rate_per_second\":1,\"burst\":5,"
                      "\"credential_rate_per_second\":1,\"credential_burst\":3}",
                      "tight", 2, keys);
    th_response r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(call(keys[0], &r), 200, "call %d: %s", i, r.body);
        char policy[256], rl[128];
        cr_assert(th_header(&r, "ratelimit-policy", policy, sizeof policy));
        cr_assert(strstr(policy, "\"credential\";q=3;w=3") && strstr(policy, "\"account\";q=5;w=5") &&
                      strstr(policy, "\"global\";q="),
                  "%s", policy);
        cr_assert(th_header(&r, "ratelimit", rl, sizeof rl));
        char want[64];
        snprintf(want, sizeof want, "\"credential\";r=%d;", 2 - i);
        cr_assert(strncmp(rl, want, strlen(want)) == 0, "call %d: %s", i, rl);
        th_response_free(&r);
    }
    expect_limited(keys[0], "credential", 3);
    expect_limited(keys[0], "credential", 3);
    /* The sibling is not refused by the first key's exhaustion, until the account's burst is used. */
    cr_assert_eq(call(keys[1], &r), 200, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(call(keys[1], &r), 200, "%s", r.body);
    th_response_free(&r);
    expect_limited(keys[1], "account", 5);

    /* Tokens come back with time. */
    clock_test_advance(&tclock, 1000);
    cr_assert_eq(call(keys[1], &r), 200, "%s", r.body);
    th_response_free(&r);
    expect_limited(keys[1], "account", 5);

    th_request(&srv, "GET", "/metrics", NULL, NULL, &r);
    cr_assert(strstr(r.body, "b2b_rate_limited_total{scope=\"credential\"} 2\n"), "%s", r.body);
    cr_assert(strstr(r.body, "b2b_rate_limited_total{scope=\"account\"} 2\n"));
    th_response_free(&r);
}

Test(ratelimit, plan_changes_apply_on_the_next_request)
{
    char keys[1][80];
    account_with_keys("{\"code\":\"one\",\"name\":\"One\",\"credential_rate_per_second\":1,\"credential_burst\":1}",
                      "one", 1, keys);
    th_response r;
    cr_assert_eq(call(keys[0], &r), 200);
    th_response_free(&r);
    expect_limited(keys[0], "credential", 1);
    admin_ok("PATCH", "/v1/admin/plans/one", "{\"credential_burst\":3}");
    cr_assert_eq(call(keys[0], &r), 200, "%s", r.body);
    th_response_free(&r);
}

/* A 429 of the failure bucket: its scope, its burst and a Retry-After that agrees with details. */
static void assert_auth_throttled(const th_response *r)
{
    th_assert_error(r, 429, "rate_limited");
    json_t *d = json_object_get(json_object_get(r->json, "error"), "details");
    cr_assert_str_eq(json_string_value(json_object_get(d, "scope")), "auth_failure", "%s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(d, "limit")), 20, "%s", r->body);
    char h[32];
    cr_assert(th_header(r, "retry-after", h, sizeof h), "%s", r->headers);
    cr_assert(atoll(h) >= 1);
    cr_assert_eq(atoll(h), json_integer_value(json_object_get(d, "retry_after_seconds")));
}

static const char bad_key[] = "sm_live_abcdefghijkl_0123456789012345678901234567890123456789012";

Test(ratelimit, failed_authentication_is_limited_per_address)
{
    th_response r;
    for (int i = 0; i < 20; i++) {
        call(bad_key, &r);
        th_assert_error(&r, 401, "invalid_api_key");
        th_response_free(&r);
    }
    call(bad_key, &r);
    assert_auth_throttled(&r);
    th_response_free(&r);
    /* A missing key is a failure too, and waits like a wrong one. */
    th_request(&srv, "GET", "/v1/b2b/me", NULL, NULL, &r);
    assert_auth_throttled(&r);
    th_response_free(&r);
    /* A good key from that address is not refused: the address may be a whole NAT. */
    char keys[1][80];
    account_with_keys("{\"code\":\"std\",\"name\":\"S\"}", "std", 1, keys);
    cr_assert_eq(call(keys[0], &r), 200, "%s", r.body);
    th_response_free(&r);
    /* Failures come back with time, one per second. */
    clock_test_advance(&tclock, 1000);
    call(bad_key, &r);
    th_assert_error(&r, 401, "invalid_api_key");
    th_response_free(&r);
    call(bad_key, &r);
    assert_auth_throttled(&r);
    th_response_free(&r);

    th_request(&srv, "GET", "/metrics", NULL, NULL, &r);
    cr_assert(strstr(r.body, "b2b_rate_limited_total{scope=\"auth_failure\"} 3\n"), "%s", r.body);
    th_response_free(&r);
}

static atomic_int bad_401, bad_429, bad_other;

static void *flood_bad_keys(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        th_response r;
        long st = call(bad_key, &r);
        atomic_fetch_add(st == 401 ? &bad_401 : st == 429 ? &bad_429 : &bad_other, 1);
        th_response_free(&r);
    }
    return NULL;
}

Test(ratelimit, a_flood_of_bad_keys_does_not_refuse_valid_keys_from_the_same_address)
{
    char keys[2][80];
    account_with_keys("{\"code\":\"wide\",\"name\":\"W\",\"burst\":1000,\"credential_burst\":500}", "wide", 2, keys);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, flood_bad_keys, NULL);
    /* While four threads send bad keys from this address, every valid call passes. */
    for (int i = 0; i < 60; i++) {
        th_response r;
        cr_assert_eq(call(keys[i % 2], &r), 200, "call %d: %s", i, r.body);
        th_response_free(&r);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    /* On a frozen clock the failure burst is exact: 20 answers of 401, then 429 only. */
    cr_assert_eq(atomic_load(&bad_401), 20);
    cr_assert_eq(atomic_load(&bad_429), 180);
    cr_assert_eq(atomic_load(&bad_other), 0);
    th_response r;
    call(bad_key, &r);
    assert_auth_throttled(&r);
    th_response_free(&r);
    cr_assert_eq(call(keys[0], &r), 200, "%s", r.body);
    th_response_free(&r);
}

Test(ratelimit, failed_admin_tokens_are_limited_and_a_valid_token_still_works)
{
    const char *wrong[] = {"Authorization: Bearer wrong-token-0123456789", NULL};
    th_response r;
    for (int i = 0; i < 20; i++) {
        th_request(&srv, "GET", "/v1/admin/accounts", wrong, NULL, &r);
        th_assert_error(&r, 401, "admin_auth_required");
        th_response_free(&r);
    }
    th_request(&srv, "GET", "/v1/admin/accounts", wrong, NULL, &r);
    assert_auth_throttled(&r);
    th_response_free(&r);
    /* Judged from the head, before a body is read, the same. */
    th_request(&srv, "POST", "/v1/admin/accounts", wrong, "{\"name\":\"X\"}", &r);
    assert_auth_throttled(&r);
    th_response_free(&r);
    /* One bucket per address for both kinds of credential: alternating does not double the rate. */
    call(bad_key, &r);
    assert_auth_throttled(&r);
    th_response_free(&r);
    /* The valid token is never refused for them. */
    cr_assert_eq(th_admin(&srv, "GET", "/v1/admin/accounts", NULL, &r), 200, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"Y\"}", &r), 201, "%s", r.body);
    th_response_free(&r);
    clock_test_advance(&tclock, 1000);
    th_request(&srv, "GET", "/v1/admin/accounts", wrong, NULL, &r);
    th_assert_error(&r, 401, "admin_auth_required");
    th_response_free(&r);
    th_request(&srv, "GET", "/v1/admin/accounts", wrong, NULL, &r);
    assert_auth_throttled(&r);
    th_response_free(&r);
}

static const char *hammer_key;
static atomic_int passed, refused;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 40; i++) {
        th_response r;
        long st = call(hammer_key, &r);
        if (st == 200)
            atomic_fetch_add(&passed, 1);
        else if (st == 429)
            atomic_fetch_add(&refused, 1);
        th_response_free(&r);
    }
    return NULL;
}

Test(ratelimit, many_threads_never_pass_more_than_the_budget)
{
    char keys[1][80];
    account_with_keys("{\"code\":\"b100\",\"name\":\"B\",\"burst\":1000,\"credential_burst\":100,"
                      "\"credential_rate_per_second\":1}",
                      "b100", 1, keys);
    hammer_key = keys[0];
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&passed), 100);
    cr_assert_eq(atomic_load(&refused), 220);
}

Test(ratelimit_global, global_scope_trips_first, .fini = teardown, .timeout = 60)
{
    start(4);
    char keys[1][80];
    account_with_keys("{\"code\":\"big\",\"name\":\"Big\"}", "big", 1, keys);
    th_response r;
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(call(keys[0], &r), 200);
        th_response_free(&r);
    }
    expect_limited(keys[0], "global", 4);
}
