/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_LOG_H
#define STARMETER_CORE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level;

/*
 * A JSON-lines logger: one object per line, written with a single write(2) so lines from several
 * threads never interleave. Strings are escaped by jansson, so hostile text cannot forge a line.
 *
 * By default a line is written by the thread that logs it. After log_async_start, lines go to a
 * bounded in-memory ring that a log thread writes out in batches, so an event loop never waits on
 * its log's file: a line finding the ring full is dropped and counted (an error line is written
 * directly instead), and log_close writes whatever is queued before it returns.
 */
typedef struct log_ring log_ring;

typedef struct app_log {
    log_level level;
    int fd;
    log_ring *ring; /* owned; NULL: synchronous */
} app_log;

/* A synchronous logger writing to `fd` (borrowed: it must stay open until log_close or the last line). */
void log_init(app_log *lg, log_level level, int fd);

/*
 * Starts the log thread and its ring of `slots` lines (0: the default, 4096). Call it before any
 * other thread logs through `lg`; a no-op when already started. Lines longer than a slot (1 KB)
 * stay synchronous. Aborts if the thread cannot start, like any allocation failure.
 */
void log_async_start(app_log *lg, unsigned slots);

/*
 * Writes every queued line, then a notice if lines were dropped, stops the log thread and makes
 * `lg` synchronous again. Call it once no other thread logs through `lg` (after the server has
 * stopped) and before closing its fd. A no-op for a synchronous logger; safe to call twice.
 */
void log_close(app_log *lg);

/* Lines dropped because the ring was full, since log_async_start (0 when synchronous). */
unsigned long log_dropped(const app_log *lg);

/* Parses "debug|info|warn|error|off". */
bool log_level_parse(const char *s, log_level *out);
const char *log_level_name(log_level l);

static inline bool log_enabled(const app_log *lg, log_level l)
{
    return lg != NULL && l >= lg->level && lg->level != LOG_OFF;
}

/*
 * Writes {"ts", "level", "msg", ...fields}. `fields_fmt` is a jansson json_pack format for an
 * object ("{s:s, s:I}") whose members are appended, or NULL for none. Never fails visibly: a line
 * that cannot be built is replaced by a short notice.
 */
void log_write(const app_log *lg, log_level level, const char *msg, const char *fields_fmt, ...);

/*
 * One line per interval for a condition that repeats with every call (a full disk fails each
 * write, and each refused call would log it): the first occurrence passes, the next ones within
 * `interval_ms` are held back and counted, and the next line that passes says how many were.
 * Zero-initialised; any thread.
 */
typedef struct log_every {
    _Atomic int64_t next_ms; /* the instant from which a line may pass again */
    _Atomic int64_t held;    /* lines held back since the last one that passed */
} log_every;

/*
 * Whether a line may be written at `now_ms` (a monotonic clock): true once per interval, with
 * *held set to how many lines were held back before it; false (the line is counted) otherwise.
 */
bool log_every_pass(log_every *e, int64_t now_ms, int64_t interval_ms, int64_t *held);

#endif
