/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "core/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"

static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void log_init(app_log *lg, log_level level, int fd)
{
    lg->level = level;
    lg->fd = fd;
}

bool log_level_parse(const char *s, log_level *out)
{
    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (log_level)i;
            return true;
        }
    }
    return false;
}

const char *log_level_name(log_level l)
{
    return l <= LOG_OFF ? names[l] : "unknown";
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void log_write(const app_log *lg, log_level level, const char *msg, const char *fields_fmt, ...)
{
    if (!log_enabled(lg, level))
        return;
    char ts[32];
    clock_format_rfc3339_ms(clock_now_ms(clock_system()), ts);
    json_t *line = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", log_level_name(level), "msg", msg);
    if (line != NULL && fields_fmt != NULL) {
        va_list ap;
        va_start(ap, fields_fmt);
        json_error_t jerr;
        json_t *fields = json_vpack_ex(&jerr, 0, fields_fmt, ap);
        va_end(ap);
        if (fields != NULL)
            json_object_update(line, fields);
        json_decref(fields);
    }
    char out[4096];
    size_t n = line ? json_dumpb(line, out, sizeof out - 1, JSON_COMPACT | JSON_REAL_PRECISION(6)) : 0;
    json_decref(line);
    if (n == 0 || n > sizeof out - 1) {
        static const char notice[] = "{\"level\":\"error\",\"msg\":\"log line too long or unbuildable\"}\n";
        write_all(lg->fd, notice, sizeof notice - 1);
        return;
    }
    out[n++] = '\n';
    write_all(lg->fd, out, n);
}
