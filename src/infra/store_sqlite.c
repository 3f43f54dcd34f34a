/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/embedded.h"
#include "core/mem.h"
#include "core/str.h"
#include "infra/store.h"

/*
 * One connection, serialised by a mutex. SQLite in WAL mode commits in microseconds on this kind
 * of machine; the metered hot path never calls the store directly (DESIGN.md section 7).
 */
typedef struct sqlite_store {
    store super;
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3_stmt *ping;
    sqlite3_stmt *version;
} sqlite_store;

static int fail(app_err *err, sqlite3 *db, const char *what)
{
    int rc = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
    /* Library text can carry a path; it goes to the operator's log, never into a response body. */
    return app_err_set(err, APP_STORE_UNAVAILABLE, "sqlite %s failed: %s (%d)", what,
                       db ? sqlite3_errmsg(db) : "no connection", rc);
}

static int sqlite_ping(store *self, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    int step = sqlite3_step(s->ping);
    if (step != SQLITE_ROW)
        rc = fail(err, s->db, "ping");
    sqlite3_reset(s->ping);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int read_version(sqlite_store *s, int *version, app_err *err)
{
    int step = sqlite3_step(s->version);
    int rc = 0;
    if (step == SQLITE_ROW)
        *version = sqlite3_column_int(s->version, 0);
    else
        rc = fail(err, s->db, "schema version");
    sqlite3_reset(s->version);
    return rc;
}

static int sqlite_schema_version(store *self, int *version, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    pthread_mutex_lock(&s->mu);
    int rc = read_version(s, version, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* "0007_usage.sql" -> 7; -1 when the name does not start with a number and an underscore. */
static int migration_number(const char *name)
{
    const char *us = strchr(name, '_');
    int64_t n;
    if (us == NULL || !str_to_i64(slice_make(name, (size_t)(us - name)), 1, 9999, &n))
        return -1;
    return (int)n;
}

static int apply_one(sqlite_store *s, const embedded_file *m, int number, app_err *err)
{
    sqlite3_stmt *ins = NULL;
    int rc = 0;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(err, s->db, "begin migration");
    if (sqlite3_exec(s->db, m->bytes, NULL, NULL, NULL) != SQLITE_OK) {
        rc = app_err_set(err, APP_INTERNAL_ERROR, "migration %s failed: %s", m->name, sqlite3_errmsg(s->db));
        goto out;
    }
    if (sqlite3_prepare_v2(s->db, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)", -1, &ins,
                           NULL) != SQLITE_OK) {
        rc = fail(err, s->db, "prepare migration record");
        goto out;
    }
    sqlite3_bind_int(ins, 1, number);
    sqlite3_bind_text(ins, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 3, clock_now_ms(clock_system()));
    if (sqlite3_step(ins) != SQLITE_DONE) {
        rc = fail(err, s->db, "record migration");
        goto out;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fail(err, s->db, "commit migration");
out:
    sqlite3_finalize(ins);
    if (rc != 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int sqlite_migrate(store *self, int *applied, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0, version = 0;
    *applied = 0;
    pthread_mutex_lock(&s->mu);
    if ((rc = read_version(s, &version, err)) != 0)
        goto out;
    for (size_t i = 0; i < embedded_migrations_sqlite_count; i++) {
        const embedded_file *m = &embedded_migrations_sqlite[i];
        int number = migration_number(m->name);
        if (number < 0) {
            rc = app_err_set(err, APP_INTERNAL_ERROR, "migration file %s is not numbered", m->name);
            goto out;
        }
        if (number <= version)
            continue;
        if ((rc = apply_one(s, m, number, err)) != 0)
            goto out;
        version = number;
        (*applied)++;
    }
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void sqlite_close(store *self)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_finalize(s->ping);
    sqlite3_finalize(s->version);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .ping = sqlite_ping,
    .migrate = sqlite_migrate,
    .schema_version = sqlite_schema_version,
    .close = sqlite_close,
};

/* Creates the directory that will hold `path`, if any, like `mkdir -p "$(dirname path)"`. */
static int make_parent_dirs(const char *path, app_err *err)
{
    char dir[4096];
    if (str_copy(dir, sizeof dir, path) < 0)
        return app_err_set(err, APP_STORE_UNAVAILABLE, "database path is too long");
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0750) != 0 && errno != EEXIST)
            return app_err_set(err, APP_STORE_UNAVAILABLE, "cannot create directory %s: %s", dir, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return app_err_set(err, APP_STORE_UNAVAILABLE, "cannot create directory %s: %s", dir, strerror(errno));
    return 0;
}

store *store_sqlite_open(const char *path, app_err *err)
{
    if (make_parent_dirs(path, err) != 0)
        return NULL;
    sqlite_store *s = xcalloc(1, sizeof *s);
    s->super.ops = &sqlite_ops;
    pthread_mutex_init(&s->mu, NULL);
    static const char *const pragmas =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=FULL;" /* billing data: a commit survives power loss, not only a crash */
        "PRAGMA foreign_keys=ON;"
        "CREATE TABLE IF NOT EXISTS schema_migrations("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);";
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(s->db, 5000) != SQLITE_OK || sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "SELECT count(*) FROM schema_migrations", -1, &s->ping, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &s->version, NULL) !=
            SQLITE_OK) {
        fail(err, s->db, "open");
        sqlite_close(&s->super);
        return NULL;
    }
    return &s->super;
}
