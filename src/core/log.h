/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_LOG_H
#define STARMETER_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level;

/*
 * A JSON-lines logger: one object per line, written with a single write(2) so lines from several
 * threads never interleave. Strings are escaped by jansson, so hostile text cannot forge a line.
 */
typedef struct app_log {
    log_level level;
    int fd;
} app_log;

void log_init(app_log *lg, log_level level, int fd);

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

#endif
