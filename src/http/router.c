/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <string.h>

#include "http/http_int.h"

/* Splits off the next '/'-separated segment of *rest (after its leading '/'). */
static bool next_segment(slice *rest, slice *seg)
{
    if (rest->len == 0 || rest->ptr[0] != '/')
        return false;
    const char *start = rest->ptr + 1;
    const char *end = memchr(start, '/', rest->len - 1);
    size_t n = end ? (size_t)(end - start) : rest->len - 1;
    *seg = slice_make(start, n);
    rest->ptr = start + n;
    rest->len -= n + 1;
    return true;
}

int http__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The byte at s[*i], decoding one %XX; advances *i past what it read. */
static char decoded_at(slice s, size_t *i)
{
    size_t k = *i;
    if (s.ptr[k] == '%' && k + 2 < s.len && http__hexval(s.ptr[k + 1]) >= 0 && http__hexval(s.ptr[k + 2]) >= 0) {
        *i = k + 3;
        return (char)(http__hexval(s.ptr[k + 1]) * 16 + http__hexval(s.ptr[k + 2]));
    }
    *i = k + 1;
    return s.ptr[k];
}

size_t http__pct_decode(char *out, slice s)
{
    size_t o = 0;
    for (size_t i = 0; i < s.len;)
        out[o++] = decoded_at(s, &i);
    return o;
}

/* Whether raw segment `seg`, percent-decoded, equals `lit` (an encoded '/' is only a byte here). */
static bool segment_eq(slice seg, slice lit)
{
    size_t i = 0, j = 0;
    while (i < seg.len && j < lit.len)
        if (decoded_at(seg, &i) != lit.ptr[j++])
            return false;
    return i == seg.len && j == lit.len;
}

int http__path_check(slice path, app_err *err)
{
    if (path.len == 0 || path.ptr[0] != '/')
        return app_err_set(err, APP_BAD_REQUEST, "The request target must be a path starting with /.");
    /* No value of this API holds a NUL byte, and a decoded one would end a C string early: an
     * id followed by %00 and anything must not name the id. */
    for (const char *p = path.ptr, *end = path.ptr + path.len; (p = memchr(p, '%', (size_t)(end - p))) != NULL; p++)
        if (end - p >= 3 && p[1] == '0' && p[2] == '0')
            return app_err_set(err, APP_BAD_REQUEST, "The request target must not hold an encoded NUL (%%00).");
    slice rest = slice_make(path.ptr, path.len);
    const char *q = memchr(path.ptr, '?', path.len);
    if (q != NULL)
        rest.len = (size_t)(q - path.ptr);
    slice seg;
    while (next_segment(&rest, &seg))
        if (segment_eq(seg, slice_make(".", 1)) || segment_eq(seg, slice_make("..", 2)))
            return app_err_set(err, APP_BAD_REQUEST, "The request path must not hold . or .. segments.");
    return 0;
}

static bool template_match(const char *tmpl, slice path, http_ctx *ctx)
{
    slice t = slice_make(tmpl, strlen(tmpl)), ts = {NULL, 0}, ps = {NULL, 0};
    size_t nparams = 0;
    for (;;) {
        bool more_t = next_segment(&t, &ts), more_p = next_segment(&path, &ps);
        if (!more_t || !more_p) {
            if (more_t != more_p)
                return false;
            break;
        }
        if (ts.len >= 2 && ts.ptr[0] == '{' && ts.ptr[ts.len - 1] == '}') {
            if (ps.len == 0 || nparams == HTTP_MAX_PARAMS)
                return false;
            if (ctx != NULL) {
                ctx->params[nparams].name = slice_make(ts.ptr + 1, ts.len - 2);
                ctx->params[nparams].value = ps;
            }
            nparams++;
        } else if (!segment_eq(ps, ts)) {
            return false;
        }
    }
    if (ctx != NULL)
        ctx->nparams = nparams;
    return true;
}

size_t http__route_match(const http_route *routes, size_t nroutes, slice method, slice path, http_ctx *ctx,
                         bool *path_matched, char *allow, size_t allow_cap)
{
    size_t alen = 0;
    *path_matched = false;
    if (allow_cap > 0)
        allow[0] = '\0';
    for (size_t i = 0; i < nroutes; i++) {
        if (!template_match(routes[i].path, path, NULL))
            continue;
        if (slice_eq(method, routes[i].method)) {
            template_match(routes[i].path, path, ctx);
            return i;
        }
        *path_matched = true;
        size_t mlen = strlen(routes[i].method);
        if (strstr(allow, routes[i].method) == NULL && alen + mlen + 3 < allow_cap) {
            if (alen > 0) {
                memcpy(allow + alen, ", ", 2);
                alen += 2;
            }
            memcpy(allow + alen, routes[i].method, mlen);
            alen += mlen;
            allow[alen] = '\0';
        }
    }
    return nroutes;
}
