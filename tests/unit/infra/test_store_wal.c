/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The SQLite store's write-ahead log stays bounded under sustained writes, and the durability
 * API (usage_apply's `durable`, sync, stats) keeps its promises. The databases live on /dev/shm
 * when it exists: fsync there costs nothing, so 20,000 synchronous=FULL commits fit in a few
 * seconds, and the WAL's size does not depend on the cost of an fsync.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "infra/store.h"
#include "integration/harness.h"

#define MIB (1024 * 1024)
/* The promise: the WAL never passes this, whatever the write load. */
#define WAL_BOUND (64 * MIB)

static char dir[256], path[300], wal_path[310];

static void setup(void)
{
    struct stat sb;
    snprintf(dir, sizeof dir, "%s",
             stat("/dev/shm", &sb) == 0 ? "/dev/shm/starmeter-wal-XXXXXX" : "/tmp/starmeter-wal-XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp");
    snprintf(path, sizeof path, "%s/s.db", dir);
    snprintf(wal_path, sizeof wal_path, "%s-wal", path);
}

static void teardown(void)
{
    th_rmdir(dir);
}

TestSuite(store_wal, .init = setup, .fini = teardown, .timeout = 120);

/* The WAL's size from the file system, independent of the store's own report. */
static int64_t wal_size(void)
{
    struct stat sb;
    return stat(wal_path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static store *open_migrated(void)
{
    app_err err;
    app_err_clear(&err);
    store *s = store_sqlite_open(path, &err);
    cr_assert_not_null(s, "%s", err.message);
    int applied;
    cr_assert_eq(store_migrate(s, &applied, &err), 0, "%s", err.message);
    return s;
}

/* An audit event shaped like those of services/admin.c. */
static void audit_fill(audit_event *ev, const char *action, const char *target, opt_i64 account_id, const char *details)
{
    memset(ev, 0, sizeof *ev);
    ev->at = 1700000000000;
    snprintf(ev->actor, sizeof ev->actor, "admin");
    snprintf(ev->action, sizeof ev->action, "%s", action);
    snprintf(ev->target, sizeof ev->target, "%s", target);
    ev->account_id = account_id;
    snprintf(ev->request_id, sizeof ev->request_id, "req-0123456789abcdef");
    snprintf(ev->details, sizeof ev->details, "%s", details);
}

/* One account and one credential with their audit events, as the admin API creates them: two writes. */
static void admin_pair(store *s, uint32_t i)
{
    app_err err;
    app_err_clear(&err);
    account a = {.status = ACCOUNT_ACTIVE, .created_at = 1700000000000 + i};
    snprintf(a.name, sizeof a.name, "Customer number %u", i);
    audit_event ev;
    char details[1400];
    snprintf(details, sizeof details, "{\"after\":{\"name\":\"%s\",\"status\":\"active\"}}", a.name);
    audit_fill(&ev, "account.create", "account", opt_none(), details);
    cr_assert_eq(store_account_create(s, &a, &ev, &err), 0, "%s", err.message);

    credential c = {.account_id = a.id, .status = CREDENTIAL_ACTIVE, .created_at = a.created_at};
    /* Key ids arrive in random order, as real ones do: a bijection of i scatters them in the index. */
    snprintf(c.key_id, sizeof c.key_id, "k%011u", i * 2654435761u);
    for (size_t k = 0; k < sizeof c.secret_hash; k++)
        c.secret_hash[k] = (uint8_t)(i * 31 + k);
    snprintf(c.label, sizeof c.label, "production key %u", i);
    char target[48];
    snprintf(target, sizeof target, "credential:%s", c.key_id);
    snprintf(details, sizeof details, "{\"after\":{\"expires_at\":null,\"key_id\":\"%s\",\"label\":\"%s\"}}", c.key_id,
             c.label);
    audit_fill(&ev, "credential.issue", target, opt_some(a.id), details);
    cr_assert_eq(store_credential_create(s, &c, &ev, &err), 0, "%s", err.message);
}

Test(store_wal, admin_writes_keep_the_wal_bounded)
{
    store *s = open_migrated();
    int64_t max = 0;
    double t0 = now_s();
    for (uint32_t i = 0; i < 10000; i++) { /* 20,000 writes */
        admin_pair(s, i);
        if (i % 50 == 0) {
            int64_t w = wal_size();
            max = w > max ? w : max;
            cr_assert_lt(w, WAL_BOUND, "the WAL reached %lld bytes after %u admin writes", (long long)w, 2 * i + 2);
        }
    }
    int64_t w = wal_size();
    max = w > max ? w : max;
    cr_assert_lt(w, WAL_BOUND);
    struct stat sb;
    stat(path, &sb);
    cr_log_info("20000 admin writes in %.1f s: WAL max %.2f MiB, database %.2f MiB", now_s() - t0, (double)max / MIB,
                (double)sb.st_size / MIB);
    fprintf(stderr, "admin writes: WAL max %lld bytes (%.2f MiB), database %lld bytes\n", (long long)max,
            (double)max / MIB, (long long)sb.st_size);
    store_close(s);
}

/*
 * Bytes of WAL per admin write, measured on a database that already holds a few thousand accounts
 * and keys. A reader from another connection pins its snapshot for the window, so no checkpoint
 * can recycle the log and its growth is exactly what the writes appended.
 */
Test(store_wal, admin_write_amplification)
{
    store *s = open_migrated();
    uint32_t i = 0;
    for (; i < 3000; i++)
        admin_pair(s, i);

    sqlite3 *reader;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &reader), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(reader, "SELECT count(*) FROM accounts", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    sqlite3_finalize(st);

    /*
     * Counted only while the log grows past its previous end: a write made just after the log
     * started over overwrites old frames without growing the file, and would read as free.
     */
    enum { PAIRS = 600 };
    int64_t hi = wal_size(), sum = 0, counted = 0;
    for (uint32_t k = 0; k < PAIRS; k++, i++) {
        int64_t before = wal_size();
        admin_pair(s, i);
        int64_t after = wal_size();
        if (before >= hi && after > before) {
            sum += after - before;
            counted += 2;
        }
        hi = after > hi ? after : hi;
    }
    cr_assert_gt(counted, PAIRS, "the reader did not pin the log");
    int64_t per_write = sum / counted;
    fprintf(stderr, "admin writes: %lld bytes of WAL per write\n", (long long)per_write);
    cr_log_info("%lld bytes of WAL per admin write", (long long)per_write);

    sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(reader);
    /* Once the reader has gone, later writes fold the log back. */
    for (uint32_t k = 0; k < 500; k++, i++)
        admin_pair(s, i);
    cr_assert_lt(wal_size(), WAL_BOUND);
    store_close(s);
}

/* A batch shaped like the metering writer's: a few credentials' rows, one idempotent answer. */
static void apply_batch(store *s, int64_t acc_id, const int64_t *creds, size_t ncreds, uint32_t i, bool durable)
{
    app_err err;
    app_err_clear(&err);
    usage_delta d[8];
    size_t nd = ncreds < 8 ? ncreds : 8;
    for (size_t k = 0; k < nd; k++) {
        d[k] = (usage_delta){.account_id = acc_id, .credential_id = creds[(i + k) % ncreds], .requests = 3};
        /* A new day every 200 batches: inserts as well as updates. */
        snprintf(d[k].date, sizeof d[k].date, "2026-%02u-%02u", 1 + (i / 200 / 28) % 12, 1 + (i / 200) % 28);
    }
    char body[600];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    idem_record idem = {
        .account_id = acc_id, .status = 200, .body = body, .body_len = strlen(body), .expires_at = 1700000000000 + i};
    snprintf(idem.key, sizeof idem.key, "idem-%u", i);
    cr_assert_eq(
        store_usage_apply(s, &(usage_batch){.deltas = d, .ndeltas = nd, .idem = &idem, .nidem = 1, .durable = durable},
                          &err),
        0, "%s", err.message);
}

/* One account with `n` credentials, ids in creds. */
static int64_t make_customer(store *s, int64_t *creds, size_t n)
{
    app_err err;
    app_err_clear(&err);
    account a = {.status = ACCOUNT_ACTIVE, .created_at = 1700000000000};
    snprintf(a.name, sizeof a.name, "Metered customer");
    cr_assert_eq(store_account_create(s, &a, NULL, &err), 0, "%s", err.message);
    for (size_t k = 0; k < n; k++) {
        credential c = {.account_id = a.id, .status = CREDENTIAL_ACTIVE, .created_at = a.created_at};
        snprintf(c.key_id, sizeof c.key_id, "m%011zu", k);
        cr_assert_eq(store_credential_create(s, &c, NULL, &err), 0, "%s", err.message);
        creds[k] = c.id;
    }
    return a.id;
}

Test(store_wal, usage_batches_keep_the_wal_bounded)
{
    store *s = open_migrated();
    int64_t creds[16];
    int64_t acc_id = make_customer(s, creds, 16);
    int64_t max = 0;
    app_err err;
    app_err_clear(&err);
    double t0 = now_s();
    enum { BATCHES = 40000 };
    for (uint32_t i = 0; i < BATCHES; i++) {
        apply_batch(s, acc_id, creds, 16, i, false);
        if (i % 100 == 0) {
            cr_assert_eq(store_sync(s, &err), 0, "%s", err.message); /* as the writer does every few ms */
            int64_t w = wal_size();
            max = w > max ? w : max;
            cr_assert_lt(w, WAL_BOUND, "the WAL reached %lld bytes after %u batches", (long long)w, i + 1);
        }
    }
    cr_log_info("%d usage batches in %.1f s: WAL max %.2f MiB", BATCHES, now_s() - t0, (double)max / MIB);
    fprintf(stderr, "usage batches: WAL max %lld bytes (%.2f MiB)\n", (long long)max, (double)max / MIB);
    usage_totals t;
    cr_assert_eq(store_usage_sum(s, acc_id, -1, "2026-01-01", "2026-12-31", &t, &err), 0, "%s", err.message);
    cr_assert_eq(t.requests, (int64_t)BATCHES * 8 * 3);
    store_close(s);
}

Test(store_wal, sync_makes_batches_durable_and_is_free_when_idle)
{
    store *s = open_migrated();
    int64_t creds[2];
    int64_t acc_id = make_customer(s, creds, 2);
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(store_sync(s, &err), 0, "nothing to sync: %s", err.message);
    apply_batch(s, acc_id, creds, 2, 1, false);
    cr_assert_eq(store_sync(s, &err), 0, "%s", err.message);
    /* Nothing committed since: no lock, no system call, and still success. */
    double t0 = now_s();
    for (int i = 0; i < 100000; i++)
        cr_assert_eq(store_sync(s, &err), 0);
    double idle_ns = (now_s() - t0) / 100000 * 1e9;
    cr_log_info("an idle sync costs %.0f ns", idle_ns);
    cr_assert_lt(idle_ns, 2000.0, "an idle sync took %.0f ns: it should not touch the disk", idle_ns);
    /* A durable batch leaves nothing to sync either. */
    apply_batch(s, acc_id, creds, 2, 2, true);
    cr_assert_eq(store_sync(s, &err), 0, "%s", err.message);
    store_close(s);
}

Test(store_wal, a_non_durable_batch_is_there_after_reopening)
{
    store *s = open_migrated();
    int64_t creds[2];
    int64_t acc_id = make_customer(s, creds, 2);
    for (uint32_t i = 0; i < 10; i++)
        apply_batch(s, acc_id, creds, 2, i, false);
    store_close(s); /* no sync: closing checkpoints, and the rows must be there */

    app_err err;
    app_err_clear(&err);
    s = store_sqlite_open(path, &err);
    cr_assert_not_null(s, "%s", err.message);
    usage_totals t;
    cr_assert_eq(store_usage_sum(s, acc_id, -1, "2026-01-01", "2026-12-31", &t, &err), 0, "%s", err.message);
    cr_assert_eq(t.requests, 10 * 2 * 3);
    idem_record r;
    cr_assert_eq(store_idem_get(s, acc_id, "idem-9", 0, &r, &err), 0, "%s", err.message);
    free(r.body);
    store_close(s);
}

/*
 * What a crash of the process leaves: a second connection opened while the first still holds
 * its commits only in the WAL (never checkpointed, never synced) reads them.
 */
Test(store_wal, a_non_durable_batch_is_visible_without_a_checkpoint)
{
    store *s = open_migrated();
    int64_t creds[2];
    int64_t acc_id = make_customer(s, creds, 2);
    apply_batch(s, acc_id, creds, 2, 0, false);
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT sum(requests) FROM enterprise_daily_usages", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int64(st, 0), 2 * 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
    store_close(s);
}

Test(store_wal, stats_report_the_files)
{
    store *s = open_migrated();
    app_err err;
    app_err_clear(&err);
    int64_t creds[1];
    int64_t acc_id = make_customer(s, creds, 1);
    store_stats st = {-1, -1};
    cr_assert_eq(store_stats_get(s, &st, &err), 0, "%s", err.message);
    cr_assert_gt(st.wal_bytes, 0);
    cr_assert_gt(st.db_bytes, 0);
    cr_assert_eq(st.wal_bytes, wal_size());

    /* Through the fault injector too, even broken: observation is not a store operation. */
    store *f = store_faulty_new(s, -1);
    store_faulty_break(f, true);
    cr_assert_eq(store_stats_get(f, &st, &err), 0);
    cr_assert_eq(store_sync(f, &err), APP_STORE_UNAVAILABLE);
    usage_delta d = {.account_id = acc_id, .credential_id = creds[0], .date = "2026-01-01", .requests = 1};
    cr_assert_eq(store_usage_apply(f, &(usage_batch){.deltas = &d, .ndeltas = 1}, &err), APP_STORE_UNAVAILABLE);
    store_faulty_break(f, false);
    cr_assert_eq(store_usage_apply(f, &(usage_batch){.deltas = &d, .ndeltas = 1}, &err), 0, "%s", err.message);
    cr_assert_eq(store_sync(f, &err), 0, "%s", err.message);
    store_close(f);
}
