/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/embedded.h"
#include "infra/store.h"
#include "integration/harness.h"

static char dir[256], path[300];

static void setup(void)
{
    th_tmpdir(dir);
    snprintf(path, sizeof path, "%s/nested/s.db", dir);
}

static void teardown(void)
{
    th_rmdir(dir);
}

TestSuite(store_sqlite, .init = setup, .fini = teardown);

static int count_rows(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

Test(store_sqlite, migrates_an_empty_database_then_changes_nothing)
{
    app_err err;
    app_err_clear(&err);
    store *s = store_sqlite_open(path, &err);
    cr_assert_not_null(s, "%s", err.message);
    int version = -1, applied = -1;
    cr_assert_eq(store_schema_version(s, &version, &err), 0);
    cr_assert_eq(version, 0);
    cr_assert_eq(store_migrate(s, &applied, &err), 0, "%s", err.message);
    cr_assert_eq(applied, (int)embedded_migrations_sqlite_count);
    cr_assert_eq(store_schema_version(s, &version, &err), 0);
    cr_assert_eq(version, th_schema_version(false));
    store_close(s);

    s = store_sqlite_open(path, &err);
    cr_assert_eq(store_migrate(s, &applied, &err), 0);
    cr_assert_eq(applied, 0, "an already migrated database gets nothing again");
    cr_assert_eq(store_ping(s, &err), 0);
    store_close(s);

    const char *tables[] = {"accounts",     "plans",      "contracts", "credentials", "enterprise_daily_usages",
                            "audit_events", "idempotency"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'", tables[i]);
        cr_assert_eq(count_rows(sql), 1, "table %s", tables[i]);
    }
    cr_assert_eq(count_rows("SELECT count(*) FROM schema_migrations"), (int)embedded_migrations_sqlite_count);
}

Test(store_sqlite, uses_wal)
{
    app_err err;
    app_err_clear(&err);
    store *s = store_sqlite_open(path, &err);
    int applied;
    store_migrate(s, &applied, &err);
    store_close(s);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(store_sqlite, unopenable_path_is_store_unavailable)
{
    app_err err;
    app_err_clear(&err);
    char file[300], bad[320];
    snprintf(file, sizeof file, "%s/plainfile", dir);
    FILE *f = fopen(file, "w");
    fclose(f);
    snprintf(bad, sizeof bad, "%s/under/x.db", file); /* a directory under a regular file */
    cr_assert_null(store_sqlite_open(bad, &err));
    cr_assert_eq(err.code, APP_STORE_UNAVAILABLE);
}

Test(store_sqlite, not_a_database_is_refused)
{
    app_err err;
    app_err_clear(&err);
    mkdir(dir, 0700);
    char junk[300];
    snprintf(junk, sizeof junk, "%s/junk.db", dir);
    FILE *f = fopen(junk, "w");
    fputs("this is not an SQLite database, whatever its name says..............................", f);
    fclose(f);
    store *s = store_sqlite_open(junk, &err);
    cr_assert_null(s);
    cr_assert_eq(err.code, APP_STORE_UNAVAILABLE);
}

/*
 * A VFS over the default one that counts the fsyncs of write-ahead logs: registered as the default
 * around a test, so that the store's connection goes through it.
 */
typedef struct counted_file {
    sqlite3_file base;
    bool wal;
    sqlite3_file *real; /* follows this struct, in the same allocation */
} counted_file;

static sqlite3_vfs *real_vfs, counting_vfs;
static int wal_syncs;

#define REAL(f) (((counted_file *)(f))->real)
static int c_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int c_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int c_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int c_truncate(sqlite3_file *f, sqlite3_int64 n)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), n);
}
static int c_sync(sqlite3_file *f, int flags)
{
    if (((counted_file *)f)->wal)
        wal_syncs++;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int c_size(sqlite3_file *f, sqlite3_int64 *n)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), n);
}
static int c_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int c_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int c_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int c_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int c_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int c_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int c_shm_map(sqlite3_file *f, int i, int sz, int ext, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, pp);
}
static int c_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void c_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int c_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int c_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), o, n, pp);
}
static int c_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}
#undef REAL

static const sqlite3_io_methods counted_methods = {
    3,         c_close,  c_read,   c_write,   c_truncate, c_sync,        c_size,      c_lock,  c_unlock,  c_reserved,
    c_control, c_sector, c_device, c_shm_map, c_shm_lock, c_shm_barrier, c_shm_unmap, c_fetch, c_unfetch,
};

static int c_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    counted_file *cf = (counted_file *)f;
    cf->real = (sqlite3_file *)(cf + 1);
    cf->wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = real_vfs->xOpen(real_vfs, name, cf->real, flags, out_flags);
    cf->base.pMethods = rc == SQLITE_OK && cf->real->pMethods != NULL ? &counted_methods : NULL;
    return rc;
}

static void counting_vfs_register(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    counting_vfs = *real_vfs;
    counting_vfs.zName = "counting";
    counting_vfs.szOsFile = (int)sizeof(counted_file) + real_vfs->szOsFile;
    counting_vfs.xOpen = c_open;
    cr_assert_eq(sqlite3_vfs_register(&counting_vfs, 1), SQLITE_OK);
}

Test(store_sqlite, a_commit_that_changes_nothing_leaves_earlier_commits_to_sync)
{
    /* A FULL commit of a transaction that wrote nothing (the webhook sender's idle lease) fsyncs
     * nothing: the commits made without fsync before it must still be synced by `sync`. */
    counting_vfs_register();
    app_err err;
    app_err_clear(&err);
    store *s = store_sqlite_open(path, &err);
    cr_assert_not_null(s, "%s", err.message);
    int applied;
    cr_assert_eq(store_migrate(s, &applied, &err), 0, "%s", err.message);
    journal_mark mark = {"usage-0001.log", 48, 0};
    usage_batch b = {.marks = &mark, .nmarks = 1, .durable = false}; /* a commit without fsync */
    cr_assert_eq(store_usage_apply(s, &b, &err), 0, "%s", err.message);
    webhook_due due[4];
    size_t n = 9;
    cr_assert_eq(store_webhook_due(s, 1700000000000LL, 60000, due, 4, &n, &err), 0, "%s", err.message);
    cr_assert_eq(n, 0);
    int before = wal_syncs;
    cr_assert_eq(store_sync(s, &err), 0, "%s", err.message);
    cr_assert_gt(wal_syncs, before, "the commit without fsync is synced");
    before = wal_syncs;
    cr_assert_eq(store_sync(s, &err), 0, "%s", err.message);
    cr_assert_eq(wal_syncs, before, "and nothing more once it is");
    store_close(s);
    sqlite3_vfs_unregister(&counting_vfs);
}

Test(store_faulty, fails_after_n_calls)
{
    app_err err;
    app_err_clear(&err);
    store *s = store_faulty_new(store_sqlite_open(path, &err), 2);
    cr_assert_eq(store_ping(s, &err), 0);
    cr_assert_eq(store_ping(s, &err), 0);
    cr_assert_eq(store_ping(s, &err), APP_STORE_UNAVAILABLE);
    cr_assert_eq(err.code, APP_STORE_UNAVAILABLE);
    store_close(s);
}
