/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The query string and the parameter parsers behind it, as the handlers chain them: the input is a
 * request target whose query parameters (decoded by http_query) go to the sign, week and lang
 * readers of /v1/b2b/astrology/weekly-by-sign, the from/to dates of the usage history and the
 * RFC 3339 from/to of the audit list. What a parser accepts is checked against its own formatter.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain/civil.h"
#include "domain/period.h"
#include "domain/zodiac.h"
#include "http/http_int.h"

/* A NUL-terminated copy in `buf`, as the handlers make one (false when it does not fit). */
static bool copy_param(slice v, char *buf, size_t cap)
{
    if (v.len >= cap || memchr(v.ptr, '\0', v.len) != NULL)
        return false;
    memcpy(buf, v.ptr, v.len);
    buf[v.len] = '\0';
    return true;
}

static void check_params(http_ctx *ctx)
{
    slice v;
    app_err err;
    app_err_clear(&err);
    size_t n = http_query_count(ctx, "sign");
    assert((n == 1) == http_query(ctx, "sign", &v, &err));
    assert((n > 1) == (err.code == APP_VALIDATION_ERROR)); /* a repeated parameter is named */
    zodiac_sign sign;
    if (n > 0 && zodiac_sign_from_name(v, &sign)) {
        assert(sign < ZODIAC_SIGN_COUNT);
        const char *name = zodiac_sign_name(sign, ZODIAC_LANG_EN);
        assert(strlen(name) == v.len && strncasecmp(name, v.ptr, v.len) == 0);
    }
    if (http_query(ctx, "lang", &v, &err) && (slice_eq(v, "en") || slice_eq(v, "fr")))
        assert(v.len == 2);
    zodiac_week w;
    if (http_query(ctx, "week", &v, &err) && zodiac_week_parse(v, &w)) {
        char out[ZODIAC_WEEK_STR_SIZE];
        zodiac_week_format(w, out);
        assert(strlen(out) == v.len && memcmp(out, v.ptr, v.len) == 0);
    }
    static const char *const dates[] = {"from", "to"};
    for (size_t i = 0; i < 2; i++) {
        if (!http_query(ctx, dates[i], &v, &err))
            continue;
        char buf[16];
        local_date d;
        if (copy_param(v, buf, sizeof buf) && period_date_parse(buf, &d) == 0) {
            char out[11];
            period_date_format(d, out);
            assert(strcmp(out, buf) == 0);
            assert(period_date_days(period_date_from_days(period_date_days(d))) == period_date_days(d));
        }
        int64_t ms;
        if (civil_parse_rfc3339(v.ptr, v.len, &ms))
            assert(ms >= 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h2o_req_t req;
    memset(&req, 0, sizeof req);
    h2o_mem_init_pool(&req.pool);
    req.path = h2o_iovec_init(data, size);
    const char *q = memchr(data, '?', size);
    req.query_at = q ? (size_t)(q - (const char *)data) : SIZE_MAX;
    struct http_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.req = &req;
    check_params(&ctx);
    h2o_mem_clear_pool(&req.pool);
    return 0;
}
