/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <sqlite3.h>
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
