/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_BACKUP_H
#define STARMETER_INFRA_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

/* How a backup runs; zeroed members take the defaults below. */
typedef struct backup_opts {
    bool force;             /* replace an existing destination file */
    int64_t pages_per_step; /* pages copied between two pauses; 0: BACKUP_PAGES_PER_STEP */
} backup_opts;

#define BACKUP_PAGES_PER_STEP 1024

/* What a backup copied. */
typedef struct backup_stats {
    int64_t pages;          /* pages of the copy */
    int64_t page_size;      /* bytes per page */
    int64_t bytes;          /* size of the file written */
    int64_t schema_version; /* the migrations the copy has */
    int64_t steps;          /* backup steps it took */
    int64_t busy_retries;   /* steps retried because the source was busy or locked */
    double seconds;         /* wall time, from opening the source to the rename */
} backup_stats;

/*
 * Copies the SQLite database at `db` into a new file `to` while other processes (a running
 * server) keep writing to it, with SQLite's online backup API. The copy is one consistent
 * snapshot: a read transaction is held on the source for the whole copy, so the pages come from
 * one moment (in WAL mode, readers never block writers; without the snapshot every commit of the
 * server would restart the copy). Pages are copied `pages_per_step` at a time with a short pause
 * between steps, and a step that finds the source busy or locked is retried.
 *
 * The copy is written to a temporary file beside `to` (`<to>.tmp-XXXXXX`, mode 0600), checked
 * (PRAGMA quick_check), fsynced, then renamed to `to` and the directory fsynced: `to` is either
 * the whole copy or untouched. An existing `to` is refused unless opts->force; `to` never may be
 * the database itself or its -wal or -shm. On failure the temporary file is removed.
 *
 * Only the database file is copied: the usage journal (`<db>-usage/`) of a running server holds
 * counts served but not yet folded (a few milliseconds' worth), which the copy does not have, and
 * the pepper file is not copied either.
 *
 * Errors: validation_error (field "to": exists, is the source), not_found (no database at `db`,
 * or not a starmeter database), store_unavailable (SQLite or file system failure, or the source
 * stayed busy). *stats (may be NULL) is filled on success.
 */
int backup_sqlite_take(const char *db, const char *to, const backup_opts *opts, backup_stats *stats, app_err *err);

#endif
