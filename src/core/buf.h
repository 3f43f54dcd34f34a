/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_BUF_H
#define STARMETER_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A growable byte buffer with a size cap and a sticky error flag (as SQLite's sqlite3_str): append
 * freely, check `buf_failed` once at the end. The bytes are always NUL-terminated.
 */
typedef struct buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* appends that would pass this many bytes set `failed` */
    bool failed;
} buf;

void buf_init(buf *b, size_t max);
void buf_cleanup(buf *b);
/* Empties `b` and clears its error flag, keeping its allocation for the next appends. */
void buf_reset(buf *b);
void buf_append(buf *b, const char *p, size_t n);
void buf_appends(buf *b, const char *s);
void buf_appendf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool buf_failed(const buf *b)
{
    return b->failed;
}

#endif
