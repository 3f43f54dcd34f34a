/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_STR_H
#define STARMETER_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Borrowed bytes: not NUL-terminated, not owned. */
typedef struct slice {
    const char *ptr;
    size_t len;
} slice;

#define SLICE_LIT(s) ((slice){(s), sizeof(s) - 1})

static inline slice slice_make(const char *p, size_t n)
{
    return (slice){p, n};
}

/*
 * Borrowed bytes in a few pieces, in order: an answer assembled around bytes it does not copy
 * (sent as they are, with one writev), joined only where one buffer is needed.
 */
#define SLICES_MAX 3
typedef struct slices {
    slice part[SLICES_MAX];
    size_t n;
} slices;

static inline slices slices_one(slice s)
{
    return (slices){.part = {s}, .n = 1};
}

/* The pieces' total length. */
size_t slices_len(const slices *s);
/* Copies the pieces one after another into `dst`, which holds slices_len(s) bytes. */
void slices_join(const slices *s, char *dst);

/* True when `s` holds exactly the NUL-terminated `lit`. */
bool slice_eq(slice s, const char *lit);
/* Same, ignoring ASCII case. */
bool slice_eq_nocase(slice s, const char *lit);

/*
 * Copies the NUL-terminated `src` into `dst` of `cap` bytes, always terminating when cap > 0.
 * Returns the length copied, or -1 if `src` did not fit (dst then holds a truncated copy).
 */
long str_copy(char *dst, size_t cap, const char *src);

/*
 * Copies `len` bytes of `src` into `dst` (cap bytes, NUL-terminated), writing control characters,
 * backslashes and non-ASCII bytes as \xNN so that hostile text is safe in logs and messages.
 * Returns the length written; truncates (on a character boundary) when it does not fit.
 */
size_t str_escape_ctl(char *dst, size_t cap, const char *src, size_t len);

/*
 * Parses all of `s` as a base-10 integer in [min, max]. Returns false on empty input, any
 * non-digit, overflow or a value out of range; *out is untouched then.
 */
bool str_to_i64(slice s, int64_t min, int64_t max, int64_t *out);

/*
 * Like str_to_i64, for identifiers a client sends back (ids in paths, id filters, cursors): only
 * the canonical spelling is accepted, digits without a sign or a leading zero ("0" itself aside),
 * so that one resource has exactly one name and "+1" or "01" never reach a lookup.
 */
bool str_to_id(slice s, int64_t min, int64_t max, int64_t *out);

#endif
