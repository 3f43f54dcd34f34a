/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Accounts, plans, contracts, keys and the audit trail, over HTTP against a real server. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "integration/harness.h"
#include "services/services.h"

static th_server srv;
static app_clock test_clock;

static void setup(void)
{
    clock_test_init(&test_clock, 1795000000000LL); /* 2026-11-18T11:06:40Z */
    th_opts o = {.clock = &test_clock};
    th_start(&srv, &o);
}

static void teardown(void)
{
    th_stop(&srv);
}

TestSuite(admin, .init = setup, .fini = teardown, .timeout = 60);

static int64_t create_account(const char *name)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    th_response r;
    cr_assert_eq(th_admin(&srv, "POST", "/v1/admin/accounts", body, &r), 201, "%s", r.body);
    int64_t id = json_integer_value(json_object_get(th_data(&r), "id"));
    th_response_free(&r);
    return id;
}

static void create_plan(const char *body)
{
    th_response r;
    cr_assert_eq(th_admin(&srv, "POST", "/v1/admin/plans", body, &r), 201, "%s", r.body);
    th_response_free(&r);
}

static void put_contract(int64_t account_id, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", (long long)account_id);
    th_response r;
    cr_assert_eq(th_admin(&srv, "PUT", path, body, &r), 200, "%s", r.body);
    th_response_free(&r);
}

/* Issues a key for the account; copies the full key into key[80] and its id into kid[16]. */
static void issue_key(int64_t account_id, const char *body, char key[80], char kid[16])
{
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", (long long)account_id);
    th_response r;
    cr_assert_eq(th_admin(&srv, "POST", path, body, &r), 201, "%s", r.body);
    snprintf(key, 80, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    snprintf(kid, 16, "%s", json_string_value(json_object_get(th_data(&r), "key_id")));
    cr_assert_eq(strlen(key), 64);
    cr_assert(strncmp(key, "sm_live_", 8) == 0);
    cr_assert(strncmp(key + 8, kid, 12) == 0);
    th_response_free(&r);
}

static long me(const char *key, th_response *r)
{
    return th_keyed(&srv, "/v1/b2b/me", key, r);
}

static void expect_me(const char *key, long status, const char *code)
{
    th_response r;
    me(key, &r);
    if (code)
        th_assert_error(&r, status, code);
    else
        cr_assert_eq(r.status, status, "%s", r.body);
    th_response_free(&r);
}

Test(admin, every_admin_route_needs_the_token)
{
    static const struct {
        const char *method, *path;
    } routes[] = {{"POST", "/v1/admin/accounts"},
                  {"GET", "/v1/admin/accounts"},
                  {"GET", "/v1/admin/accounts/1"},
                  {"PATCH", "/v1/admin/accounts/1"},
                  {"PUT", "/v1/admin/accounts/1/contract"},
                  {"GET", "/v1/admin/accounts/1/contract"},
                  {"POST", "/v1/admin/accounts/1/credentials"},
                  {"GET", "/v1/admin/accounts/1/credentials"},
                  {"POST", "/v1/admin/credentials/abcdefghijkl/rotate"},
                  {"DELETE", "/v1/admin/credentials/abcdefghijkl"},
                  {"POST", "/v1/admin/plans"},
                  {"GET", "/v1/admin/plans"},
                  {"GET", "/v1/admin/plans/x"},
                  {"PATCH", "/v1/admin/plans/x"},
                  {"GET", "/v1/admin/audit"}};
    const char *bad[][3] = {{NULL},
                            {"Authorization: Bearer wrong-token-0123456789", NULL},
                            {"Authorization: Basic " TH_ADMIN_TOKEN, NULL},
                            {"Authorization: Bearer " TH_ADMIN_TOKEN "x", NULL},
                            {"X-API-Key: " TH_ADMIN_TOKEN, NULL}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            th_response r;
            th_request(&srv, routes[i].method, routes[i].path, bad[b], "{}", &r);
            th_assert_error(&r, 401, "admin_auth_required");
            th_response_free(&r);
        }
    }
    th_response r;
    cr_assert_eq(th_admin(&srv, "GET", "/v1/admin/accounts", NULL, &r), 200);
    th_response_free(&r);
}

Test(admin, bodies_are_validated_field_by_field)
{
    th_response r;
    th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\": 5, \"extra\": true}", &r);
    th_assert_error(&r, 422, "validation_error");
    json_t *fields = json_object_get(json_object_get(json_object_get(r.json, "error"), "details"), "fields");
    cr_assert_eq(json_array_size(fields), 2, "%s", r.body);
    th_response_free(&r);

    th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\": \"x\"", &r);
    th_assert_error(&r, 400, "bad_request");
    th_response_free(&r);

    th_admin(&srv, "POST", "/v1/admin/accounts", "[1,2]", &r);
    th_assert_error(&r, 422, "validation_error");
    th_response_free(&r);

    th_admin(&srv, "POST", "/v1/admin/plans",
             "{\"code\":\"Bad Code\",\"name\":\"\",\"daily_limit\":-1,\"limit_mode\":\"maybe\",\"burst\":0,"
             "\"metered\":\"yes\"}",
             &r);
    th_assert_error(&r, 422, "validation_error");
    fields = json_object_get(json_object_get(json_object_get(r.json, "error"), "details"), "fields");
    cr_assert_eq(json_array_size(fields), 6, "code, name, daily_limit, limit_mode, burst, metered: %s", r.body);
    th_response_free(&r);

    int64_t id = create_account("Acme");
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", (long long)id);
    th_admin(&srv, "PUT", path, "{\"plan_code\":\"nope\",\"timezone\":\"Mars/Olympus\",\"overrides\":{\"x\":1}}", &r);
    th_assert_error(&r, 422, "validation_error");
    fields = json_object_get(json_object_get(json_object_get(r.json, "error"), "details"), "fields");
    cr_assert_eq(json_array_size(fields), 3, "plan_code, timezone, overrides.x: %s", r.body);
    th_response_free(&r);

    /* Nothing was created by the refused requests. */
    th_admin(&srv, "GET", "/v1/admin/plans", NULL, &r);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 0);
    th_response_free(&r);
    th_admin(&srv, "GET", "/v1/admin/accounts/999", NULL, &r);
    th_assert_error(&r, 404, "not_found");
    th_response_free(&r);
}

Test(admin, plan_code_is_unique)
{
    create_plan("{\"code\":\"gold\",\"name\":\"Gold\"}");
    th_response r;
    th_admin(&srv, "POST", "/v1/admin/plans", "{\"code\":\"gold\",\"name\":\"Again\"}", &r);
    th_assert_error(&r, 422, "validation_error");
    th_response_free(&r);
}

Test(admin, accounts_paginate_without_gaps_or_repeats)
{
    int64_t ids[7];
    for (int i = 0; i < 7; i++) {
        char name[16];
        snprintf(name, sizeof name, "acct-%d", i);
        ids[i] = create_account(name);
    }
    char path[128] = "/v1/admin/accounts?limit=3";
    int seen = 0, pages = 0;
    for (;;) {
        th_response r;
        cr_assert_eq(th_admin(&srv, "GET", path, NULL, &r), 200, "%s", r.body);
        json_t *items = json_object_get(th_data(&r), "items");
        for (size_t i = 0; i < json_array_size(items); i++)
            cr_assert_eq(json_integer_value(json_object_get(json_array_get(items, i), "id")), ids[seen++]);
        pages++;
        const char *next = json_string_value(json_object_get(th_data(&r), "next_cursor"));
        if (next == NULL) {
            th_response_free(&r);
            break;
        }
        snprintf(path, sizeof path, "/v1/admin/accounts?limit=3&cursor=%s", next);
        th_response_free(&r);
    }
    cr_assert_eq(seen, 7);
    cr_assert_eq(pages, 3);

    th_response r;
    char p2[64];
    snprintf(p2, sizeof p2, "/v1/admin/accounts/%lld", (long long)ids[2]);
    th_admin(&srv, "PATCH", p2, "{\"status\":\"suspended\"}", &r);
    th_response_free(&r);
    th_admin(&srv, "GET", "/v1/admin/accounts?status=suspended", NULL, &r);
    json_t *items = json_object_get(th_data(&r), "items");
    cr_assert_eq(json_array_size(items), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(items, 0), "id")), ids[2]);
    th_response_free(&r);
    th_admin(&srv, "GET", "/v1/admin/accounts?limit=0", NULL, &r);
    th_assert_error(&r, 422, "validation_error");
    th_response_free(&r);
    th_admin(&srv, "GET", "/v1/admin/accounts?cursor=abc", NULL, &r);
    th_assert_error(&r, 422, "validation_error");
    th_response_free(&r);
    /* A parameter given twice has no single meaning: neither value is taken. */
    th_admin(&srv, "GET", "/v1/admin/accounts?status=suspended&status=active", NULL, &r);
    th_assert_error(&r, 422, "validation_error");
    cr_assert_not_null(strstr(r.body, "must be given once"), "%s", r.body);
    th_response_free(&r);
}

Test(admin, contract_overrides_and_effective_limits)
{
    create_plan("{\"code\":\"pro\",\"name\":\"Pro\",\"daily_limit\":100,\"monthly_limit\":2000,"
                "\"limit_mode\":\"overage\",\"overage_cap\":50}");
    int64_t id = create_account("Acme");
    put_contract(id, "{\"plan_code\":\"pro\",\"timezone\":\"Europe/Paris\","
                     "\"overrides\":{\"daily_limit\":null,\"burst\":7}}");
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", (long long)id);
    th_response r;
    cr_assert_eq(th_admin(&srv, "GET", path, NULL, &r), 200);
    json_t *d = th_data(&r);
    cr_assert_str_eq(json_string_value(json_object_get(d, "timezone")), "Europe/Paris");
    json_t *eff = json_object_get(d, "effective");
    cr_assert(json_is_null(json_object_get(eff, "daily_limit")), "override to unlimited");
    cr_assert_eq(json_integer_value(json_object_get(eff, "monthly_limit")), 2000, "from the plan");
    cr_assert_eq(json_integer_value(json_object_get(eff, "burst")), 7);
    cr_assert_str_eq(json_string_value(json_object_get(eff, "limit_mode")), "overage");
    cr_assert_eq(json_object_size(json_object_get(d, "overrides")), 2);
    th_response_free(&r);

    /* A plan change reaches the account where it has no override. */
    th_admin(&srv, "PATCH", "/v1/admin/plans/pro", "{\"monthly_limit\":3000,\"limit_mode\":\"block\"}", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    th_admin(&srv, "GET", path, NULL, &r);
    eff = json_object_get(th_data(&r), "effective");
    cr_assert_eq(json_integer_value(json_object_get(eff, "monthly_limit")), 3000);
    cr_assert_str_eq(json_string_value(json_object_get(eff, "limit_mode")), "block");
    th_response_free(&r);

    /* A new plan without a zone keeps the account's days and months where they are. */
    put_contract(id, "{\"plan_code\":\"pro\"}");
    th_admin(&srv, "GET", path, NULL, &r);
    cr_assert_str_eq(json_string_value(json_object_get(th_data(&r), "timezone")), "Europe/Paris");
    th_response_free(&r);
}

Test(admin, key_lifecycle_issue_rotate_grace_expire_revoke)
{
    int64_t id = create_account("Acme");
    char key1[80], kid1[16], key2[80], kid2[16];
    issue_key(id, "{\"label\":\"production\"}", key1, kid1);
    expect_me(key1, 200, NULL);

    char path[128];
    snprintf(path, sizeof path, "/v1/admin/credentials/%s/rotate", kid1);
    th_response r;
    cr_assert_eq(th_admin(&srv, "POST", path, "{\"grace_seconds\":60}", &r), 201, "%s", r.body);
    snprintf(key2, sizeof key2, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    snprintf(kid2, sizeof kid2, "%s", json_string_value(json_object_get(th_data(&r), "key_id")));
    cr_assert_str_eq(json_string_value(json_object_get(th_data(&r), "label")), "production");
    th_response_free(&r);
    cr_assert_str_neq(kid1, kid2);

    /* During the grace period both keys work. */
    expect_me(key1, 200, NULL);
    expect_me(key2, 200, NULL);
    clock_test_advance(&test_clock, 59 * 1000);
    expect_me(key1, 200, NULL);
    clock_test_advance(&test_clock, 2 * 1000);
    expect_me(key1, 401, "expired_api_key");
    expect_me(key2, 200, NULL);

    /* An expired key cannot be rotated again. */
    th_admin(&srv, "POST", path, "{}", &r);
    th_assert_error(&r, 422, "validation_error");
    th_response_free(&r);

    snprintf(path, sizeof path, "/v1/admin/credentials/%s", kid2);
    cr_assert_eq(th_admin(&srv, "DELETE", path, NULL, &r), 200);
    cr_assert_str_eq(json_string_value(json_object_get(th_data(&r), "status")), "revoked");
    th_response_free(&r);
    expect_me(key2, 401, "revoked_api_key");

    /* The listing shows both, never a secret. */
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", (long long)id);
    th_admin(&srv, "GET", path, NULL, &r);
    json_t *items = json_object_get(th_data(&r), "items");
    cr_assert_eq(json_array_size(items), 2);
    cr_assert(strstr(r.body, key1 + 21) == NULL && strstr(r.body, key2 + 21) == NULL);
    cr_assert(strstr(r.body, "api_key") == NULL && strstr(r.body, "hash") == NULL);
    cr_assert(json_is_string(json_object_get(json_array_get(items, 0), "last_used_at")), "%s", r.body);
    th_response_free(&r);
}

Test(admin, expiry_set_at_issue_is_enforced)
{
    int64_t id = create_account("Acme");
    char key[80], kid[16];
    /* The test clock starts at 1795000000000 ms = 2026-11-18T11:06:40Z. */
    issue_key(id, "{\"expires_at\":\"2026-11-18T11:20:00Z\"}", key, kid);
    expect_me(key, 200, NULL);
    clock_test_set(&test_clock, 1795000000000LL + 13 * 60 * 1000 + 19 * 1000);
    expect_me(key, 200, NULL);
    clock_test_advance(&test_clock, 1000);
    expect_me(key, 401, "expired_api_key");

    th_response r;
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", (long long)id);
    th_admin(&srv, "POST", path, "{\"expires_at\":\"2020-01-01T00:00:00Z\"}", &r);
    th_assert_error(&r, 422, "validation_error");
    th_response_free(&r);
}

Test(admin, suspension_applies_on_the_next_request)
{
    int64_t id = create_account("Acme");
    char key[80], kid[16], path[64];
    issue_key(id, NULL, key, kid);
    expect_me(key, 200, NULL);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld", (long long)id);
    th_response r;
    th_admin(&srv, "PATCH", path, "{\"status\":\"suspended\"}", &r);
    th_response_free(&r);
    expect_me(key, 403, "account_suspended");
    th_admin(&srv, "PATCH", path, "{\"status\":\"active\"}", &r);
    th_response_free(&r);
    expect_me(key, 200, NULL);
}

Test(admin, malformed_and_unknown_keys)
{
    expect_me("", 401, "missing_api_key");
    th_response r;
    th_request(&srv, "GET", "/v1/b2b/me", NULL, NULL, &r);
    th_assert_error(&r, 401, "missing_api_key");
    th_response_free(&r);
    const char *bad[] = {"x",
                         "sm_live_",
                         "sm_test_abcdefghijkl_0123456789012345678901234567890123456789012",
                         "sm_live_abcdefghijkl-0123456789012345678901234567890123456789012",
                         "sm_live_abcdefghijk!_0123456789012345678901234567890123456789012",
                         "sm_live_abcdefghijkl_012345678901234567890123456789012345678901",
                         "sm_live_abcdefghijkl_0123456789012345678901234567890123456789012",
                         "' OR 1=1 --"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_me(bad[i], 401, "invalid_api_key");

    /* A real key id with a wrong secret is just as invalid. */
    int64_t id = create_account("Acme");
    char key[80], kid[16];
    issue_key(id, NULL, key, kid);
    key[63] = key[63] == 'a' ? 'b' : 'a';
    expect_me(key, 401, "invalid_api_key");
}

Test(admin, a_key_sees_only_its_own_account)
{
    int64_t a = create_account("Alpha"), b = create_account("Beta");
    char ka[80], kida[16], kb[80], kidb[16];
    issue_key(a, NULL, ka, kida);
    issue_key(b, NULL, kb, kidb);
    th_response r;
    me(ka, &r);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(th_data(&r), "account"), "id")), a);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(th_data(&r), "credential"), "key_id")), kida);
    cr_assert(strstr(r.body, "Beta") == NULL && strstr(r.body, kidb) == NULL);
    th_response_free(&r);
    /* An API key is no admin credential. */
    char hdr[128];
    snprintf(hdr, sizeof hdr, "X-API-Key: %s", ka);
    const char *h[] = {hdr, NULL};
    th_request(&srv, "GET", "/v1/admin/accounts", h, NULL, &r);
    th_assert_error(&r, 401, "admin_auth_required");
    th_response_free(&r);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", ka);
    th_request(&srv, "GET", "/v1/admin/accounts", h, NULL, &r);
    th_assert_error(&r, 401, "admin_auth_required");
    th_response_free(&r);
}

static bool file_contains(const char *path, const char *needle)
{
    size_t len;
    char *data = th_read_file(path, &len);
    if (data == NULL)
        return false;
    bool found = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

Test(admin, secrets_never_reach_the_database_or_the_logs)
{
    int64_t id = create_account("Acme");
    char keys[4][80], kids[4][16];
    issue_key(id, "{\"label\":\"a\"}", keys[0], kids[0]);
    issue_key(id, "{\"label\":\"b\"}", keys[1], kids[1]);
    th_response r;
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/credentials/%s/rotate", kids[0]);
    th_admin(&srv, "POST", path, NULL, &r);
    snprintf(keys[2], 80, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    th_response_free(&r);
    for (int i = 0; i < 3; i++)
        expect_me(keys[i], 200, NULL);
    keys[3][0] = '\0';
    snprintf(path, sizeof path, "/v1/admin/credentials/%s", kids[1]);
    th_admin(&srv, "DELETE", path, NULL, &r);
    th_response_free(&r);
    expect_me(keys[1], 401, "revoked_api_key");

    /* Stop the server so every write (last_used_at, WAL) is on disk, then search byte for byte. */
    app_stop(srv.app);
    srv.app = NULL;
    /* On PostgreSQL the database is no file of ours (its data and WAL files are the server's, shared
       by every test): search the text of every row of every table instead (bytea shows as hex, so
       the hex of the secret is searched too); starmeter.db and its WAL are then absent. */
    size_t dump_len = 0;
    char *dump = th_store_is_postgres() ? th_pg_dump(srv.cfg.store, &dump_len) : NULL;
    const char *files[] = {"starmeter.db", "starmeter.db-wal", "server.log"};
    for (int k = 0; k < 3; k++) {
        const char *secret = keys[k] + 21;
        for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
            char p[400];
            snprintf(p, sizeof p, "%s/%s", srv.dir, files[f]);
            cr_assert(!file_contains(p, secret), "secret of key %d found in %s", k, files[f]);
            cr_assert(!file_contains(p, keys[k]), "key %d found in %s", k, files[f]);
        }
        if (dump != NULL) {
            char hex[200];
            size_t n = strlen(secret);
            for (size_t i = 0; i < n && 2 * i + 2 < sizeof hex; i++)
                snprintf(hex + 2 * i, 3, "%02x", (unsigned char)secret[i]);
            cr_assert(memmem(dump, dump_len, secret, n) == NULL, "secret of key %d found in PostgreSQL", k);
            cr_assert(memmem(dump, dump_len, keys[k], strlen(keys[k])) == NULL, "key %d found in PostgreSQL", k);
            cr_assert(memmem(dump, dump_len, hex, strlen(hex)) == NULL, "secret of key %d found as bytea", k);
        }
    }
    if (dump != NULL)
        cr_assert(memmem(dump, dump_len, kids[0], strlen(kids[0])) != NULL, "the dump holds the credentials");
    free(dump);
    char p[400];
    snprintf(p, sizeof p, "%s/server.log", srv.dir);
    cr_assert(file_contains(p, kids[0]) || true, "key ids may appear in logs");
    snprintf(p, sizeof p, "%s/pepper", srv.dir);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(st.st_size, 32);
}

/* An API key sent as X-Request-Id on an admin change never lands in the audit trail. */
Test(admin, apikey_shaped_request_id_stays_out_of_the_audit_trail)
{
    int64_t id = create_account("Acme");
    char key[80], kid[16];
    issue_key(id, NULL, key, kid);
    char path[96], hdr[128];
    snprintf(path, sizeof path, "/v1/admin/credentials/%s", kid);
    snprintf(hdr, sizeof hdr, "X-Request-Id: %s", key);
    const char *h[] = {TH_ADMIN_AUTH, hdr, NULL};
    th_response r;
    th_request(&srv, "DELETE", path, h, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char rid[128];
    cr_assert(th_header(&r, "x-request-id", rid, sizeof rid));
    cr_assert_str_neq(rid, key);
    th_response_free(&r);
    th_admin(&srv, "GET", "/v1/admin/audit?action=credential.revoke", NULL, &r);
    json_t *items = json_object_get(th_data(&r), "items");
    cr_assert_eq(json_array_size(items), 1, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "request_id")), rid);
    cr_assert_null(strstr(r.body, key + 8), "%s", r.body);
    th_response_free(&r);
}

/* A 422 validation_error whose only field is `field`. */
static void expect_field_error(const th_response *r, const char *field)
{
    th_assert_error(r, 422, "validation_error");
    json_t *fields = json_object_get(json_object_get(json_object_get(r->json, "error"), "details"), "fields");
    cr_assert_eq(json_array_size(fields), 1, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(fields, 0), "field")), field, "%s", r->body);
}

/* One account has one id spelling: "+1", "01" or " 1" name no account, and filters refuse them. */
Test(admin, ids_are_canonical_decimal)
{
    int64_t id = create_account("Acme");
    cr_assert_eq(id, 1);
    const char *spellings[] = {"%2B1", "+1", "01", "001", "%201", "1%20", "%091", "0x1", "1e0", "-1", "0"};
    const char *suffixes[] = {"", "/contract", "/credentials", "/usage", "/usage/history"};
    th_response r;
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++)
        for (size_t j = 0; j < sizeof suffixes / sizeof suffixes[0]; j++) {
            char path[128];
            snprintf(path, sizeof path, "/v1/admin/accounts/%s%s", spellings[i], suffixes[j]);
            th_admin(&srv, "GET", path, NULL, &r);
            cr_assert_eq(r.status, 404, "%s: %s", path, r.body);
            th_assert_error(&r, 404, "not_found");
            th_response_free(&r);
        }
    cr_assert_eq(th_admin(&srv, "GET", "/v1/admin/accounts/1", NULL, &r), 200, "%s", r.body);
    th_response_free(&r);

    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/admin/audit?account_id=%s", spellings[i]);
        th_admin(&srv, "GET", path, NULL, &r);
        expect_field_error(&r, "account_id");
        th_response_free(&r);
        snprintf(path, sizeof path, "/v1/admin/accounts?cursor=%s", spellings[i]);
        th_admin(&srv, "GET", path, NULL, &r);
        if (strcmp(spellings[i], "0") == 0) /* before the first id: a cursor this API may return */
            cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
        else
            expect_field_error(&r, "cursor");
        th_response_free(&r);
    }
    cr_assert_eq(th_admin(&srv, "GET", "/v1/admin/audit?account_id=1", NULL, &r), 200, "%s", r.body);
    th_response_free(&r);
}

/* Names are what an operator reads in the console: never blank, never reordered by bidi controls. */
Test(admin, names_refuse_blank_and_invisible_controls)
{
    create_plan("{\"code\":\"pro\",\"name\":\"Pro\"}");
    int64_t id = create_account("Acme");
    char cred_path[96], plan_path[] = "/v1/admin/plans/pro";
    snprintf(cred_path, sizeof cred_path, "/v1/admin/accounts/%lld/credentials", (long long)id);
    /* JSON string bodies: blank, a control character, or a direction override or isolate. */
    const char *bad[] = {
        " ",         "   \\t ",   "\\u00a0",   "\\u3000 ",  "a\\u0085b", "a\\u009bb", "a\\u007fb",
        "a\\u202Eb", "a\\u202Ab", "\\u2066x",  "x\\u2069",  "a\\u200Eb", "a\\u200Fb", "a\\u061Cb",
        "a\\u202Bb", "a\\u202Cb", "a\\u202Db", "a\\u2067b", "a\\u2068b", "a\\u0001b",
    };
    th_response r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"name\":\"%s\"}", bad[i]);
        th_admin(&srv, "POST", "/v1/admin/accounts", body, &r);
        expect_field_error(&r, "name");
        th_response_free(&r);
        snprintf(body, sizeof body, "{\"code\":\"p%zu\",\"name\":\"%s\"}", i, bad[i]);
        th_admin(&srv, "POST", "/v1/admin/plans", body, &r);
        expect_field_error(&r, "name");
        th_response_free(&r);
        snprintf(body, sizeof body, "{\"name\":\"%s\"}", bad[i]);
        th_admin(&srv, "PATCH", plan_path, body, &r);
        expect_field_error(&r, "name");
        th_response_free(&r);
        snprintf(body, sizeof body, "{\"label\":\"%s\"}", bad[i]);
        th_admin(&srv, "POST", cred_path, body, &r);
        expect_field_error(&r, "label");
        th_response_free(&r);
    }
    /* Letters of any script, inner spaces and marks that are not controls stay welcome. */
    cr_assert_eq(th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"  Société Générale  \"}", &r), 201, "%s",
                 r.body);
    th_response_free(&r);
    cr_assert_eq(th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"\\u05e9\\u05dc\\u05d5\\u05dd Ltd\"}", &r),
                 201, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(th_admin(&srv, "POST", cred_path, "{\"label\":\"ci \\u2014 nightly\"}", &r), 201, "%s", r.body);
    th_response_free(&r);
}

/* A contract's zone is a place (Area/Location) or UTC, never a table, a link to one, or a leap-second variant. */
Test(admin, time_zones_are_geographic)
{
    create_plan("{\"code\":\"pro\",\"name\":\"Pro\"}");
    int64_t id = create_account("Acme");
    char path[96];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", (long long)id);
    const char *bad[] = {"Factory",
                         "posixrules",
                         "localtime",
                         "right/Europe/Paris",
                         "posix/Europe/Paris",
                         "Etc/GMT+5",
                         "Etc/Unknown",
                         "GMT",
                         "EST",
                         "CET",
                         "EST5EDT",
                         "Zulu",
                         "US/Eastern",
                         "Europe/../UTC",
                         "Europe/",
                         "/Europe/Paris",
                         "europe/paris",
                         "Europe/Nowhere",
                         "zone.tab",
                         "Etc/UTC",
                         "SystemV/EST5",
                         ""};
    th_response r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"plan_code\":\"pro\",\"timezone\":\"%s\"}", bad[i]);
        th_admin(&srv, "PUT", path, body, &r);
        expect_field_error(&r, "timezone");
        th_response_free(&r);
    }
    const char *good[] = {"UTC",          "Europe/Paris",    "America/Argentina/Buenos_Aires", "America/Port-au-Prince",
                          "Asia/Kolkata", "Pacific/Auckland"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"plan_code\":\"pro\",\"timezone\":\"%s\"}", good[i]);
        cr_assert_eq(th_admin(&srv, "PUT", path, body, &r), 200, "%s: %s", good[i], r.body);
        th_response_free(&r);
    }
}

/* Every change leaves a chained event; verification finds the first altered row. */
Test(admin, audit_trail_filters_and_verification)
{
    create_plan("{\"code\":\"pro\",\"name\":\"Pro\"}");
    int64_t a = create_account("Alpha"), b = create_account("Beta");
    put_contract(a, "{\"plan_code\":\"pro\"}");
    char key[80], kid[16];
    issue_key(b, NULL, key, kid);
    th_response r;
    char path[160];
    snprintf(path, sizeof path, "/v1/admin/credentials/%s", kid);
    const char *h[] = {TH_ADMIN_AUTH, "X-Request-Id: revoke-request-1", NULL};
    th_request(&srv, "DELETE", path, h, NULL, &r);
    th_response_free(&r);

    th_admin(&srv, "GET", "/v1/admin/audit", NULL, &r);
    json_t *items = json_object_get(th_data(&r), "items");
    cr_assert_eq(json_array_size(items), 6, "%s", r.body);
    const char *actions[] = {"plan.create",  "account.create",   "account.create",
                             "contract.put", "credential.issue", "credential.revoke"};
    for (size_t i = 0; i < 6; i++) {
        json_t *e = json_array_get(items, i);
        cr_assert_str_eq(json_string_value(json_object_get(e, "action")), actions[i]);
        cr_assert_str_eq(json_string_value(json_object_get(e, "actor")), "admin");
        cr_assert_eq(json_integer_value(json_object_get(e, "seq")), (json_int_t)i + 1);
        if (i > 0)
            cr_assert_str_eq(json_string_value(json_object_get(e, "prev_hash")),
                             json_string_value(json_object_get(json_array_get(items, i - 1), "hash")));
    }
    json_t *revoke = json_array_get(items, 5);
    cr_assert_str_eq(json_string_value(json_object_get(revoke, "request_id")), "revoke-request-1");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_object_get(revoke, "details"), "after"), "status")),
        "revoked");
    th_response_free(&r);

    snprintf(path, sizeof path, "/v1/admin/audit?account_id=%lld", (long long)b);
    th_admin(&srv, "GET", path, NULL, &r);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 3, "create, issue, revoke: %s", r.body);
    th_response_free(&r);
    th_admin(&srv, "GET", "/v1/admin/audit?action=account.create&limit=1", NULL, &r);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(th_data(&r), "next_cursor")), "2");
    th_response_free(&r);
    th_admin(&srv, "GET", "/v1/admin/audit?from=2026-11-18T00:00:00Z&to=2026-11-19T00:00:00Z", NULL, &r);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 6);
    th_response_free(&r);
    th_admin(&srv, "GET", "/v1/admin/audit?from=2026-11-19T00:00:00Z", NULL, &r);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 0);
    th_response_free(&r);
    th_admin(&srv, "GET", "/v1/admin/audit?from=yesterday", NULL, &r);
    th_assert_error(&r, 422, "validation_error");
    th_response_free(&r);

    app_stop(srv.app);
    srv.app = NULL;
    store *st = th_store_open(&srv);
    app_err err;
    app_err_clear(&err);
    int64_t checked, broken;
    char why[160];
    cr_assert_eq(audit_verify(st, &checked, &broken, why, &err), 0);
    cr_assert_eq(checked, 6);
    cr_assert_eq(broken, 0, "%s", why);
    store_close(st);

    th_store_exec(&srv, "UPDATE audit_events SET details = '{\"after\":{\"name\":\"Evil\"}}' WHERE seq = 3");
    st = th_store_open(&srv);
    cr_assert_eq(audit_verify(st, &checked, &broken, why, &err), 0);
    cr_assert_eq(broken, 3, "the altered event is named: %s", why);
    store_close(st);

    th_store_exec(&srv, "UPDATE audit_events SET details = '{\"after\":{\"name\":\"Beta\",\"status\":\"active\"}}' "
                        "WHERE seq = 3; DELETE FROM audit_events WHERE seq = 4");
    st = th_store_open(&srv);
    cr_assert_eq(audit_verify(st, &checked, &broken, why, &err), 0);
    cr_assert_eq(broken, 4, "a removed event is found: %s", why);
    store_close(st);
}

/* The console's chain check: GET /v1/admin/audit/verify recomputes every event's hash. */
Test(admin, the_audit_chain_is_verified_through_the_api)
{
    create_plan("{\"code\":\"pro\",\"name\":\"Pro\"}");
    create_account("Alpha");
    create_account("Beta");
    th_response r;
    cr_assert_eq(th_admin(&srv, "GET", "/v1/admin/audit/verify", NULL, &r), 200, "%s", r.body);
    json_t *d = th_data(&r);
    cr_assert(json_is_true(json_object_get(d, "valid")), "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(d, "checked")), 3);
    cr_assert(json_is_null(json_object_get(d, "first_broken_seq")));
    cr_assert(json_is_null(json_object_get(d, "reason")));
    th_response_free(&r);

    th_store_exec(&srv, "UPDATE audit_events SET details = '{\"after\":{\"name\":\"Evil\"}}' WHERE seq = 2");
    cr_assert_eq(th_admin(&srv, "GET", "/v1/admin/audit/verify", NULL, &r), 200, "%s", r.body);
    d = th_data(&r);
    cr_assert(json_is_false(json_object_get(d, "valid")), "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(d, "first_broken_seq")), 2, "%s", r.body);
    cr_assert(json_string_length(json_object_get(d, "reason")) > 0);
    th_response_free(&r);

    th_request(&srv, "GET", "/v1/admin/audit/verify", NULL, NULL, &r);
    th_assert_error(&r, 401, "admin_auth_required");
    th_response_free(&r);
}

Test(demo, seeds_once_and_the_key_works)
{
    char dir[256];
    th_tmpdir(dir);
    th_server s;
    th_opts o = {.demo = true, .dir = dir};
    th_start(&s, &o);
    char path[300];
    snprintf(path, sizeof path, "%s/demo.key", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char *key = th_read_file(path, NULL);
    key[strcspn(key, "\n")] = '\0';
    th_response r;
    cr_assert_eq(th_keyed(&s, "/v1/b2b/me", key, &r), 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(th_data(&r), "plan"), "code")), "demo");
    th_response_free(&r);
    th_stop(&s);

    /* Again on the same data: nothing new, the same key still works. */
    th_start(&s, &o);
    char *again = th_read_file(path, NULL);
    again[strcspn(again, "\n")] = '\0';
    cr_assert_str_eq(again, key);
    cr_assert_eq(th_keyed(&s, "/v1/b2b/me", key, &r), 200);
    th_response_free(&r);
    th_admin(&s, "GET", "/v1/admin/accounts", NULL, &r);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 1);
    th_response_free(&r);
    th_stop(&s);
    free(key);
    free(again);
    th_rmdir(dir);
}
