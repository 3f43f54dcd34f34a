/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Failed authentications in the audit trail: one auth.failure event per target and minute, with
 * its count, never a secret; and b2b_auth_failures_total{reason}. On a frozen test clock, so that a
 * minute closes only when the test says.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "integration/harness.h"

static th_server srv;
static app_clock tclock;

/* 2026-11-18T11:06:40Z */
#define T0 1795000000000LL
#define WRONG_SECRET "0123456789abcdefghijABCDEFGHIJ0123456789abc"

static void setup(void)
{
    clock_test_init(&tclock, T0);
    th_opts o = {.clock = &tclock};
    th_start(&srv, &o);
}

static void teardown(void)
{
    th_stop(&srv);
}

TestSuite(authaudit, .init = setup, .fini = teardown, .timeout = 120);

/* A new account with one key (into key[80]; its id into kid[13]); returns the account id. */
static int64_t account_with_key(const char *cred_body, char key[80], char kid[13])
{
    th_response r;
    char path[128];
    long st = th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"Acme\"}", &r);
    cr_assert(st == 200 || st == 201, "%s", r.body);
    int64_t id = json_integer_value(json_object_get(th_data(&r), "id"));
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", (long long)id);
    st = th_admin(&srv, "POST", path, cred_body, &r);
    cr_assert(st == 200 || st == 201, "%s", r.body);
    snprintf(key, 80, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    th_response_free(&r);
    memcpy(kid, key + 8, 12);
    kid[12] = '\0';
    return id;
}

static void expect_401(const char *key, const char *code)
{
    th_response r;
    th_keyed(&srv, "/v1/b2b/me", key, &r);
    th_assert_error(&r, 401, code);
    th_response_free(&r);
}

/* The auth.failure events, polled until there are `want` of them (the writer runs every second). */
static json_t *failures(size_t want)
{
    for (int i = 0; i < 150; i++) {
        th_response r;
        cr_assert_eq(th_admin(&srv, "GET", "/v1/admin/audit?action=auth.failure&limit=200", NULL, &r), 200, "%s",
                     r.body);
        json_t *items = json_incref(json_object_get(th_data(&r), "items"));
        th_response_free(&r);
        if (json_array_size(items) >= want)
            return items;
        json_decref(items);
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    cr_assert_fail("fewer than %zu auth.failure events after 15 s", want);
    return NULL;
}

/* The event of `target`, or NULL. */
static json_t *event_for(json_t *items, const char *target)
{
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e) if (strcmp(json_string_value(json_object_get(e, "target")), target) == 0) return e;
    return NULL;
}

static void assert_event(json_t *items, const char *target, const char *reason, long long count)
{
    json_t *e = event_for(items, target);
    cr_assert_not_null(e, "no event for %s", target);
    json_t *d = json_object_get(e, "details");
    cr_assert_str_eq(json_string_value(json_object_get(e, "actor")), "anonymous");
    cr_assert_str_eq(json_string_value(json_object_get(d, "reason")), reason);
    cr_assert_eq(json_integer_value(json_object_get(d, "count")), count, "%s", target);
    cr_assert(json_is_string(json_object_get(d, "first_at")));
    cr_assert(json_is_string(json_object_get(d, "last_at")));
}

/* The value of b2b_auth_failures_total{reason="<reason>"}. */
static long long failures_metric(const char *reason)
{
    th_response r;
    cr_assert_eq(th_admin(&srv, "GET", "/metrics", NULL, &r), 200);
    char pat[96];
    snprintf(pat, sizeof pat, "b2b_auth_failures_total{reason=\"%s\"} ", reason);
    const char *g = strstr(r.body, pat);
    long long v = g != NULL ? strtoll(g + strlen(pat), NULL, 10) : -1;
    th_response_free(&r);
    return v;
}

Test(authaudit, a_flood_of_wrong_secrets_is_one_event_with_its_count_and_no_secret)
{
    char key[80], kid[13], wrong[80], target[32];
    int64_t account_id = account_with_key(NULL, key, kid);
    snprintf(wrong, sizeof wrong, "sm_live_%s_%s", kid, WRONG_SECRET);
    for (int i = 0; i < 200; i++)
        expect_401(wrong, "invalid_api_key");
    /* Nothing is written while the minute is open. */
    nanosleep(&(struct timespec){1, 500 * 1000 * 1000}, NULL);
    json_t *items = failures(0);
    cr_assert_eq(json_array_size(items), 0);
    json_decref(items);

    clock_test_advance(&tclock, 60 * 1000);
    items = failures(1);
    cr_assert_eq(json_array_size(items), 1);
    snprintf(target, sizeof target, "key:%s", kid);
    assert_event(items, target, "invalid_api_key", 200);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(items, 0), "account_id")), account_id);
    cr_assert_eq(failures_metric("invalid_api_key"), 200);

    /* No secret, presented or real, in the audit trail or the log. */
    char *text = json_dumps(items, 0);
    cr_assert_null(strstr(text, WRONG_SECRET));
    cr_assert_null(strstr(text, key + 21));
    free(text);
    json_decref(items);
    size_t len;
    char *log = th_read_file(srv.log_path, &len);
    cr_assert_not_null(log);
    cr_assert_null(strstr(log, WRONG_SECRET));
    cr_assert_null(strstr(log, key + 21));
    free(log);
    th_response r;
    cr_assert_eq(th_admin(&srv, "GET", "/v1/admin/audit/verify", NULL, &r), 200);
    cr_assert(json_is_true(json_object_get(th_data(&r), "valid")), "%s", r.body);
    th_response_free(&r);
}

Test(authaudit, each_reason_has_its_event_and_its_count)
{
    char live[80], live_kid[13], revoked[80], revoked_kid[13], target[32], path[64];
    /* Expires two minutes after the start. */
    account_with_key("{\"expires_at\":\"2026-11-18T11:08:40Z\"}", live, live_kid);
    account_with_key(NULL, revoked, revoked_kid);
    th_response r;
    snprintf(path, sizeof path, "/v1/admin/credentials/%s", revoked_kid);
    long st = th_admin(&srv, "DELETE", path, NULL, &r);
    cr_assert(st == 200 || st == 204, "%s", r.body);
    th_response_free(&r);

    expect_401(revoked, "revoked_api_key");
    th_request(&srv, "GET", "/v1/b2b/me", NULL, NULL, &r);
    th_assert_error(&r, 401, "missing_api_key");
    th_response_free(&r);
    expect_401("sm_live_not-a-key", "invalid_api_key");
    const char *bad_admin[] = {"Authorization: Bearer not-the-token", NULL};
    th_request(&srv, "GET", "/v1/admin/accounts", bad_admin, NULL, &r);
    th_assert_error(&r, 401, "admin_auth_required");
    th_response_free(&r);
    clock_test_advance(&tclock, 3 * 60 * 1000);
    expect_401(live, "expired_api_key");
    clock_test_advance(&tclock, 60 * 1000);

    json_t *items = failures(5);
    cr_assert_eq(json_array_size(items), 5);
    snprintf(target, sizeof target, "key:%s", revoked_kid);
    assert_event(items, target, "revoked_api_key", 1);
    snprintf(target, sizeof target, "key:%s", live_kid);
    assert_event(items, target, "expired_api_key", 1);
    /* Without a known key id, only the address is recorded; one event per reason. */
    size_t i;
    json_t *e;
    int by_address = 0;
    json_array_foreach(items, i, e)
    {
        const char *t = json_string_value(json_object_get(e, "target"));
        if (strncmp(t, "address:", 8) == 0) {
            by_address++;
            cr_assert_eq(json_integer_value(json_object_get(json_object_get(e, "details"), "count")), 1);
            cr_assert(json_is_null(json_object_get(e, "account_id")));
        }
    }
    cr_assert_eq(by_address, 3);
    json_decref(items);

    const char *reasons[] = {"missing_api_key", "invalid_api_key", "revoked_api_key", "expired_api_key",
                             "admin_auth_required"};
    for (size_t k = 0; k < 5; k++)
        cr_assert_eq(failures_metric(reasons[k]), 1, "%s", reasons[k]);
}
