/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/embedded.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/str.h"
#include "infra/store.h"

/*
 * The WAL's bounds. A commit that leaves the WAL past WAL_CHECKPOINT_BYTES (SQLite's default of
 * 1000 pages of 4 KiB) runs a PASSIVE checkpoint; RESTART, which may wait for readers, only past
 * WAL_RESTART_BYTES, which a reader of another connection must have pinned. Both sit well under
 * the 64 MiB the WAL must never reach. (A checkpointing thread with its own connection, tried,
 * made the writer's stalls longer and more frequent here: its fsyncs contend with the appends.)
 */
#define WAL_CHECKPOINT_BYTES (4 * 1024 * 1024)
#define WAL_RESTART_BYTES (32 * 1024 * 1024)
/* How long a RESTART checkpoint may hold the writer up waiting for readers. */
#define WAL_RESTART_WAIT_MS 100
#define BUSY_TIMEOUT_MS 5000
/*
 * The page size of a new database. Every page a transaction touches goes to the WAL whole, and an
 * admin write touches four or five (a table's leaf, its indexes' leaves, the audit chain's): the
 * page size is the write amplification. Measured over admin writes on a database of 3,000 accounts
 * and keys (tests/unit/infra/test_store_wal.c): 17.5 KB of WAL per write at 4096, 9.5 KB at 2048,
 * 5.6 KB at 1024, for a database 7% larger. Rows here are small, and reads are served by caches.
 */
#define WAL_PAGE_SIZE "1024"

/*
 * One connection, serialised by a mutex. SQLite in WAL mode commits in microseconds on this kind
 * of machine; the metered hot path never calls the store directly (DESIGN.md section 7).
 */
typedef struct sqlite_store {
    store super;
    sqlite3 *db;
    pthread_mutex_t mu;
    /* The database and its WAL, for stats: read without the mutex, never written after open. */
    char *path, *wal_path;
    /*
     * The database, its WAL and its shared-memory index as they were when first seen: a path that
     * no longer leads to the same file means the files this connection writes were deleted or
     * replaced (see files_check). Guarded by the mutex.
     */
    struct {
        char *path;
        bool seen;
        dev_t dev;
        ino_t ino;
    } files[3];
    /* Set once the files are found gone, for good: the connection writes into unlinked files. */
    atomic_bool files_gone;
    /* The connection's current synchronous level: false FULL, true NORMAL (durable=false batches). */
    bool sync_normal;
    /* A commit made with synchronous=NORMAL whose WAL frames may not be on stable storage yet. */
    atomic_bool unsynced;
    /* Set by on_wal_commit: the last commit wrote frames (one that changed nothing writes none,
     * and does not fsync the WAL whatever the synchronous level). */
    bool wrote_frames;
    /* WAL sizes, in frames, that trigger a PASSIVE checkpoint, and a RESTART one (see on_wal_commit). */
    int ckpt_frames, restart_frames;
    /* The WAL's size at the last RESTART attempt, so that a pinned log costs one wait per ckpt_frames. */
    int restart_tried_at;
    sqlite3_stmt *ping;
    sqlite3_stmt *version;
    /* Prepared statements by their (static) SQL text, prepared on first use. */
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[128];
    size_t ncache;
} sqlite_store;

static int fail(app_err *err, sqlite3 *db, const char *what)
{
    int rc = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
    /* Library text can carry a path; it goes to the operator's log, never into a response body. */
    return app_err_set(err, APP_STORE_UNAVAILABLE, "sqlite %s failed: %s (%d)", what,
                       db ? sqlite3_errmsg(db) : "no connection", rc);
}

/*
 * Whether the files this connection writes are still the ones at their paths: an operator's rm or
 * a deploy that swapped the directory leaves SQLite writing happily into unlinked files, whose
 * every change is lost at the next start. A few stat calls, under the mutex, before each write
 * transaction and each ping. Once gone, gone for good: only a restart reopens the path.
 */
static int files_check(sqlite_store *s, app_err *err)
{
    for (size_t i = 0; i < sizeof s->files / sizeof s->files[0] && !atomic_load(&s->files_gone); i++) {
        struct stat st;
        bool present = stat(s->files[i].path, &st) == 0;
        if (!s->files[i].seen) {
            /* The WAL and the index exist once the connection has read; the database from the start. */
            s->files[i].seen = present;
            s->files[i].dev = present ? st.st_dev : 0;
            s->files[i].ino = present ? st.st_ino : 0;
        } else if (!present || st.st_dev != s->files[i].dev || st.st_ino != s->files[i].ino) {
            atomic_store(&s->files_gone, true);
        }
    }
    if (atomic_load(&s->files_gone))
        return app_err_set(err, APP_STORE_UNAVAILABLE,
                           "the database files at %s were deleted or replaced while open; nothing more is written: "
                           "restore them and restart",
                           s->path);
    return 0;
}

static int sqlite_ping(store *self, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    pthread_mutex_lock(&s->mu);
    int rc = files_check(s, err);
    int step = rc == 0 ? sqlite3_step(s->ping) : SQLITE_ROW;
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
    /* Another process may have applied it between our read of the version and BEGIN. */
    int version = 0;
    if ((rc = read_version(s, &version, err)) != 0)
        goto out;
    if (version >= number) {
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        goto out;
    }
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

static int set_sync(sqlite_store *s, bool normal, app_err *err);

static int sqlite_migrate(store *self, int *applied, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0, version = 0;
    *applied = 0;
    pthread_mutex_lock(&s->mu);
    if ((rc = set_sync(s, false, err)) != 0 || (rc = read_version(s, &version, err)) != 0)
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

/* ---- helpers (called with the mutex held) ---- */

/*
 * Releases the connection: every cached statement is reset first, because a statement left on a
 * row keeps its read transaction open, pinning an old snapshot (stale reads, no checkpoints).
 */
static void unlock(struct sqlite_store *s);

/* The prepared statement for `sql` (a string literal: cached by address), reset and unbound. */
static sqlite3_stmt *stmt(sqlite_store *s, const char *sql, app_err *err)
{
    for (size_t i = 0; i < s->ncache; i++) {
        if (s->cache[i].sql == sql) {
            sqlite3_reset(s->cache[i].st);
            sqlite3_clear_bindings(s->cache[i].st);
            return s->cache[i].st;
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail(err, s->db, "prepare");
        return NULL;
    }
    if (s->ncache == sizeof s->cache / sizeof s->cache[0]) {
        /* Sized for every statement of this file: one more is a programming error, which the
         * first test run meets, rather than a statement leaked on each call. */
        sqlite3_finalize(st);
        app_err_set(err, APP_INTERNAL_ERROR, "sqlite statement cache full: enlarge it");
        return NULL;
    }
    s->cache[s->ncache].sql = sql;
    s->cache[s->ncache].st = st;
    s->ncache++;
    return st;
}

static void bind_opt(sqlite3_stmt *st, int i, opt_i64 v)
{
    if (v.present)
        sqlite3_bind_int64(st, i, v.v);
    else
        sqlite3_bind_null(st, i);
}

static opt_i64 col_opt(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? opt_none() : opt_some(sqlite3_column_int64(st, i));
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    str_copy(out, cap, t ? t : "");
}

/* Runs a statement that returns no row. */
static int exec_done(sqlite_store *s, sqlite3_stmt *st, const char *what, app_err *err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    /* The library's text names tables and columns: it stays out of the message a client sees. */
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return app_err_set(err, APP_VALIDATION_ERROR, "%s violates a constraint of the data model", what);
    return fail(err, s->db, what);
}

static int tx_begin(sqlite_store *s, app_err *err)
{
    return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(err, s->db, "begin");
}

static void reset_all(sqlite_store *s)
{
    for (size_t i = 0; i < s->ncache; i++)
        sqlite3_reset(s->cache[i].st);
}

/*
 * Sets the synchronous level of the next commits: FULL (the commit fsyncs the WAL) or NORMAL (the
 * frames are written, not fsynced: they survive a crash of the process, not a power loss). The
 * pragma (about 3 µs) runs only when the level changes, so a stream of batches of one kind pays
 * nothing; sqlite3_exec measured faster here than a cached prepared pragma.
 */
static int set_sync(sqlite_store *s, bool normal, app_err *err)
{
    if (s->sync_normal == normal)
        return 0;
    if (sqlite3_exec(s->db, normal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", NULL, NULL, NULL) !=
        SQLITE_OK)
        return fail(err, s->db, "set synchronous");
    s->sync_normal = normal;
    return 0;
}

/* Before a write: the files are still there (files_check), then the synchronous level (set_sync). */
static int write_prepare(sqlite_store *s, bool normal, app_err *err)
{
    int rc = files_check(s, err);
    return rc != 0 ? rc : set_sync(s, normal, err);
}

static int tx_end(sqlite_store *s, int rc, app_err *err)
{
    /*
     * No statement may still be on a row at COMMIT: it would hold the connection's read
     * transaction open past it, and the checkpoint run by the commit could not proceed.
     */
    reset_all(s);
    s->wrote_frames = false;
    if (rc == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fail(err, s->db, "commit");
    if (rc != 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    else if (s->sync_normal)
        atomic_store(&s->unsynced, true);
    else if (s->wrote_frames)
        /* A FULL commit that wrote fsyncs the whole WAL, so earlier NORMAL commits are durable too;
         * one that changed nothing (the webhook sender's idle lease) fsyncs nothing. */
        atomic_store(&s->unsynced, false);
    return rc;
}

static void unlock(sqlite_store *s)
{
    reset_all(s);
    pthread_mutex_unlock(&s->mu);
}

/* Takes the connection and returns the prepared `sql`; NULL (connection still taken) on failure. */
static sqlite3_stmt *locked_stmt(sqlite_store *s, const char *sql, app_err *err)
{
    pthread_mutex_lock(&s->mu);
    return stmt(s, sql, err);
}

typedef void (*row_fn)(sqlite3_stmt *st, void *out);

/* Steps a bound statement, filling up to `cap` elements of `size` bytes with `row`. */
static int collect(sqlite_store *s, sqlite3_stmt *st, row_fn row, void *out, size_t size, size_t cap, size_t *n,
                   const char *what, app_err *err)
{
    int step;
    *n = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && *n < cap)
        row(st, (char *)out + (*n)++ * size);
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : fail(err, s->db, what);
}

/*
 * A write: takes the connection and opens a transaction (write_begin), then appends the change's
 * audit event, commits or rolls back, and releases the connection (write_end), so that a change
 * and its audit record are one transaction on every path.
 */
static int write_begin(sqlite_store *s, app_err *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = write_prepare(s, false, err);
    if (rc == 0)
        rc = tx_begin(s, err);
    if (rc != 0)
        unlock(s);
    return rc;
}

static int audit_append(sqlite_store *s, audit_event *ev, app_err *err);

static int write_end(sqlite_store *s, int rc, audit_event *audit, app_err *err)
{
    if (rc == 0)
        rc = audit_append(s, audit, err);
    rc = tx_end(s, rc, err);
    unlock(s);
    return rc;
}

static const char SQL_AUDIT_LAST[] = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1";
static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO audit_events(seq, at, actor, action, target, account_id, details, request_id, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static int insert_audit(sqlite_store *s, const audit_event *ev, app_err *err);

/* Appends `ev` to the chain; inside the caller's transaction. */
static int audit_append(sqlite_store *s, audit_event *ev, app_err *err)
{
    if (ev == NULL)
        return 0;
    sqlite3_stmt *st = stmt(s, SQL_AUDIT_LAST, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    int rc = sqlite3_step(st);
    memset(ev->prev_hash, 0, sizeof ev->prev_hash);
    ev->seq = 1;
    if (rc == SQLITE_ROW) {
        ev->seq = sqlite3_column_int64(st, 0) + 1;
        if (sqlite3_column_bytes(st, 1) == HASH_LEN)
            memcpy(ev->prev_hash, sqlite3_column_blob(st, 1), HASH_LEN);
    } else if (rc != SQLITE_DONE) {
        return fail(err, s->db, "read audit chain");
    }
    /*
     * Left on its row, this statement would keep a read transaction open across the COMMIT: the
     * checkpoint that follows the commit then fails (SQLITE_LOCKED), and the WAL grew without bound.
     */
    sqlite3_reset(st);
    hash_audit_event(ev, ev->hash);
    return insert_audit(s, ev, err);
}

/* Inserts `ev` with its seq and hashes as they are; inside the caller's transaction. */
static int insert_audit(sqlite_store *s, const audit_event *ev, app_err *err)
{
    sqlite3_stmt *st = stmt(s, SQL_AUDIT_INSERT, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_int64(st, 1, ev->seq);
    sqlite3_bind_int64(st, 2, ev->at);
    sqlite3_bind_text(st, 3, ev->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ev->action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, ev->target, -1, SQLITE_STATIC);
    bind_opt(st, 6, ev->account_id);
    sqlite3_bind_text(st, 7, ev->details, -1, SQLITE_STATIC);
    if (ev->request_id[0])
        sqlite3_bind_text(st, 8, ev->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, ev->prev_hash, HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 10, ev->hash, HASH_LEN, SQLITE_STATIC);
    return exec_done(s, st, "append audit event", err);
}

/* The outbox of webhooks, written inside a caller's transaction (defined with the webhooks below). */
static int sqlite_webhook_enqueue_tx(sqlite_store *s, int64_t account_id, const char *event_type, const char *msg_id,
                                     const char *body, int64_t now_ms, size_t *n_enqueued, app_err *err);
/* store copy's rows of webhooks (with the webhooks' code, below). */
static int import_webhook(sqlite_store *s, const webhook *w, app_err *err);
static int import_delivery(sqlite_store *s, const webhook_delivery *d, app_err *err);

/* Bodies run as `lock; do { ... break on error ... } while (0); unlock`, so every exit unlocks. */

/* ---- accounts ---- */

static const char SQL_ACCOUNT_INSERT[] = "INSERT INTO accounts(name, status, created_at) VALUES (?, ?, ?)";
static const char SQL_ACCOUNT_GET[] = "SELECT id, name, status, created_at FROM accounts WHERE id = ?";
static const char SQL_ACCOUNT_LIST[] = "SELECT id, name, status, created_at FROM accounts "
                                       "WHERE id > ? AND (? < 0 OR status = CASE ? WHEN 1 THEN 'suspended' ELSE "
                                       "'active' END) ORDER BY id LIMIT ?";
static const char SQL_ACCOUNT_STATUS[] = "UPDATE accounts SET status = ? WHERE id = ?";

static const char *account_status_text(account_status st)
{
    return st == ACCOUNT_SUSPENDED ? "suspended" : "active";
}

static void row_account(sqlite3_stmt *st, void *out)
{
    account *a = out;
    a->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, a->name, sizeof a->name);
    const char *status = (const char *)sqlite3_column_text(st, 2);
    a->status = status && strcmp(status, "suspended") == 0 ? ACCOUNT_SUSPENDED : ACCOUNT_ACTIVE;
    a->created_at = sqlite3_column_int64(st, 3);
}

static int sqlite_account_create(store *self, account *io, audit_event *audit, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        sqlite3_stmt *st = stmt(s, SQL_ACCOUNT_INSERT, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_text(st, 1, io->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, account_status_text(io->status), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, io->created_at);
        rc = exec_done(s, st, "create account", err);
        if (rc == 0) {
            io->id = sqlite3_last_insert_rowid(s->db);
            if (audit != NULL) {
                audit->account_id = opt_some(io->id);
                snprintf(audit->target, sizeof audit->target, "account:%lld", (long long)io->id);
            }
        }
    } while (0);
    return write_end(s, rc, audit, err);
}

static int sqlite_account_get(store *self, int64_t id, account *out, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    do {
        sqlite3_stmt *st = stmt(s, SQL_ACCOUNT_GET, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_int64(st, 1, id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            row_account(st, out);
        else if (step == SQLITE_DONE)
            rc = app_err_set(err, APP_NOT_FOUND, "account %lld not found", (long long)id);
        else
            rc = fail(err, s->db, "get account");
    } while (0);
    unlock(s);
    return rc;
}

static int sqlite_account_list(store *self, int status, int64_t after, account *out, size_t cap, size_t *n,
                               app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_ACCOUNT_LIST, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int(st, 2, status);
        sqlite3_bind_int(st, 3, status);
        sqlite3_bind_int64(st, 4, (int64_t)cap);
        rc = collect(s, st, row_account, out, sizeof *out, cap, n, "list accounts", err);
    }
    unlock(s);
    return rc;
}

static int sqlite_account_set_status(store *self, int64_t id, account_status status, audit_event *audit, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        sqlite3_stmt *st = stmt(s, SQL_ACCOUNT_STATUS, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_text(st, 1, account_status_text(status), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, id);
        rc = exec_done(s, st, "update account", err);
        if (rc == 0 && sqlite3_changes(s->db) == 0)
            rc = app_err_set(err, APP_NOT_FOUND, "account %lld not found", (long long)id);
    } while (0);
    return write_end(s, rc, audit, err);
}

/* ---- plans ---- */

#define PLAN_COLS                                                                                                      \
    "id, code, name, daily_limit, monthly_limit, limit_mode, overage_cap, rate_per_second, burst, "                    \
    "credential_rate_per_second, credential_burst, metered, created_at, updated_at, alert_thresholds"
static const char SQL_PLAN_INSERT[] =
    "INSERT INTO plans(code, name, daily_limit, monthly_limit, limit_mode, overage_cap, rate_per_second, burst, "
    "credential_rate_per_second, credential_burst, metered, created_at, updated_at, alert_thresholds) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_PLAN_UPDATE[] =
    "UPDATE plans SET name = ?, daily_limit = ?, monthly_limit = ?, limit_mode = ?, overage_cap = ?, "
    "rate_per_second = ?, burst = ?, credential_rate_per_second = ?, credential_burst = ?, metered = ?, "
    "updated_at = ?, alert_thresholds = ? WHERE id = ?";
static const char SQL_PLAN_GET[] = "SELECT " PLAN_COLS " FROM plans WHERE id = ?";
static const char SQL_PLAN_GET_CODE[] = "SELECT " PLAN_COLS " FROM plans WHERE code = ?";
static const char SQL_PLAN_LIST[] = "SELECT " PLAN_COLS " FROM plans WHERE id > ? ORDER BY id LIMIT ?";

static const char *mode_text(limit_mode m)
{
    return m == LIMIT_OVERAGE ? "overage" : "block";
}

/*
 * The alert thresholds of a column in their text form ("80,100"); a value the schema's CHECK
 * should have refused reads as no alerts rather than as someone else's.
 */
static alert_set col_alerts(sqlite3_stmt *st, int i)
{
    alert_set a = {0};
    const char *text = (const char *)sqlite3_column_text(st, i);
    if (text != NULL)
        alert_set_parse(text, &a);
    return a;
}

static void bind_alerts(sqlite3_stmt *st, int i, const alert_set *a)
{
    char text[ALERT_SET_TEXT_MAX];
    alert_set_format(a, text);
    sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
}

/* Reads a plan from the columns PLAN_COLS names, starting at column `b`. */
static void plan_at(sqlite3_stmt *st, int b, plan *p)
{
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(st, b + 0);
    col_text(st, b + 1, p->code, sizeof p->code);
    col_text(st, b + 2, p->name, sizeof p->name);
    p->limits.daily_limit = col_opt(st, b + 3);
    p->limits.monthly_limit = col_opt(st, b + 4);
    const char *mode = (const char *)sqlite3_column_text(st, b + 5);
    p->limits.mode = mode && strcmp(mode, "overage") == 0 ? LIMIT_OVERAGE : LIMIT_BLOCK;
    p->limits.overage_cap = col_opt(st, b + 6);
    p->limits.rate_per_second = sqlite3_column_int64(st, b + 7);
    p->limits.burst = sqlite3_column_int64(st, b + 8);
    p->limits.credential_rate_per_second = sqlite3_column_int64(st, b + 9);
    p->limits.credential_burst = sqlite3_column_int64(st, b + 10);
    p->metered = sqlite3_column_int(st, b + 11) != 0;
    p->created_at = sqlite3_column_int64(st, b + 12);
    p->updated_at = sqlite3_column_int64(st, b + 13);
    p->limits.alerts = col_alerts(st, b + 14);
}

static void row_plan(sqlite3_stmt *st, void *out)
{
    plan_at(st, 0, out);
}

/* Binds the limits at parameters first..first+8 (daily, monthly, mode, cap, rate, burst, crate, cburst, metered). */
static void bind_plan_limits(sqlite3_stmt *st, int first, const plan *p)
{
    bind_opt(st, first, p->limits.daily_limit);
    bind_opt(st, first + 1, p->limits.monthly_limit);
    sqlite3_bind_text(st, first + 2, mode_text(p->limits.mode), -1, SQLITE_STATIC);
    bind_opt(st, first + 3, p->limits.overage_cap);
    sqlite3_bind_int64(st, first + 4, p->limits.rate_per_second);
    sqlite3_bind_int64(st, first + 5, p->limits.burst);
    sqlite3_bind_int64(st, first + 6, p->limits.credential_rate_per_second);
    sqlite3_bind_int64(st, first + 7, p->limits.credential_burst);
    sqlite3_bind_int(st, first + 8, p->metered ? 1 : 0);
}

static int sqlite_plan_create(store *self, plan *io, audit_event *audit, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        sqlite3_stmt *st = stmt(s, SQL_PLAN_INSERT, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_text(st, 1, io->code, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, io->name, -1, SQLITE_STATIC);
        bind_plan_limits(st, 3, io);
        sqlite3_bind_int64(st, 12, io->created_at);
        bind_alerts(st, 14, &io->limits.alerts);
        sqlite3_bind_int64(st, 13, io->updated_at);
        int step = sqlite3_step(st);
        if (step == SQLITE_CONSTRAINT || sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
            rc = app_err_field(err, "code", "a plan with code \"%s\" already exists", io->code);
        else if (step != SQLITE_DONE)
            rc = fail(err, s->db, "create plan");
        if (rc == 0) {
            io->id = sqlite3_last_insert_rowid(s->db);
        }
    } while (0);
    return write_end(s, rc, audit, err);
}

static int plan_get_by(sqlite_store *s, const char *sql, int64_t id, const char *code, plan *out, app_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    do {
        sqlite3_stmt *st = stmt(s, sql, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        if (code != NULL)
            sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, 1, id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            row_plan(st, out);
        else if (step == SQLITE_DONE)
            rc = code ? app_err_set(err, APP_NOT_FOUND, "plan \"%s\" not found", code)
                      : app_err_set(err, APP_NOT_FOUND, "plan %lld not found", (long long)id);
        else
            rc = fail(err, s->db, "get plan");
    } while (0);
    unlock(s);
    return rc;
}

static int sqlite_plan_get(store *self, int64_t id, plan *out, app_err *err)
{
    return plan_get_by((sqlite_store *)self, SQL_PLAN_GET, id, NULL, out, err);
}

static int sqlite_plan_get_by_code(store *self, const char *code, plan *out, app_err *err)
{
    return plan_get_by((sqlite_store *)self, SQL_PLAN_GET_CODE, 0, code, out, err);
}

static int sqlite_plan_list(store *self, int64_t after, plan *out, size_t cap, size_t *n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_PLAN_LIST, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, (int64_t)cap);
        rc = collect(s, st, row_plan, out, sizeof *out, cap, n, "list plans", err);
    }
    unlock(s);
    return rc;
}

static int sqlite_plan_update(store *self, const plan *p, audit_event *audit, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        sqlite3_stmt *st = stmt(s, SQL_PLAN_UPDATE, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
        bind_plan_limits(st, 2, p);
        sqlite3_bind_int64(st, 11, p->updated_at);
        bind_alerts(st, 12, &p->limits.alerts);
        sqlite3_bind_int64(st, 13, p->id);
        rc = exec_done(s, st, "update plan", err);
        if (rc == 0 && sqlite3_changes(s->db) == 0)
            rc = app_err_set(err, APP_NOT_FOUND, "plan %lld not found", (long long)p->id);
    } while (0);
    return write_end(s, rc, audit, err);
}

/* ---- contracts ---- */

static const char SQL_CONTRACT_PUT[] =
    "INSERT INTO contracts(account_id, plan_id, daily_limit, daily_limit_set, monthly_limit, monthly_limit_set, "
    "limit_mode, overage_cap, overage_cap_set, rate_per_second, burst, credential_rate_per_second, credential_burst, "
    "timezone, starts_at, ends_at, updated_at, alert_thresholds) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(account_id) DO UPDATE SET plan_id = excluded.plan_id, daily_limit = excluded.daily_limit, "
    "daily_limit_set = excluded.daily_limit_set, monthly_limit = excluded.monthly_limit, "
    "monthly_limit_set = excluded.monthly_limit_set, limit_mode = excluded.limit_mode, "
    "overage_cap = excluded.overage_cap, overage_cap_set = excluded.overage_cap_set, "
    "rate_per_second = excluded.rate_per_second, burst = excluded.burst, "
    "credential_rate_per_second = excluded.credential_rate_per_second, "
    "credential_burst = excluded.credential_burst, timezone = excluded.timezone, "
    "ends_at = excluded.ends_at, updated_at = excluded.updated_at, alert_thresholds = excluded.alert_thresholds";
#define CONTRACT_COLS                                                                                                  \
    "account_id, plan_id, daily_limit, daily_limit_set, monthly_limit, monthly_limit_set, limit_mode, "                \
    "overage_cap, overage_cap_set, rate_per_second, burst, credential_rate_per_second, credential_burst, timezone, "   \
    "starts_at, ends_at, updated_at, alert_thresholds"
static const char SQL_CONTRACT_GET[] = "SELECT " CONTRACT_COLS " FROM contracts WHERE account_id = ?";
static const char SQL_CONTRACT_LIST[] =
    "SELECT " CONTRACT_COLS " FROM contracts WHERE account_id > ? ORDER BY account_id LIMIT ?";

static void bind_opt_if(sqlite3_stmt *st, int i, bool set, int64_t v)
{
    bind_opt(st, i, set ? opt_some(v) : opt_none());
}

/* Binds every column of SQL_CONTRACT_PUT. */
static void bind_contract(sqlite3_stmt *st, const contract *c)
{
    const limits *o = &c->overrides;
    sqlite3_bind_int64(st, 1, c->account_id);
    sqlite3_bind_int64(st, 2, c->plan_id);
    bind_opt(st, 3, (c->overridden & OVR_DAILY_LIMIT) ? o->daily_limit : opt_none());
    sqlite3_bind_int(st, 4, (c->overridden & OVR_DAILY_LIMIT) ? 1 : 0);
    bind_opt(st, 5, (c->overridden & OVR_MONTHLY_LIMIT) ? o->monthly_limit : opt_none());
    sqlite3_bind_int(st, 6, (c->overridden & OVR_MONTHLY_LIMIT) ? 1 : 0);
    if (c->overridden & OVR_MODE)
        sqlite3_bind_text(st, 7, mode_text(o->mode), -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    bind_opt(st, 8, (c->overridden & OVR_OVERAGE_CAP) ? o->overage_cap : opt_none());
    sqlite3_bind_int(st, 9, (c->overridden & OVR_OVERAGE_CAP) ? 1 : 0);
    bind_opt_if(st, 10, c->overridden & OVR_RATE, o->rate_per_second);
    bind_opt_if(st, 11, c->overridden & OVR_BURST, o->burst);
    bind_opt_if(st, 12, c->overridden & OVR_CRED_RATE, o->credential_rate_per_second);
    bind_opt_if(st, 13, c->overridden & OVR_CRED_BURST, o->credential_burst);
    sqlite3_bind_text(st, 14, c->timezone, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 15, c->starts_at);
    bind_opt(st, 16, c->ends_at);
    sqlite3_bind_int64(st, 17, c->updated_at);
    if (c->overridden & OVR_ALERTS)
        bind_alerts(st, 18, &o->alerts);
    else
        sqlite3_bind_null(st, 18);
}

static int sqlite_contract_put(store *self, const contract *c, audit_event *audit, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        sqlite3_stmt *st = stmt(s, SQL_CONTRACT_PUT, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        bind_contract(st, c);
        rc = exec_done(s, st, "put contract", err);
    } while (0);
    return write_end(s, rc, audit, err);
}

/* Reads a contract from the columns CONTRACT_COLS names, starting at column `b`. */
static void contract_at(sqlite3_stmt *st, int b, contract *out)
{
    memset(out, 0, sizeof *out);
    out->account_id = sqlite3_column_int64(st, b + 0);
    out->plan_id = sqlite3_column_int64(st, b + 1);
    limits *o = &out->overrides;
    if (sqlite3_column_int(st, b + 3)) {
        out->overridden |= OVR_DAILY_LIMIT;
        o->daily_limit = col_opt(st, b + 2);
    }
    if (sqlite3_column_int(st, b + 5)) {
        out->overridden |= OVR_MONTHLY_LIMIT;
        o->monthly_limit = col_opt(st, b + 4);
    }
    if (sqlite3_column_type(st, b + 6) != SQLITE_NULL) {
        out->overridden |= OVR_MODE;
        o->mode = strcmp((const char *)sqlite3_column_text(st, b + 6), "overage") == 0 ? LIMIT_OVERAGE : LIMIT_BLOCK;
    }
    if (sqlite3_column_int(st, b + 8)) {
        out->overridden |= OVR_OVERAGE_CAP;
        o->overage_cap = col_opt(st, b + 7);
    }
    static const unsigned bits[] = {OVR_RATE, OVR_BURST, OVR_CRED_RATE, OVR_CRED_BURST};
    int64_t *fields[] = {&o->rate_per_second, &o->burst, &o->credential_rate_per_second, &o->credential_burst};
    for (int i = 0; i < 4; i++) {
        if (sqlite3_column_type(st, b + 9 + i) != SQLITE_NULL) {
            out->overridden |= bits[i];
            *fields[i] = sqlite3_column_int64(st, b + 9 + i);
        }
    }
    col_text(st, b + 13, out->timezone, sizeof out->timezone);
    out->starts_at = sqlite3_column_int64(st, b + 14);
    out->ends_at = col_opt(st, b + 15);
    out->updated_at = sqlite3_column_int64(st, b + 16);
    if (sqlite3_column_type(st, b + 17) != SQLITE_NULL) {
        out->overridden |= OVR_ALERTS;
        o->alerts = col_alerts(st, b + 17);
    }
}

static void row_contract(sqlite3_stmt *st, void *dst)
{
    contract_at(st, 0, dst);
}

static int sqlite_contract_get(store *self, int64_t account_id, contract *out, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    do {
        sqlite3_stmt *st = stmt(s, SQL_CONTRACT_GET, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_int64(st, 1, account_id);
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) {
            rc = app_err_set(err, APP_NOT_FOUND, "account %lld has no contract", (long long)account_id);
            break;
        }
        if (step != SQLITE_ROW) {
            rc = fail(err, s->db, "get contract");
            break;
        }
        row_contract(st, out);
    } while (0);
    unlock(s);
    return rc;
}

static int sqlite_contract_list(store *self, int64_t after, contract *out, size_t cap, size_t *n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_CONTRACT_LIST, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, (int64_t)cap);
        rc = collect(s, st, row_contract, out, sizeof *out, cap, n, "list contracts", err);
    }
    unlock(s);
    return rc;
}

/* ---- credentials ---- */

#define CRED_COLS "id, account_id, key_id, secret_hash, label, status, created_at, expires_at, revoked_at, last_used_at"
static const char SQL_CRED_INSERT[] =
    "INSERT INTO credentials(account_id, key_id, secret_hash, label, status, created_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_CRED_GET[] = "SELECT " CRED_COLS " FROM credentials WHERE key_id = ?";
static const char SQL_CRED_LIST[] = "SELECT " CRED_COLS " FROM credentials WHERE id > ? AND (? < 0 OR account_id = ?) "
                                    "ORDER BY id LIMIT ?";
/* Only an active credential changes, and its expiry never moves later (store.h, credential_update). */
static const char SQL_CRED_UPDATE[] =
    "UPDATE credentials SET status = ?1, label = ?2, "
    "expires_at = CASE WHEN expires_at IS NULL OR (?3 IS NOT NULL AND ?3 < expires_at) THEN ?3 ELSE expires_at END, "
    "revoked_at = ?4 WHERE id = ?5 AND status = 'active'";
static const char SQL_CRED_TOUCH[] =
    "UPDATE credentials SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?";

static void row_credential(sqlite3_stmt *st, void *out)
{
    credential *c = out;
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    c->account_id = sqlite3_column_int64(st, 1);
    col_text(st, 2, c->key_id, sizeof c->key_id);
    if (sqlite3_column_bytes(st, 3) == HASH_LEN)
        memcpy(c->secret_hash, sqlite3_column_blob(st, 3), HASH_LEN);
    col_text(st, 4, c->label, sizeof c->label);
    const char *status = (const char *)sqlite3_column_text(st, 5);
    c->status = status && strcmp(status, "revoked") == 0 ? CREDENTIAL_REVOKED : CREDENTIAL_ACTIVE;
    c->created_at = sqlite3_column_int64(st, 6);
    c->expires_at = col_opt(st, 7);
    c->revoked_at = col_opt(st, 8);
    c->last_used_at = col_opt(st, 9);
}

static int insert_credential(sqlite_store *s, credential *io, app_err *err)
{
    sqlite3_stmt *st = stmt(s, SQL_CRED_INSERT, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_int64(st, 1, io->account_id);
    sqlite3_bind_text(st, 2, io->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, io->secret_hash, HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, io->label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, io->status == CREDENTIAL_REVOKED ? "revoked" : "active", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, io->created_at);
    bind_opt(st, 7, io->expires_at);
    int rc = exec_done(s, st, "create credential", err);
    if (rc == APP_VALIDATION_ERROR && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
        rc = app_err_field(err, "key_id", "a credential with key_id \"%s\" already exists", io->key_id);
    if (rc == 0)
        io->id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

static int update_credential(sqlite_store *s, const credential *c, app_err *err)
{
    sqlite3_stmt *st = stmt(s, SQL_CRED_UPDATE, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_text(st, 1, c->status == CREDENTIAL_REVOKED ? "revoked" : "active", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->label, -1, SQLITE_STATIC);
    bind_opt(st, 3, c->expires_at);
    bind_opt(st, 4, c->revoked_at);
    sqlite3_bind_int64(st, 5, c->id);
    int rc = exec_done(s, st, "update credential", err);
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = app_err_set(err, APP_NOT_FOUND, "credential %s not found, or revoked meanwhile", c->key_id);
    return rc;
}

static int sqlite_credential_create(store *self, credential *io, audit_event *audit, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        rc = insert_credential(s, io, err);
    } while (0);
    return write_end(s, rc, audit, err);
}

static int sqlite_credential_get(store *self, const char *key_id, credential *out, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    do {
        sqlite3_stmt *st = stmt(s, SQL_CRED_GET, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            row_credential(st, out);
        else if (step == SQLITE_DONE)
            rc = app_err_set(err, APP_NOT_FOUND, "credential %s not found", key_id);
        else
            rc = fail(err, s->db, "get credential");
    } while (0);
    unlock(s);
    return rc;
}

static int sqlite_credential_list(store *self, int64_t account_id, int64_t after, credential *out, size_t cap,
                                  size_t *n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_CRED_LIST, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, account_id);
        sqlite3_bind_int64(st, 3, account_id);
        sqlite3_bind_int64(st, 4, (int64_t)cap);
        rc = collect(s, st, row_credential, out, sizeof *out, cap, n, "list credentials", err);
    }
    unlock(s);
    return rc;
}

static int sqlite_credential_update(store *self, const credential *c, audit_event *audit, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        rc = update_credential(s, c, err);
    } while (0);
    return write_end(s, rc, audit, err);
}

static int sqlite_credential_rotate(store *self, const credential *old, credential *fresh, audit_event *audit,
                                    app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        rc = update_credential(s, old, err);
        if (rc == 0)
            rc = insert_credential(s, fresh, err);
    } while (0);
    return write_end(s, rc, audit, err);
}

static int sqlite_credentials_touch(store *self, const int64_t *ids, const int64_t *at, size_t n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    if (n == 0)
        return 0;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_stmt *st = stmt(s, SQL_CRED_TOUCH, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_int64(st, 1, at[i]);
        sqlite3_bind_int64(st, 2, ids[i]);
        rc = exec_done(s, st, "touch credential", err);
    }
    return write_end(s, rc, NULL, err);
}

/* ---- audit ---- */

static const char SQL_AUDIT_LIST[] =
    "SELECT seq, at, actor, action, target, account_id, details, request_id, prev_hash, hash FROM audit_events "
    "WHERE seq > ? AND (?2 IS NULL OR account_id = ?2) AND (?3 IS NULL OR action = ?3) AND (?4 IS NULL OR at >= ?4) "
    "AND (?5 IS NULL OR at < ?5) ORDER BY seq LIMIT ?6";

static void row_audit(sqlite3_stmt *st, void *out)
{
    audit_event *e = out;
    memset(e, 0, sizeof *e);
    e->seq = sqlite3_column_int64(st, 0);
    e->at = sqlite3_column_int64(st, 1);
    col_text(st, 2, e->actor, sizeof e->actor);
    col_text(st, 3, e->action, sizeof e->action);
    col_text(st, 4, e->target, sizeof e->target);
    e->account_id = col_opt(st, 5);
    col_text(st, 6, e->details, sizeof e->details);
    col_text(st, 7, e->request_id, sizeof e->request_id);
    if (sqlite3_column_bytes(st, 8) == HASH_LEN)
        memcpy(e->prev_hash, sqlite3_column_blob(st, 8), HASH_LEN);
    if (sqlite3_column_bytes(st, 9) == HASH_LEN)
        memcpy(e->hash, sqlite3_column_blob(st, 9), HASH_LEN);
}

static int sqlite_audit_list(store *self, const audit_filter *f, int64_t after, audit_event *out, size_t cap, size_t *n,
                             app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_AUDIT_LIST, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, after);
        bind_opt(st, 2, f ? f->account_id : opt_none());
        if (f && f->action)
            sqlite3_bind_text(st, 3, f->action, -1, SQLITE_STATIC);
        bind_opt(st, 4, f ? f->from_ms : opt_none());
        bind_opt(st, 5, f ? f->to_ms : opt_none());
        sqlite3_bind_int64(st, 6, (int64_t)cap);
        rc = collect(s, st, row_audit, out, sizeof *out, cap, n, "list audit events", err);
    }
    unlock(s);
    return rc;
}

/* ---- usage ---- */

static const char SQL_USAGE_UPSERT[] =
    "INSERT INTO enterprise_daily_usages(account_id, credential_id, usage_date, requests, overage, blocked) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(account_id, credential_id, usage_date) DO UPDATE SET "
    "requests = requests + excluded.requests, overage = overage + excluded.overage, "
    "blocked = blocked + excluded.blocked";
static const char SQL_IDEM_INSERT[] =
    "INSERT INTO idempotency(account_id, key, request_fingerprint, status, body, expires_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(account_id, key) DO UPDATE SET request_fingerprint = excluded.request_fingerprint, "
    "status = excluded.status, body = excluded.body, expires_at = excluded.expires_at";
static const char SQL_IDEM_GET[] = "SELECT request_fingerprint, status, body, expires_at FROM idempotency "
                                   "WHERE account_id = ? AND key = ? AND expires_at > ?";
static const char SQL_IDEM_PURGE[] = "DELETE FROM idempotency WHERE expires_at <= ?";
static const char SQL_USAGE_SUM[] =
    "SELECT coalesce(sum(requests), 0), coalesce(sum(overage), 0), coalesce(sum(blocked), 0) "
    "FROM enterprise_daily_usages WHERE account_id = ?1 AND (?2 < 0 OR credential_id = ?2) "
    "AND usage_date >= ?3 AND usage_date <= ?4";
static const char SQL_USAGE_BY_DATE[] =
    "SELECT usage_date, 0, sum(requests), sum(overage), sum(blocked) FROM enterprise_daily_usages "
    "WHERE account_id = ?1 AND (?2 < 0 OR credential_id = ?2) AND usage_date >= ?3 AND usage_date <= ?4 "
    "GROUP BY usage_date ORDER BY usage_date LIMIT ?5";
static const char SQL_USAGE_BY_CRED[] =
    "SELECT '', credential_id, sum(requests), sum(overage), sum(blocked) FROM enterprise_daily_usages "
    "WHERE account_id = ?1 AND (?2 < 0 OR credential_id = ?2) AND usage_date >= ?3 AND usage_date <= ?4 "
    "GROUP BY credential_id ORDER BY credential_id LIMIT ?5";

/* Moves a mark only from where the batch read it (?3): no change otherwise (journal_mark). */
static const char SQL_JOURNAL_MARK_PUT[] = "INSERT INTO usage_journal_marks(segment, folded_bytes) VALUES (?1, ?2) "
                                           "ON CONFLICT(segment) DO UPDATE SET folded_bytes = excluded.folded_bytes "
                                           "WHERE folded_bytes = ?3";
static const char SQL_JOURNAL_MARK_GET[] = "SELECT folded_bytes FROM usage_journal_marks WHERE segment = ?";
static const char SQL_JOURNAL_MARK_DELETE[] = "DELETE FROM usage_journal_marks WHERE segment = ?";

/* Adds a delta to its row; inside the caller's transaction. */
static int upsert_usage(sqlite_store *s, const usage_delta *d, app_err *err)
{
    sqlite3_stmt *st = stmt(s, SQL_USAGE_UPSERT, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_int64(st, 1, d->account_id);
    sqlite3_bind_int64(st, 2, d->credential_id);
    sqlite3_bind_text(st, 3, d->date, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, d->requests);
    sqlite3_bind_int64(st, 5, d->overage);
    sqlite3_bind_int64(st, 6, d->blocked);
    return exec_done(s, st, "apply usage", err);
}

/* Stores (or replaces) an idempotent answer; inside the caller's transaction. */
static int insert_idem(sqlite_store *s, const idem_record *r, app_err *err)
{
    sqlite3_stmt *st = stmt(s, SQL_IDEM_INSERT, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_int64(st, 1, r->account_id);
    sqlite3_bind_text(st, 2, r->key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, r->fingerprint, 32, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, r->status);
    sqlite3_bind_blob(st, 5, r->body, (int)r->body_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->expires_at);
    return exec_done(s, st, "store idempotent answer", err);
}

static const char SQL_ALERT_INSERT[] =
    "INSERT INTO usage_alerts(account_id, period, period_start, threshold, used, limit_value, at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
static const char SQL_ALERT_LIST[] =
    "SELECT account_id, period, period_start, threshold, used, limit_value, at FROM usage_alerts "
    "WHERE account_id = ? AND ((period = 'day' AND period_start >= ?) OR (period = 'month' AND period_start >= ?)) "
    "ORDER BY at DESC, threshold DESC, period DESC LIMIT ?";

static const char SQL_ALERT_LIST_ALL[] =
    "SELECT account_id, period, period_start, threshold, used, limit_value, at FROM usage_alerts "
    "WHERE (account_id, period, period_start, threshold) > (?, ?, ?, ?) "
    "ORDER BY account_id, period, period_start, threshold LIMIT ?";

/* Writes the alert and its audit event when it is new (a.raised), nothing when it exists. */
static int insert_alert(sqlite_store *s, usage_alert *a, app_err *err)
{
    a->raised = false;
    sqlite3_stmt *st = stmt(s, SQL_ALERT_INSERT, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_int64(st, 1, a->account_id);
    sqlite3_bind_text(st, 2, a->monthly ? "month" : "day", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->period_start, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, a->threshold);
    sqlite3_bind_int64(st, 5, a->used);
    sqlite3_bind_int64(st, 6, a->limit);
    sqlite3_bind_int64(st, 7, a->at);
    int rc = exec_done(s, st, "insert usage alert", err);
    if (rc != 0 || sqlite3_changes(s->db) == 0)
        return rc;
    a->raised = true;
    if (a->audit != NULL && (rc = audit_append(s, a->audit, err)) != 0)
        return rc;
    /* The event's deliveries, one per endpoint that wants it, in the same transaction as the count. */
    size_t queued;
    return a->event != NULL ? sqlite_webhook_enqueue_tx(s, a->account_id, "usage.threshold", a->msg_id, a->event, a->at,
                                                        &queued, err)
                            : 0;
}

static void row_alert(sqlite3_stmt *st, void *out)
{
    usage_alert *a = out;
    memset(a, 0, sizeof *a);
    a->account_id = sqlite3_column_int64(st, 0);
    const char *period = (const char *)sqlite3_column_text(st, 1);
    a->monthly = period != NULL && strcmp(period, "month") == 0;
    col_text(st, 2, a->period_start, sizeof a->period_start);
    a->threshold = sqlite3_column_int(st, 3);
    a->used = sqlite3_column_int64(st, 4);
    a->limit = sqlite3_column_int64(st, 5);
    a->at = sqlite3_column_int64(st, 6);
}

static int sqlite_alert_list(store *self, int64_t account_id, const char *day_from, const char *month_from,
                             usage_alert *out, size_t cap, size_t *n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = stmt(s, SQL_ALERT_LIST, err);
    if (st == NULL) {
        rc = APP_STORE_UNAVAILABLE;
    } else {
        sqlite3_bind_int64(st, 1, account_id);
        sqlite3_bind_text(st, 2, day_from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, month_from, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)cap);
        rc = collect(s, st, row_alert, out, sizeof *out, cap, n, "list usage alerts", err);
    }
    unlock(s);
    return rc;
}

static int sqlite_alert_list_all(store *self, const usage_alert *after, usage_alert *out, size_t cap, size_t *n,
                                 app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = stmt(s, SQL_ALERT_LIST_ALL, err);
    if (st == NULL) {
        rc = APP_STORE_UNAVAILABLE;
    } else {
        sqlite3_bind_int64(st, 1, after ? after->account_id : INT64_MIN);
        sqlite3_bind_text(st, 2, after ? (after->monthly ? "month" : "day") : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, after ? after->period_start : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 4, after ? after->threshold : 0);
        sqlite3_bind_int64(st, 5, (int64_t)cap);
        rc = collect(s, st, row_alert, out, sizeof *out, cap, n, "list usage alerts", err);
    }
    unlock(s);
    return rc;
}

static int sqlite_usage_apply(store *self, const usage_batch *b, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    do {
        if ((rc = write_prepare(s, !b->durable, err)) != 0 || (rc = tx_begin(s, err)) != 0)
            break;
        for (size_t i = 0; i < b->ndeltas && rc == 0; i++)
            rc = upsert_usage(s, &b->deltas[i], err);
        for (size_t i = 0; i < b->nidem && rc == 0; i++)
            rc = insert_idem(s, &b->idem[i], err);
        for (size_t i = 0; i < b->naudits && rc == 0; i++)
            rc = audit_append(s, &b->audits[i], err);
        for (size_t i = 0; i < b->nalerts && rc == 0; i++)
            rc = insert_alert(s, &b->alerts[i], err);
        for (size_t i = 0; i < b->nmarks && rc == 0; i++) {
            sqlite3_stmt *st = stmt(s, SQL_JOURNAL_MARK_PUT, err);
            if (st == NULL) {
                rc = APP_STORE_UNAVAILABLE;
                break;
            }
            sqlite3_bind_text(st, 1, b->marks[i].segment, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, b->marks[i].offset);
            sqlite3_bind_int64(st, 3, b->marks[i].from);
            if ((rc = exec_done(s, st, "mark usage journal", err)) == 0 && sqlite3_changes(s->db) != 1)
                rc = app_err_set(err, APP_STORE_UNAVAILABLE, "usage journal %s is folded past byte %lld already",
                                 b->marks[i].segment, (long long)b->marks[i].from);
        }
        /* A failed batch is rolled back whole: no call of it is counted, none is answered 2xx. */
        rc = tx_end(s, rc, err);
    } while (0);
    for (size_t i = 0; i < b->nalerts && rc != 0; i++)
        b->alerts[i].raised = false;
    unlock(s);
    return rc;
}

static int sqlite_journal_mark(store *self, const char *segment, int64_t *offset, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    *offset = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = stmt(s, SQL_JOURNAL_MARK_GET, err);
    if (st == NULL) {
        rc = APP_STORE_UNAVAILABLE;
    } else {
        sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            *offset = sqlite3_column_int64(st, 0);
        else if (step != SQLITE_DONE)
            rc = fail(err, s->db, "read usage journal mark");
    }
    unlock(s);
    return rc;
}

static int sqlite_journal_forget(store *self, const char *segment, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = write_prepare(s, false, err) == 0 ? stmt(s, SQL_JOURNAL_MARK_DELETE, err) : NULL;
    if (st == NULL) {
        rc = APP_STORE_UNAVAILABLE;
    } else {
        sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
        rc = exec_done(s, st, "forget usage journal mark", err);
    }
    unlock(s);
    return rc;
}

static int sqlite_usage_sum(store *self, int64_t account_id, int64_t credential_id, const char *from, const char *to,
                            usage_totals *out, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    do {
        sqlite3_stmt *st = stmt(s, SQL_USAGE_SUM, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_int64(st, 1, account_id);
        sqlite3_bind_int64(st, 2, credential_id);
        sqlite3_bind_text(st, 3, from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, to, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
            rc = fail(err, s->db, "sum usage");
            break;
        }
        out->requests = sqlite3_column_int64(st, 0);
        out->overage = sqlite3_column_int64(st, 1);
        out->blocked = sqlite3_column_int64(st, 2);
    } while (0);
    unlock(s);
    return rc;
}

static void row_usage(sqlite3_stmt *st, void *out)
{
    usage_row *r = out;
    col_text(st, 0, r->date, sizeof r->date);
    r->credential_id = sqlite3_column_int64(st, 1);
    r->t.requests = sqlite3_column_int64(st, 2);
    r->t.overage = sqlite3_column_int64(st, 3);
    r->t.blocked = sqlite3_column_int64(st, 4);
}

static int sqlite_usage_rows(store *self, int64_t account_id, int64_t credential_id, const char *from, const char *to,
                             bool by_credential, usage_row *out, size_t cap, size_t *n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, by_credential ? SQL_USAGE_BY_CRED : SQL_USAGE_BY_DATE, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, account_id);
        sqlite3_bind_int64(st, 2, credential_id);
        sqlite3_bind_text(st, 3, from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, to, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (int64_t)cap);
        rc = collect(s, st, row_usage, out, sizeof *out, cap, n, "list usage", err);
    }
    unlock(s);
    return rc;
}

/* ---- exports ---- */

/* The columns of PLAN_COLS and CONTRACT_COLS, qualified, for a query that joins both tables. */
#define PLAN_COLS_P                                                                                                    \
    "p.id, p.code, p.name, p.daily_limit, p.monthly_limit, p.limit_mode, p.overage_cap, p.rate_per_second, p.burst, "  \
    "p.credential_rate_per_second, p.credential_burst, p.metered, p.created_at, p.updated_at, p.alert_thresholds"
#define CONTRACT_COLS_K                                                                                                \
    "k.account_id, k.plan_id, k.daily_limit, k.daily_limit_set, k.monthly_limit, k.monthly_limit_set, k.limit_mode, "  \
    "k.overage_cap, k.overage_cap_set, k.rate_per_second, k.burst, k.credential_rate_per_second, k.credential_burst, " \
    "k.timezone, k.starts_at, k.ends_at, k.updated_at, k.alert_thresholds"
static const char SQL_USAGE_KEY_DAYS[] =
    "SELECT u.usage_date, u.credential_id, c.key_id, c.label, u.requests, u.overage, u.blocked "
    "FROM enterprise_daily_usages u JOIN credentials c ON c.id = u.credential_id AND c.account_id = u.account_id "
    "WHERE u.account_id = ?1 AND u.usage_date >= ?2 AND u.usage_date <= ?3 AND (u.usage_date, c.key_id) > (?4, ?5) "
    "ORDER BY u.usage_date, c.key_id LIMIT ?6";
/*
 * The page's accounts first (`acc`): those from the cursor's account on, one more than the page
 * holds, so that the rows after the cursor fill a page whenever there are that many; then only
 * their usage rows are summed, through the (account_id, usage_date) index, never the whole table.
 */
static const char SQL_USAGE_ACCOUNTS[] =
    "WITH acc AS (SELECT account_id FROM contracts WHERE account_id >= ?3 ORDER BY account_id LIMIT ?5 + 1), "
    "u AS (SELECT account_id, credential_id, sum(requests) AS r, sum(overage) AS o, sum(blocked) AS b "
    "FROM enterprise_daily_usages WHERE account_id IN (SELECT account_id FROM acc) "
    "AND usage_date >= ?1 AND usage_date <= ?2 GROUP BY account_id, credential_id) "
    "SELECT a.id, a.name, " PLAN_COLS_P ", " CONTRACT_COLS_K ", coalesce(u.credential_id, 0), coalesce(cr.key_id, ''), "
    "coalesce(cr.label, ''), coalesce(u.r, 0), coalesce(u.o, 0), coalesce(u.b, 0), a.status "
    "FROM acc JOIN accounts a ON a.id = acc.account_id JOIN contracts k ON k.account_id = acc.account_id "
    "JOIN plans p ON p.id = k.plan_id LEFT JOIN u ON u.account_id = acc.account_id "
    "LEFT JOIN credentials cr ON cr.id = u.credential_id "
    "WHERE (acc.account_id, coalesce(u.credential_id, 0)) > (?3, ?4) "
    "ORDER BY acc.account_id, coalesce(u.credential_id, 0) LIMIT ?5";

static void row_key_day(sqlite3_stmt *st, void *out)
{
    usage_key_day *r = out;
    memset(r, 0, sizeof *r);
    col_text(st, 0, r->date, sizeof r->date);
    r->credential_id = sqlite3_column_int64(st, 1);
    col_text(st, 2, r->key_id, sizeof r->key_id);
    col_text(st, 3, r->label, sizeof r->label);
    r->t.requests = sqlite3_column_int64(st, 4);
    r->t.overage = sqlite3_column_int64(st, 5);
    r->t.blocked = sqlite3_column_int64(st, 6);
}

static int sqlite_usage_key_days(store *self, int64_t account_id, const char *from, const char *to,
                                 const usage_key_day *after, usage_key_day *out, size_t cap, size_t *n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    if (cap > STORE_PAGE_MAX)
        cap = STORE_PAGE_MAX;
    sqlite3_stmt *st = locked_stmt(s, SQL_USAGE_KEY_DAYS, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, account_id);
        sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
        /* Every row sorts after ("", ""). Copied: `after` may be a row of `out`, which the step overwrites. */
        sqlite3_bind_text(st, 4, after ? after->date : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, after ? after->key_id : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, (int64_t)cap);
        rc = collect(s, st, row_key_day, out, sizeof *out, cap, n, "list usage by key and day", err);
    }
    unlock(s);
    return rc;
}

static void row_account_usage(sqlite3_stmt *st, void *out)
{
    usage_account_row *r = out;
    memset(r, 0, sizeof *r);
    r->account_id = sqlite3_column_int64(st, 0);
    col_text(st, 1, r->account_name, sizeof r->account_name);
    plan p;
    contract c;
    /* PLAN_COLS_P: 15 columns from 2; CONTRACT_COLS_K: 18 from 17; then the key, its totals and the
     * account's status (now). */
    plan_at(st, 2, &p);
    contract_at(st, 17, &c);
    str_copy(r->plan_code, sizeof r->plan_code, p.code);
    r->limits = contract_effective_limits(&p, &c);
    r->credential_id = sqlite3_column_int64(st, 35);
    col_text(st, 36, r->key_id, sizeof r->key_id);
    col_text(st, 37, r->label, sizeof r->label);
    r->t.requests = sqlite3_column_int64(st, 38);
    r->t.overage = sqlite3_column_int64(st, 39);
    r->t.blocked = sqlite3_column_int64(st, 40);
    const char *status = (const char *)sqlite3_column_text(st, 41);
    r->status = status != NULL && strcmp(status, "suspended") == 0 ? ACCOUNT_SUSPENDED : ACCOUNT_ACTIVE;
}

static int sqlite_usage_accounts_page(store *self, const char *from, const char *to, const usage_account_row *after,
                                      usage_account_row *out, size_t cap, size_t *n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    if (cap > STORE_PAGE_MAX)
        cap = STORE_PAGE_MAX;
    sqlite3_stmt *st = locked_stmt(s, SQL_USAGE_ACCOUNTS, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
        /* Ids are positive: (-1, -1) precedes every row. */
        sqlite3_bind_int64(st, 3, after ? after->account_id : -1);
        sqlite3_bind_int64(st, 4, after ? after->credential_id : -1);
        sqlite3_bind_int64(st, 5, (int64_t)cap);
        rc = collect(s, st, row_account_usage, out, sizeof *out, cap, n, "list usage by account", err);
    }
    unlock(s);
    return rc;
}

static int sqlite_idem_get(store *self, int64_t account_id, const char *key, int64_t now_ms, idem_record *out,
                           app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    do {
        sqlite3_stmt *st = stmt(s, SQL_IDEM_GET, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_int64(st, 1, account_id);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now_ms);
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) {
            rc = app_err_set(err, APP_NOT_FOUND, "no stored answer");
            break;
        }
        if (step != SQLITE_ROW) {
            rc = fail(err, s->db, "get idempotent answer");
            break;
        }
        memset(out, 0, sizeof *out);
        out->account_id = account_id;
        str_copy(out->key, sizeof out->key, key);
        if (sqlite3_column_bytes(st, 0) == 32)
            memcpy(out->fingerprint, sqlite3_column_blob(st, 0), 32);
        out->status = sqlite3_column_int(st, 1);
        out->body_len = (size_t)sqlite3_column_bytes(st, 2);
        out->body = xmalloc(out->body_len + 1);
        if (out->body_len)
            memcpy(out->body, sqlite3_column_blob(st, 2), out->body_len);
        out->body[out->body_len] = '\0';
        out->expires_at = sqlite3_column_int64(st, 3);
    } while (0);
    unlock(s);
    return rc;
}

static int sqlite_idem_purge(store *self, int64_t now_ms, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = write_prepare(s, false, err) == 0 ? stmt(s, SQL_IDEM_PURGE, err) : NULL;
    if (st == NULL) {
        rc = APP_STORE_UNAVAILABLE;
    } else {
        sqlite3_bind_int64(st, 1, now_ms);
        rc = exec_done(s, st, "purge idempotent answers", err);
    }
    unlock(s);
    return rc;
}

/* ---- copying a store ---- */

static const char SQL_USAGE_LIST[] =
    "SELECT account_id, credential_id, usage_date, requests, overage, blocked FROM enterprise_daily_usages "
    "WHERE (account_id, credential_id, usage_date) > (?, ?, ?) ORDER BY account_id, credential_id, usage_date LIMIT ?";
static const char SQL_IDEM_LIST[] =
    "SELECT account_id, key, request_fingerprint, status, body, expires_at FROM idempotency "
    "WHERE expires_at > ? AND (account_id, key) > (?, ?) ORDER BY account_id, key LIMIT ?";
static const char SQL_ACCOUNT_IMPORT[] = "INSERT INTO accounts(id, name, status, created_at) VALUES (?, ?, ?, ?)";
static const char SQL_PLAN_IMPORT[] =
    "INSERT INTO plans(" PLAN_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_CRED_IMPORT[] = "INSERT INTO credentials(" CRED_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static void row_usage_delta(sqlite3_stmt *st, void *out)
{
    usage_delta *d = out;
    memset(d, 0, sizeof *d);
    d->account_id = sqlite3_column_int64(st, 0);
    d->credential_id = sqlite3_column_int64(st, 1);
    col_text(st, 2, d->date, sizeof d->date);
    d->requests = sqlite3_column_int64(st, 3);
    d->overage = sqlite3_column_int64(st, 4);
    d->blocked = sqlite3_column_int64(st, 5);
}

static int sqlite_usage_list(store *self, const usage_delta *after, usage_delta *out, size_t cap, size_t *n,
                             app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_USAGE_LIST, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        /* Ids are positive and every date sorts after "": (-1, -1, "") precedes every row. */
        sqlite3_bind_int64(st, 1, after ? after->account_id : -1);
        sqlite3_bind_int64(st, 2, after ? after->credential_id : -1);
        sqlite3_bind_text(st, 3, after ? after->date : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)cap);
        rc = collect(s, st, row_usage_delta, out, sizeof *out, cap, n, "list usage rows", err);
    }
    unlock(s);
    return rc;
}

static void row_idem(sqlite3_stmt *st, void *dst)
{
    idem_record *out = dst;
    memset(out, 0, sizeof *out);
    out->account_id = sqlite3_column_int64(st, 0);
    col_text(st, 1, out->key, sizeof out->key);
    if (sqlite3_column_bytes(st, 2) == 32)
        memcpy(out->fingerprint, sqlite3_column_blob(st, 2), 32);
    out->status = sqlite3_column_int(st, 3);
    out->body_len = (size_t)sqlite3_column_bytes(st, 4);
    out->body = xmalloc(out->body_len + 1);
    if (out->body_len)
        memcpy(out->body, sqlite3_column_blob(st, 4), out->body_len);
    out->body[out->body_len] = '\0';
    out->expires_at = sqlite3_column_int64(st, 5);
}

static int sqlite_idem_list(store *self, int64_t now_ms, const idem_record *after, idem_record *out, size_t cap,
                            size_t *n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_IDEM_LIST, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, after ? after->account_id : -1);
        sqlite3_bind_text(st, 3, after ? after->key : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)cap);
        rc = collect(s, st, row_idem, out, sizeof *out, cap, n, "list idempotent answers", err);
    }
    unlock(s);
    if (rc != 0) { /* nothing is owned on failure */
        for (size_t i = 0; i < *n; i++)
            free(out[i].body);
        *n = 0;
    }
    return rc;
}

static int import_account(sqlite_store *s, const account *a, app_err *err)
{
    sqlite3_stmt *st = stmt(s, SQL_ACCOUNT_IMPORT, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_int64(st, 1, a->id);
    sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, account_status_text(a->status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, a->created_at);
    return exec_done(s, st, "import account", err);
}

static int import_plan(sqlite_store *s, const plan *p, app_err *err)
{
    sqlite3_stmt *st = stmt(s, SQL_PLAN_IMPORT, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_int64(st, 1, p->id);
    sqlite3_bind_text(st, 2, p->code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC);
    bind_plan_limits(st, 4, p);
    sqlite3_bind_int64(st, 13, p->created_at);
    sqlite3_bind_int64(st, 14, p->updated_at);
    bind_alerts(st, 15, &p->limits.alerts);
    return exec_done(s, st, "import plan", err);
}

static int import_contract(sqlite_store *s, const contract *c, app_err *err)
{
    sqlite3_stmt *st = stmt(s, SQL_CONTRACT_PUT, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    bind_contract(st, c);
    return exec_done(s, st, "import contract", err);
}

static int import_credential(sqlite_store *s, const credential *c, app_err *err)
{
    sqlite3_stmt *st = stmt(s, SQL_CRED_IMPORT, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_int64(st, 1, c->id);
    sqlite3_bind_int64(st, 2, c->account_id);
    sqlite3_bind_text(st, 3, c->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, c->secret_hash, HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, c->label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, c->status == CREDENTIAL_REVOKED ? "revoked" : "active", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, c->created_at);
    bind_opt(st, 8, c->expires_at);
    bind_opt(st, 9, c->revoked_at);
    bind_opt(st, 10, c->last_used_at);
    return exec_done(s, st, "import credential", err);
}

/*
 * One transaction for the batch. Ids continue past the imported ones by themselves: an INTEGER
 * PRIMARY KEY without AUTOINCREMENT takes the largest rowid plus one.
 */
static int sqlite_import_rows(store *self, const store_import *b, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < b->nplans && rc == 0; i++)
        rc = import_plan(s, &b->plans[i], err);
    for (size_t i = 0; i < b->naccounts && rc == 0; i++)
        rc = import_account(s, &b->accounts[i], err);
    for (size_t i = 0; i < b->ncontracts && rc == 0; i++)
        rc = import_contract(s, &b->contracts[i], err);
    for (size_t i = 0; i < b->ncredentials && rc == 0; i++)
        rc = import_credential(s, &b->credentials[i], err);
    for (size_t i = 0; i < b->nusage && rc == 0; i++)
        rc = upsert_usage(s, &b->usage[i], err);
    for (size_t i = 0; i < b->nidem && rc == 0; i++)
        rc = insert_idem(s, &b->idem[i], err);
    for (size_t i = 0; i < b->naudits && rc == 0; i++)
        rc = insert_audit(s, &b->audits[i], err);
    for (size_t i = 0; i < b->nalerts && rc == 0; i++) {
        usage_alert a = b->alerts[i];
        a.audit = NULL;
        if ((rc = insert_alert(s, &a, err)) == 0 && !a.raised)
            rc = app_err_set(err, APP_VALIDATION_ERROR, "usage alert of account %lld exists already",
                             (long long)a.account_id);
    }
    for (size_t i = 0; i < b->nwebhooks && rc == 0; i++)
        rc = import_webhook(s, &b->webhooks[i], err);
    for (size_t i = 0; i < b->ndeliveries && rc == 0; i++)
        rc = import_delivery(s, &b->deliveries[i], err);
    return write_end(s, rc, NULL, err);
}

static const char SQL_DATA_VERSION[] = "PRAGMA data_version";

static int sqlite_change_token(store *self, int64_t *out, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = stmt(s, SQL_DATA_VERSION, err);
    if (st == NULL)
        rc = APP_STORE_UNAVAILABLE;
    else if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = fail(err, s->db, "data_version");
    unlock(s);
    return rc;
}

/* ---- durability and the WAL ---- */

static int sqlite_sync(store *self, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    /* The common case of a periodic sync with nothing new: no lock, no system call. */
    if (!atomic_load(&s->unsynced))
        return 0;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    /*
     * The WAL's own file handle, so that SQLite's VFS does the fsync as it would at a FULL commit
     * (including the directory's on the first one). Under the mutex: no commit runs meanwhile,
     * so every commit made so far is covered, and the handle cannot be closed under us.
     */
    sqlite3_file *wal = NULL;
    if (atomic_load(&s->unsynced)) {
        if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK)
            rc = fail(err, s->db, "find the WAL");
        else if (wal != NULL && wal->pMethods != NULL && wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK)
            rc = app_err_set(err, APP_STORE_UNAVAILABLE, "sqlite fsync of the WAL failed");
        if (rc == 0)
            atomic_store(&s->unsynced, false);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int file_size(const char *path, bool missing_ok, int64_t *out, app_err *err)
{
    struct stat sb;
    *out = 0;
    if (stat(path, &sb) == 0)
        *out = (int64_t)sb.st_size;
    else if (!(missing_ok && errno == ENOENT))
        return app_err_set(err, APP_STORE_UNAVAILABLE, "cannot stat %s: %s", path, strerror(errno));
    return 0;
}

/* Sizes from the file system, without the mutex: /metrics never waits for a commit. */
static int sqlite_stats(store *self, store_stats *out, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = file_size(s->path, false, &out->db_bytes, err);
    if (rc == 0) /* no WAL yet (nothing written since the last close) is an empty one */
        rc = file_size(s->wal_path, true, &out->wal_bytes, err);
    return rc;
}

/*
 * Replaces SQLite's automatic checkpoint (the same PASSIVE checkpoint past the same 4 MiB) to add
 * a backstop. Runs in the committing thread, under the mutex, after each commit. PASSIVE never
 * waits: it copies what no reader still needs, and when it copies everything the next write
 * starts the WAL over (and journal_size_limit trims the file). Only if a reader of another
 * connection has pinned the log far past its usual size does RESTART wait for readers to move on,
 * WAL_RESTART_WAIT_MS at most and once per ckpt_frames of growth, so that a reader that stays
 * costs the writer little.
 */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    sqlite_store *s = arg;
    s->wrote_frames = true;
    if (frames < s->ckpt_frames)
        return SQLITE_OK;
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc == SQLITE_OK && done == log) {
        s->restart_tried_at = 0;
    } else if (frames >= s->restart_frames && frames >= s->restart_tried_at + s->ckpt_frames) {
        /* A short wait, and not again before the log has grown by another ckpt_frames. */
        s->restart_tried_at = frames;
        sqlite3_busy_timeout(db, WAL_RESTART_WAIT_MS);
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    }
    /* A checkpoint that cannot run now is retried after the next commit; the commit itself stands. */
    return SQLITE_OK;
}

static void sqlite_close(store *self)
{
    sqlite_store *s = (sqlite_store *)self;
    for (size_t i = 0; i < s->ncache; i++)
        sqlite3_finalize(s->cache[i].st);
    sqlite3_finalize(s->ping);
    sqlite3_finalize(s->version);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    for (size_t i = 0; i < sizeof s->files / sizeof s->files[0]; i++)
        free(s->files[i].path);
    free(s->path);
    free(s->wal_path);
    free(s);
}

/* ---- webhooks ---- */

#define WEBHOOK_COLS                                                                                                   \
    "id, account_id, url, events, secret, prev_secret, prev_secret_expires_at, status, created_at, updated_at"
#define DELIVERY_COLS                                                                                                  \
    "d.id, d.webhook_id, d.account_id, d.msg_id, d.event_type, d.status, d.attempts, d.next_attempt_at, "              \
    "d.scheduled_at, d.created_at"
/* Counted and inserted in one statement of the one writer: no two creates pass the cap together. */
static const char SQL_WEBHOOK_INSERT[] =
    "INSERT INTO webhook_endpoints(account_id, url, events, secret, prev_secret, prev_secret_expires_at, status, "
    "created_at, updated_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 "
    "WHERE (SELECT count(*) FROM webhook_endpoints WHERE account_id = ?1) < ?10";
static const char SQL_WEBHOOK_GET[] = "SELECT " WEBHOOK_COLS " FROM webhook_endpoints WHERE id = ?";
static const char SQL_WEBHOOK_LIST[] =
    "SELECT " WEBHOOK_COLS " FROM webhook_endpoints WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?";
static const char SQL_WEBHOOK_UPDATE[] = "UPDATE webhook_endpoints SET status = ?, secret = ?, prev_secret = ?, "
                                         "prev_secret_expires_at = ?, updated_at = ? WHERE id = ?";
static const char SQL_WEBHOOK_DELETE[] = "DELETE FROM webhook_endpoints WHERE id = ?";
/* The WHERE clause also keeps SQLite from reading ON CONFLICT as part of the SELECT. */
static const char SQL_WEBHOOK_ENQUEUE[] =
    "INSERT INTO webhook_deliveries(webhook_id, account_id, msg_id, event_type, body, status, attempts, "
    "next_attempt_at, scheduled_at, created_at) "
    "SELECT id, account_id, ?3, ?2, ?4, 'pending', 0, ?5, ?5, ?5 FROM webhook_endpoints "
    "WHERE account_id = ?1 AND status = 'active' AND instr(',' || events || ',', ',' || ?2 || ',') > 0 "
    "ORDER BY id ON CONFLICT(webhook_id, msg_id) DO NOTHING";
static const char SQL_WEBHOOK_DUE[] =
    "SELECT " DELIVERY_COLS ", d.body, e.url, e.secret, e.prev_secret, e.prev_secret_expires_at, d.attempts_before "
    "FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.webhook_id "
    "WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND e.status = 'active' "
    "ORDER BY d.next_attempt_at, d.id LIMIT ?";
static const char SQL_DELIVERY_LEASE[] = "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?";
static const char SQL_ATTEMPT_INSERT[] =
    "INSERT INTO webhook_attempts(delivery_id, at, http_status, latency_ms, error) VALUES (?, ?, ?, ?, ?)";
static const char SQL_DELIVERY_OUTCOME[] =
    "UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?, next_attempt_at = ? WHERE id = ?";
static const char SQL_DELIVERY_LIST[] =
    "SELECT " DELIVERY_COLS " FROM webhook_deliveries d "
    "WHERE d.webhook_id = ?1 AND (?2 <= 0 OR d.id < ?2) ORDER BY d.id DESC LIMIT ?3";
static const char SQL_ATTEMPT_LIST[] =
    "SELECT id, delivery_id, at, http_status, latency_ms, error FROM webhook_attempts "
    "WHERE delivery_id = ? AND id > ? ORDER BY id LIMIT ?";
static const char SQL_DELIVERY_RESEND[] =
    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?1, scheduled_at = ?1, "
    "attempts_before = attempts WHERE id = ?2 AND webhook_id = ?3 AND status = 'failed'";
static const char SQL_DELIVERY_STATUS[] = "SELECT status FROM webhook_deliveries WHERE id = ? AND webhook_id = ?";
static const char SQL_WEBHOOK_LIST_ALL[] =
    "SELECT " WEBHOOK_COLS " FROM webhook_endpoints WHERE id > ? ORDER BY id LIMIT ?";
static const char SQL_DELIVERY_PENDING_ALL[] =
    "SELECT " DELIVERY_COLS ", d.body, d.attempts_before FROM webhook_deliveries d "
    "WHERE d.status = 'pending' AND d.id > ? ORDER BY d.id LIMIT ?";
static const char SQL_WEBHOOK_IMPORT[] =
    "INSERT INTO webhook_endpoints(" WEBHOOK_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/* A new id: the source's history (delivered, failed) stays behind, and its ids with it. */
static const char SQL_DELIVERY_IMPORT[] =
    "INSERT INTO webhook_deliveries(webhook_id, account_id, msg_id, event_type, status, attempts, attempts_before, "
    "next_attempt_at, scheduled_at, created_at, body) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)";

static delivery_status delivery_status_of(const char *t)
{
    return t && strcmp(t, "delivered") == 0 ? DELIVERY_DELIVERED
           : t && strcmp(t, "failed") == 0  ? DELIVERY_FAILED
                                            : DELIVERY_PENDING;
}

static void row_webhook(sqlite3_stmt *st, void *out)
{
    webhook *w = out;
    memset(w, 0, sizeof *w);
    w->id = sqlite3_column_int64(st, 0);
    w->account_id = sqlite3_column_int64(st, 1);
    col_text(st, 2, w->url, sizeof w->url);
    col_text(st, 3, w->events, sizeof w->events);
    col_text(st, 4, w->secret, sizeof w->secret);
    col_text(st, 5, w->prev_secret, sizeof w->prev_secret);
    w->prev_secret_expires_at = col_opt(st, 6);
    const char *status = (const char *)sqlite3_column_text(st, 7);
    w->status = status && strcmp(status, "disabled") == 0 ? WEBHOOK_DISABLED : WEBHOOK_ACTIVE;
    w->created_at = sqlite3_column_int64(st, 8);
    w->updated_at = sqlite3_column_int64(st, 9);
}

/* The DELIVERY_COLS of a row, without its body. */
static void row_delivery(sqlite3_stmt *st, void *out)
{
    webhook_delivery *d = out;
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(st, 0);
    d->webhook_id = sqlite3_column_int64(st, 1);
    d->account_id = sqlite3_column_int64(st, 2);
    col_text(st, 3, d->msg_id, sizeof d->msg_id);
    col_text(st, 4, d->event_type, sizeof d->event_type);
    d->status = delivery_status_of((const char *)sqlite3_column_text(st, 5));
    d->attempts = sqlite3_column_int64(st, 6);
    d->next_attempt_at = sqlite3_column_int64(st, 7);
    d->scheduled_at = sqlite3_column_int64(st, 8);
    d->created_at = sqlite3_column_int64(st, 9);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *t)
{
    if (t[0] != '\0')
        sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* An endpoint's columns but its id (account_id .. updated_at) at parameters first..first+8. */
static void bind_webhook(sqlite3_stmt *st, int first, const webhook *w)
{
    sqlite3_bind_int64(st, first, w->account_id);
    sqlite3_bind_text(st, first + 1, w->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 2, w->events, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 3, w->secret, -1, SQLITE_STATIC);
    bind_text_or_null(st, first + 4, w->prev_secret);
    bind_opt(st, first + 5, w->prev_secret_expires_at);
    sqlite3_bind_text(st, first + 6, webhook_status_name(w->status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, first + 7, w->created_at);
    sqlite3_bind_int64(st, first + 8, w->updated_at);
}

/* A pending delivery with its body (malloc'd). */
static void row_delivery_body(sqlite3_stmt *st, void *out)
{
    row_delivery(st, out);
    webhook_delivery *d = out;
    d->body_len = (size_t)sqlite3_column_bytes(st, 10);
    d->body = xmalloc(d->body_len + 1);
    if (d->body_len)
        memcpy(d->body, sqlite3_column_blob(st, 10), d->body_len);
    d->body[d->body_len] = '\0';
    d->attempts_before = sqlite3_column_int64(st, 11);
}

static int sqlite_webhook_list_all(store *self, int64_t after, webhook *out, size_t cap, size_t *n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_WEBHOOK_LIST_ALL, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, (int64_t)cap);
        rc = collect(s, st, row_webhook, out, sizeof *out, cap, n, "list webhooks", err);
    }
    unlock(s);
    return rc;
}

static int sqlite_delivery_pending_list(store *self, int64_t after, webhook_delivery *out, size_t cap, size_t *n,
                                        app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_DELIVERY_PENDING_ALL, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, (int64_t)cap);
        rc = collect(s, st, row_delivery_body, out, sizeof *out, cap, n, "list pending webhook deliveries", err);
    }
    unlock(s);
    if (rc != 0) { /* nothing is owned on failure */
        for (size_t i = 0; i < *n; i++)
            free(out[i].body);
        *n = 0;
    }
    return rc;
}

static int import_webhook(sqlite_store *s, const webhook *w, app_err *err)
{
    sqlite3_stmt *st = stmt(s, SQL_WEBHOOK_IMPORT, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_int64(st, 1, w->id);
    bind_webhook(st, 2, w);
    return exec_done(s, st, "import webhook", err);
}

static int import_delivery(sqlite_store *s, const webhook_delivery *d, app_err *err)
{
    sqlite3_stmt *st = stmt(s, SQL_DELIVERY_IMPORT, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_int64(st, 1, d->webhook_id);
    sqlite3_bind_int64(st, 2, d->account_id);
    sqlite3_bind_text(st, 3, d->msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, d->event_type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, d->attempts);
    sqlite3_bind_int64(st, 6, d->attempts_before);
    sqlite3_bind_int64(st, 7, d->next_attempt_at);
    sqlite3_bind_int64(st, 8, d->scheduled_at);
    sqlite3_bind_int64(st, 9, d->created_at);
    sqlite3_bind_blob(st, 10, d->body != NULL ? d->body : "", (int)d->body_len, SQLITE_STATIC);
    return exec_done(s, st, "import webhook delivery", err);
}

static void row_attempt(sqlite3_stmt *st, void *out)
{
    webhook_attempt *a = out;
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(st, 0);
    a->delivery_id = sqlite3_column_int64(st, 1);
    a->at = sqlite3_column_int64(st, 2);
    a->http_status = sqlite3_column_int(st, 3);
    a->latency_ms = sqlite3_column_int64(st, 4);
    col_text(st, 5, a->error, sizeof a->error);
}

static int sqlite_webhook_create(store *self, webhook *io, audit_event *audit, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        sqlite3_stmt *st = stmt(s, SQL_WEBHOOK_INSERT, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        bind_webhook(st, 1, io);
        sqlite3_bind_int(st, 10, WEBHOOKS_PER_ACCOUNT_MAX);
        if ((rc = exec_done(s, st, "create webhook", err)) != 0)
            break;
        if (sqlite3_changes(s->db) == 0)
            rc = app_err_field(err, "url", "account %lld has %d webhooks already, the most it may have",
                               (long long)io->account_id, WEBHOOKS_PER_ACCOUNT_MAX);
        else
            io->id = sqlite3_last_insert_rowid(s->db);
    } while (0);
    return write_end(s, rc, audit, err);
}

static int sqlite_webhook_get(store *self, int64_t id, webhook *out, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_WEBHOOK_GET, err);
    int rc = APP_STORE_UNAVAILABLE;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            row_webhook(st, out);
            rc = 0;
        } else if (step == SQLITE_DONE) {
            rc = app_err_set(err, APP_NOT_FOUND, "webhook %lld not found", (long long)id);
        } else {
            rc = fail(err, s->db, "get webhook");
        }
    }
    unlock(s);
    return rc;
}

static int sqlite_webhook_list(store *self, int64_t account_id, int64_t after, webhook *out, size_t cap, size_t *n,
                               app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_WEBHOOK_LIST, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, account_id);
        sqlite3_bind_int64(st, 2, after);
        sqlite3_bind_int64(st, 3, (int64_t)cap);
        rc = collect(s, st, row_webhook, out, sizeof *out, cap, n, "list webhooks", err);
    }
    unlock(s);
    return rc;
}

static int sqlite_webhook_update(store *self, const webhook *w, audit_event *audit, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        sqlite3_stmt *st = stmt(s, SQL_WEBHOOK_UPDATE, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_text(st, 1, webhook_status_name(w->status), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, w->secret, -1, SQLITE_STATIC);
        bind_text_or_null(st, 3, w->prev_secret);
        bind_opt(st, 4, w->prev_secret_expires_at);
        sqlite3_bind_int64(st, 5, w->updated_at);
        sqlite3_bind_int64(st, 6, w->id);
        rc = exec_done(s, st, "update webhook", err);
        if (rc == 0 && sqlite3_changes(s->db) == 0)
            rc = app_err_set(err, APP_NOT_FOUND, "webhook %lld not found", (long long)w->id);
    } while (0);
    return write_end(s, rc, audit, err);
}

static int sqlite_webhook_delete(store *self, int64_t id, audit_event *audit, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        /* Its deliveries and their attempts go with it (ON DELETE CASCADE; foreign_keys is on). */
        sqlite3_stmt *st = stmt(s, SQL_WEBHOOK_DELETE, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_int64(st, 1, id);
        rc = exec_done(s, st, "delete webhook", err);
        if (rc == 0 && sqlite3_changes(s->db) == 0)
            rc = app_err_set(err, APP_NOT_FOUND, "webhook %lld not found", (long long)id);
    } while (0);
    return write_end(s, rc, audit, err);
}

/*
 * Writes the outbox rows of one event (see store_ops.webhook_enqueue) inside a transaction the
 * caller opened, with the store mutex held (after write_prepare and tx_begin), and commits
 * nothing. It is for writing the outbox in the same transaction as a usage count: the threshold
 * events call it from sqlite_usage_apply, so that the count that crossed a threshold and the
 * deliveries announcing it are committed, or rolled back, together.
 */
static int sqlite_webhook_enqueue_tx(sqlite_store *s, int64_t account_id, const char *event_type, const char *msg_id,
                                     const char *body, int64_t now_ms, size_t *n_enqueued, app_err *err)
{
    *n_enqueued = 0;
    if (!webhook_msg_id_valid(msg_id))
        return app_err_field(err, "msg_id", "must be 1 to %d of letters, digits, '_', '-' and '.'", WEBHOOK_MSG_ID_MAX);
    size_t len = strlen(body);
    if (len > WEBHOOK_BODY_MAX)
        return app_err_set(err, APP_INTERNAL_ERROR, "webhook event body of %zu bytes is over %d", len,
                           WEBHOOK_BODY_MAX);
    sqlite3_stmt *st = stmt(s, SQL_WEBHOOK_ENQUEUE, err);
    if (st == NULL)
        return APP_STORE_UNAVAILABLE;
    sqlite3_bind_int64(st, 1, account_id);
    sqlite3_bind_text(st, 2, event_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, body, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_ms);
    int rc = exec_done(s, st, "enqueue webhook deliveries", err);
    if (rc == 0)
        *n_enqueued = (size_t)sqlite3_changes(s->db);
    return rc;
}

static int sqlite_webhook_enqueue(store *self, int64_t account_id, const char *event_type, const char *msg_id,
                                  const char *body, int64_t now_ms, size_t *n_enqueued, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    *n_enqueued = 0;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    rc = sqlite_webhook_enqueue_tx(s, account_id, event_type, msg_id, body, now_ms, n_enqueued, err);
    rc = write_end(s, rc, NULL, err);
    if (rc != 0)
        *n_enqueued = 0;
    return rc;
}

static int sqlite_webhook_due(store *self, int64_t now_ms, int64_t lease_ms, webhook_due *out, size_t cap, size_t *n,
                              app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    *n = 0;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        sqlite3_stmt *st = stmt(s, SQL_WEBHOOK_DUE, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, (int64_t)cap);
        int step = SQLITE_DONE;
        while (*n < cap && (step = sqlite3_step(st)) == SQLITE_ROW) {
            webhook_due *w = &out[(*n)++];
            row_delivery(st, &w->d);
            w->d.body_len = (size_t)sqlite3_column_bytes(st, 10);
            w->d.body = xmalloc(w->d.body_len + 1);
            if (w->d.body_len)
                memcpy(w->d.body, sqlite3_column_blob(st, 10), w->d.body_len);
            w->d.body[w->d.body_len] = '\0';
            col_text(st, 11, w->url, sizeof w->url);
            col_text(st, 12, w->secret, sizeof w->secret);
            col_text(st, 13, w->prev_secret, sizeof w->prev_secret);
            w->prev_secret_expires_at = col_opt(st, 14);
            w->d.attempts_before = sqlite3_column_int64(st, 15);
        }
        if (*n < cap && step != SQLITE_DONE) {
            rc = fail(err, s->db, "list due webhook deliveries");
            break;
        }
        sqlite3_reset(st);
        for (size_t i = 0; i < *n && rc == 0; i++) {
            sqlite3_stmt *lease = stmt(s, SQL_DELIVERY_LEASE, err);
            if (lease == NULL) {
                rc = APP_STORE_UNAVAILABLE;
                break;
            }
            out[i].d.next_attempt_at = now_ms + lease_ms;
            sqlite3_bind_int64(lease, 1, out[i].d.next_attempt_at);
            sqlite3_bind_int64(lease, 2, out[i].d.id);
            rc = exec_done(s, lease, "lease webhook delivery", err);
        }
    } while (0);
    rc = write_end(s, rc, NULL, err);
    if (rc != 0) {
        store_webhook_due_free(out, *n);
        *n = 0;
    }
    return rc;
}

static int sqlite_webhook_attempt_record(store *self, const webhook_attempt *a, delivery_status status,
                                         int64_t next_attempt_at, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        sqlite3_stmt *st = stmt(s, SQL_DELIVERY_OUTCOME, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_text(st, 1, delivery_status_name(status), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, next_attempt_at);
        sqlite3_bind_int64(st, 3, a->delivery_id);
        if ((rc = exec_done(s, st, "record webhook outcome", err)) != 0)
            break;
        if (sqlite3_changes(s->db) == 0) {
            rc = app_err_set(err, APP_NOT_FOUND, "webhook delivery %lld not found", (long long)a->delivery_id);
            break;
        }
        if ((st = stmt(s, SQL_ATTEMPT_INSERT, err)) == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_int64(st, 1, a->delivery_id);
        sqlite3_bind_int64(st, 2, a->at);
        sqlite3_bind_int(st, 3, a->http_status);
        sqlite3_bind_int64(st, 4, a->latency_ms);
        sqlite3_bind_text(st, 5, a->error, -1, SQLITE_STATIC);
        rc = exec_done(s, st, "record webhook attempt", err);
    } while (0);
    return write_end(s, rc, NULL, err);
}

static int sqlite_webhook_deliveries_list(store *self, int64_t webhook_id, int64_t before, webhook_delivery *out,
                                          size_t cap, size_t *n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_DELIVERY_LIST, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, webhook_id);
        sqlite3_bind_int64(st, 2, before);
        sqlite3_bind_int64(st, 3, (int64_t)cap);
        rc = collect(s, st, row_delivery, out, sizeof *out, cap, n, "list webhook deliveries", err);
    }
    unlock(s);
    return rc;
}

static int sqlite_webhook_attempts_list(store *self, int64_t delivery_id, int64_t after, webhook_attempt *out,
                                        size_t cap, size_t *n, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    sqlite3_stmt *st = locked_stmt(s, SQL_ATTEMPT_LIST, err);
    int rc = APP_STORE_UNAVAILABLE;
    *n = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, delivery_id);
        sqlite3_bind_int64(st, 2, after);
        sqlite3_bind_int64(st, 3, (int64_t)cap);
        rc = collect(s, st, row_attempt, out, sizeof *out, cap, n, "list webhook attempts", err);
    }
    unlock(s);
    return rc;
}

static int sqlite_webhook_delivery_resend(store *self, int64_t webhook_id, int64_t delivery_id, int64_t now_ms,
                                          audit_event *audit, app_err *err)
{
    sqlite_store *s = (sqlite_store *)self;
    int rc = write_begin(s, err);
    if (rc != 0)
        return rc;
    do {
        sqlite3_stmt *st = stmt(s, SQL_DELIVERY_RESEND, err);
        if (st == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, delivery_id);
        sqlite3_bind_int64(st, 3, webhook_id);
        if ((rc = exec_done(s, st, "resend webhook delivery", err)) != 0 || sqlite3_changes(s->db) > 0)
            break;
        /* Nothing changed: no such delivery, or one that is not failed. */
        if ((st = stmt(s, SQL_DELIVERY_STATUS, err)) == NULL) {
            rc = APP_STORE_UNAVAILABLE;
            break;
        }
        sqlite3_bind_int64(st, 1, delivery_id);
        sqlite3_bind_int64(st, 2, webhook_id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            rc = app_err_field(err, "delivery_id", "delivery %lld is %s; only a failed delivery can be sent again",
                               (long long)delivery_id, (const char *)sqlite3_column_text(st, 0));
        else if (step == SQLITE_DONE)
            rc = app_err_set(err, APP_NOT_FOUND, "webhook %lld has no delivery %lld", (long long)webhook_id,
                             (long long)delivery_id);
        else
            rc = fail(err, s->db, "read webhook delivery");
    } while (0);
    return write_end(s, rc, audit, err);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .ping = sqlite_ping,
    .migrate = sqlite_migrate,
    .schema_version = sqlite_schema_version,
    .close = sqlite_close,
    .account_create = sqlite_account_create,
    .account_get = sqlite_account_get,
    .account_list = sqlite_account_list,
    .account_set_status = sqlite_account_set_status,
    .plan_create = sqlite_plan_create,
    .plan_get = sqlite_plan_get,
    .plan_get_by_code = sqlite_plan_get_by_code,
    .plan_list = sqlite_plan_list,
    .plan_update = sqlite_plan_update,
    .contract_put = sqlite_contract_put,
    .contract_get = sqlite_contract_get,
    .contract_list = sqlite_contract_list,
    .credential_create = sqlite_credential_create,
    .credential_get = sqlite_credential_get,
    .credential_list = sqlite_credential_list,
    .credential_update = sqlite_credential_update,
    .credential_rotate = sqlite_credential_rotate,
    .credentials_touch = sqlite_credentials_touch,
    .audit_list = sqlite_audit_list,
    .change_token = sqlite_change_token,
    .usage_apply = sqlite_usage_apply,
    .usage_sum = sqlite_usage_sum,
    .alert_list = sqlite_alert_list,
    .alert_list_all = sqlite_alert_list_all,
    .webhook_list_all = sqlite_webhook_list_all,
    .delivery_pending_list = sqlite_delivery_pending_list,
    .usage_rows = sqlite_usage_rows,
    .idem_get = sqlite_idem_get,
    .idem_purge = sqlite_idem_purge,
    .usage_list = sqlite_usage_list,
    .usage_key_days = sqlite_usage_key_days,
    .usage_accounts_page = sqlite_usage_accounts_page,
    .idem_list = sqlite_idem_list,
    .import_rows = sqlite_import_rows,
    .sync = sqlite_sync,
    .stats = sqlite_stats,
    .journal_mark = sqlite_journal_mark,
    .journal_forget = sqlite_journal_forget,
    .webhook_create = sqlite_webhook_create,
    .webhook_get = sqlite_webhook_get,
    .webhook_list = sqlite_webhook_list,
    .webhook_update = sqlite_webhook_update,
    .webhook_delete = sqlite_webhook_delete,
    .webhook_enqueue = sqlite_webhook_enqueue,
    .webhook_due = sqlite_webhook_due,
    .webhook_attempt_record = sqlite_webhook_attempt_record,
    .webhook_deliveries_list = sqlite_webhook_deliveries_list,
    .webhook_attempts_list = sqlite_webhook_attempts_list,
    .webhook_delivery_resend = sqlite_webhook_delivery_resend,
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
    atomic_init(&s->unsynced, false);
    s->path = xstrdup(path);
    size_t n = strlen(path) + sizeof "-wal";
    s->wal_path = xmalloc(n);
    snprintf(s->wal_path, n, "%s-wal", path);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof s->files / sizeof s->files[0]; i++) {
        size_t len = strlen(path) + strlen(suffixes[i]) + 1;
        s->files[i].path = xmalloc(len);
        snprintf(s->files[i].path, len, "%s%s", path, suffixes[i]);
    }
    atomic_init(&s->files_gone, false);
    static const char *const pragmas =
        /* Only a new database takes it (before WAL mode writes its first page); see WAL_PAGE_SIZE. */
        "PRAGMA page_size=" WAL_PAGE_SIZE ";"
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=FULL;" /* billing data: a commit survives power loss, not only a crash */
        /* After a checkpoint has emptied it, the WAL file is cut back to this size. */
        "PRAGMA journal_size_limit=16777216;"
        "PRAGMA foreign_keys=ON;"
        "CREATE TABLE IF NOT EXISTS schema_migrations("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);";
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK ||
        sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "SELECT count(*) FROM schema_migrations", -1, &s->ping, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &s->version, NULL) !=
            SQLITE_OK) {
        fail(err, s->db, "open");
        sqlite_close(&s->super);
        return NULL;
    }
    /* The thresholds are sizes in bytes; an existing database keeps the page size it was made with. */
    int page = 4096;
    sqlite3_stmt *ps = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &ps, NULL) == SQLITE_OK && sqlite3_step(ps) == SQLITE_ROW)
        page = sqlite3_column_int(ps, 0);
    sqlite3_finalize(ps);
    page = page > 0 ? page : 4096;
    s->ckpt_frames = WAL_CHECKPOINT_BYTES / page;
    s->restart_frames = WAL_RESTART_BYTES / page;
    sqlite3_wal_hook(s->db, on_wal_commit, s);
    files_check(s, NULL); /* the files as they are now, the ones every later check compares with */
    return &s->super;
}
