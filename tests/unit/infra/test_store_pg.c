/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * What is particular to the PostgreSQL store: connection failures, migrations, error mapping,
 * the audit chain under concurrent writers, large usage batches and recovery after the server
 * dropped its connections. The operations themselves are covered by the contract suite
 * (test_store_contract.c), run against both backends.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/embedded.h"
#include "infra/store.h"
#include "integration/harness.h"
#include "services/services.h"

static char uri[512];

static void setup(void)
{
    const char *base = getenv("STARMETER_TEST_PG");
    if (base == NULL || base[0] == '\0')
        cr_skip_test("STARMETER_TEST_PG is not set (scripts/pg.sh start DIR prints a URI)");
    th_pg_new_database(uri, sizeof uri);
}

TestSuite(store_pg, .init = setup, .timeout = 120);

static store *open_migrated(unsigned connections)
{
    app_err err;
    app_err_clear(&err);
    store *s = store_pg_open(uri, connections, &err);
    cr_assert_not_null(s, "%s", err.message);
    int applied = 0;
    cr_assert_eq(store_migrate(s, &applied, &err), 0, "%s", err.message);
    return s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static audit_event make_event(const char *action)
{
    audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.at = 1700000000000;
    snprintf(ev.actor, sizeof ev.actor, "admin");
    snprintf(ev.action, sizeof ev.action, "%s", action);
    snprintf(ev.target, sizeof ev.target, "test");
    snprintf(ev.details, sizeof ev.details, "{\"k\": \"v\\\"\"}");
    return ev;
}

static int64_t new_account(store *s, const char *name)
{
    app_err err;
    app_err_clear(&err);
    account a = {.status = ACCOUNT_ACTIVE, .created_at = 1};
    snprintf(a.name, sizeof a.name, "%s", name);
    cr_assert_eq(store_account_create(s, &a, NULL, &err), 0, "%s", err.message);
    return a.id;
}

static int64_t new_credential(store *s, int64_t account_id, const char *key_id)
{
    app_err err;
    app_err_clear(&err);
    credential c = {.account_id = account_id, .created_at = 1};
    snprintf(c.key_id, sizeof c.key_id, "%s", key_id);
    memset(c.secret_hash, 0xab, sizeof c.secret_hash);
    cr_assert_eq(store_credential_create(s, &c, NULL, &err), 0, "%s", err.message);
    return c.id;
}

Test(store_pg, open_fails_fast_on_an_unreachable_server_without_the_password)
{
    app_err err;
    app_err_clear(&err);
    double t0 = now_s();
    /* Nothing listens on port 1 of the loopback. */
    store *s = store_pg_open("postgresql://starmeter:hunter2secret@127.0.0.1:1/x", 2, &err);
    cr_assert_null(s);
    cr_assert_eq(err.code, APP_STORE_UNAVAILABLE);
    cr_assert_null(strstr(err.message, "hunter2secret"), "%s", err.message);
    cr_assert_lt(now_s() - t0, 6.0, "an unreachable server must fail within the connect timeout");

    /* A malformed string: libpq's message would quote the text around the error. */
    app_err_clear(&err);
    s = store_pg_open("host=127.0.0.1 password hunter2secret", 2, &err);
    cr_assert_null(s);
    cr_assert_eq(err.code, APP_STORE_UNAVAILABLE);
    cr_assert_null(strstr(err.message, "hunter2secret"), "%s", err.message);
}

Test(store_pg, migrates_then_applies_nothing_the_second_time)
{
    app_err err;
    app_err_clear(&err);
    store *s = store_pg_open(uri, 0, &err);
    cr_assert_not_null(s, "%s", err.message);
    int version = -1, applied = -1;
    cr_assert_eq(store_schema_version(s, &version, &err), 0, "%s", err.message);
    cr_assert_eq(version, 0);
    cr_assert_eq(store_migrate(s, &applied, &err), 0, "%s", err.message);
    cr_assert_eq(applied, (int)embedded_migrations_postgres_count);
    cr_assert_eq(store_migrate(s, &applied, &err), 0, "%s", err.message);
    cr_assert_eq(applied, 0);
    cr_assert_eq(store_schema_version(s, &version, &err), 0);
    cr_assert_eq(version, th_schema_version(true));
    cr_assert_eq(store_ping(s, &err), 0);
    store_close(s);
}

typedef struct migrator {
    int applied, rc;
} migrator;

static void *run_migrate(void *arg)
{
    migrator *m = arg;
    app_err err;
    app_err_clear(&err);
    store *s = store_pg_open(uri, 1, &err);
    m->rc = s ? store_migrate(s, &m->applied, &err) : -1;
    store_close(s);
    return NULL;
}

Test(store_pg, concurrent_migrators_apply_each_file_once)
{
    migrator m[4] = {0};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, run_migrate, &m[i]);
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(m[i].rc, 0);
        total += m[i].applied;
    }
    cr_assert_eq(total, (int)embedded_migrations_postgres_count);
}

Test(store_pg, maps_unique_violations_and_missing_rows)
{
    store *s = open_migrated(2);
    app_err err;
    app_err_clear(&err);
    plan p = {.limits = {.rate_per_second = 1, .burst = 1, .credential_rate_per_second = 1, .credential_burst = 1}};
    snprintf(p.code, sizeof p.code, "gold");
    snprintf(p.name, sizeof p.name, "Gold");
    cr_assert_eq(store_plan_create(s, &p, NULL, &err), 0, "%s", err.message);
    audit_event ev = make_event("plan.create");
    cr_assert_eq(store_plan_create(s, &p, &ev, &err), APP_VALIDATION_ERROR);
    cr_assert_eq(err.nfields, 1);
    cr_assert_str_eq(err.fields[0].field, "code");
    /* The failed change left no audit event behind. */
    audit_event rows[4];
    size_t n = 9;
    cr_assert_eq(store_audit_list(s, NULL, 0, rows, 4, &n, &err), 0);
    cr_assert_eq(n, 0);

    int64_t acc = new_account(s, "acme");
    new_credential(s, acc, "AAAAAAAAAAAA");
    app_err_clear(&err);
    credential dup = {.account_id = acc, .created_at = 1};
    snprintf(dup.key_id, sizeof dup.key_id, "AAAAAAAAAAAA");
    cr_assert_eq(store_credential_create(s, &dup, NULL, &err), APP_VALIDATION_ERROR);
    cr_assert_str_eq(err.fields[0].field, "key_id");

    /* A reference to a missing account is the caller's mistake, as on SQLite. */
    app_err_clear(&err);
    dup.account_id = 424242;
    snprintf(dup.key_id, sizeof dup.key_id, "BBBBBBBBBBBB");
    cr_assert_eq(store_credential_create(s, &dup, NULL, &err), APP_VALIDATION_ERROR);

    account a;
    cr_assert_eq(store_account_get(s, 424242, &a, &err), APP_NOT_FOUND);
    cr_assert_eq(store_account_set_status(s, 424242, ACCOUNT_SUSPENDED, NULL, &err), APP_NOT_FOUND);
    credential c;
    cr_assert_eq(store_credential_get(s, "ZZZZZZZZZZZZ", &c, &err), APP_NOT_FOUND);
    plan q;
    cr_assert_eq(store_plan_get_by_code(s, "nope", &q, &err), APP_NOT_FOUND);
    p.id = 424242;
    cr_assert_eq(store_plan_update(s, &p, NULL, &err), APP_NOT_FOUND);
    contract ct;
    cr_assert_eq(store_contract_get(s, acc, &ct, &err), APP_NOT_FOUND);
    idem_record ir;
    cr_assert_eq(store_idem_get(s, acc, "k", 0, &ir, &err), APP_NOT_FOUND);
    store_close(s);
}

Test(store_pg, round_trips_every_kind_of_row)
{
    store *s = open_migrated(2);
    app_err err;
    app_err_clear(&err);
    int64_t token0 = -1, token1 = -1;
    cr_assert_eq(store_change_token(s, &token0, &err), 0, "%s", err.message);

    plan p = {.limits = {.daily_limit = {true, 100},
                         .mode = LIMIT_OVERAGE,
                         .rate_per_second = 5,
                         .burst = 6,
                         .credential_rate_per_second = 7,
                         .credential_burst = 8},
              .metered = true,
              .created_at = 10,
              .updated_at = 11};
    snprintf(p.code, sizeof p.code, "silver");
    snprintf(p.name, sizeof p.name, "Silver \"plan\" é");
    cr_assert_eq(store_plan_create(s, &p, NULL, &err), 0, "%s", err.message);
    plan got;
    cr_assert_eq(store_plan_get(s, p.id, &got, &err), 0);
    cr_assert_str_eq(got.name, p.name);
    cr_assert(got.limits.daily_limit.present && got.limits.daily_limit.v == 100);
    cr_assert(!got.limits.monthly_limit.present);
    cr_assert_eq(got.limits.mode, LIMIT_OVERAGE);
    cr_assert(got.metered);
    cr_assert_eq(got.limits.credential_burst, 8);

    audit_event ev = make_event("account.create");
    account a = {.status = ACCOUNT_ACTIVE, .created_at = 5};
    snprintf(a.name, sizeof a.name, "acme");
    cr_assert_eq(store_account_create(s, &a, &ev, &err), 0, "%s", err.message);
    cr_assert_eq(ev.seq, 1);
    cr_assert_str_eq(ev.target, "account:1");
    cr_assert_eq(store_change_token(s, &token1, &err), 0);
    cr_assert_neq(token0, token1, "an admin change moves the token");

    contract ct = {.account_id = a.id,
                   .plan_id = p.id,
                   .overridden = OVR_MONTHLY_LIMIT | OVR_BURST,
                   .overrides = {.monthly_limit = {false, 0}, .burst = 99},
                   .starts_at = 3};
    snprintf(ct.timezone, sizeof ct.timezone, "Europe/Paris");
    cr_assert_eq(store_contract_put(s, &ct, NULL, &err), 0, "%s", err.message);
    contract cg;
    cr_assert_eq(store_contract_get(s, a.id, &cg, &err), 0);
    cr_assert_eq(cg.overridden, OVR_MONTHLY_LIMIT | OVR_BURST);
    cr_assert(!cg.overrides.monthly_limit.present);
    cr_assert_eq(cg.overrides.burst, 99);
    cr_assert_str_eq(cg.timezone, "Europe/Paris");

    int64_t cid = new_credential(s, a.id, "CCCCCCCCCCCC");
    credential cr;
    cr_assert_eq(store_credential_get(s, "CCCCCCCCCCCC", &cr, &err), 0);
    cr_assert_eq(cr.id, cid);
    cr_assert_eq(cr.secret_hash[31], 0xab);
    int64_t ids[] = {cid, cid}, at[] = {50, 40};
    cr_assert_eq(store_credentials_touch(s, ids, at, 2, &err), 0, "%s", err.message);
    cr_assert_eq(store_credential_get(s, "CCCCCCCCCCCC", &cr, &err), 0);
    cr_assert(cr.last_used_at.present && cr.last_used_at.v == 50);

    credential fresh = {.account_id = a.id, .created_at = 9};
    snprintf(fresh.key_id, sizeof fresh.key_id, "DDDDDDDDDDDD");
    cr.expires_at = opt_some(77);
    cr_assert_eq(store_credential_rotate(s, &cr, &fresh, NULL, &err), 0, "%s", err.message);
    credential list[4];
    size_t n = 0;
    cr_assert_eq(store_credential_list(s, a.id, 0, list, 4, &n, &err), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(list[0].expires_at.v, 77);
    cr_assert_str_eq(list[1].key_id, "DDDDDDDDDDDD");
    cr_assert_eq(store_credential_list(s, -1, list[0].id, list, 1, &n, &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(list[0].id, fresh.id);

    static const char body[] = "{\"a\":1}\0binary";
    idem_record ir = {
        .account_id = a.id, .status = 201, .body = (char *)body, .body_len = sizeof body, .expires_at = 1000};
    snprintf(ir.key, sizeof ir.key, "key-1");
    memset(ir.fingerprint, 7, sizeof ir.fingerprint);
    journal_mark mk = {.offset = 4096};
    snprintf(mk.segment, sizeof mk.segment, "seg-1");
    usage_delta d = {.account_id = a.id, .credential_id = cid, .requests = 3, .overage = 1};
    snprintf(d.date, sizeof d.date, "2026-01-02");
    audit_event qe = make_event("quota.block");
    usage_batch b = {.deltas = &d,
                     .ndeltas = 1,
                     .idem = &ir,
                     .nidem = 1,
                     .audits = &qe,
                     .naudits = 1,
                     .marks = &mk,
                     .nmarks = 1,
                     .durable = false};
    cr_assert_eq(store_usage_apply(s, &b, &err), 0, "%s", err.message);
    cr_assert_eq(qe.seq, 2);
    cr_assert_eq(store_sync(s, &err), 0, "%s", err.message);
    cr_assert_eq(store_sync(s, &err), 0, "%s", err.message);

    idem_record back;
    cr_assert_eq(store_idem_get(s, a.id, "key-1", 999, &back, &err), 0, "%s", err.message);
    cr_assert_eq(back.status, 201);
    cr_assert_eq(back.body_len, sizeof body);
    cr_assert_eq(memcmp(back.body, body, sizeof body), 0);
    cr_assert_eq(back.fingerprint[31], 7);
    free(back.body);
    cr_assert_eq(store_idem_get(s, a.id, "key-1", 1000, &back, &err), APP_NOT_FOUND, "expired");
    cr_assert_eq(store_idem_purge(s, 1000, &err), 0);

    int64_t off = 0;
    cr_assert_eq(store_journal_mark(s, "seg-1", &off, &err), 0);
    cr_assert_eq(off, 4096);
    cr_assert_eq(store_journal_forget(s, "seg-1", &err), 0);
    cr_assert_eq(store_journal_mark(s, "seg-1", &off, &err), 0);
    cr_assert_eq(off, 0);

    audit_filter f = {.action = "quota.block"};
    audit_event evs[4];
    cr_assert_eq(store_audit_list(s, &f, 0, evs, 4, &n, &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(evs[0].details, qe.details);
    cr_assert_eq(memcmp(evs[0].prev_hash, ev.hash, 32), 0);

    store_stats st;
    cr_assert_eq(store_stats_get(s, &st, &err), 0);
    cr_assert_gt(st.db_bytes, 0);
    store_close(s);
}

typedef struct appender {
    const char *uri;
    int count, rc;
} appender;

/* One "process": its own store (its own pool), appending admin changes with audit events. */
static void *append_events(void *arg)
{
    appender *ap = arg;
    app_err err;
    app_err_clear(&err);
    store *s = store_pg_open(ap->uri, 2, &err);
    if (s == NULL) {
        ap->rc = -1;
        return NULL;
    }
    for (int i = 0; i < ap->count && ap->rc == 0; i++) {
        audit_event ev = make_event("account.create");
        account a = {.status = ACCOUNT_ACTIVE, .created_at = i};
        snprintf(a.name, sizeof a.name, "a%d", i);
        ap->rc = store_account_create(s, &a, &ev, &err);
    }
    store_close(s);
    return NULL;
}

Test(store_pg, audit_chain_stays_valid_under_concurrent_writers)
{
    store *s = open_migrated(2);
    enum { WRITERS = 4, EACH = 50 };
    appender ap[WRITERS];
    pthread_t t[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        ap[i] = (appender){.uri = uri, .count = EACH};
        pthread_create(&t[i], NULL, append_events, &ap[i]);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(ap[i].rc, 0);
    }
    int64_t checked = 0, broken = -1;
    char why[160];
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(audit_verify(s, &checked, &broken, why, &err), 0, "%s", err.message);
    cr_assert_eq(broken, 0, "%s", why);
    cr_assert_eq(checked, WRITERS * EACH);
    store_close(s);
}

Test(store_pg, applies_a_large_batch_in_one_upsert)
{
    store *s = open_migrated(2);
    int64_t acc = new_account(s, "acme");
    int64_t cred[3] = {new_credential(s, acc, "EEEEEEEEEEE1"), new_credential(s, acc, "EEEEEEEEEEE2"),
                       new_credential(s, acc, "EEEEEEEEEEE3")};
    enum { N = 5400 }; /* 90 rows (3 credentials x 30 days), each 60 times */
    usage_delta *d = calloc(N, sizeof *d);
    for (int i = 0; i < N; i++) {
        /* 3 credentials x 30 days, each row given many times in the same batch. */
        d[i] = (usage_delta){.account_id = acc, .credential_id = cred[i % 3], .requests = 1, .blocked = i % 2};
        snprintf(d[i].date, sizeof d[i].date, "2026-03-%02d", 1 + (i / 3) % 30);
    }
    app_err err;
    app_err_clear(&err);
    for (int round = 0; round < 2; round++) {
        usage_batch b = {.deltas = d, .ndeltas = N, .durable = round == 0};
        cr_assert_eq(store_usage_apply(s, &b, &err), 0, "%s", err.message);
    }
    usage_totals t;
    cr_assert_eq(store_usage_sum(s, acc, -1, "2026-03-01", "2026-03-31", &t, &err), 0, "%s", err.message);
    cr_assert_eq(t.requests, 2 * N);
    cr_assert_eq(t.blocked, N);
    cr_assert_eq(store_usage_sum(s, acc, cred[1], "2026-03-01", "2026-03-01", &t, &err), 0);
    cr_assert_eq(t.requests, 2 * N / 90);
    usage_row rows[40];
    size_t n = 0;
    cr_assert_eq(store_usage_rows(s, acc, -1, "2026-03-01", "2026-03-31", false, rows, 40, &n, &err), 0);
    cr_assert_eq(n, 30);
    cr_assert_str_eq(rows[0].date, "2026-03-01");
    cr_assert_str_eq(rows[29].date, "2026-03-30");
    cr_assert_eq(store_usage_rows(s, acc, -1, "2026-03-01", "2026-03-31", true, rows, 2, &n, &err), 0);
    cr_assert_eq(n, 2, "the cap bounds the listing");
    cr_assert_eq(rows[0].credential_id, cred[0]);
    cr_assert_eq(rows[0].t.requests, 2 * N / 3);

    /* A batch with a row that breaks a constraint is rolled back whole. */
    d[N - 1].credential_id = 999999;
    usage_batch bad = {.deltas = d, .ndeltas = N, .durable = true};
    cr_assert_neq(store_usage_apply(s, &bad, &err), 0);
    cr_assert_eq(store_usage_sum(s, acc, -1, "2026-03-01", "2026-03-31", &t, &err), 0);
    cr_assert_eq(t.requests, 2 * N);
    free(d);
    store_close(s);
}

/* Terminates every other session on the test database, as a server restart would. */
static void kill_sessions(void)
{
    PGconn *c = PQconnectdb(uri);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    cr_assert_gt(PQntuples(r), 0);
    PQclear(r);
    PQfinish(c);
}

Test(store_pg, recovers_after_the_server_dropped_its_connections)
{
    store *s = open_migrated(3);
    app_err err;
    app_err_clear(&err);
    int64_t acc = new_account(s, "acme");
    /* Every pooled connection in use once, so that all of them are open when the server drops them. */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(store_ping(s, &err), 0);
    kill_sessions();
    /* The first call may meet a broken connection; every later one must work. */
    account a;
    int first = store_account_get(s, acc, &a, &err);
    cr_assert(first == 0 || first == APP_STORE_UNAVAILABLE, "%d %s", first, err.message);
    for (int i = 0; i < 10; i++) {
        app_err_clear(&err);
        cr_assert_eq(store_account_get(s, acc, &a, &err), 0, "call %d: %s", i, err.message);
        audit_event ev = make_event("account.suspend");
        cr_assert_eq(store_account_set_status(s, acc, ACCOUNT_SUSPENDED, &ev, &err), 0, "%s", err.message);
    }
    store_close(s);
}
