/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <string.h>

#include "http/http_int.h"

static void h(http_ctx *ctx)
{
    (void)ctx;
}

static const http_route routes[] = {
    {"GET", "/healthz", h, 0},
    {"GET", "/v1/admin/accounts", h, 0},
    {"POST", "/v1/admin/accounts", h, 1024},
    {"GET", "/v1/admin/accounts/{id}", h, 0},
    {"PATCH", "/v1/admin/accounts/{id}", h, 1024},
    {"GET", "/v1/admin/accounts/{id}/credentials/{key_id}", h, 0},
};
#define N (sizeof routes / sizeof routes[0])

static size_t match(const char *method, const char *path, http_ctx *ctx, bool *pm, char *allow)
{
    return http__route_match(routes, N, slice_make(method, strlen(method)), slice_make(path, strlen(path)), ctx, pm,
                             allow, 64);
}

Test(router, exact_and_parameterised_matches)
{
    http_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    bool pm;
    char allow[64];
    cr_assert_eq(match("GET", "/healthz", &ctx, &pm, allow), 0);
    cr_assert_eq(match("POST", "/v1/admin/accounts", &ctx, &pm, allow), 2);
    cr_assert_eq(match("GET", "/v1/admin/accounts/42", &ctx, &pm, allow), 3);
    cr_assert_eq(ctx.nparams, 1);
    cr_assert(slice_eq(ctx.params[0].name, "id") && slice_eq(ctx.params[0].value, "42"));
    cr_assert_eq(match("GET", "/v1/admin/accounts/7/credentials/abcDEF123456", &ctx, &pm, allow), 5);
    cr_assert_eq(ctx.nparams, 2);
    cr_assert(slice_eq(ctx.params[1].name, "key_id") && slice_eq(ctx.params[1].value, "abcDEF123456"));
}

Test(router, unknown_paths_do_not_match)
{
    http_ctx ctx;
    bool pm;
    char allow[64];
    const char *paths[] = {"/",
                           "/healthz/",
                           "/healthzz",
                           "/v1/admin/accounts/",
                           "/v1/admin/accounts//x",
                           "/v1/admin",
                           "/v1/admin/accounts/1/2",
                           ""};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        cr_assert_eq(match("GET", paths[i], &ctx, &pm, allow), N, "%s matched", paths[i]);
        cr_assert(!pm, "%s path-matched", paths[i]);
    }
}

Test(router, wrong_method_reports_allowed_methods)
{
    http_ctx ctx;
    bool pm;
    char allow[64];
    cr_assert_eq(match("DELETE", "/v1/admin/accounts/9", &ctx, &pm, allow), N);
    cr_assert(pm);
    cr_assert_str_eq(allow, "GET, PATCH");
    cr_assert_eq(match("get", "/healthz", &ctx, &pm, allow), N, "methods are case-sensitive");
    cr_assert_str_eq(allow, "GET");
}

Test(request_id, uuid_v7_layout_and_time)
{
    char id[37];
    http__request_id_new(id, 0x0123456789abLL);
    cr_assert_eq(strlen(id), 36);
    cr_assert(strncmp(id, "01234567-89ab-7", 15) == 0, "%s", id);
    cr_assert(strchr("89ab", id[19]) != NULL);
    cr_assert(id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-');
    char other[37];
    http__request_id_new(other, 0x0123456789abLL);
    cr_assert_str_neq(id, other);
}

Test(request_id, safe_caller_ids)
{
    cr_assert(http__request_id_is_safe(SLICE_LIT("abc-DEF_1.2:3")));
    char max[65];
    memset(max, 'x', 64);
    cr_assert(http__request_id_is_safe(slice_make(max, 64)));
    char over[66];
    memset(over, 'x', 65);
    cr_assert(!http__request_id_is_safe(slice_make(over, 65)));
    const char *bad[] = {"", "a b", "a\"b", "a\nb", "é", "<x>", "a/b", "a,b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!http__request_id_is_safe(slice_make(bad[i], strlen(bad[i]))), "%s", bad[i]);
}

Test(envelope, error_body_has_code_message_details_request_id)
{
    app_err e;
    app_err_clear(&e);
    app_err_field(&e, "sign", "must be one of aries, taurus");
    app_err_detail_int(&e, "limit", 1000);
    json_t *j = http__error_body(&e, "rid-1");
    json_t *err = json_object_get(j, "error");
    cr_assert_str_eq(json_string_value(json_object_get(err, "code")), "validation_error");
    cr_assert_str_eq(json_string_value(json_object_get(err, "request_id")), "rid-1");
    json_t *details = json_object_get(err, "details");
    cr_assert_eq(json_integer_value(json_object_get(details, "limit")), 1000);
    json_t *f0 = json_array_get(json_object_get(details, "fields"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(f0, "field")), "sign");
    json_decref(j);
}

Test(envelope, internal_errors_hide_their_message)
{
    app_err e;
    app_err_clear(&e);
    app_err_set(&e, APP_INTERNAL_ERROR, "sqlite said /var/secret/path is locked");
    json_t *j = http__error_body(&e, "r");
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    cr_assert_str_eq(msg, app_code_message(APP_INTERNAL_ERROR));
    json_decref(j);
}

Test(router, segments_match_decoded_and_an_encoded_slash_stays_inside_its_segment)
{
    http_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    bool pm;
    char allow[64];
    cr_assert_eq(match("GET", "/v1/admin/%61ccounts", &ctx, &pm, allow), 1);
    cr_assert_eq(match("GET", "/v1/admin/accounts%2F42", &ctx, &pm, allow), N);
    cr_assert_eq(match("GET", "/v1/admin/accounts/4%2F2", &ctx, &pm, allow), 3, "one segment, one parameter");
    cr_assert(slice_eq(ctx.params[0].value, "4%2F2"), "parameters are kept raw until read");
    cr_assert_eq(match("GET", "/v1/admin/accounts/7/credentials%2Fabc", &ctx, &pm, allow), N);
}

Test(router, path_check_refuses_dot_segments_and_targets_without_a_slash)
{
    const char *bad[] = {"",       "healthz", "*",         "http://x/", "/.",       "/..",
                         "/a/./b", "/a/../b", "/a/%2e%2E", "/%2e/x",    "/a/.%2e/b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        app_err err;
        app_err_clear(&err);
        cr_assert_eq(http__path_check(slice_make(bad[i], strlen(bad[i])), &err), APP_BAD_REQUEST, "%s", bad[i]);
    }
    const char *good[] = {"/", "/healthz", "/a/.b", "/a/..b/c", "/assets/index-1.2.js", "/a?x=/../", "/a/%2e%2ex"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        app_err err;
        app_err_clear(&err);
        cr_assert_eq(http__path_check(slice_make(good[i], strlen(good[i])), &err), 0, "%s", good[i]);
    }
}

Test(router, percent_decoding_keeps_malformed_escapes)
{
    char out[32];
    const char *in = "a%2Fb%zz%4";
    size_t n = http__pct_decode(out, slice_make(in, strlen(in)));
    cr_assert_eq(n, 8);
    cr_assert(memcmp(out, "a/b%zz%4", 8) == 0);
}
