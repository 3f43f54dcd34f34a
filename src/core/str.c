/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "core/str.h"

#include <string.h>

bool slice_eq(slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

size_t slices_len(const slices *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->part[i].len;
    return n;
}

void slices_join(const slices *s, char *dst)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->part[i].len > 0)
            memcpy(dst, s->part[i].ptr, s->part[i].len);
        dst += s->part[i].len;
    }
}

bool slice_eq_nocase(slice s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s.ptr[i]) != lower(lit[i]))
            return false;
    return true;
}

long str_copy(char *dst, size_t cap, const char *src)
{
    if (cap == 0)
        return -1;
    size_t n = strlen(src);
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return -1;
    }
    memcpy(dst, src, n + 1);
    return (long)n;
}

size_t str_escape_ctl(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (o + 1 >= cap)
                break;
            dst[o++] = (char)c;
        } else {
            if (o + 4 >= cap)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    dst[o] = '\0';
    return o;
}

bool str_to_i64(slice s, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (s.len == 0)
        return false;
    if (s.ptr[0] == '-' || s.ptr[0] == '+') {
        neg = s.ptr[0] == '-';
        i = 1;
        if (s.len == 1)
            return false;
    }
    /* Accumulate as a negative number so INT64_MIN parses without overflow. */
    int64_t v = 0;
    for (; i < s.len; i++) {
        char c = s.ptr[i];
        if (c < '0' || c > '9')
            return false;
        int d = c - '0';
        if (v < (INT64_MIN + d) / 10)
            return false;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN)
            return false;
        v = -v;
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool str_to_id(slice s, int64_t min, int64_t max, int64_t *out)
{
    if (s.len == 0 || s.ptr[0] < '0' || s.ptr[0] > '9' || (s.ptr[0] == '0' && s.len > 1))
        return false;
    return str_to_i64(s, min, max, out);
}
