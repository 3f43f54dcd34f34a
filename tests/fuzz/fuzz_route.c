/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The route matcher and the path checks over the API's real route table. Input: a method, one
 * space, then the request target. A match has the route's method, its parameters are non-empty
 * pieces of the path; a 405's Allow list fits its buffer; percent-decoding never grows.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *sp = memchr(in, ' ', size);
    slice method = sp ? slice_make(in, (size_t)(sp - in)) : slice_make("GET", 3);
    slice target = sp ? slice_make(sp + 1, size - (size_t)(sp - in) - 1) : slice_make(in, size);

    app_err err;
    app_err_clear(&err);
    if (http__path_check(target, &err) != 0) {
        assert(err.code == APP_BAD_REQUEST);
        return 0;
    }
    const char *q = memchr(target.ptr, '?', target.len);
    slice path = slice_make(target.ptr, q ? (size_t)(q - target.ptr) : target.len);

    struct http_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    bool path_matched = true;
    char allow[64];
    size_t i = http__route_match(api_routes, api_routes_count, method, path, &ctx, &path_matched, allow, sizeof allow);
    assert(i <= api_routes_count);
    assert(strlen(allow) < sizeof allow);
    if (i < api_routes_count) {
        assert(slice_eq(method, api_routes[i].method));
        assert(ctx.nparams <= HTTP_MAX_PARAMS);
        for (size_t k = 0; k < ctx.nparams; k++) {
            slice v = ctx.params[k].value;
            assert(v.len > 0 && v.ptr >= path.ptr && v.ptr + v.len <= path.ptr + path.len);
            assert(memchr(v.ptr, '/', v.len) == NULL);
        }
    } else if (!path_matched) {
        assert(allow[0] == '\0');
    }

    char *out = malloc(target.len + 1);
    size_t n = http__pct_decode(out, target);
    assert(n <= target.len);
    free(out);
    return 0;
}
