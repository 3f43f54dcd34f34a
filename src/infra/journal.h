/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_JOURNAL_H
#define STARMETER_INFRA_JOURNAL_H

/*
 * The usage journal: append-only files of fixed-size records, one file (a segment) open per
 * event loop at a time, in a directory beside the database. An event loop appends a served
 * call's count with one write(2) before the answer leaves: once write returns, the record is in
 * the kernel's page cache and survives a crash of the process (SIGKILL) without an fsync or a
 * hand-off to another thread. A background thread folds what was appended into the ledger and
 * fsyncs the segments (journal_sync); at start-up the segments a dead process left are replayed.
 *
 * Each record carries a keyed hash of its bytes, so a record torn by a crash in the middle of a
 * write is recognised and ignored (its answer never left). Each segment is locked (flock) by the
 * process that writes it, so a second process on the same directory never replays a live one.
 *
 * Threads: journal_append on the thread that owns the segment; journal_sync from any thread;
 * journal_segments, journal_read and journal_retire on one background thread (the owner of
 * `folded`); journal_open / journal_close around them all.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define JOURNAL_NAME_MAX 64

/* One count: a served call (requests 1, overage 0 or 1) or a refusal (blocked 1). */
typedef struct journal_entry {
    int64_t account_id;
    int64_t credential_id;
    int64_t day; /* the contract's local date, in days since 1970-01-01 */
    int32_t requests, overage, blocked;
} journal_entry;

typedef struct journal journal;

/* A segment file; the fields below are read by the journal's owner, written by the journal. */
typedef struct journal_segment {
    struct journal_segment *next; /* the journal's list */
    char name[JOURNAL_NAME_MAX];  /* file name within the directory, unique */
    int fd;
    _Atomic int64_t end; /* bytes of complete records (published by the appender) */
    _Atomic bool sealed; /* the appender moved to another segment: no more appends here */
    int64_t synced;      /* bytes known fsynced (background thread only) */
    int64_t folded;      /* bytes folded into the ledger (the journal's owner, background thread only) */
} journal_segment;

/* Opens (creating it) the journal directory `dir`. NULL with `err` set (store_unavailable). */
journal *journal_open(const char *dir, app_err *err);
/* Closes every segment (without removing any) and frees the journal; NULL does nothing. */
void journal_close(journal *j);

/*
 * Appends `n` entries to *seg in one write, opening a segment when *seg is NULL and moving to a
 * new one (sealing the old) when it passed its size. 0 once the entries are written whole, or
 * store_unavailable with nothing appended (a partial write is cut back).
 */
int journal_append(journal *j, journal_segment **seg, const journal_entry *e, size_t n, app_err *err);

/* Copies up to `cap` pointers to the live segments, oldest first; returns how many. */
size_t journal_segments(journal *j, journal_segment **out, size_t cap);

/*
 * Reads the complete records of `seg` from byte `from` up to its published end, at most `cap`;
 * sets *n and *next (the offset after the last record read).
 */
int journal_read(journal_segment *seg, int64_t from, journal_entry *out, size_t cap, size_t *n, int64_t *next,
                 app_err *err);

/* Fsyncs every segment appended to since its last sync. Sets *synced when it fsynced any. */
int journal_sync(journal *j, bool *synced, app_err *err);

/*
 * Whether a write reaches the journal's disk now: writes and fsyncs one block in a file of its own
 * (never taken for a segment), then removes it. For readiness once appends have failed (a full
 * disk): 0, or store_unavailable naming the system's error.
 */
int journal_probe(journal *j, app_err *err);

/*
 * Removes a sealed, fully folded and synced segment: closes its file and frees it, unlinks the
 * file and fsyncs the directory. 0 once the removal is durable (its mark may be forgotten then),
 * or store_unavailable: the file may come back after a power loss, so its mark is to be kept.
 */
int journal_retire(journal *j, journal_segment *seg, app_err *err);

/*
 * Start-up: calls fn for each segment file in the directory that no live process holds (a crash
 * left it), with its name; `fn` reads it through the journal_leftover handle and removes it with
 * journal_leftover_remove, before it forgets how far the file was replayed (a file that outlives
 * its mark is replayed from its start). Stops at the first fn that fails, with its error.
 */
typedef struct journal_leftover journal_leftover;
typedef int (*journal_leftover_fn)(void *arg, const char *name, journal_leftover *lo, app_err *err);
int journal_recover(journal *j, journal_leftover_fn fn, void *arg, app_err *err);
/* Reads valid records of a leftover from `from` (stopping at the first torn one), like journal_read. */
int journal_leftover_read(journal_leftover *lo, int64_t from, journal_entry *out, size_t cap, size_t *n, int64_t *next,
                          app_err *err);
/* Removes a leftover's file durably (unlinked, the directory fsynced): 0, or store_unavailable. */
int journal_leftover_remove(journal_leftover *lo, app_err *err);

#endif
