/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The store contract (src/infra/store.h), one suite run against every backend, as libuv reruns its
 * fs tests per implementation: each CONTRACT_TEST below is registered once in the suite
 * store_contract_sqlite and once in store_contract_postgres, with the same body.
 *
 * SQLite runs on a file in a fresh temporary directory. PostgreSQL runs only when
 * STARMETER_TEST_PG holds the URI of a private server (scripts/pg.sh start DIR prints one): each
 * test creates its own database there and drops it at teardown. Without it the postgres cases
 * are skipped.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/embedded.h"
#include "core/hash.h"
#include "infra/store.h"
#include "integration/harness.h"
#include "services/services.h"

/* ---- backends ---- */

#define MAX_OPEN 4

/* What the current test opened; a test runs in its own process, so one per process is enough. */
static struct {
    const char *backend;
    char dir[256];       /* sqlite: the temporary directory */
    char path[300];      /* sqlite: the database file */
    PGconn *admin;       /* postgres: the connection that creates and drops the test database */
    char dbname[64];     /* postgres: the test database */
    char conninfo[1024]; /* postgres: STARMETER_TEST_PG with dbname in place of its database */
    store *open[MAX_OPEN];
} bk;

static void track(store *s)
{
    for (size_t i = 0; i < MAX_OPEN; i++) {
        if (bk.open[i] == NULL) {
            bk.open[i] = s;
            return;
        }
    }
    cr_assert_fail("more than %d stores open in one test", MAX_OPEN);
}

static void untrack(store *s)
{
    for (size_t i = 0; i < MAX_OPEN; i++)
        if (bk.open[i] == s)
            bk.open[i] = NULL;
}

/* Closes a store the test opened (so that teardown does not close it again). */
static void release(store *s)
{
    untrack(s);
    store_close(s);
}

/*
 * `conninfo` with its database replaced by `dbname`: the path of a URI is replaced, its query
 * string kept; a key=value string gets a dbname keyword appended (libpq takes the last one).
 * Returns false when `out` is too small.
 */
static bool conninfo_with_db(const char *conninfo, const char *dbname, char *out, size_t cap)
{
    int n;
    if (strncmp(conninfo, "postgres://", 11) != 0 && strncmp(conninfo, "postgresql://", 13) != 0) {
        n = snprintf(out, cap, "%s dbname=%s", conninfo, dbname);
    } else {
        const char *authority = strstr(conninfo, "://") + 3;
        size_t authority_len = strcspn(authority, "/?");
        const char *query = strchr(authority + authority_len, '?');
        n = snprintf(out, cap, "%.*s/%s%s", (int)(authority - conninfo + (ptrdiff_t)authority_len), conninfo, dbname,
                     query ? query : "");
    }
    return n >= 0 && (size_t)n < cap;
}

static void pg_admin_exec(const char *sql)
{
    PGresult *r = PQexec(bk.admin, sql);
    ExecStatusType st = PQresultStatus(r);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
    PQclear(r);
    cr_assert_eq(st, PGRES_COMMAND_OK, "%s: %s", sql, msg);
}

/* A store on the current test's database, migrated by open_backend; closed at teardown. */
static store *connect_backend(void)
{
    app_err err;
    app_err_clear(&err);
    store *s =
        strcmp(bk.backend, "sqlite") == 0 ? store_sqlite_open(bk.path, &err) : store_pg_open(bk.conninfo, 2, &err);
    cr_assert_not_null(s, "open %s: %s", bk.backend, err.message);
    track(s);
    return s;
}

/* A fresh, migrated, empty store of `backend`; skips the test when that backend is not available. */
static store *open_backend(const char *backend)
{
    static int counter;
    bk.backend = backend;
    if (strcmp(backend, "sqlite") == 0) {
        th_tmpdir(bk.dir);
        snprintf(bk.path, sizeof bk.path, "%s/contract.db", bk.dir);
    } else {
        const char *uri = getenv("STARMETER_TEST_PG");
        if (uri == NULL || uri[0] == '\0')
            cr_skip_test("STARMETER_TEST_PG not set");
        bk.admin = PQconnectdb(uri);
        cr_assert_eq(PQstatus(bk.admin), CONNECTION_OK, "connect to STARMETER_TEST_PG: %s", PQerrorMessage(bk.admin));
        snprintf(bk.dbname, sizeof bk.dbname, "sm_contract_%ld_%d", (long)getpid(), ++counter);
        char sql[128];
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", bk.dbname);
        pg_admin_exec(sql);
        cr_assert(conninfo_with_db(uri, bk.dbname, bk.conninfo, sizeof bk.conninfo), "STARMETER_TEST_PG too long");
    }
    store *s = connect_backend();
    app_err err;
    app_err_clear(&err);
    int applied = 0;
    cr_assert_eq(store_migrate(s, &applied, &err), 0, "migrate %s: %s", backend, err.message);
    cr_assert_gt(applied, 0);
    return s;
}

static void teardown(void)
{
    for (size_t i = 0; i < MAX_OPEN; i++)
        release(bk.open[i]);
    if (bk.dir[0])
        th_rmdir(bk.dir);
    if (bk.admin != NULL) {
        if (bk.dbname[0]) {
            char sql[128];
            snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", bk.dbname);
            PQclear(PQexec(bk.admin, sql));
        }
        PQfinish(bk.admin);
    }
    memset(&bk, 0, sizeof bk);
}

TestSuite(store_contract_sqlite, .fini = teardown, .timeout = 60);
TestSuite(store_contract_postgres, .fini = teardown, .timeout = 60);

/* Defines a test body run once per backend: `backend` names the backend inside it. */
#define CONTRACT_TEST(name)                                                                                            \
    static void name(const char *backend);                                                                             \
    Test(store_contract_sqlite, name)                                                                                  \
    {                                                                                                                  \
        name("sqlite");                                                                                                \
    }                                                                                                                  \
    Test(store_contract_postgres, name)                                                                                \
    {                                                                                                                  \
        name("postgres");                                                                                              \
    }                                                                                                                  \
    static void name(const char *backend)

/* Asserts that a store call succeeds; the test body's `err` receives its error. */
#define MUST(call)                                                                                                     \
    do {                                                                                                               \
        app_err_clear(&err);                                                                                           \
        int must_rc_ = (call);                                                                                         \
        cr_assert_eq(must_rc_, 0, "%s -> %s: %s", #call, app_code_name((app_code)must_rc_), err.message);              \
    } while (0)

/* Asserts that a store call fails with `code`, and reports that code in err. */
#define MUST_FAIL(want, call)                                                                                          \
    do {                                                                                                               \
        app_err_clear(&err);                                                                                           \
        int must_rc_ = (call);                                                                                         \
        cr_assert_eq(must_rc_, (want), "%s -> %s (%s), expected %s", #call, app_code_name((app_code)must_rc_),         \
                     err.message, app_code_name(want));                                                                \
        cr_assert_eq(err.code, (app_code)(want), "%s: err.code %s", #call, app_code_name(err.code));                   \
    } while (0)

/* ---- fixtures ---- */

#define T0 1700000000000LL

static void audit_fill(audit_event *ev, const char *action, const char *target, opt_i64 account_id)
{
    memset(ev, 0, sizeof *ev);
    ev->at = T0;
    snprintf(ev->actor, sizeof ev->actor, "admin");
    snprintf(ev->action, sizeof ev->action, "%s", action);
    snprintf(ev->target, sizeof ev->target, "%s", target);
    ev->account_id = account_id;
    snprintf(ev->details, sizeof ev->details, "{\"after\":{\"name\":\"x\"}}");
    snprintf(ev->request_id, sizeof ev->request_id, "req-0123456789abcdef");
}

static int64_t make_account(store *s, const char *name)
{
    app_err err;
    account acc = {.status = ACCOUNT_ACTIVE, .created_at = T0};
    snprintf(acc.name, sizeof acc.name, "%s", name);
    audit_event ev;
    audit_fill(&ev, "account.create", "account", opt_none());
    MUST(store_account_create(s, &acc, &ev, &err));
    return acc.id;
}

static void plan_fill(plan *p, const char *code)
{
    memset(p, 0, sizeof *p);
    snprintf(p->code, sizeof p->code, "%s", code);
    snprintf(p->name, sizeof p->name, "Plan %s", code);
    p->limits.daily_limit = opt_some(1000);
    p->limits.monthly_limit = opt_none();
    p->limits.mode = LIMIT_OVERAGE;
    p->limits.overage_cap = opt_some(0);
    p->limits.rate_per_second = 7;
    p->limits.burst = 8;
    p->limits.credential_rate_per_second = 9;
    p->limits.credential_burst = 10;
    p->limits.alerts = (alert_set){.n = 3, .pct = {10, 50, 100}};
    p->metered = false;
    p->created_at = T0 + 1;
    p->updated_at = T0 + 2;
}

static int64_t make_plan(store *s, const char *code)
{
    app_err err;
    plan p;
    plan_fill(&p, code);
    audit_event ev;
    audit_fill(&ev, "plan.create", "plan", opt_none());
    MUST(store_plan_create(s, &p, &ev, &err));
    return p.id;
}

static void credential_fill(credential *c, int64_t account_id, const char *key_id)
{
    memset(c, 0, sizeof *c);
    c->account_id = account_id;
    snprintf(c->key_id, sizeof c->key_id, "%s", key_id);
    for (int i = 0; i < HASH_LEN; i++)
        c->secret_hash[i] = (uint8_t)(i * 7 + key_id[KEY_ID_LEN - 1]);
    snprintf(c->label, sizeof c->label, "label of %s", key_id);
    c->status = CREDENTIAL_ACTIVE;
    c->created_at = T0 + 3;
    c->expires_at = opt_some(T0 + 86400000);
}

static credential make_credential(store *s, int64_t account_id, const char *key_id)
{
    app_err err;
    credential c;
    credential_fill(&c, account_id, key_id);
    audit_event ev;
    audit_fill(&ev, "credential.create", "credential", opt_some(account_id));
    MUST(store_credential_create(s, &c, &ev, &err));
    return c;
}

/* Every audit event, in seq order (malloc'd; at most 512 in these tests). */
static audit_event *audit_all(store *s, const audit_filter *f, size_t *n)
{
    app_err err;
    audit_event *rows = calloc(512, sizeof *rows);
    cr_assert_not_null(rows);
    MUST(store_audit_list(s, f, 0, rows, 512, n, &err));
    return rows;
}

static size_t audit_count(store *s)
{
    size_t n;
    free(audit_all(s, NULL, &n));
    return n;
}

/* The chain, recomputed by the service that operators run. */
static void assert_chain_intact(store *s, size_t expected_events)
{
    app_err err;
    int64_t checked = -1, broken = -1;
    char why[160];
    MUST(audit_verify(s, &checked, &broken, why, &err));
    cr_assert_eq(broken, 0, "audit chain broken at %lld: %s", (long long)broken, why);
    cr_assert_eq(checked, (int64_t)expected_events);
}

/* A validation_error names its field in fields[] (as plan_create does) or, at least, in its message. */
static bool names_field(const app_err *err, const char *field)
{
    return (err->nfields > 0 && strcmp(err->fields[0].field, field) == 0) || strstr(err->message, field) != NULL;
}

static const uint8_t zero_hash[HASH_LEN];

/* ---- migrations and health ---- */

CONTRACT_TEST(a_fresh_store_is_at_the_latest_schema_and_migrating_again_applies_nothing)
{
    store *s = open_backend(backend);
    app_err err;
    int version = -1, applied = -1;
    MUST(store_ping(s, &err));
    MUST(store_schema_version(s, &version, &err));
    cr_assert_eq(version, th_schema_version(strcmp(backend, "postgres") == 0));
    MUST(store_migrate(s, &applied, &err));
    cr_assert_eq(applied, 0);
    cr_assert_eq(audit_count(s), 0, "a fresh store is empty");
}

/* ---- accounts ---- */

CONTRACT_TEST(an_account_is_created_read_back_and_audited_in_the_same_transaction)
{
    store *s = open_backend(backend);
    app_err err;
    account acc = {.status = ACCOUNT_ACTIVE, .created_at = T0 + 5};
    snprintf(acc.name, sizeof acc.name, "Ünïcødé ☉ Astrology GmbH");
    audit_event ev;
    audit_fill(&ev, "account.create", "account", opt_none());
    MUST(store_account_create(s, &acc, &ev, &err));
    cr_assert_gt(acc.id, 0);
    /* The services leave the id to the store: it completes the event's target and account. */
    char target[96];
    snprintf(target, sizeof target, "account:%lld", (long long)acc.id);
    cr_assert_str_eq(ev.target, target);
    cr_assert(ev.account_id.present && ev.account_id.v == acc.id);
    cr_assert_eq(ev.seq, 1);
    cr_assert_arr_eq(ev.prev_hash, zero_hash, HASH_LEN, "the first event links to the zero hash");

    account got;
    MUST(store_account_get(s, acc.id, &got, &err));
    cr_assert_eq(got.id, acc.id);
    cr_assert_str_eq(got.name, acc.name);
    cr_assert_eq(got.status, ACCOUNT_ACTIVE);
    cr_assert_eq(got.created_at, T0 + 5);

    size_t n;
    audit_event *rows = audit_all(s, NULL, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(rows[0].seq, 1);
    cr_assert_eq(rows[0].at, ev.at);
    cr_assert_str_eq(rows[0].actor, "admin");
    cr_assert_str_eq(rows[0].action, "account.create");
    cr_assert_str_eq(rows[0].target, target);
    cr_assert(rows[0].account_id.present && rows[0].account_id.v == acc.id);
    cr_assert_str_eq(rows[0].details, ev.details);
    cr_assert_str_eq(rows[0].request_id, ev.request_id);
    cr_assert_arr_eq(rows[0].hash, ev.hash, HASH_LEN);
    free(rows);
    assert_chain_intact(s, 1);
}

CONTRACT_TEST(account_list_pages_after_a_cursor_up_to_cap_and_filters_by_status)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "acc-%d", i);
        ids[i] = make_account(s, name);
    }
    MUST(store_account_set_status(s, ids[1], ACCOUNT_SUSPENDED, NULL, &err));
    MUST(store_account_set_status(s, ids[3], ACCOUNT_SUSPENDED, NULL, &err));

    account page[5];
    size_t n;
    int64_t after = 0;
    for (int i = 0; i < 5; i += 2) {
        MUST(store_account_list(s, -1, after, page, 2, &n, &err));
        cr_assert_eq(n, i < 4 ? 2u : 1u);
        for (size_t j = 0; j < n; j++)
            cr_assert_eq(page[j].id, ids[i + (int)j]);
        after = page[n - 1].id;
    }
    MUST(store_account_list(s, -1, after, page, 2, &n, &err));
    cr_assert_eq(n, 0, "nothing after the last account");

    MUST(store_account_list(s, ACCOUNT_SUSPENDED, 0, page, 5, &n, &err));
    cr_assert_eq(n, 2);
    cr_assert_eq(page[0].id, ids[1]);
    cr_assert_eq(page[1].id, ids[3]);
    cr_assert_eq(page[0].status, ACCOUNT_SUSPENDED);
    MUST(store_account_list(s, ACCOUNT_ACTIVE, ids[0], page, 5, &n, &err));
    cr_assert_eq(n, 2);
    cr_assert_eq(page[0].id, ids[2]);
    cr_assert_eq(page[1].id, ids[4]);
}

CONTRACT_TEST(account_set_status_changes_the_status_and_audits_it)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t id = make_account(s, "acme");
    audit_event ev;
    audit_fill(&ev, "account.suspend", "account", opt_some(id));
    MUST(store_account_set_status(s, id, ACCOUNT_SUSPENDED, &ev, &err));
    cr_assert_eq(ev.seq, 2);
    account got;
    MUST(store_account_get(s, id, &got, &err));
    cr_assert_eq(got.status, ACCOUNT_SUSPENDED);
    audit_fill(&ev, "account.reactivate", "account", opt_some(id));
    MUST(store_account_set_status(s, id, ACCOUNT_ACTIVE, &ev, &err));
    MUST(store_account_get(s, id, &got, &err));
    cr_assert_eq(got.status, ACCOUNT_ACTIVE);
    assert_chain_intact(s, 3);
}

CONTRACT_TEST(an_unknown_account_is_not_found_and_writes_no_audit_event)
{
    store *s = open_backend(backend);
    app_err err;
    account got;
    MUST_FAIL(APP_NOT_FOUND, store_account_get(s, 4242, &got, &err));
    audit_event ev;
    audit_fill(&ev, "account.suspend", "account:4242", opt_some(4242));
    MUST_FAIL(APP_NOT_FOUND, store_account_set_status(s, 4242, ACCOUNT_SUSPENDED, &ev, &err));
    cr_assert_eq(audit_count(s), 0, "a failed change leaves no audit event");
}

/* ---- plans ---- */

static void assert_plan_eq(const plan *a, const plan *b)
{
    cr_assert_eq(a->id, b->id);
    cr_assert_str_eq(a->code, b->code);
    cr_assert_str_eq(a->name, b->name);
    cr_assert_eq(a->limits.daily_limit.present, b->limits.daily_limit.present);
    cr_assert_eq(a->limits.daily_limit.v, b->limits.daily_limit.v);
    cr_assert_eq(a->limits.monthly_limit.present, b->limits.monthly_limit.present);
    if (a->limits.monthly_limit.present)
        cr_assert_eq(a->limits.monthly_limit.v, b->limits.monthly_limit.v);
    cr_assert_eq(a->limits.mode, b->limits.mode);
    cr_assert_eq(a->limits.overage_cap.present, b->limits.overage_cap.present, "a cap of 0 is not 'no cap'");
    cr_assert_eq(a->limits.overage_cap.v, b->limits.overage_cap.v);
    cr_assert_eq(a->limits.rate_per_second, b->limits.rate_per_second);
    cr_assert_eq(a->limits.burst, b->limits.burst);
    cr_assert_eq(a->limits.credential_rate_per_second, b->limits.credential_rate_per_second);
    cr_assert_eq(a->limits.credential_burst, b->limits.credential_burst);
    cr_assert_eq(a->limits.alerts.n, b->limits.alerts.n);
    cr_assert_arr_eq(a->limits.alerts.pct, b->limits.alerts.pct, b->limits.alerts.n);
    cr_assert_eq(a->metered, b->metered);
    cr_assert_eq(a->created_at, b->created_at);
    cr_assert_eq(a->updated_at, b->updated_at);
}

CONTRACT_TEST(a_plan_round_trips_every_limit_by_id_and_by_code)
{
    store *s = open_backend(backend);
    app_err err;
    plan p, got;
    plan_fill(&p, "gold");
    audit_event ev;
    audit_fill(&ev, "plan.create", "plan:gold", opt_none());
    MUST(store_plan_create(s, &p, &ev, &err));
    cr_assert_gt(p.id, 0);
    cr_assert_eq(ev.seq, 1);
    MUST(store_plan_get(s, p.id, &got, &err));
    assert_plan_eq(&got, &p);
    MUST(store_plan_get_by_code(s, "gold", &got, &err));
    assert_plan_eq(&got, &p);
    cr_assert_eq(audit_count(s), 1);

    MUST_FAIL(APP_NOT_FOUND, store_plan_get(s, p.id + 100, &got, &err));
    MUST_FAIL(APP_NOT_FOUND, store_plan_get_by_code(s, "platinum", &got, &err));
}

CONTRACT_TEST(a_duplicate_plan_code_is_a_validation_error_naming_code)
{
    store *s = open_backend(backend);
    app_err err;
    make_plan(s, "gold");
    plan p;
    plan_fill(&p, "gold");
    audit_event ev;
    audit_fill(&ev, "plan.create", "plan:gold", opt_none());
    MUST_FAIL(APP_VALIDATION_ERROR, store_plan_create(s, &p, &ev, &err));
    cr_assert(names_field(&err, "code"), "field: %s, message: %s", err.nfields ? err.fields[0].field : "(none)",
              err.message);
    plan page[4];
    size_t n;
    MUST(store_plan_list(s, 0, page, 4, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(audit_count(s), 1, "the refused plan left no audit event");
    assert_chain_intact(s, 1);
}

CONTRACT_TEST(plan_update_rewrites_name_and_limits_and_an_unknown_plan_is_not_found)
{
    store *s = open_backend(backend);
    app_err err;
    plan p, got;
    plan_fill(&p, "silver");
    MUST(store_plan_create(s, &p, NULL, &err));
    snprintf(p.name, sizeof p.name, "Silver, renamed");
    p.limits.daily_limit = opt_none();
    p.limits.monthly_limit = opt_some(30000);
    p.limits.mode = LIMIT_BLOCK;
    p.limits.overage_cap = opt_none();
    p.limits.rate_per_second = 70;
    p.limits.burst = 80;
    p.limits.credential_rate_per_second = 90;
    p.limits.credential_burst = 100;
    p.metered = true;
    p.updated_at = T0 + 99;
    audit_event ev;
    audit_fill(&ev, "plan.update", "plan:silver", opt_none());
    MUST(store_plan_update(s, &p, &ev, &err));
    cr_assert_eq(ev.seq, 1, "plan_create had no audit event");
    MUST(store_plan_get(s, p.id, &got, &err));
    assert_plan_eq(&got, &p);

    plan ghost = p;
    ghost.id = p.id + 100;
    audit_fill(&ev, "plan.update", "plan:ghost", opt_none());
    MUST_FAIL(APP_NOT_FOUND, store_plan_update(s, &ghost, &ev, &err));
    cr_assert_eq(audit_count(s), 1);
}

CONTRACT_TEST(plan_list_pages_after_a_cursor_up_to_cap)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t ids[3] = {make_plan(s, "a"), make_plan(s, "b"), make_plan(s, "c")};
    plan page[3];
    size_t n;
    MUST(store_plan_list(s, 0, page, 2, &n, &err));
    cr_assert_eq(n, 2);
    cr_assert_eq(page[0].id, ids[0]);
    cr_assert_str_eq(page[1].code, "b");
    MUST(store_plan_list(s, page[1].id, page, 2, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(page[0].id, ids[2]);
    MUST(store_plan_list(s, ids[2], page, 2, &n, &err));
    cr_assert_eq(n, 0);
}

/* ---- contracts ---- */

CONTRACT_TEST(contract_put_creates_then_replaces_the_contract_with_its_overrides)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme"), plan_id = make_plan(s, "gold");
    contract ct = {
        .account_id = acc, .plan_id = plan_id, .starts_at = T0, .ends_at = opt_some(T0 + 1000), .updated_at = T0 + 1};
    ct.overridden = OVR_DAILY_LIMIT | OVR_MODE | OVR_RATE | OVR_CRED_BURST | OVR_ALERTS;
    ct.overrides.daily_limit = opt_none(); /* overridden to unlimited, unlike the plan's 1000 */
    ct.overrides.alerts = (alert_set){0};  /* alerts turned off, unlike the plan's 10, 50, 100 */
    ct.overrides.mode = LIMIT_OVERAGE;
    ct.overrides.rate_per_second = 33;
    ct.overrides.credential_burst = 44;
    snprintf(ct.timezone, sizeof ct.timezone, "Europe/Paris");
    audit_event ev;
    audit_fill(&ev, "contract.put", "account", opt_some(acc));
    MUST(store_contract_put(s, &ct, &ev, &err));
    cr_assert_eq(ev.seq, 3);

    contract got;
    MUST(store_contract_get(s, acc, &got, &err));
    cr_assert_eq(got.account_id, acc);
    cr_assert_eq(got.plan_id, plan_id);
    cr_assert_eq(got.overridden, ct.overridden);
    cr_assert_not(got.overrides.daily_limit.present);
    cr_assert_eq(got.overrides.mode, LIMIT_OVERAGE);
    cr_assert_eq(got.overrides.rate_per_second, 33);
    cr_assert_eq(got.overrides.credential_burst, 44);
    cr_assert_eq(got.overrides.alerts.n, 0);
    cr_assert_str_eq(got.timezone, "Europe/Paris");
    cr_assert_eq(got.starts_at, T0);
    cr_assert(got.ends_at.present && got.ends_at.v == T0 + 1000);
    cr_assert_eq(got.updated_at, T0 + 1);

    int64_t other_plan = make_plan(s, "silver");
    contract next = {.account_id = acc,
                     .plan_id = other_plan,
                     .starts_at = T0,
                     .ends_at = opt_none(),
                     .updated_at = T0 + 2,
                     .overridden = OVR_MONTHLY_LIMIT | OVR_OVERAGE_CAP | OVR_ALERTS};
    next.overrides.alerts = (alert_set){.n = 1, .pct = {90}};
    next.overrides.monthly_limit = opt_some(0);
    next.overrides.overage_cap = opt_some(5);
    snprintf(next.timezone, sizeof next.timezone, "UTC");
    MUST(store_contract_put(s, &next, NULL, &err));
    MUST(store_contract_get(s, acc, &got, &err));
    cr_assert_eq(got.plan_id, other_plan);
    cr_assert_eq(got.overridden, OVR_MONTHLY_LIMIT | OVR_OVERAGE_CAP | OVR_ALERTS, "old overrides are gone");
    cr_assert(got.overrides.alerts.n == 1 && got.overrides.alerts.pct[0] == 90);
    cr_assert(got.overrides.monthly_limit.present && got.overrides.monthly_limit.v == 0);
    cr_assert(got.overrides.overage_cap.present && got.overrides.overage_cap.v == 5);
    cr_assert_str_eq(got.timezone, "UTC");
    cr_assert_not(got.ends_at.present);
    cr_assert_eq(got.updated_at, T0 + 2);

    contract page[2];
    size_t n;
    MUST(store_contract_list(s, 0, page, 2, &n, &err));
    cr_assert_eq(n, 1, "a replaced contract is still one contract");
}

CONTRACT_TEST(contract_get_of_an_account_without_contract_is_not_found_and_list_pages_by_account)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t plan_id = make_plan(s, "gold");
    int64_t accs[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "acc-%d", i);
        accs[i] = make_account(s, name);
        contract ct = {.account_id = accs[i], .plan_id = plan_id, .starts_at = T0, .updated_at = T0};
        snprintf(ct.timezone, sizeof ct.timezone, "UTC");
        MUST(store_contract_put(s, &ct, NULL, &err));
    }
    int64_t bare = make_account(s, "no contract");
    contract got;
    MUST_FAIL(APP_NOT_FOUND, store_contract_get(s, bare, &got, &err));
    MUST(store_contract_get(s, accs[1], &got, &err));
    cr_assert_eq(got.overridden, 0u, "no override: the plan rules");

    contract page[3];
    size_t n;
    MUST(store_contract_list(s, 0, page, 2, &n, &err));
    cr_assert_eq(n, 2);
    cr_assert_eq(page[0].account_id, accs[0]);
    cr_assert_eq(page[1].account_id, accs[1]);
    MUST(store_contract_list(s, accs[1], page, 2, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(page[0].account_id, accs[2]);
}

CONTRACT_TEST(a_contract_for_an_unknown_account_is_refused_without_an_audit_event)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t plan_id = make_plan(s, "gold");
    contract ct = {.account_id = 4242, .plan_id = plan_id, .starts_at = T0, .updated_at = T0};
    snprintf(ct.timezone, sizeof ct.timezone, "UTC");
    audit_event ev;
    audit_fill(&ev, "contract.put", "account:4242", opt_some(4242));
    app_err_clear(&err);
    int rc = store_contract_put(s, &ct, &ev, &err);
    cr_assert_neq(rc, 0);
    cr_assert_eq(err.code, (app_code)rc);
    cr_log_info("%s: contract for an unknown account -> %s (%s)", backend, app_code_name((app_code)rc), err.message);
    contract got;
    MUST_FAIL(APP_NOT_FOUND, store_contract_get(s, 4242, &got, &err));
    cr_assert_eq(audit_count(s), 1, "only the plan's event");
}

/* ---- credentials ---- */

static void assert_credential_eq(const credential *a, const credential *b)
{
    cr_assert_eq(a->id, b->id);
    cr_assert_eq(a->account_id, b->account_id);
    cr_assert_str_eq(a->key_id, b->key_id);
    cr_assert_arr_eq(a->secret_hash, b->secret_hash, HASH_LEN);
    cr_assert_str_eq(a->label, b->label);
    cr_assert_eq(a->status, b->status);
    cr_assert_eq(a->created_at, b->created_at);
    cr_assert_eq(a->expires_at.present, b->expires_at.present);
    if (a->expires_at.present)
        cr_assert_eq(a->expires_at.v, b->expires_at.v);
    cr_assert_eq(a->revoked_at.present, b->revoked_at.present);
    if (a->revoked_at.present)
        cr_assert_eq(a->revoked_at.v, b->revoked_at.v);
    cr_assert_eq(a->last_used_at.present, b->last_used_at.present);
    if (a->last_used_at.present)
        cr_assert_eq(a->last_used_at.v, b->last_used_at.v);
}

CONTRACT_TEST(a_credential_is_created_read_back_by_key_id_and_audited)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    credential c;
    credential_fill(&c, acc, "kAbCdEf01234");
    snprintf(c.label, sizeof c.label, "production ☉ key");
    audit_event ev;
    audit_fill(&ev, "credential.create", "credential:kAbCdEf01234", opt_some(acc));
    MUST(store_credential_create(s, &c, &ev, &err));
    cr_assert_gt(c.id, 0);
    cr_assert_eq(ev.seq, 2);
    credential got;
    MUST(store_credential_get(s, "kAbCdEf01234", &got, &err));
    assert_credential_eq(&got, &c);
    cr_assert_not(got.last_used_at.present, "never used yet");
    MUST_FAIL(APP_NOT_FOUND, store_credential_get(s, "kNoSuchKey00", &got, &err));
    assert_chain_intact(s, 2);
}

CONTRACT_TEST(credential_list_pages_after_a_cursor_and_filters_by_account)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t a = make_account(s, "a"), b = make_account(s, "b");
    credential a1 = make_credential(s, a, "kA0000000001");
    credential b1 = make_credential(s, b, "kB0000000001");
    credential a2 = make_credential(s, a, "kA0000000002");
    credential a3 = make_credential(s, a, "kA0000000003");
    credential page[4];
    size_t n;
    MUST(store_credential_list(s, a, 0, page, 2, &n, &err));
    cr_assert_eq(n, 2);
    cr_assert_eq(page[0].id, a1.id);
    cr_assert_eq(page[1].id, a2.id);
    assert_credential_eq(&page[1], &a2);
    MUST(store_credential_list(s, a, page[1].id, page, 2, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(page[0].id, a3.id);
    MUST(store_credential_list(s, -1, 0, page, 4, &n, &err));
    cr_assert_eq(n, 4);
    cr_assert_eq(page[1].id, b1.id, "every account's credentials, in id order");
    MUST(store_credential_list(s, b, 0, page, 4, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_str_eq(page[0].key_id, "kB0000000001");
}

CONTRACT_TEST(a_duplicate_key_id_is_a_validation_error_naming_key_id)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    make_credential(s, acc, "kDup00000001");
    credential c;
    credential_fill(&c, acc, "kDup00000001");
    audit_event ev;
    audit_fill(&ev, "credential.create", "credential:kDup00000001", opt_some(acc));
    MUST_FAIL(APP_VALIDATION_ERROR, store_credential_create(s, &c, &ev, &err));
    cr_assert(names_field(&err, "key_id"), "field: %s, message: %s", err.nfields ? err.fields[0].field : "(none)",
              err.message);
    cr_assert_eq(audit_count(s), 2, "the refused key left no audit event");
    credential page[4];
    size_t n;
    MUST(store_credential_list(s, -1, 0, page, 4, &n, &err));
    cr_assert_eq(n, 1);
}

CONTRACT_TEST(a_duplicate_key_id_reports_it_in_fields_as_a_duplicate_plan_code_does)
{
    /* store.h: "a duplicate unique value is validation_error naming the field"; plan_create names it in fields[]. */
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    make_credential(s, acc, "kDup00000001");
    credential c;
    credential_fill(&c, acc, "kDup00000001");
    MUST_FAIL(APP_VALIDATION_ERROR, store_credential_create(s, &c, NULL, &err));
    cr_assert_eq(err.nfields, 1u, "message: %s", err.message);
    cr_assert_str_eq(err.fields[0].field, "key_id");
}

CONTRACT_TEST(credential_update_writes_status_label_expiry_and_revocation)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    credential c = make_credential(s, acc, "kUpd00000001");
    c.status = CREDENTIAL_REVOKED;
    snprintf(c.label, sizeof c.label, "revoked after a leak");
    c.expires_at = opt_some(T0 + 3600000); /* earlier than it was: an expiry only moves earlier */
    c.revoked_at = opt_some(T0 + 500);
    audit_event ev;
    audit_fill(&ev, "credential.revoke", "credential:kUpd00000001", opt_some(acc));
    MUST(store_credential_update(s, &c, &ev, &err));
    cr_assert_eq(ev.seq, 3);
    credential got;
    MUST(store_credential_get(s, c.key_id, &got, &err));
    assert_credential_eq(&got, &c);

    credential ghost = c;
    ghost.id = c.id + 100;
    snprintf(ghost.key_id, sizeof ghost.key_id, "kGhost000001");
    audit_fill(&ev, "credential.revoke", "credential:kGhost000001", opt_some(acc));
    MUST_FAIL(APP_NOT_FOUND, store_credential_update(s, &ghost, &ev, &err));
    cr_assert_eq(audit_count(s), 3);
}

CONTRACT_TEST(a_revoked_credential_stays_revoked_and_an_expiry_never_moves_later)
{
    /* A rotation that read the key before a revocation commits after it: the key stays revoked
     * (and the rotation's new key is not created); a stale rotation cannot lengthen a grace. */
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    credential c = make_credential(s, acc, "kRev00000001");
    credential stale = c;               /* as a rotation read it */
    c.expires_at = opt_some(T0 + 1000); /* an emergency rotation: no grace */
    audit_event ev;
    audit_fill(&ev, "credential.rotate", "credential:kRev00000001", opt_some(acc));
    MUST(store_credential_update(s, &c, &ev, &err));
    stale.expires_at = opt_some(T0 + 86400000); /* a stale rotation's default grace */
    audit_fill(&ev, "credential.rotate", "credential:kRev00000001", opt_some(acc));
    MUST(store_credential_update(s, &stale, &ev, &err));
    credential got;
    MUST(store_credential_get(s, c.key_id, &got, &err));
    cr_assert_eq(got.expires_at.v, T0 + 1000, "the shorter grace stands");

    c.status = CREDENTIAL_REVOKED;
    c.revoked_at = opt_some(T0 + 500);
    audit_fill(&ev, "credential.revoke", "credential:kRev00000001", opt_some(acc));
    MUST(store_credential_update(s, &c, &ev, &err));
    size_t audits = audit_count(s);
    stale.status = CREDENTIAL_ACTIVE;
    credential fresh;
    credential_fill(&fresh, acc, "kRev00000002");
    audit_fill(&ev, "credential.rotate", "credential:kRev00000001", opt_some(acc));
    MUST_FAIL(APP_NOT_FOUND, store_credential_rotate(s, &stale, &fresh, &ev, &err));
    MUST_FAIL(APP_NOT_FOUND, store_credential_update(s, &stale, &ev, &err));
    MUST(store_credential_get(s, c.key_id, &got, &err));
    cr_assert_eq(got.status, CREDENTIAL_REVOKED, "a revocation is final");
    MUST_FAIL(APP_NOT_FOUND, store_credential_get(s, "kRev00000002", &got, &err));
    cr_assert_eq(audit_count(s), audits, "nothing of the refused changes is audited");
}

CONTRACT_TEST(credential_rotate_updates_the_old_key_and_creates_the_new_one_in_one_transaction)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    credential old = make_credential(s, acc, "kOld00000001");
    make_credential(s, acc, "kTaken000001");
    old.expires_at = opt_some(T0 + 3600000); /* the grace period */
    credential fresh;
    credential_fill(&fresh, acc, "kNew00000001");
    audit_event ev;
    audit_fill(&ev, "credential.rotate", "credential:kOld00000001", opt_some(acc));
    MUST(store_credential_rotate(s, &old, &fresh, &ev, &err));
    cr_assert_gt(fresh.id, old.id);
    cr_assert_eq(ev.seq, 4);
    credential got;
    MUST(store_credential_get(s, "kOld00000001", &got, &err));
    assert_credential_eq(&got, &old);
    MUST(store_credential_get(s, "kNew00000001", &got, &err));
    assert_credential_eq(&got, &fresh);

    /* The new key collides: the old key's change is rolled back with it. */
    credential again = old;
    again.expires_at = opt_some(T0 + 1);
    credential dup;
    credential_fill(&dup, acc, "kTaken000001");
    audit_fill(&ev, "credential.rotate", "credential:kOld00000001", opt_some(acc));
    MUST_FAIL(APP_VALIDATION_ERROR, store_credential_rotate(s, &again, &dup, &ev, &err));
    MUST(store_credential_get(s, "kOld00000001", &got, &err));
    assert_credential_eq(&got, &old);

    /* An unknown old key: the new one is not created either. */
    credential ghost = old;
    ghost.id = old.id + 1000;
    credential orphan;
    credential_fill(&orphan, acc, "kOrphan00001");
    audit_fill(&ev, "credential.rotate", "credential:ghost", opt_some(acc));
    MUST_FAIL(APP_NOT_FOUND, store_credential_rotate(s, &ghost, &orphan, &ev, &err));
    MUST_FAIL(APP_NOT_FOUND, store_credential_get(s, "kOrphan00001", &got, &err));
    cr_assert_eq(audit_count(s), 4);
    assert_chain_intact(s, 4);
}

CONTRACT_TEST(credentials_touch_raises_last_used_at_and_never_lowers_it)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    credential c1 = make_credential(s, acc, "kTouch000001"), c2 = make_credential(s, acc, "kTouch000002");
    int64_t ids[2] = {c1.id, c2.id};
    int64_t first[2] = {T0 + 100, T0 + 200}, second[2] = {T0 + 50, T0 + 300};
    MUST(store_credentials_touch(s, ids, first, 2, &err));
    MUST(store_credentials_touch(s, ids, second, 2, &err));
    MUST(store_credentials_touch(s, ids, second, 0, &err));
    credential got;
    MUST(store_credential_get(s, "kTouch000001", &got, &err));
    cr_assert(got.last_used_at.present);
    cr_assert_eq(got.last_used_at.v, T0 + 100, "an older use does not lower it");
    MUST(store_credential_get(s, "kTouch000002", &got, &err));
    cr_assert_eq(got.last_used_at.v, T0 + 300);
}

/* ---- the audit chain ---- */

static int apply_audits(store *s, audit_event *evs, size_t n, app_err *err)
{
    usage_batch b = {.audits = evs, .naudits = n, .durable = true};
    return store_usage_apply(s, &b, err);
}

CONTRACT_TEST(every_audited_change_links_to_the_previous_hash_and_the_chain_verifies)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t plan_id = make_plan(s, "gold");
    int64_t acc = make_account(s, "acme");
    contract ct = {.account_id = acc, .plan_id = plan_id, .starts_at = T0, .updated_at = T0};
    snprintf(ct.timezone, sizeof ct.timezone, "UTC");
    audit_event ev;
    audit_fill(&ev, "contract.put", "account", opt_some(acc));
    MUST(store_contract_put(s, &ct, &ev, &err));
    credential c = make_credential(s, acc, "kChain000001");
    snprintf(c.label, sizeof c.label, "renamed");
    audit_fill(&ev, "credential.update", "credential:kChain000001", opt_some(acc));
    MUST(store_credential_update(s, &c, &ev, &err));
    credential fresh;
    credential_fill(&fresh, acc, "kChain000002");
    audit_fill(&ev, "credential.rotate", "credential:kChain000001", opt_some(acc));
    MUST(store_credential_rotate(s, &c, &fresh, &ev, &err));
    audit_fill(&ev, "account.suspend", "account", opt_some(acc));
    MUST(store_account_set_status(s, acc, ACCOUNT_SUSPENDED, &ev, &err));
    plan p;
    MUST(store_plan_get(s, plan_id, &p, &err));
    p.limits.burst = 999;
    audit_fill(&ev, "plan.update", "plan:gold", opt_none());
    MUST(store_plan_update(s, &p, &ev, &err));
    audit_event quota[2];
    audit_fill(&quota[0], "quota.exceeded", "account", opt_some(acc));
    audit_fill(&quota[1], "quota.warning", "account", opt_some(acc));
    MUST(apply_audits(s, quota, 2, &err));
    cr_assert_eq(quota[0].seq, 9);
    cr_assert_eq(quota[1].seq, 10);
    cr_assert_arr_eq(quota[1].prev_hash, quota[0].hash, HASH_LEN, "two events of one batch chain too");

    size_t n;
    audit_event *rows = audit_all(s, NULL, &n);
    cr_assert_eq(n, 10);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(rows[i].seq, (int64_t)i + 1);
        cr_assert_arr_eq(rows[i].prev_hash, i ? rows[i - 1].hash : zero_hash, HASH_LEN, "event %zu", i + 1);
        uint8_t h[HASH_LEN];
        hash_audit_event(&rows[i], h);
        cr_assert_arr_eq(rows[i].hash, h, HASH_LEN, "event %zu is stored as it was hashed", i + 1);
    }
    cr_assert_arr_eq(rows[9].hash, quota[1].hash, HASH_LEN, "the caller's copy is the stored one");
    free(rows);
    assert_chain_intact(s, 10);
}

CONTRACT_TEST(audit_list_filters_by_account_action_and_time_and_pages_after_a_seq)
{
    store *s = open_backend(backend);
    app_err err;
    /* seq: 1 acc 1 "a" at 1000, 2 acc 2 "b" at 2000, 3 none "a" at 3000, 4 acc 1 "b" at 4000, 5 acc 1 "a" at 5000 */
    static const struct {
        int64_t account;
        const char *action;
    } spec[] = {{1, "a"}, {2, "b"}, {0, "a"}, {1, "b"}, {1, "a"}};
    audit_event evs[5];
    for (size_t i = 0; i < 5; i++) {
        audit_fill(&evs[i], spec[i].action, "account", spec[i].account ? opt_some(spec[i].account) : opt_none());
        evs[i].at = 1000 * ((int64_t)i + 1);
    }
    MUST(apply_audits(s, evs, 5, &err));

    struct {
        audit_filter f;
        size_t n;
        int64_t seqs[5];
    } cases[] = {
        {{.account_id = opt_some(1)}, 3, {1, 4, 5}},
        {{.action = "b"}, 2, {2, 4}},
        {{.from_ms = opt_some(2000), .to_ms = opt_some(4000)}, 2, {2, 3}}, /* from inclusive, to exclusive */
        {{.account_id = opt_some(1), .action = "a", .from_ms = opt_some(1001)}, 1, {5}},
        {{.account_id = opt_some(3)}, 0, {0, 0, 0, 0, 0}},
        {{.action = NULL}, 5, {1, 2, 3, 4, 5}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n;
        audit_event *rows = audit_all(s, &cases[c].f, &n);
        cr_assert_eq(n, cases[c].n, "case %zu", c);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(rows[i].seq, cases[c].seqs[i], "case %zu row %zu", c, i);
        free(rows);
    }

    /* Pages of 2 over the account-1 events: [1, 4], [5], []. */
    audit_filter f = {.account_id = opt_some(1)};
    audit_event page[2];
    size_t n;
    MUST(store_audit_list(s, &f, 0, page, 2, &n, &err));
    cr_assert_eq(n, 2);
    cr_assert_eq(page[1].seq, 4);
    MUST(store_audit_list(s, &f, 4, page, 2, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(page[0].seq, 5);
    MUST(store_audit_list(s, &f, 5, page, 2, &n, &err));
    cr_assert_eq(n, 0);
}

/* ---- usage ---- */

static usage_delta delta(int64_t acc, int64_t cred, const char *date, int64_t req, int64_t over, int64_t blocked)
{
    usage_delta d = {.account_id = acc, .credential_id = cred, .requests = req, .overage = over, .blocked = blocked};
    snprintf(d.date, sizeof d.date, "%s", date);
    return d;
}

static void assert_totals(usage_totals t, int64_t req, int64_t over, int64_t blocked)
{
    cr_assert_eq(t.requests, req);
    cr_assert_eq(t.overage, over);
    cr_assert_eq(t.blocked, blocked);
}

CONTRACT_TEST(usage_apply_sums_deltas_of_one_row_within_a_batch_and_across_batches)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t a = make_account(s, "a"), other = make_account(s, "other");
    int64_t c1 = make_credential(s, a, "kUse00000001").id, c2 = make_credential(s, a, "kUse00000002").id;
    int64_t co = make_credential(s, other, "kUse00000003").id;
    usage_delta first[] = {
        delta(a, c1, "2026-01-01", 1, 0, 0),           delta(a, c1, "2026-01-01", 2, 1, 0),
        delta(a, c2, "2026-01-01", 5, 0, 1),           delta(a, c1, "2026-01-02", 10, 0, 0),
        delta(other, co, "2026-01-01", 100, 100, 100),
    };
    usage_batch b = {.deltas = first, .ndeltas = 5, .durable = true};
    MUST(store_usage_apply(s, &b, &err));
    usage_delta second[] = {delta(a, c1, "2026-01-01", 4, 0, 2)};
    b = (usage_batch){.deltas = second, .ndeltas = 1, .durable = false};
    MUST(store_usage_apply(s, &b, &err));
    MUST(store_sync(s, &err));

    usage_totals t;
    MUST(store_usage_sum(s, a, -1, "2026-01-01", "2026-01-01", &t, &err));
    assert_totals(t, 12, 1, 3);
    MUST(store_usage_sum(s, a, c1, "2026-01-01", "2026-01-01", &t, &err));
    assert_totals(t, 7, 1, 2);
    MUST(store_usage_sum(s, a, -1, "2026-01-01", "2026-01-31", &t, &err));
    assert_totals(t, 22, 1, 3);
    MUST(store_usage_sum(s, a, -1, "2026-02-01", "2026-02-28", &t, &err));
    assert_totals(t, 0, 0, 0);
    MUST(store_usage_sum(s, a, c2, "2026-01-02", "2026-01-02", &t, &err));
    assert_totals(t, 0, 0, 0);
}

CONTRACT_TEST(usage_rows_group_by_date_or_credential_within_the_range_up_to_cap)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t a = make_account(s, "a"), other = make_account(s, "other");
    int64_t c1 = make_credential(s, a, "kRow00000001").id, c2 = make_credential(s, a, "kRow00000002").id;
    int64_t co = make_credential(s, other, "kRow00000003").id;
    usage_delta ds[] = {
        delta(a, c1, "2026-01-01", 1, 0, 0),  delta(a, c2, "2026-01-01", 2, 1, 1),
        delta(a, c1, "2026-01-02", 4, 0, 0),  delta(a, c2, "2026-01-03", 8, 2, 0),
        delta(a, c1, "2025-12-31", 16, 0, 0), delta(other, co, "2026-01-01", 32, 0, 0),
    };
    usage_batch b = {.deltas = ds, .ndeltas = 6, .durable = true};
    MUST(store_usage_apply(s, &b, &err));

    usage_row rows[8];
    size_t n;
    MUST(store_usage_rows(s, a, -1, "2026-01-01", "2026-01-03", false, rows, 8, &n, &err));
    cr_assert_eq(n, 3);
    cr_assert_str_eq(rows[0].date, "2026-01-01");
    assert_totals(rows[0].t, 3, 1, 1);
    cr_assert_str_eq(rows[1].date, "2026-01-02");
    assert_totals(rows[1].t, 4, 0, 0);
    cr_assert_str_eq(rows[2].date, "2026-01-03");
    assert_totals(rows[2].t, 8, 2, 0);
    MUST(store_usage_rows(s, a, -1, "2026-01-01", "2026-01-03", false, rows, 2, &n, &err));
    cr_assert_eq(n, 2, "cap");
    cr_assert_str_eq(rows[1].date, "2026-01-02");
    MUST(store_usage_rows(s, a, c2, "2026-01-02", "2026-01-31", false, rows, 8, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_str_eq(rows[0].date, "2026-01-03");

    MUST(store_usage_rows(s, a, -1, "2026-01-01", "2026-01-03", true, rows, 8, &n, &err));
    cr_assert_eq(n, 2);
    cr_assert_eq(rows[0].credential_id, c1);
    assert_totals(rows[0].t, 5, 0, 0);
    cr_assert_eq(rows[1].credential_id, c2);
    assert_totals(rows[1].t, 10, 3, 1);
    MUST(store_usage_rows(s, a, -1, "2025-12-01", "2026-01-31", true, rows, 1, &n, &err));
    cr_assert_eq(n, 1, "cap");
    cr_assert_eq(rows[0].credential_id, c1);
    assert_totals(rows[0].t, 21, 0, 0);
    MUST(store_usage_rows(s, a, c2, "2026-01-01", "2026-01-31", true, rows, 8, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(rows[0].credential_id, c2);
    MUST(store_usage_rows(s, a, -1, "2027-01-01", "2027-01-31", true, rows, 8, &n, &err));
    cr_assert_eq(n, 0);
}

/* ---- exports ---- */

/* Every page of usage_key_days with pages of `cap`, into all[] (at most 64); a short page ends it. */
static size_t key_days_all(store *s, int64_t acc, const char *from, const char *to, size_t cap, usage_key_day *all)
{
    app_err err;
    usage_key_day page[8];
    size_t total = 0, n;
    const usage_key_day *after = NULL;
    do {
        MUST(store_usage_key_days(s, acc, from, to, after, page, cap, &n, &err));
        cr_assert_leq(n, cap);
        cr_assert_leq(total + n, 64);
        memcpy(all + total, page, n * sizeof *page);
        total += n;
        after = n ? &all[total - 1] : NULL;
    } while (n == cap);
    return total;
}

CONTRACT_TEST(usage_key_days_page_by_date_then_key_id_within_the_range_and_the_account)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t a = make_account(s, "a"), other = make_account(s, "other");
    /* Bytewise 'Z' < 'a': a collation that folds case would order these the other way. */
    credential lower = make_credential(s, a, "akeyDays0001"), upper = make_credential(s, a, "ZkeyDays0002");
    credential third = make_credential(s, a, "mkeyDays0003");
    int64_t co = make_credential(s, other, "okeyDays0004").id;
    usage_delta ds[] = {
        delta(a, lower.id, "2026-01-01", 1, 0, 0),  delta(a, upper.id, "2026-01-01", 2, 1, 1),
        delta(a, third.id, "2026-01-01", 3, 0, 0),  delta(a, lower.id, "2026-01-02", 4, 0, 0),
        delta(a, upper.id, "2026-01-03", 8, 2, 0),  delta(a, lower.id, "2025-12-31", 16, 0, 0),
        delta(a, upper.id, "2026-01-04", 32, 0, 0), delta(other, co, "2026-01-01", 64, 0, 0),
    };
    usage_batch b = {.deltas = ds, .ndeltas = 8, .durable = true};
    MUST(store_usage_apply(s, &b, &err));

    struct {
        const char *date, *key_id;
        int64_t req, over, blocked;
    } want[] = {
        {"2026-01-01", "ZkeyDays0002", 2, 1, 1}, {"2026-01-01", "akeyDays0001", 1, 0, 0},
        {"2026-01-01", "mkeyDays0003", 3, 0, 0}, {"2026-01-02", "akeyDays0001", 4, 0, 0},
        {"2026-01-03", "ZkeyDays0002", 8, 2, 0},
    };
    for (size_t cap = 1; cap <= 6; cap++) {
        usage_key_day all[64];
        size_t n = key_days_all(s, a, "2026-01-01", "2026-01-03", cap, all);
        cr_assert_eq(n, 5, "cap %zu: %zu rows", cap, n);
        for (size_t i = 0; i < n; i++) {
            cr_assert_str_eq(all[i].date, want[i].date, "cap %zu row %zu", cap, i);
            cr_assert_str_eq(all[i].key_id, want[i].key_id, "cap %zu row %zu", cap, i);
            assert_totals(all[i].t, want[i].req, want[i].over, want[i].blocked);
        }
    }
    usage_key_day one;
    size_t n;
    MUST(store_usage_key_days(s, a, "2026-01-01", "2026-01-01", NULL, &one, 1, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(one.credential_id, upper.id);
    cr_assert_str_eq(one.label, upper.label);
    MUST(store_usage_key_days(s, a, "2027-01-01", "2027-12-31", NULL, &one, 1, &n, &err));
    cr_assert_eq(n, 0);
    usage_key_day theirs[8];
    MUST(store_usage_key_days(s, other, "2026-01-01", "2026-01-31", NULL, theirs, 8, &n, &err));
    cr_assert_eq(n, 1, "only the account's own rows");
    cr_assert_str_eq(theirs[0].key_id, "okeyDays0004");
}

static int64_t make_contract(store *s, int64_t account_id, int64_t plan_id, unsigned overridden, limits overrides)
{
    app_err err;
    contract ct = {.account_id = account_id,
                   .plan_id = plan_id,
                   .overridden = overridden,
                   .overrides = overrides,
                   .starts_at = T0,
                   .updated_at = T0};
    snprintf(ct.timezone, sizeof ct.timezone, "UTC");
    MUST(store_contract_put(s, &ct, NULL, &err));
    return account_id;
}

CONTRACT_TEST(usage_accounts_page_lists_every_contracted_account_with_its_effective_limits)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t gold = make_plan(s, "gold"); /* daily 1000, monthly unlimited, overage mode (plan_fill) */
    int64_t a1 = make_account(s, "Acme, Inc."), a2 = make_account(s, "quiet"), a3 = make_account(s, "no contract");
    int64_t a4 = make_account(s, "plain");
    limits ovr = {.monthly_limit = opt_some(5000), .mode = LIMIT_BLOCK};
    make_contract(s, a1, gold, OVR_MONTHLY_LIMIT | OVR_MODE, ovr);
    make_contract(s, a2, gold, 0, (limits){0});
    make_contract(s, a4, gold, 0, (limits){0});
    credential c1 = make_credential(s, a1, "kAcc00000001"), c2 = make_credential(s, a1, "kAcc00000002");
    int64_t c3 = make_credential(s, a2, "kAcc00000003").id, c4 = make_credential(s, a3, "kAcc00000004").id;
    int64_t c5 = make_credential(s, a4, "kAcc00000005").id;
    usage_delta ds[] = {
        delta(a1, c2.id, "2026-01-05", 10, 1, 0), delta(a1, c1.id, "2026-01-01", 1, 0, 2),
        delta(a1, c1.id, "2026-01-31", 4, 0, 0),  delta(a1, c1.id, "2026-02-01", 100, 0, 0),
        delta(a2, c3, "2026-02-03", 7, 0, 0),     delta(a3, c4, "2026-01-02", 9, 0, 0),
        delta(a4, c5, "2026-01-09", 3, 0, 1),
    };
    usage_batch b = {.deltas = ds, .ndeltas = 7, .durable = true};
    MUST(store_usage_apply(s, &b, &err));
    MUST(store_account_set_status(s, a2, ACCOUNT_SUSPENDED, NULL, &err)); /* listed all the same */

    for (size_t cap = 1; cap <= 5; cap++) {
        usage_account_row all[16], page[5];
        size_t total = 0, n;
        do {
            MUST(store_usage_accounts_page(s, "2026-01-01", "2026-01-31", total ? &all[total - 1] : NULL, page, cap, &n,
                                           &err));
            cr_assert_leq(total + n, 16);
            memcpy(all + total, page, n * sizeof *page);
            total += n;
        } while (n == cap);
        cr_assert_eq(total, 4, "cap %zu: %zu rows", cap, total);
        /* a1: its two keys, January only, limits with the contract's overrides. */
        cr_assert_eq(all[0].account_id, a1);
        cr_assert_str_eq(all[0].account_name, "Acme, Inc.");
        cr_assert_str_eq(all[0].plan_code, "gold");
        cr_assert_eq(all[0].credential_id, c1.id);
        cr_assert_str_eq(all[0].key_id, "kAcc00000001");
        cr_assert_str_eq(all[0].label, c1.label);
        assert_totals(all[0].t, 5, 0, 2);
        cr_assert(all[0].limits.daily_limit.present && all[0].limits.daily_limit.v == 1000);
        cr_assert(all[0].limits.monthly_limit.present && all[0].limits.monthly_limit.v == 5000);
        cr_assert_eq(all[0].limits.mode, LIMIT_BLOCK);
        cr_assert_eq(all[0].status, ACCOUNT_ACTIVE);
        cr_assert_eq(all[1].credential_id, c2.id);
        assert_totals(all[1].t, 10, 1, 0);
        /* a2: no usage in January, still listed once, with zeros and the plan's own limits. */
        cr_assert_eq(all[2].account_id, a2);
        cr_assert_eq(all[2].credential_id, 0);
        cr_assert_str_eq(all[2].key_id, "");
        cr_assert_str_eq(all[2].label, "");
        assert_totals(all[2].t, 0, 0, 0);
        cr_assert(!all[2].limits.monthly_limit.present);
        cr_assert_eq(all[2].limits.mode, LIMIT_OVERAGE);
        cr_assert_eq(all[2].status, ACCOUNT_SUSPENDED, "its status now");
        /* a3 has no contract: not listed. */
        cr_assert_eq(all[3].account_id, a4);
        cr_assert_eq(all[3].credential_id, c5);
        assert_totals(all[3].t, 3, 0, 1);
    }
    usage_account_row none[2];
    size_t n;
    MUST(store_usage_accounts_page(s, "2026-01-01", "2026-01-31",
                                   &(usage_account_row){.account_id = a4, .credential_id = c5}, none, 2, &n, &err));
    cr_assert_eq(n, 0);
}

/* However much a caller asks, an export page holds at most STORE_PAGE_MAX rows. */
CONTRACT_TEST(export_pages_hold_at_most_store_page_max_rows)
{
    store *s = open_backend(backend);
    app_err err;
    enum { N = STORE_PAGE_MAX + 1 };
    int64_t gold = make_plan(s, "gold");
    int64_t a = make_account(s, "a");
    make_contract(s, a, gold, 0, (limits){0});
    int64_t c = make_credential(s, a, "kMax00000001").id;
    usage_delta *ds = calloc(N, sizeof *ds);
    for (int i = 0; i < N; i++) { /* N distinct dates in order: 28 days a month */
        char date[11];
        snprintf(date, sizeof date, "%04d-%02d-%02d", 2000 + i / 336, 1 + (i / 28) % 12, 1 + i % 28);
        ds[i] = delta(a, c, date, 1, 0, 0);
    }
    usage_batch b = {.deltas = ds, .ndeltas = N, .durable = true};
    MUST(store_usage_apply(s, &b, &err));
    free(ds);
    usage_key_day *days = calloc(2 * STORE_PAGE_MAX, sizeof *days);
    size_t n;
    MUST(store_usage_key_days(s, a, "0000-00-00", "9999-12-31", NULL, days, 2 * STORE_PAGE_MAX, &n, &err));
    cr_assert_eq(n, STORE_PAGE_MAX);
    MUST(store_usage_key_days(s, a, "0000-00-00", "9999-12-31", &days[n - 1], days, 2 * STORE_PAGE_MAX, &n, &err));
    cr_assert_eq(n, 1, "the page after holds the rest");
    free(days);

    /* N accounts with a contract, imported in one batch. */
    account *accs = calloc(N, sizeof *accs);
    contract *cons = calloc(N, sizeof *cons);
    for (int i = 0; i < N; i++) {
        accs[i] = (account){.id = 1000 + i, .status = ACCOUNT_ACTIVE, .created_at = T0};
        snprintf(accs[i].name, sizeof accs[i].name, "acc-%d", i);
        cons[i] = (contract){.account_id = 1000 + i, .plan_id = gold, .starts_at = T0, .updated_at = T0};
        snprintf(cons[i].timezone, sizeof cons[i].timezone, "UTC");
    }
    store_import imp = {.accounts = accs, .naccounts = N, .contracts = cons, .ncontracts = N};
    MUST(store_import_rows(s, &imp, &err));
    free(accs);
    free(cons);
    usage_account_row *rows = calloc(2 * STORE_PAGE_MAX, sizeof *rows);
    MUST(store_usage_accounts_page(s, "2000-01-01", "2000-01-31", NULL, rows, 2 * STORE_PAGE_MAX, &n, &err));
    cr_assert_eq(n, STORE_PAGE_MAX);
    MUST(store_usage_accounts_page(s, "2000-01-01", "2000-01-31", &rows[n - 1], rows, 2 * STORE_PAGE_MAX, &n, &err));
    cr_assert_eq(n, 2, "the last two imported accounts");
    free(rows);
}

/* A stored answer whose body holds a NUL byte and bytes that are not UTF-8. */
static const char IDEM_BODY[] = "{\"data\":{\"sun\":\"Leo\"}}\0\xff\xfe\x01 tail";

static idem_record idem_fill(int64_t acc, const char *key, int64_t expires_at)
{
    idem_record r = {.account_id = acc, .status = 201, .body = (char *)IDEM_BODY, .body_len = sizeof IDEM_BODY - 1};
    snprintf(r.key, sizeof r.key, "%s", key);
    for (int i = 0; i < 32; i++)
        r.fingerprint[i] = (uint8_t)(255 - i);
    r.expires_at = expires_at;
    return r;
}

CONTRACT_TEST(idem_get_returns_the_stored_answer_byte_for_byte_until_it_expires)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme"), other = make_account(s, "other");
    char long_key[129];
    memset(long_key, 'k', 128);
    long_key[128] = '\0';
    idem_record recs[2] = {idem_fill(acc, "order-1", T0 + 10000), idem_fill(acc, long_key, T0 + 10000)};
    usage_batch b = {.idem = recs, .nidem = 2, .durable = true};
    MUST(store_usage_apply(s, &b, &err));

    idem_record got;
    MUST(store_idem_get(s, acc, "order-1", T0, &got, &err));
    cr_assert_eq(got.account_id, acc);
    cr_assert_str_eq(got.key, "order-1");
    cr_assert_eq(got.status, 201);
    cr_assert_arr_eq(got.fingerprint, recs[0].fingerprint, 32);
    cr_assert_eq(got.body_len, sizeof IDEM_BODY - 1);
    cr_assert_arr_eq(got.body, IDEM_BODY, got.body_len, "byte for byte, past the NUL");
    cr_assert_eq(got.body[got.body_len], '\0');
    cr_assert_eq(got.expires_at, T0 + 10000);
    free(got.body);
    MUST(store_idem_get(s, acc, long_key, T0, &got, &err));
    cr_assert_str_eq(got.key, long_key);
    free(got.body);

    MUST_FAIL(APP_NOT_FOUND, store_idem_get(s, acc, "order-1", T0 + 10000, &got, &err));
    MUST_FAIL(APP_NOT_FOUND, store_idem_get(s, other, "order-1", T0, &got, &err));
    MUST_FAIL(APP_NOT_FOUND, store_idem_get(s, acc, "order-2", T0, &got, &err));

    /* Storing the same key again replaces the answer. */
    idem_record again = idem_fill(acc, "order-1", T0 + 20000);
    again.status = 200;
    again.body = "{}";
    again.body_len = 2;
    b = (usage_batch){.idem = &again, .nidem = 1, .durable = true};
    MUST(store_usage_apply(s, &b, &err));
    MUST(store_idem_get(s, acc, "order-1", T0 + 15000, &got, &err));
    cr_assert_eq(got.status, 200);
    cr_assert_eq(got.body_len, 2);
    cr_assert_str_eq(got.body, "{}");
    free(got.body);

    /* An empty body is an answer too. */
    idem_record empty = idem_fill(acc, "order-3", T0 + 10000);
    empty.status = 204;
    empty.body = "";
    empty.body_len = 0;
    b = (usage_batch){.idem = &empty, .nidem = 1, .durable = true};
    MUST(store_usage_apply(s, &b, &err));
    MUST(store_idem_get(s, acc, "order-3", T0, &got, &err));
    cr_assert_eq(got.status, 204);
    cr_assert_eq(got.body_len, 0);
    cr_assert_not_null(got.body);
    cr_assert_eq(got.body[0], '\0');
    free(got.body);
}

CONTRACT_TEST(idem_purge_removes_expired_answers_only)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    idem_record recs[3] = {idem_fill(acc, "old", T0 + 1000), idem_fill(acc, "edge", T0 + 2000),
                           idem_fill(acc, "young", T0 + 3000)};
    usage_batch b = {.idem = recs, .nidem = 3, .durable = true};
    MUST(store_usage_apply(s, &b, &err));
    MUST(store_idem_purge(s, T0 + 2000, &err));
    /* Asked as of T0, an answer still stored would be returned: only a purged one is not found. */
    idem_record got;
    MUST_FAIL(APP_NOT_FOUND, store_idem_get(s, acc, "old", T0, &got, &err));
    MUST_FAIL(APP_NOT_FOUND, store_idem_get(s, acc, "edge", T0, &got, &err));
    MUST(store_idem_get(s, acc, "young", T0, &got, &err));
    free(got.body);
    MUST(store_idem_purge(s, T0 + 2000, &err));
}

CONTRACT_TEST(journal_marks_are_stored_replaced_and_forgotten)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t off = -1;
    MUST(store_journal_mark(s, "usage-0001.log", &off, &err));
    cr_assert_eq(off, 0, "an unknown segment is folded up to 0");
    journal_mark m1[] = {{"usage-0001.log", 100}};
    usage_batch b = {.marks = m1, .nmarks = 1, .durable = true};
    MUST(store_usage_apply(s, &b, &err));
    MUST(store_journal_mark(s, "usage-0001.log", &off, &err));
    cr_assert_eq(off, 100);
    journal_mark m2[] = {{"usage-0001.log", 250, 100}, {"usage-0002.log", 7, 0}};
    b = (usage_batch){.marks = m2, .nmarks = 2, .durable = false};
    MUST(store_usage_apply(s, &b, &err));
    MUST(store_journal_mark(s, "usage-0001.log", &off, &err));
    cr_assert_eq(off, 250, "the last mark wins");
    MUST(store_journal_forget(s, "usage-0001.log", &err));
    MUST(store_journal_mark(s, "usage-0001.log", &off, &err));
    cr_assert_eq(off, 0);
    MUST(store_journal_mark(s, "usage-0002.log", &off, &err));
    cr_assert_eq(off, 7);
    MUST(store_journal_forget(s, "usage-0404.log", &err));
}

CONTRACT_TEST(a_journal_mark_moves_only_from_where_it_was_read_and_its_batch_with_it)
{
    /* A fold whose commit took effect although its answer was lost is tried again from the same
     * place: the second try must count nothing. */
    store *s = open_backend(backend);
    app_err err;
    int64_t a = make_account(s, "marks"), c = make_credential(s, a, "kMarks000001").id;
    usage_delta d = delta(a, c, "2026-01-01", 5, 0, 0);
    journal_mark m = {"usage-0003.log", 240, 0};
    usage_batch b = {.deltas = &d, .ndeltas = 1, .marks = &m, .nmarks = 1, .durable = true};
    MUST(store_usage_apply(s, &b, &err));
    MUST_FAIL(APP_STORE_UNAVAILABLE, store_usage_apply(s, &b, &err)); /* the same fold again: from 0 */
    b.durable = false;
    MUST_FAIL(APP_STORE_UNAVAILABLE, store_usage_apply(s, &b, &err));
    usage_totals t;
    MUST(store_usage_sum(s, a, -1, "2026-01-01", "2026-01-01", &t, &err));
    assert_totals(t, 5, 0, 0);
    int64_t off = -1;
    MUST(store_journal_mark(s, "usage-0003.log", &off, &err));
    cr_assert_eq(off, 240, "left where the first fold put it");
    m.from = 240; /* the next fold, from where the ledger is */
    m.offset = 288;
    MUST(store_usage_apply(s, &b, &err));
    MUST(store_usage_sum(s, a, -1, "2026-01-01", "2026-01-01", &t, &err));
    assert_totals(t, 10, 0, 0);
    MUST(store_journal_mark(s, "usage-0003.log", &off, &err));
    cr_assert_eq(off, 288);
}

/* ---- usage alerts ---- */

static usage_alert alert_fill(int64_t acc, bool monthly, const char *start, int threshold, int64_t at, audit_event *ev)
{
    usage_alert a = {.account_id = acc,
                     .monthly = monthly,
                     .threshold = threshold,
                     .used = 8 * threshold,
                     .limit = 800,
                     .at = at,
                     .audit = ev};
    snprintf(a.period_start, sizeof a.period_start, "%s", start);
    if (ev != NULL)
        audit_fill(ev, "usage.threshold", "account", opt_some(acc));
    return a;
}

CONTRACT_TEST(an_alert_is_written_once_with_its_audit_event_and_listed_by_period)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    int64_t cred = make_credential(s, acc, "kAlert000001").id;
    size_t audits = audit_count(s);
    usage_delta d = delta(acc, cred, "2026-03-01", 1, 0, 0);
    audit_event ev[4];
    usage_alert a[] = {alert_fill(acc, false, "2026-03-01", 80, T0 + 1, &ev[0]),
                       alert_fill(acc, true, "2026-03-01", 80, T0 + 2, &ev[1])};
    usage_batch b = {.deltas = &d, .ndeltas = 1, .alerts = a, .nalerts = 2};
    MUST(store_usage_apply(s, &b, &err));
    cr_assert(a[0].raised && a[1].raised, "new alerts are raised");
    cr_assert_eq(audit_count(s), audits + 2);

    /* The same alerts again (another node, a retry): counted, not raised, no event. */
    usage_alert again[] = {alert_fill(acc, false, "2026-03-01", 80, T0 + 3, &ev[2]),
                           alert_fill(acc, false, "2026-03-01", 100, T0 + 4, &ev[3])};
    b.alerts = again;
    MUST(store_usage_apply(s, &b, &err));
    cr_assert_not(again[0].raised, "an alert exists once per account, period, start and threshold");
    cr_assert(again[1].raised);
    cr_assert_eq(audit_count(s), audits + 3);
    usage_totals t;
    MUST(store_usage_sum(s, acc, -1, "2026-03-01", "2026-03-01", &t, &err));
    assert_totals(t, 2, 0, 0);
    assert_chain_intact(s, audits + 3);

    usage_alert got[8];
    size_t n = 0;
    MUST(store_alert_list(s, acc, "2026-03-01", "2026-03-01", got, 8, &n, &err));
    cr_assert_eq(n, 3);
    cr_assert_eq(got[0].threshold, 100, "newest first");
    cr_assert_eq(got[0].at, T0 + 4);
    cr_assert_not(got[0].monthly);
    cr_assert_eq(got[0].used, 800);
    cr_assert_eq(got[0].limit, 800);
    cr_assert_str_eq(got[0].period_start, "2026-03-01");
    cr_assert_null(got[0].audit);
    cr_assert(got[1].monthly);
    cr_assert_eq(got[2].at, T0 + 1);
    /* Days and months filtered apart; another account's alerts never listed. */
    MUST(store_alert_list(s, acc, "2026-03-02", "2026-03-01", got, 8, &n, &err));
    cr_assert(n == 1 && got[0].monthly);
    MUST(store_alert_list(s, acc, "2026-03-01", "2026-04-01", got, 8, &n, &err));
    cr_assert(n == 2 && !got[0].monthly && !got[1].monthly);
    MUST(store_alert_list(s, acc + 1000, "2026-01-01", "2026-01-01", got, 8, &n, &err));
    cr_assert_eq(n, 0);
    MUST(store_alert_list(s, acc, "2026-01-01", "2026-01-01", got, 2, &n, &err));
    cr_assert_eq(n, 2, "at most cap");
}

CONTRACT_TEST(a_failed_batch_raises_no_alert)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    int64_t cred = make_credential(s, acc, "kAlert000002").id;
    size_t audits = audit_count(s);
    usage_delta ds[] = {delta(acc, cred, "2026-03-01", 1, 0, 0), delta(acc, cred + 1000, "2026-03-01", 1, 0, 0)};
    audit_event ev;
    usage_alert a = alert_fill(acc, false, "2026-03-01", 80, T0, &ev);
    usage_batch b = {.deltas = ds, .ndeltas = 2, .alerts = &a, .nalerts = 1};
    app_err_clear(&err);
    cr_assert_neq(store_usage_apply(s, &b, &err), 0);
    cr_assert_not(a.raised, "a rolled back alert is not raised");
    cr_assert_eq(audit_count(s), audits);
    usage_alert got[2];
    size_t n = 9;
    MUST(store_alert_list(s, acc, "2026-01-01", "2026-01-01", got, 2, &n, &err));
    cr_assert_eq(n, 0);
    /* Written later, it is new. */
    b.ndeltas = 1;
    MUST(store_usage_apply(s, &b, &err));
    cr_assert(a.raised);
}

/* Nothing of a failed batch is visible: no usage, no answer, no audit event, no mark. */
static void assert_batch_left_nothing(store *s, int64_t acc, size_t audits_before)
{
    app_err err;
    usage_totals t;
    MUST(store_usage_sum(s, acc, -1, "2026-01-01", "2026-12-31", &t, &err));
    assert_totals(t, 0, 0, 0);
    idem_record got;
    MUST_FAIL(APP_NOT_FOUND, store_idem_get(s, acc, "batch-key", T0, &got, &err));
    cr_assert_eq(audit_count(s), audits_before);
    int64_t off = -1;
    MUST(store_journal_mark(s, "usage-0001.log", &off, &err));
    cr_assert_eq(off, 0);
}

CONTRACT_TEST(a_batch_with_a_delta_for_an_unknown_credential_applies_nothing)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    int64_t cred = make_credential(s, acc, "kBatch000001").id;
    usage_delta ds[] = {delta(acc, cred, "2026-03-01", 5, 0, 0), delta(acc, cred + 1000, "2026-03-01", 1, 0, 0)};
    idem_record r = idem_fill(acc, "batch-key", T0 + 10000);
    audit_event ev;
    audit_fill(&ev, "quota.exceeded", "account", opt_some(acc));
    journal_mark m = {"usage-0001.log", 64};
    usage_batch b = {.deltas = ds,
                     .ndeltas = 2,
                     .idem = &r,
                     .nidem = 1,
                     .audits = &ev,
                     .naudits = 1,
                     .marks = &m,
                     .nmarks = 1,
                     .durable = true};
    app_err_clear(&err);
    int rc = store_usage_apply(s, &b, &err);
    cr_assert_neq(rc, 0, "the credential does not exist");
    cr_assert_eq(err.code, (app_code)rc);
    cr_log_info("%s: delta for an unknown credential -> %s (%s)", backend, app_code_name((app_code)rc), err.message);
    assert_batch_left_nothing(s, acc, 2);
}

CONTRACT_TEST(a_batch_whose_last_mark_is_refused_rolls_back_its_deltas_answers_and_audit_events)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    int64_t cred = make_credential(s, acc, "kBatch000001").id;
    usage_delta d = delta(acc, cred, "2026-03-01", 5, 0, 0);
    idem_record r = idem_fill(acc, "batch-key", T0 + 10000);
    audit_event ev;
    audit_fill(&ev, "quota.exceeded", "account", opt_some(acc));
    journal_mark m[] = {{"usage-0001.log", 64}, {"usage-0002.log", -1}}; /* a negative offset is refused */
    usage_batch b = {.deltas = &d,
                     .ndeltas = 1,
                     .idem = &r,
                     .nidem = 1,
                     .audits = &ev,
                     .naudits = 1,
                     .marks = m,
                     .nmarks = 2,
                     .durable = true};
    app_err_clear(&err);
    int rc = store_usage_apply(s, &b, &err);
    cr_assert_neq(rc, 0);
    cr_assert_eq(err.code, (app_code)rc);
    cr_log_info("%s: negative journal offset -> %s (%s)", backend, app_code_name((app_code)rc), err.message);
    assert_batch_left_nothing(s, acc, 2);

    /* The rolled-back event did not take a seq: the next one links to the last stored event. */
    audit_fill(&ev, "quota.exceeded", "account", opt_some(acc));
    MUST(apply_audits(s, &ev, 1, &err));
    cr_assert_eq(ev.seq, 3);
    assert_chain_intact(s, 3);
}

CONTRACT_TEST(a_batch_with_an_answer_for_an_unknown_account_applies_nothing)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "acme");
    int64_t cred = make_credential(s, acc, "kBatch000001").id;
    usage_delta d = delta(acc, cred, "2026-03-01", 5, 0, 0);
    idem_record r[] = {idem_fill(acc, "batch-key", T0 + 10000), idem_fill(acc + 1000, "batch-key", T0 + 10000)};
    usage_batch b = {.deltas = &d, .ndeltas = 1, .idem = r, .nidem = 2, .durable = false};
    app_err_clear(&err);
    int rc = store_usage_apply(s, &b, &err);
    cr_assert_neq(rc, 0);
    cr_assert_eq(err.code, (app_code)rc);
    assert_batch_left_nothing(s, acc, 2);
}

/* ---- change token, sync, stats ---- */

CONTRACT_TEST(change_token_changes_when_another_connection_commits)
{
    store *s = open_backend(backend);
    store *other = connect_backend();
    app_err err;
    int64_t before, after;
    MUST(store_change_token(s, &before, &err));
    make_account(other, "written elsewhere");
    MUST(store_change_token(s, &after, &err));
    cr_assert_neq(after, before, "a commit of another connection changes the token");

    MUST(store_change_token(other, &before, &err));
    make_plan(s, "gold");
    MUST(store_change_token(other, &after, &err));
    cr_assert_neq(after, before);
}

CONTRACT_TEST(sync_and_stats_succeed_on_a_store_with_unsynced_batches)
{
    store *s = open_backend(backend);
    app_err err;
    MUST(store_sync(s, &err));
    int64_t acc = make_account(s, "acme");
    int64_t cred = make_credential(s, acc, "kSync0000001").id;
    usage_delta d = delta(acc, cred, "2026-03-01", 1, 0, 0);
    usage_batch b = {.deltas = &d, .ndeltas = 1, .durable = false};
    MUST(store_usage_apply(s, &b, &err));
    MUST(store_sync(s, &err));
    MUST(store_sync(s, &err));
    store_stats st = {-1, -1};
    MUST(store_stats_get(s, &st, &err));
    cr_assert_geq(st.db_bytes, 0);
    cr_assert_geq(st.wal_bytes, 0);
}

/* ---- injected faults ---- */

/* Wraps a store the test opened in a faulty one, which then owns it. */
static store *faulty_on(store *inner, int fail_after)
{
    untrack(inner);
    store *f = store_faulty_new(inner, fail_after);
    track(f);
    return f;
}

/*
 * A fixed scenario of one store call per step, as the admin API and the metering flush make them.
 * Iteration k names what it creates with k, so that every iteration runs on the same database.
 */
typedef struct scenario {
    int k;
    int64_t plan_id, account_id;
    credential cred, fresh;
} scenario;

enum { SCENARIO_STEPS = 18 };

static int scenario_step(store *s, scenario *sc, int step, app_err *err)
{
    char name[64];
    audit_event ev;
    audit_fill(&ev, "scenario", "scenario", sc->account_id ? opt_some(sc->account_id) : opt_none());
    switch (step) {
    case 0: return store_ping(s, err);
    case 1: {
        plan p;
        snprintf(name, sizeof name, "fault-%d", sc->k);
        plan_fill(&p, name);
        int rc = store_plan_create(s, &p, &ev, err);
        sc->plan_id = p.id;
        return rc;
    }
    case 2: {
        account acc = {.status = ACCOUNT_ACTIVE, .created_at = T0};
        snprintf(acc.name, sizeof acc.name, "fault-%d", sc->k);
        int rc = store_account_create(s, &acc, &ev, err);
        sc->account_id = acc.id;
        return rc;
    }
    case 3: {
        contract ct = {.account_id = sc->account_id, .plan_id = sc->plan_id, .starts_at = T0, .updated_at = T0};
        snprintf(ct.timezone, sizeof ct.timezone, "UTC");
        return store_contract_put(s, &ct, &ev, err);
    }
    case 4:
        snprintf(name, sizeof name, "kF%010d", sc->k);
        credential_fill(&sc->cred, sc->account_id, name);
        return store_credential_create(s, &sc->cred, &ev, err);
    case 5: {
        credential got;
        return store_credential_get(s, sc->cred.key_id, &got, err);
    }
    case 6:
        snprintf(sc->cred.label, sizeof sc->cred.label, "relabelled");
        return store_credential_update(s, &sc->cred, &ev, err);
    case 7:
        snprintf(name, sizeof name, "kR%010d", sc->k);
        credential_fill(&sc->fresh, sc->account_id, name);
        sc->cred.expires_at = opt_some(T0 + 1000);
        return store_credential_rotate(s, &sc->cred, &sc->fresh, &ev, err);
    case 8: {
        int64_t at = T0 + 5;
        return store_credentials_touch(s, &sc->fresh.id, &at, 1, err);
    }
    case 9: {
        usage_delta d = delta(sc->account_id, sc->fresh.id, "2026-04-01", 1, 0, 0);
        idem_record r = idem_fill(sc->account_id, "fault-key", T0 + 10000);
        snprintf(name, sizeof name, "fault-%d.log", sc->k);
        journal_mark m = {.offset = 10};
        snprintf(m.segment, sizeof m.segment, "%s", name);
        usage_batch b = {.deltas = &d,
                         .ndeltas = 1,
                         .idem = &r,
                         .nidem = 1,
                         .audits = &ev,
                         .naudits = 1,
                         .marks = &m,
                         .nmarks = 1,
                         .durable = false};
        return store_usage_apply(s, &b, err);
    }
    case 10: {
        usage_totals t;
        return store_usage_sum(s, sc->account_id, -1, "2026-04-01", "2026-04-30", &t, err);
    }
    case 11: return store_account_set_status(s, sc->account_id, ACCOUNT_SUSPENDED, &ev, err);
    case 12: {
        plan p;
        snprintf(name, sizeof name, "fault-%d", sc->k);
        plan_fill(&p, name);
        p.id = sc->plan_id;
        p.limits.burst = 12345;
        return store_plan_update(s, &p, &ev, err);
    }
    case 13: {
        audit_event page[2];
        size_t n;
        return store_audit_list(s, NULL, 0, page, 2, &n, err);
    }
    case 14: return store_idem_purge(s, T0 + 20000, err);
    case 15: snprintf(name, sizeof name, "fault-%d.log", sc->k); return store_journal_forget(s, name, err);
    case 16: {
        int64_t token;
        return store_change_token(s, &token, err);
    }
    case 17: return store_sync(s, err);
    }
    cr_assert_fail("no step %d", step);
    return -1;
}

/* Steps that append an audit event when they succeed. */
static bool step_audited(int step)
{
    return step == 1 || step == 2 || step == 3 || step == 4 || step == 6 || step == 7 || step == 9 || step == 11 ||
           step == 12;
}

/* What iteration k left after `passed` steps passed, read through a store without faults. */
static void assert_scenario_state(store *s, int k, int passed)
{
    app_err err;
    char name[64];
    snprintf(name, sizeof name, "fault-%d", k);
    plan p;
    app_err_clear(&err);
    int rc = store_plan_get_by_code(s, name, &p, &err);
    cr_assert_eq(rc, passed > 1 ? 0 : APP_NOT_FOUND, "k=%d: plan: %s", k, err.message);
    if (rc == 0)
        cr_assert_eq(p.limits.burst, passed > 12 ? 12345 : 8, "k=%d", k);

    account accs[64];
    size_t n;
    MUST(store_account_list(s, -1, 0, accs, 64, &n, &err));
    const account *acc = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(accs[i].name, name) == 0)
            acc = &accs[i];
    cr_assert_eq(acc != NULL, passed > 2, "k=%d: account", k);
    if (acc != NULL) {
        cr_assert_eq(acc->status, passed > 11 ? ACCOUNT_SUSPENDED : ACCOUNT_ACTIVE, "k=%d", k);
        contract ct;
        app_err_clear(&err);
        cr_assert_eq(store_contract_get(s, acc->id, &ct, &err), passed > 3 ? 0 : APP_NOT_FOUND, "k=%d", k);
        usage_totals t;
        MUST(store_usage_sum(s, acc->id, -1, "2026-04-01", "2026-04-30", &t, &err));
        cr_assert_eq(t.requests, passed > 9 ? 1 : 0, "k=%d", k);
        idem_record r;
        app_err_clear(&err);
        rc = store_idem_get(s, acc->id, "fault-key", T0, &r, &err);
        cr_assert_eq(rc, passed > 9 && passed <= 14 ? 0 : APP_NOT_FOUND, "k=%d: idempotent answer", k);
        if (rc == 0)
            free(r.body);
    }
    credential c;
    snprintf(name, sizeof name, "kF%010d", k);
    app_err_clear(&err);
    rc = store_credential_get(s, name, &c, &err);
    cr_assert_eq(rc, passed > 4 ? 0 : APP_NOT_FOUND, "k=%d: credential", k);
    if (rc == 0) {
        char label[96];
        snprintf(label, sizeof label, "label of %s", name);
        cr_assert_str_eq(c.label, passed > 6 ? "relabelled" : label, "k=%d", k);
        cr_assert_eq(c.expires_at.v, passed > 7 ? T0 + 1000 : T0 + 86400000, "k=%d", k);
    }
    snprintf(name, sizeof name, "kR%010d", k);
    app_err_clear(&err);
    rc = store_credential_get(s, name, &c, &err);
    cr_assert_eq(rc, passed > 7 ? 0 : APP_NOT_FOUND, "k=%d: rotated credential", k);
    if (rc == 0)
        cr_assert_eq(c.last_used_at.present, passed > 8, "k=%d", k);
    int64_t off = -1;
    snprintf(name, sizeof name, "fault-%d.log", k);
    MUST(store_journal_mark(s, name, &off, &err));
    cr_assert_eq(off, passed > 9 && passed <= 15 ? 10 : 0, "k=%d: journal mark", k);
}

CONTRACT_TEST(every_injected_fault_is_store_unavailable_and_leaves_no_half_done_change)
{
    store *s = open_backend(backend);
    size_t audited = 0;
    for (int fail_after = 0; fail_after <= SCENARIO_STEPS; fail_after++) {
        /* The wrapper owns a connection of its own; closing it leaves the database to the next round. */
        store *f = faulty_on(connect_backend(), fail_after);
        scenario sc = {.k = fail_after};
        for (int step = 0; step < SCENARIO_STEPS; step++) {
            app_err err;
            app_err_clear(&err);
            int rc = scenario_step(f, &sc, step, &err);
            if (step < fail_after) {
                cr_assert_eq(rc, 0, "fail_after=%d step %d: %s: %s", fail_after, step, app_code_name((app_code)rc),
                             err.message);
                audited += step_audited(step);
            } else {
                cr_assert_eq(rc, APP_STORE_UNAVAILABLE, "fail_after=%d step %d: %s: %s", fail_after, step,
                             app_code_name((app_code)rc), err.message);
                cr_assert_eq(err.code, APP_STORE_UNAVAILABLE);
            }
        }
        release(f);
        /*
         * Read through the first store, without faults: store_faulty_break(f, false) does not bring
         * back a store past its fail_after (break_false_restores_a_faulty_store_past_its_fail_after).
         */
        assert_scenario_state(s, fail_after, fail_after);
    }
    cr_assert_eq(audit_count(s), audited, "one audit event per audited change that succeeded, no other");
    assert_chain_intact(s, audited);
}

CONTRACT_TEST(break_true_fails_every_call_of_a_faulty_store_and_break_false_restores_it)
{
    store *f = faulty_on(open_backend(backend), -1);
    app_err err;
    MUST(store_ping(f, &err));
    store_faulty_break(f, true);
    MUST_FAIL(APP_STORE_UNAVAILABLE, store_ping(f, &err));
    account got;
    MUST_FAIL(APP_STORE_UNAVAILABLE, store_account_get(f, 1, &got, &err));
    store_faulty_break(f, false);
    MUST(store_ping(f, &err));
    int64_t id = make_account(f, "after the fault");
    MUST(store_account_get(f, id, &got, &err));
}

CONTRACT_TEST(break_false_restores_a_faulty_store_past_its_fail_after)
{
    /* store.h: store_faulty_break "makes every later call of a faulty store fail, or work again". */
    store *f = faulty_on(open_backend(backend), 1);
    app_err err;
    MUST(store_ping(f, &err));
    MUST_FAIL(APP_STORE_UNAVAILABLE, store_ping(f, &err));
    store_faulty_break(f, false);
    MUST(store_ping(f, &err));
}

/* ---- webhooks ---- */

static webhook make_webhook(store *s, int64_t account_id, const char *url, const char *events, webhook_status st)
{
    app_err err;
    webhook w = {.account_id = account_id, .status = st, .created_at = T0 + 5, .updated_at = T0 + 5};
    snprintf(w.url, sizeof w.url, "%s", url);
    snprintf(w.events, sizeof w.events, "%s", events);
    snprintf(w.secret, sizeof w.secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    audit_event ev;
    audit_fill(&ev, "webhook.create", "webhook", opt_some(account_id));
    MUST(store_webhook_create(s, &w, &ev, &err));
    cr_assert_gt(w.id, 0);
    return w;
}

static void assert_webhook_eq(const webhook *a, const webhook *b)
{
    cr_assert_eq(a->id, b->id);
    cr_assert_eq(a->account_id, b->account_id);
    cr_assert_str_eq(a->url, b->url);
    cr_assert_str_eq(a->events, b->events);
    cr_assert_str_eq(a->secret, b->secret);
    cr_assert_str_eq(a->prev_secret, b->prev_secret);
    cr_assert_eq(a->prev_secret_expires_at.present, b->prev_secret_expires_at.present);
    cr_assert_eq(a->prev_secret_expires_at.v, b->prev_secret_expires_at.v);
    cr_assert_eq(a->status, b->status);
    cr_assert_eq(a->created_at, b->created_at);
    cr_assert_eq(a->updated_at, b->updated_at);
}

/* Every delivery of an endpoint, newest first (at most 64 here). */
static size_t deliveries_of(store *s, int64_t webhook_id, webhook_delivery out[64])
{
    app_err err;
    size_t n;
    MUST(store_webhook_deliveries_list(s, webhook_id, 0, out, 64, &n, &err));
    return n;
}

CONTRACT_TEST(webhook_endpoints_are_created_read_listed_updated_and_deleted_with_their_audit)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "hooks"), other = make_account(s, "other");
    webhook a = make_webhook(s, acc, "https://a.example.com/hook", "usage.threshold", WEBHOOK_ACTIVE);
    webhook b = make_webhook(s, acc, "https://b.example.com/hook?x=1", "usage.threshold", WEBHOOK_DISABLED);
    webhook c = make_webhook(s, other, "https://c.example.com/", "usage.threshold", WEBHOOK_ACTIVE);
    webhook got;
    MUST(store_webhook_get(s, a.id, &got, &err));
    assert_webhook_eq(&got, &a);
    MUST(store_webhook_get(s, b.id, &got, &err));
    assert_webhook_eq(&got, &b);
    MUST_FAIL(APP_NOT_FOUND, store_webhook_get(s, c.id + 100, &got, &err));

    webhook page[4];
    size_t n;
    MUST(store_webhook_list(s, acc, 0, page, 4, &n, &err));
    cr_assert_eq(n, 2, "only the account's own endpoints");
    assert_webhook_eq(&page[0], &a);
    assert_webhook_eq(&page[1], &b);
    MUST(store_webhook_list(s, acc, a.id, page, 1, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(page[0].id, b.id);
    MUST(store_webhook_list(s, acc, b.id, page, 4, &n, &err));
    cr_assert_eq(n, 0);

    /* A rotation and a status change are one update each. */
    webhook r = a;
    snprintf(r.prev_secret, sizeof r.prev_secret, "%s", a.secret);
    snprintf(r.secret, sizeof r.secret, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    r.prev_secret_expires_at = opt_some(T0 + 86400000);
    r.status = WEBHOOK_DISABLED;
    r.updated_at = T0 + 9;
    audit_event ev;
    audit_fill(&ev, "webhook.rotate", "webhook", opt_some(acc));
    MUST(store_webhook_update(s, &r, &ev, &err));
    MUST(store_webhook_get(s, a.id, &got, &err));
    assert_webhook_eq(&got, &r);
    r.prev_secret[0] = '\0';
    r.prev_secret_expires_at = opt_none();
    MUST(store_webhook_update(s, &r, NULL, &err));
    MUST(store_webhook_get(s, a.id, &got, &err));
    assert_webhook_eq(&got, &r);
    webhook ghost = r;
    ghost.id = c.id + 100;
    size_t before = audit_count(s);
    audit_fill(&ev, "webhook.update", "webhook", opt_some(acc));
    MUST_FAIL(APP_NOT_FOUND, store_webhook_update(s, &ghost, &ev, &err));
    cr_assert_eq(audit_count(s), before, "no audit event for a change that did not happen");

    audit_fill(&ev, "webhook.delete", "webhook", opt_some(acc));
    MUST(store_webhook_delete(s, b.id, &ev, &err));
    MUST_FAIL(APP_NOT_FOUND, store_webhook_get(s, b.id, &got, &err));
    audit_fill(&ev, "webhook.delete", "webhook", opt_some(acc));
    MUST_FAIL(APP_NOT_FOUND, store_webhook_delete(s, b.id, &ev, &err));
    /* 2 accounts, 3 creates, 1 rotation, 1 delete. */
    assert_chain_intact(s, 7);
}

CONTRACT_TEST(webhook_enqueue_writes_one_delivery_per_active_subscribed_endpoint_once_per_msg_id)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "hooks"), other = make_account(s, "other");
    webhook on = make_webhook(s, acc, "https://a.example.com/", "usage.threshold", WEBHOOK_ACTIVE);
    webhook two = make_webhook(s, acc, "https://b.example.com/", "other.event,usage.threshold", WEBHOOK_ACTIVE);
    webhook off = make_webhook(s, acc, "https://c.example.com/", "usage.threshold", WEBHOOK_DISABLED);
    webhook elsewhere = make_webhook(s, acc, "https://d.example.com/", "usage.thresholds", WEBHOOK_ACTIVE);
    webhook theirs = make_webhook(s, other, "https://e.example.com/", "usage.threshold", WEBHOOK_ACTIVE);
    static const char body[] = "{\"type\":\"usage.threshold\",\"data\":{\"threshold\":80}}";
    size_t n = 99;
    MUST(store_webhook_enqueue(s, acc, "usage.threshold", "msg_1", body, T0 + 100, &n, &err));
    cr_assert_eq(n, 2, "the active endpoints subscribed to the type, of this account only");
    MUST(store_webhook_enqueue(s, acc, "usage.threshold", "msg_1", body, T0 + 200, &n, &err));
    cr_assert_eq(n, 0, "the same message again adds nothing");
    MUST(store_webhook_enqueue(s, acc, "nobody.listens", "msg_2", body, T0 + 200, &n, &err));
    cr_assert_eq(n, 0);

    webhook_delivery d[64];
    cr_assert_eq(deliveries_of(s, on.id, d), 1);
    cr_assert_str_eq(d[0].msg_id, "msg_1");
    cr_assert_str_eq(d[0].event_type, "usage.threshold");
    cr_assert_eq(d[0].status, DELIVERY_PENDING);
    cr_assert_eq(d[0].attempts, 0);
    cr_assert_eq(d[0].account_id, acc);
    cr_assert_eq(d[0].webhook_id, on.id);
    cr_assert_eq(d[0].next_attempt_at, T0 + 100);
    cr_assert_eq(d[0].scheduled_at, T0 + 100);
    cr_assert_eq(d[0].created_at, T0 + 100);
    cr_assert_null(d[0].body, "listings carry no body");
    cr_assert_eq(deliveries_of(s, two.id, d), 1);
    cr_assert_eq(deliveries_of(s, off.id, d), 0);
    cr_assert_eq(deliveries_of(s, elsewhere.id, d), 0);
    cr_assert_eq(deliveries_of(s, theirs.id, d), 0);

    /* The body comes back byte for byte to the sender. */
    webhook_due due[8];
    MUST(store_webhook_due(s, T0 + 100, 1000, due, 8, &n, &err));
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(due[i].d.body_len, strlen(body));
        cr_assert_str_eq(due[i].d.body, body);
    }
    store_webhook_due_free(due, n);

    char big[WEBHOOK_BODY_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    MUST_FAIL(APP_INTERNAL_ERROR, store_webhook_enqueue(s, acc, "usage.threshold", "msg_3", big, T0, &n, &err));
    cr_assert_eq(n, 0);
    MUST_FAIL(APP_VALIDATION_ERROR,
              store_webhook_enqueue(s, acc, "usage.threshold", "msg\r\nX-Evil: 1", body, T0, &n, &err));
    cr_assert_eq(n, 0);
}

CONTRACT_TEST(webhook_due_deliveries_are_claimed_with_a_lease_and_attempts_record_their_outcome)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "hooks");
    webhook w = make_webhook(s, acc, "https://a.example.com/", "usage.threshold", WEBHOOK_ACTIVE);
    size_t n;
    MUST(store_webhook_enqueue(s, acc, "usage.threshold", "msg_a", "{}", T0 + 10, &n, &err));
    MUST(store_webhook_enqueue(s, acc, "usage.threshold", "msg_b", "{}", T0 + 20, &n, &err));
    MUST(store_webhook_enqueue(s, acc, "usage.threshold", "msg_c", "{}", T0 + 30, &n, &err));

    webhook_due due[8];
    MUST(store_webhook_due(s, T0 + 5, 1000, due, 8, &n, &err));
    cr_assert_eq(n, 0, "nothing is due before its time");
    MUST(store_webhook_due(s, T0 + 20, 1000, due, 1, &n, &err));
    cr_assert_eq(n, 1, "a bounded page");
    cr_assert_str_eq(due[0].d.msg_id, "msg_a", "earliest first");
    cr_assert_str_eq(due[0].url, w.url);
    cr_assert_str_eq(due[0].secret, w.secret);
    cr_assert_str_eq(due[0].prev_secret, "");
    cr_assert_eq(due[0].d.next_attempt_at, T0 + 1020, "leased");
    int64_t first = due[0].d.id;
    store_webhook_due_free(due, n);
    MUST(store_webhook_due(s, T0 + 20, 1000, due, 8, &n, &err));
    cr_assert_eq(n, 1, "the leased one is not handed out again");
    cr_assert_str_eq(due[0].d.msg_id, "msg_b");
    int64_t second = due[0].d.id;
    store_webhook_due_free(due, n);

    /* A retry, then a success; and a failure. */
    webhook_attempt a = {.delivery_id = first, .at = T0 + 21, .http_status = 500, .latency_ms = 12};
    snprintf(a.error, sizeof a.error, "HTTP 500");
    MUST(store_webhook_attempt_record(s, &a, DELIVERY_PENDING, T0 + 5000, &err));
    MUST(store_webhook_due(s, T0 + 4999, 1000, due, 8, &n, &err));
    bool seen_first = false;
    for (size_t i = 0; i < n; i++)
        seen_first = seen_first || due[i].d.id == first;
    store_webhook_due_free(due, n);
    cr_assert_not(seen_first, "a retry waits for its time");
    a = (webhook_attempt){.delivery_id = first, .at = T0 + 5001, .http_status = 204, .latency_ms = 3};
    MUST(store_webhook_attempt_record(s, &a, DELIVERY_DELIVERED, T0 + 5001, &err));
    a = (webhook_attempt){.delivery_id = second, .at = T0 + 22, .http_status = 0, .latency_ms = 5000};
    snprintf(a.error, sizeof a.error, "Operation timed out after 5000 milliseconds");
    MUST(store_webhook_attempt_record(s, &a, DELIVERY_FAILED, T0 + 22, &err));
    a.delivery_id = second + first + 1000;
    MUST_FAIL(APP_NOT_FOUND, store_webhook_attempt_record(s, &a, DELIVERY_FAILED, T0, &err));

    webhook_delivery d[64];
    cr_assert_eq(deliveries_of(s, w.id, d), 3);
    cr_assert_str_eq(d[0].msg_id, "msg_c", "newest first");
    cr_assert_eq(d[1].id, second);
    cr_assert_eq(d[1].status, DELIVERY_FAILED);
    cr_assert_eq(d[1].attempts, 1);
    cr_assert_eq(d[2].id, first);
    cr_assert_eq(d[2].status, DELIVERY_DELIVERED);
    cr_assert_eq(d[2].attempts, 2);
    webhook_attempt at[8];
    MUST(store_webhook_attempts_list(s, first, 0, at, 8, &n, &err));
    cr_assert_eq(n, 2);
    cr_assert_eq(at[0].http_status, 500);
    cr_assert_str_eq(at[0].error, "HTTP 500");
    cr_assert_eq(at[0].latency_ms, 12);
    cr_assert_eq(at[0].at, T0 + 21);
    cr_assert_eq(at[1].http_status, 204);
    cr_assert_str_eq(at[1].error, "");
    MUST(store_webhook_attempts_list(s, first, at[0].id, at, 8, &n, &err));
    cr_assert_eq(n, 1, "paged after an id");
    MUST(store_webhook_attempts_list(s, second, 0, at, 8, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(at[0].http_status, 0);
    cr_assert_str_eq(at[0].error, "Operation timed out after 5000 milliseconds");

    /* Delivered and failed ones are never due; a disabled endpoint's pending ones wait. */
    MUST(store_webhook_due(s, T0 + 100000, 1000, due, 8, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_str_eq(due[0].d.msg_id, "msg_c");
    store_webhook_due_free(due, n);
    webhook off = w;
    off.status = WEBHOOK_DISABLED;
    MUST(store_webhook_update(s, &off, NULL, &err));
    MUST(store_webhook_due(s, T0 + 200000, 1000, due, 8, &n, &err));
    cr_assert_eq(n, 0, "nothing is sent to a disabled endpoint");

    /* Paging the deliveries, newest first. */
    MUST(store_webhook_deliveries_list(s, w.id, d[0].id, d, 1, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(d[0].id, second);
}

CONTRACT_TEST(webhook_resend_puts_only_a_failed_delivery_back_and_delete_takes_everything)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "hooks");
    webhook w = make_webhook(s, acc, "https://a.example.com/", "usage.threshold", WEBHOOK_ACTIVE);
    webhook w2 = make_webhook(s, acc, "https://b.example.com/", "usage.threshold", WEBHOOK_ACTIVE);
    size_t n;
    MUST(store_webhook_enqueue(s, acc, "usage.threshold", "msg_r", "{\"r\":1}", T0, &n, &err));
    cr_assert_eq(n, 2);
    webhook_delivery d[64];
    cr_assert_eq(deliveries_of(s, w.id, d), 1);
    int64_t id = d[0].id;
    audit_event ev;
    size_t audits = audit_count(s);
    audit_fill(&ev, "webhook.resend", "webhook", opt_some(acc));
    MUST_FAIL(APP_VALIDATION_ERROR, store_webhook_delivery_resend(s, w.id, id, T0 + 1, &ev, &err));
    cr_assert(names_field(&err, "delivery_id"));
    audit_fill(&ev, "webhook.resend", "webhook", opt_some(acc));
    MUST_FAIL(APP_NOT_FOUND, store_webhook_delivery_resend(s, w2.id, id, T0 + 1, &ev, &err));
    cr_assert_eq(audit_count(s), audits);

    webhook_attempt a = {.delivery_id = id, .at = T0 + 2, .http_status = 410, .latency_ms = 1};
    snprintf(a.error, sizeof a.error, "HTTP 410");
    MUST(store_webhook_attempt_record(s, &a, DELIVERY_FAILED, T0 + 2, &err));
    audit_fill(&ev, "webhook.resend", "webhook", opt_some(acc));
    MUST(store_webhook_delivery_resend(s, w.id, id, T0 + 90000000, &ev, &err));
    cr_assert_eq(audit_count(s), audits + 1);
    cr_assert_eq(deliveries_of(s, w.id, d), 1);
    cr_assert_eq(d[0].status, DELIVERY_PENDING);
    cr_assert_eq(d[0].next_attempt_at, T0 + 90000000, "due now");
    cr_assert_eq(d[0].scheduled_at, T0 + 90000000, "its retry window starts over");
    cr_assert_eq(d[0].attempts, 1, "its past attempts stay");
    webhook_due due[4];
    MUST(store_webhook_due(s, T0 + 90000000, 1000, due, 4, &n, &err));
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < n; i++) /* the resent one's backoff starts over; the other never failed */
        cr_assert_eq(due[i].d.attempts_before, due[i].d.id == id ? 1 : 0);
    store_webhook_due_free(due, n);

    audit_fill(&ev, "webhook.delete", "webhook", opt_some(acc));
    MUST(store_webhook_delete(s, w.id, &ev, &err));
    cr_assert_eq(deliveries_of(s, w.id, d), 0);
    webhook_attempt at[4];
    MUST(store_webhook_attempts_list(s, id, 0, at, 4, &n, &err));
    cr_assert_eq(n, 0, "the attempts went with their delivery");
    MUST_FAIL(APP_NOT_FOUND, store_webhook_attempt_record(s, &a, DELIVERY_FAILED, T0, &err));
    cr_assert_eq(deliveries_of(s, w2.id, d), 1, "the other endpoint keeps its own");
    assert_chain_intact(s, audit_count(s));
}

/* ---- the helpers themselves ---- */

Test(store_contract_helpers, conninfo_with_db_replaces_only_the_database)
{
    char out[256];
    cr_assert(conninfo_with_db("postgres://starmeter@127.0.0.1:5432/postgres", "sm_x", out, sizeof out));
    cr_assert_str_eq(out, "postgres://starmeter@127.0.0.1:5432/sm_x");
    cr_assert(
        conninfo_with_db("postgresql://u:p@h:1/postgres?sslmode=disable&connect_timeout=5", "sm_x", out, sizeof out));
    cr_assert_str_eq(out, "postgresql://u:p@h:1/sm_x?sslmode=disable&connect_timeout=5");
    cr_assert(conninfo_with_db("postgres://h:1?sslmode=disable", "sm_x", out, sizeof out));
    cr_assert_str_eq(out, "postgres://h:1/sm_x?sslmode=disable");
    cr_assert(conninfo_with_db("postgres://h", "sm_x", out, sizeof out));
    cr_assert_str_eq(out, "postgres://h/sm_x");
    cr_assert(conninfo_with_db("host=h port=1 dbname=postgres", "sm_x", out, sizeof out));
    cr_assert_str_eq(out, "host=h port=1 dbname=postgres dbname=sm_x");
    cr_assert_not(conninfo_with_db("postgres://h/postgres", "sm_x", out, 8), "too small");
}

/* ---- copying a store: import_rows, usage_list, idem_list ---- */

CONTRACT_TEST(alerts_page_in_key_order_and_import_as_they_are_once)
{
    store *s = open_backend(backend);
    app_err err;
    account accs[2] = {{.id = 3, .status = ACCOUNT_ACTIVE, .created_at = T0}, {.id = 4, .status = ACCOUNT_ACTIVE}};
    snprintf(accs[0].name, sizeof accs[0].name, "Three");
    snprintf(accs[1].name, sizeof accs[1].name, "Four");
    usage_alert al[] = {
        alert_fill(4, false, "2026-03-01", 80, T0 + 9, NULL), alert_fill(3, true, "2026-03-01", 80, T0 + 1, NULL),
        alert_fill(3, false, "2026-03-02", 100, T0 + 2, NULL), alert_fill(3, false, "2026-03-02", 80, T0 + 3, NULL)};
    store_import b = {.accounts = accs, .naccounts = 2, .alerts = al, .nalerts = 4};
    MUST(store_import_rows(s, &b, &err));
    usage_alert page[3];
    size_t n;
    MUST(store_alert_list_all(s, NULL, page, 3, &n, &err));
    cr_assert_eq(n, 3);
    /* (account, period, start, threshold): account 3's day alerts, then its month's, then 4's. */
    cr_assert(page[0].account_id == 3 && !page[0].monthly && page[0].threshold == 80);
    cr_assert(page[1].account_id == 3 && !page[1].monthly && page[1].threshold == 100);
    cr_assert(page[2].account_id == 3 && page[2].monthly && page[2].at == T0 + 1 && page[2].used == 640);
    usage_alert last = page[2];
    MUST(store_alert_list_all(s, &last, page, 3, &n, &err));
    cr_assert(n == 1 && page[0].account_id == 4 && page[0].limit == 800);
    last = page[0];
    MUST(store_alert_list_all(s, &last, page, 3, &n, &err));
    cr_assert_eq(n, 0);
    /* An imported alert is one the ledger has: it is not raised again. */
    usage_alert again = alert_fill(4, false, "2026-03-01", 80, T0 + 20, NULL);
    usage_batch ub = {.alerts = &again, .nalerts = 1};
    MUST(store_usage_apply(s, &ub, &err));
    cr_assert_not(again.raised);
    store_import dup = {.alerts = &again, .nalerts = 1};
    MUST_FAIL(APP_VALIDATION_ERROR, store_import_rows(s, &dup, &err));
}

CONTRACT_TEST(import_rows_keeps_ids_rows_and_audit_hashes_and_later_creates_continue_past_them)
{
    store *s = open_backend(backend);
    app_err err;
    /* Ids with gaps, as a store with deletions or failed inserts would have them. */
    plan pl;
    plan_fill(&pl, "imported");
    pl.id = 7;
    account accs[2] = {{.id = 5, .status = ACCOUNT_ACTIVE, .created_at = T0}, {.id = 9, .status = ACCOUNT_SUSPENDED}};
    snprintf(accs[0].name, sizeof accs[0].name, "Five");
    snprintf(accs[1].name, sizeof accs[1].name, "Nine");
    contract ct = {.account_id = 9, .plan_id = 7, .overridden = OVR_DAILY_LIMIT, .starts_at = T0, .updated_at = T0};
    ct.overrides.daily_limit = opt_some(3);
    snprintf(ct.timezone, sizeof ct.timezone, "Europe/Paris");
    store_import first = {
        .plans = &pl, .nplans = 1, .accounts = accs, .naccounts = 2, .contracts = &ct, .ncontracts = 1};
    MUST(store_import_rows(s, &first, &err));

    credential creds[2];
    credential_fill(&creds[0], 5, "aaaaaaaaaaa1");
    creds[0].id = 40;
    creds[0].status = CREDENTIAL_REVOKED;
    creds[0].revoked_at = opt_some(T0 + 50);
    creds[0].last_used_at = opt_some(T0 + 40);
    credential_fill(&creds[1], 9, "aaaaaaaaaaa2");
    creds[1].id = 41;
    usage_delta rows[3] = {
        {5, 40, "2026-01-01", 3, 1, 0}, {5, 40, "2026-01-02", 4, 0, 2}, {9, 41, "2026-01-01", 5, 0, 0}};
    idem_record idem[2] = {idem_fill(9, "live", T0 + 1000), idem_fill(5, "expired", T0 + 10)};
    /* A chain made elsewhere: its seq and hashes must be stored as given, not recomputed. */
    audit_event ev[3];
    for (int i = 0; i < 3; i++) {
        audit_fill(&ev[i], "account.create", "account:5", opt_some(5));
        ev[i].seq = i + 1;
        ev[i].at = T0 + i;
        if (i > 0)
            memcpy(ev[i].prev_hash, ev[i - 1].hash, HASH_LEN);
        hash_audit_event(&ev[i], ev[i].hash);
    }
    store_import second = {.credentials = creds,
                           .ncredentials = 2,
                           .usage = rows,
                           .nusage = 3,
                           .idem = idem,
                           .nidem = 2,
                           .audits = ev,
                           .naudits = 3};
    MUST(store_import_rows(s, &second, &err));

    account a;
    MUST(store_account_get(s, 9, &a, &err));
    cr_assert_str_eq(a.name, "Nine");
    cr_assert_eq(a.status, ACCOUNT_SUSPENDED);
    plan p;
    MUST(store_plan_get(s, 7, &p, &err));
    cr_assert_str_eq(p.code, "imported");
    cr_assert_eq(p.limits.rate_per_second, 7);
    contract c;
    MUST(store_contract_get(s, 9, &c, &err));
    cr_assert_eq(c.plan_id, 7);
    cr_assert_eq(c.overridden, (unsigned)OVR_DAILY_LIMIT);
    cr_assert_eq(c.overrides.daily_limit.v, 3);
    cr_assert_str_eq(c.timezone, "Europe/Paris");
    credential cr;
    MUST(store_credential_get(s, "aaaaaaaaaaa1", &cr, &err));
    cr_assert_eq(cr.id, 40);
    cr_assert_eq(cr.account_id, 5);
    cr_assert_eq(cr.status, CREDENTIAL_REVOKED);
    cr_assert_arr_eq(cr.secret_hash, creds[0].secret_hash, HASH_LEN);
    cr_assert(cr.revoked_at.present && cr.revoked_at.v == T0 + 50);
    cr_assert(cr.last_used_at.present && cr.last_used_at.v == T0 + 40);

    size_t n;
    audit_event *got = audit_all(s, NULL, &n);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(got[i].seq, ev[i].seq);
        cr_assert_arr_eq(got[i].prev_hash, ev[i].prev_hash, HASH_LEN);
        cr_assert_arr_eq(got[i].hash, ev[i].hash, HASH_LEN);
    }
    free(got);
    assert_chain_intact(s, 3);

    /* usage_list pages through every row in key order; idem_list gives the unexpired answers. */
    usage_delta page[2];
    MUST(store_usage_list(s, NULL, page, 2, &n, &err));
    cr_assert_eq(n, 2);
    cr_assert(page[0].account_id == 5 && strcmp(page[0].date, "2026-01-01") == 0 && page[0].requests == 3 &&
              page[0].overage == 1);
    cr_assert(strcmp(page[1].date, "2026-01-02") == 0 && page[1].blocked == 2);
    usage_delta last = page[1];
    MUST(store_usage_list(s, &last, page, 2, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert(page[0].account_id == 9 && page[0].credential_id == 41 && page[0].requests == 5);
    last = page[0];
    MUST(store_usage_list(s, &last, page, 2, &n, &err));
    cr_assert_eq(n, 0);
    idem_record answers[4];
    MUST(store_idem_list(s, T0 + 100, NULL, answers, 4, &n, &err));
    cr_assert_eq(n, 1, "the expired answer is not listed");
    cr_assert_eq(answers[0].account_id, 9);
    cr_assert_str_eq(answers[0].key, "live");
    cr_assert_eq(answers[0].body_len, sizeof IDEM_BODY - 1);
    cr_assert_arr_eq(answers[0].body, IDEM_BODY, answers[0].body_len);
    idem_record after = answers[0];
    free(answers[0].body);
    MUST(store_idem_list(s, T0 + 100, &after, answers, 4, &n, &err));
    cr_assert_eq(n, 0);

    /* Later creates take ids past the imported ones and extend the imported chain. */
    cr_assert_eq(make_account(s, "after"), 10);
    cr_assert_eq(make_plan(s, "after"), 8);
    cr_assert_eq(make_credential(s, 10, "aaaaaaaaaaa3").id, 42);
    assert_chain_intact(s, 6);

    /* A batch with a row whose id exists is refused whole. */
    plan fresh;
    plan_fill(&fresh, "never");
    fresh.id = 20;
    store_import dup = {.plans = &fresh, .nplans = 1, .accounts = &accs[0], .naccounts = 1};
    MUST_FAIL(APP_VALIDATION_ERROR, store_import_rows(s, &dup, &err));
    MUST_FAIL(APP_NOT_FOUND, store_plan_get(s, 20, &p, &err));
}

/* store copy: endpoints with their secrets and ids, pending deliveries with their bodies. */
CONTRACT_TEST(webhooks_and_pending_deliveries_list_all_and_import_with_their_ids)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "hooked");
    webhook a = make_webhook(s, acc, "https://a.example/h", "usage.threshold", WEBHOOK_ACTIVE);
    webhook b = make_webhook(s, acc, "https://b.example/h", "usage.threshold", WEBHOOK_DISABLED);
    snprintf(b.prev_secret, sizeof b.prev_secret, "whsec_b2xkIHNlY3JldCBvZiB0aGUgZW5kcG9pbnQh");
    b.prev_secret_expires_at = opt_some(T0 + 99);
    MUST(store_webhook_update(s, &b, NULL, &err));
    size_t queued = 0;
    MUST(store_webhook_enqueue(s, acc, "usage.threshold", "thr_1_day_2026-03-01_80", "{\"n\":1}", T0 + 7, &queued,
                               &err));
    cr_assert_eq(queued, 1, "only the active endpoint gets the event");

    webhook hooks[4];
    size_t n;
    MUST(store_webhook_list_all(s, 0, hooks, 4, &n, &err));
    cr_assert_eq(n, 2);
    assert_webhook_eq(&hooks[0], &a);
    assert_webhook_eq(&hooks[1], &b);
    cr_assert_str_eq(hooks[1].prev_secret, b.prev_secret);
    MUST(store_webhook_list_all(s, a.id, hooks, 4, &n, &err));
    cr_assert(n == 1 && hooks[0].id == b.id);
    webhook_delivery pending[4];
    MUST(store_delivery_pending_list(s, 0, pending, 4, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(pending[0].webhook_id, a.id);
    cr_assert_str_eq(pending[0].msg_id, "thr_1_day_2026-03-01_80");
    cr_assert_str_eq(pending[0].body, "{\"n\":1}");
    cr_assert_eq(pending[0].body_len, 7);
    cr_assert_eq(pending[0].next_attempt_at, T0 + 7);

    /* Into an empty store: the endpoints' ids and secrets, the delivery's body and backoff. */
    pending[0].attempts = 5;
    pending[0].attempts_before = 3;
    store *t = open_backend(backend);
    account to_acc = {.id = acc, .status = ACCOUNT_ACTIVE, .created_at = T0};
    snprintf(to_acc.name, sizeof to_acc.name, "hooked");
    store_import imp = {.accounts = &to_acc,
                        .naccounts = 1,
                        .webhooks = (webhook[]){a, b},
                        .nwebhooks = 2,
                        .deliveries = pending,
                        .ndeliveries = 1};
    MUST(store_import_rows(t, &imp, &err));
    webhook got;
    MUST(store_webhook_get(t, b.id, &got, &err));
    assert_webhook_eq(&got, &b);
    cr_assert_str_eq(got.secret, b.secret);
    webhook_delivery copied[2];
    MUST(store_delivery_pending_list(t, 0, copied, 2, &n, &err));
    cr_assert_eq(n, 1);
    cr_assert_eq(copied[0].webhook_id, a.id);
    cr_assert_eq(copied[0].attempts, 5);
    cr_assert_eq(copied[0].attempts_before, 3, "a resent delivery's backoff survives the copy");
    cr_assert_str_eq(copied[0].msg_id, pending[0].msg_id);
    cr_assert_str_eq(copied[0].body, "{\"n\":1}");
    free(copied[0].body);
    free(pending[0].body);
    webhook later = make_webhook(t, acc, "https://c.example/h", "usage.threshold", WEBHOOK_ACTIVE);
    cr_assert_gt(later.id, b.id);
}

/* The cap holds in the store's own transaction, so two creates at once cannot both pass it. */
CONTRACT_TEST(an_account_has_at_most_its_cap_of_webhook_endpoints)
{
    store *s = open_backend(backend);
    app_err err;
    int64_t acc = make_account(s, "many"), other = make_account(s, "other");
    for (int i = 0; i < WEBHOOKS_PER_ACCOUNT_MAX; i++)
        make_webhook(s, acc, "https://a.example/h", "usage.threshold", WEBHOOK_ACTIVE);
    size_t audits = audit_count(s);
    webhook w = {.account_id = acc, .status = WEBHOOK_ACTIVE, .created_at = T0, .updated_at = T0};
    snprintf(w.url, sizeof w.url, "https://a.example/h");
    snprintf(w.events, sizeof w.events, "usage.threshold");
    snprintf(w.secret, sizeof w.secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    audit_event ev;
    audit_fill(&ev, "webhook.create", "webhook", opt_some(acc));
    MUST_FAIL(APP_VALIDATION_ERROR, store_webhook_create(s, &w, &ev, &err));
    cr_assert(names_field(&err, "url"));
    cr_assert_eq(audit_count(s), audits, "a refused create leaves no audit event");
    make_webhook(s, other, "https://b.example/h", "usage.threshold", WEBHOOK_ACTIVE);
}
