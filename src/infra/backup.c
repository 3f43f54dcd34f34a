/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "infra/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/str.h"

/* Between two steps: long enough to let the server's writes and fsyncs through, short enough that a
 * 1 GiB database (a million 1 KiB pages, a thousand steps) pauses for two seconds in all. */
#define STEP_PAUSE_MS 2
/* A busy or locked source is retried every BUSY_PAUSE_MS, for BUSY_GIVE_UP_MS at most in a row. */
#define BUSY_PAUSE_MS 10
#define BUSY_GIVE_UP_MS 30000

static void pause_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int sqlite_fail(app_err *err, sqlite3 *db, const char *what)
{
    return app_err_set(err, APP_STORE_UNAVAILABLE, "sqlite %s failed: %s (%d)", what,
                       db ? sqlite3_errmsg(db) : "no connection", db ? sqlite3_extended_errcode(db) : SQLITE_ERROR);
}

static bool is_busy(int rc)
{
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/* Whether `a` names the same file as `b` (both existing). */
static bool same_file(const struct stat *a, const char *b)
{
    struct stat st;
    return stat(b, &st) == 0 && st.st_dev == a->st_dev && st.st_ino == a->st_ino;
}

/* Refuses a destination that exists (unless force) or that is the database or one of its files. */
static int check_destination(const char *db, const char *to, bool force, app_err *err)
{
    struct stat st;
    if (stat(to, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return app_err_set(err, APP_STORE_UNAVAILABLE, "cannot inspect %s: %s", to, strerror(errno));
    }
    char side[4200];
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (snprintf(side, sizeof side, "%s%s", db, suffixes[i]) >= (int)sizeof side)
            return app_err_set(err, APP_VALIDATION_ERROR, "the database path is too long");
        if (same_file(&st, side))
            return app_err_field(err, "to", "is the database's own file %s: choose another destination", side);
    }
    if (S_ISDIR(st.st_mode))
        return app_err_field(err, "to", "%s is a directory: name the backup file", to);
    if (!force)
        return app_err_field(err, "to", "%s exists: pass --force to replace it", to);
    return 0;
}

/*
 * Opens the source read-only and holds a read transaction on it, so that every step copies from
 * the same snapshot; reads the schema version inside it, which also tells a starmeter database
 * from another file.
 */
static int open_source(const char *db, sqlite3 **out, int64_t *version, app_err *err)
{
    struct stat st;
    if (stat(db, &st) != 0)
        return errno == ENOENT ? app_err_set(err, APP_NOT_FOUND, "no database at %s", db)
                               : app_err_set(err, APP_STORE_UNAVAILABLE, "cannot inspect %s: %s", db, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return app_err_set(err, APP_NOT_FOUND, "%s is not a database file", db);
    sqlite3 *src = NULL;
    sqlite3_stmt *st_version = NULL;
    int rc = 0;
    /* Read-write (never create) only so that, when no server has the database open, closing this
     * connection checkpoints and removes the -wal and -shm as any last connection does; a file
     * this user may only read is opened read-only by SQLite, which works too. */
    if (sqlite3_open_v2(db, &src, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(src, 1000) != SQLITE_OK) {
        rc = sqlite_fail(err, src, "open the database");
        goto out;
    }
    uint64_t busy_since = clock_mono_ns();
    for (;;) {
        int r = sqlite3_exec(src, "BEGIN", NULL, NULL, NULL);
        if (r == SQLITE_OK) {
            r = sqlite3_prepare_v2(src, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &st_version,
                                   NULL);
            if (r == SQLITE_OK && (r = sqlite3_step(st_version)) == SQLITE_ROW) {
                *version = sqlite3_column_int64(st_version, 0);
                break;
            }
            if (r == SQLITE_ERROR && strstr(sqlite3_errmsg(src), "no such table") != NULL) {
                rc = app_err_set(err, APP_NOT_FOUND, "%s is not a starmeter database (no schema_migrations)", db);
                goto out;
            }
            sqlite3_finalize(st_version);
            st_version = NULL;
            sqlite3_exec(src, "ROLLBACK", NULL, NULL, NULL);
        }
        if (!is_busy(r) || clock_mono_ns() - busy_since > (uint64_t)BUSY_GIVE_UP_MS * 1000000u) {
            rc = sqlite_fail(err, src, "read the database");
            goto out;
        }
        pause_ms(BUSY_PAUSE_MS);
    }
out:
    /* The read transaction outlives the statement: it ends at COMMIT, after the last step. */
    sqlite3_finalize(st_version);
    if (rc != 0) {
        sqlite3_close(src);
        src = NULL;
    }
    *out = src;
    return rc;
}

/* Copies every page of `src` (whose snapshot is held) into `dst`, step by step. */
static int copy_pages(sqlite3 *src, sqlite3 *dst, int64_t pages_per_step, backup_stats *stats, app_err *err)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (b == NULL)
        return sqlite_fail(err, dst, "start the backup");
    uint64_t busy_since = 0;
    int r;
    for (;;) {
        r = sqlite3_backup_step(b, (int)pages_per_step);
        if (r == SQLITE_DONE)
            break;
        if (r == SQLITE_OK) {
            stats->steps++;
            busy_since = 0;
            pause_ms(STEP_PAUSE_MS);
            continue;
        }
        if (!is_busy(r))
            break;
        stats->busy_retries++;
        if (busy_since == 0)
            busy_since = clock_mono_ns();
        else if (clock_mono_ns() - busy_since > (uint64_t)BUSY_GIVE_UP_MS * 1000000u)
            break;
        pause_ms(BUSY_PAUSE_MS);
    }
    stats->steps++;
    stats->pages = sqlite3_backup_pagecount(b);
    int fin = sqlite3_backup_finish(b);
    if (r != SQLITE_DONE)
        return app_err_set(err, APP_STORE_UNAVAILABLE, "sqlite backup step failed: %s (%d)", sqlite3_errstr(r), r);
    if (fin != SQLITE_OK)
        return sqlite_fail(err, dst, "finish the backup");
    return 0;
}

/* Checks the copy's structure; store_unavailable naming the first problem otherwise. */
static int check_copy(sqlite3 *dst, int64_t *page_size, app_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(dst, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = sqlite_fail(err, dst, "check the copy");
        goto out;
    }
    const char *verdict = (const char *)sqlite3_column_text(st, 0);
    if (verdict == NULL || strcmp(verdict, "ok") != 0) {
        rc = app_err_set(err, APP_STORE_UNAVAILABLE, "the copy is damaged: %s", verdict ? verdict : "(no answer)");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(dst, "PRAGMA page_size", -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        rc = sqlite_fail(err, dst, "read the copy's page size");
        goto out;
    }
    *page_size = sqlite3_column_int64(st, 0);
out:
    sqlite3_finalize(st);
    return rc;
}

/* Flushes a file (or a directory) to stable storage; sets *bytes to its size when not NULL. */
static int sync_path(const char *path, bool dir, int64_t *bytes, app_err *err)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return app_err_set(err, APP_STORE_UNAVAILABLE, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fsync(fd) != 0)
        rc = app_err_set(err, APP_STORE_UNAVAILABLE, "cannot fsync %s: %s", path, strerror(errno));
    else if (bytes != NULL && fstat(fd, &st) != 0)
        rc = app_err_set(err, APP_STORE_UNAVAILABLE, "cannot inspect %s: %s", path, strerror(errno));
    else if (bytes != NULL)
        *bytes = (int64_t)st.st_size;
    close(fd);
    return rc;
}

/* Moves the finished copy to `to`: rename when replacing is allowed, link (which never replaces) otherwise. */
static int install(const char *tmp, const char *to, bool force, app_err *err)
{
    if (force) {
        if (rename(tmp, to) != 0)
            return app_err_set(err, APP_STORE_UNAVAILABLE, "cannot rename %s to %s: %s", tmp, to, strerror(errno));
    } else {
        if (link(tmp, to) != 0)
            return errno == EEXIST
                       ? app_err_field(err, "to", "%s appeared meanwhile: pass --force to replace it", to)
                       : app_err_set(err, APP_STORE_UNAVAILABLE, "cannot link %s to %s: %s", tmp, to, strerror(errno));
        unlink(tmp);
    }
    char dir[4200];
    if (str_copy(dir, sizeof dir, to) < 0)
        return app_err_set(err, APP_VALIDATION_ERROR, "the destination path is too long");
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        str_copy(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    return sync_path(dir, true, NULL, err);
}

/* Removes a temporary copy and whatever SQLite kept beside it. */
static void remove_temporary(const char *tmp)
{
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    char path[4200];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (snprintf(path, sizeof path, "%s%s", tmp, suffixes[i]) < (int)sizeof path)
            unlink(path);
}

int backup_sqlite_take(const char *db, const char *to, const backup_opts *opts, backup_stats *stats, app_err *err)
{
    backup_stats n = {0};
    int64_t per_step = opts->pages_per_step > 0 ? opts->pages_per_step : BACKUP_PAGES_PER_STEP;
    if (per_step > INT32_MAX)
        per_step = INT32_MAX;
    uint64_t t0 = clock_mono_ns();
    sqlite3 *src = NULL, *dst = NULL;
    char tmp[4200] = "";
    int rc;
    if (db[0] == '\0' || to[0] == '\0')
        return app_err_field(err, db[0] == '\0' ? "db" : "to", "needs a path");
    if ((rc = check_destination(db, to, opts->force, err)) != 0)
        return rc;
    if ((rc = open_source(db, &src, &n.schema_version, err)) != 0)
        return rc;

    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", to) >= (int)sizeof tmp) {
        tmp[0] = '\0';
        rc = app_err_set(err, APP_VALIDATION_ERROR, "the destination path is too long");
        goto out;
    }
    int fd = mkstemp(tmp); /* mode 0600: the copy holds key hashes and billing data */
    if (fd < 0) {
        rc = app_err_set(err, APP_STORE_UNAVAILABLE, "cannot create a temporary file beside %s: %s", to,
                         strerror(errno));
        tmp[0] = '\0';
        goto out;
    }
    close(fd);
    /* The copy is fsynced once, whole, before the rename: no journal or sync of its own is needed. */
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_exec(dst, "PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF", NULL, NULL, NULL) != SQLITE_OK) {
        rc = sqlite_fail(err, dst, "create the copy");
        goto out;
    }
    if ((rc = copy_pages(src, dst, per_step, &n, err)) != 0)
        goto out;
    /* The snapshot is no longer needed: let the server's checkpoints past it at once. */
    sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(src);
    src = NULL;
    if ((rc = check_copy(dst, &n.page_size, err)) != 0)
        goto out;
    if (sqlite3_close(dst) != SQLITE_OK) {
        rc = sqlite_fail(err, dst, "close the copy");
        goto out;
    }
    dst = NULL;
    if ((rc = sync_path(tmp, false, &n.bytes, err)) != 0 || (rc = install(tmp, to, opts->force, err)) != 0)
        goto out;
    tmp[0] = '\0';
    n.seconds = (double)(clock_mono_ns() - t0) / 1e9;
    if (stats != NULL)
        *stats = n;
out:
    if (src != NULL) {
        sqlite3_exec(src, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(src);
    }
    sqlite3_close(dst);
    if (tmp[0] != '\0')
        remove_temporary(tmp);
    return rc;
}
