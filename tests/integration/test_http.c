/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The HTTP contract over real sockets: envelopes, request ids, errors, limits, ops routes. */
#include <criterion/criterion.h>
#include <string.h>

#include "integration/harness.h"

static th_server srv;

static void setup(void)
{
    th_start(&srv, NULL);
}

static void teardown(void)
{
    th_stop(&srv);
}

TestSuite(http, .init = setup, .fini = teardown);

static const char *jstr(json_t *root, const char *path1, const char *path2)
{
    json_t *o = json_object_get(root, path1);
    json_t *v = path2 ? json_object_get(o, path2) : o;
    return json_string_value(v);
}

Test(http, healthz_has_success_envelope_and_request_id)
{
    th_response r;
    th_request(&srv, "GET", "/healthz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(jstr(json_object_get(r.json, "data"), "status", NULL), "ok");
    char rid[128];
    cr_assert(th_header(&r, "x-request-id", rid, sizeof rid));
    cr_assert_str_eq(jstr(r.json, "meta", "request_id"), rid);
    /* A fresh UUIDv7. */
    cr_assert_eq(strlen(rid), 36);
    cr_assert_eq(rid[14], '7');
    cr_assert(strchr("89ab", rid[19]) != NULL);
    th_response_free(&r);
}

Test(http, request_ids_are_unique)
{
    char seen[20][64];
    for (int i = 0; i < 20; i++) {
        th_response r;
        th_request(&srv, "GET", "/healthz", NULL, NULL, &r);
        cr_assert(th_header(&r, "x-request-id", seen[i], sizeof seen[i]));
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(seen[i], seen[j]);
        th_response_free(&r);
    }
}

Test(http, safe_caller_request_id_is_echoed)
{
    const char *h[] = {"X-Request-Id: trace-42.abc:XYZ_1", NULL};
    th_response r;
    th_request(&srv, "GET", "/nope", h, NULL, &r);
    th_assert_error(&r, 404, "not_found");
    char rid[128];
    th_header(&r, "x-request-id", rid, sizeof rid);
    cr_assert_str_eq(rid, "trace-42.abc:XYZ_1");
    th_response_free(&r);
}

Test(http, unsafe_or_long_caller_request_id_is_replaced)
{
    char longid[100];
    memset(longid, 'a', 65);
    longid[65] = '\0';
    char hdr[128];
    snprintf(hdr, sizeof hdr, "X-Request-Id: %s", longid);
    const char *cases[] = {"X-Request-Id: has space", "X-Request-Id: <script>", "X-Request-Id: a\"b", hdr};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *h[] = {cases[i], NULL};
        th_response r;
        th_request(&srv, "GET", "/healthz", h, NULL, &r);
        char rid[128];
        cr_assert(th_header(&r, "x-request-id", rid, sizeof rid));
        cr_assert_eq(strlen(rid), 36, "case %zu kept %s", i, rid);
        th_response_free(&r);
    }
}

/* A key pasted into X-Request-Id must not be echoed, logged or stored: it is replaced. */
Test(http, apikey_shaped_request_id_is_replaced_and_never_logged)
{
    const char *secret = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg"; /* 43 base62 */
    char key[80], bare[80];
    snprintf(key, sizeof key, "sm_live_ABCDEFGHJKLM_%s", secret);
    snprintf(bare, sizeof bare, "ABCDEFGHJKLM_%s", secret);
    cr_assert_eq(strlen(key), 64);
    const char *values[] = {key, bare, secret, "sm_live_ABCDEFGHJKLM", "SM_LIVE_abc", "trace.sm_live_1"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char hdr[128];
        snprintf(hdr, sizeof hdr, "X-Request-Id: %s", values[i]);
        const char *h[] = {hdr, NULL};
        th_response r;
        th_request(&srv, "GET", "/nope", h, NULL, &r);
        th_assert_error(&r, 404, "not_found");
        char rid[128];
        cr_assert(th_header(&r, "x-request-id", rid, sizeof rid));
        cr_assert_eq(strlen(rid), 36, "kept %s", rid);
        cr_assert_null(strstr(r.body, values[i]), "%s", r.body);
        th_response_free(&r);
    }
    size_t len;
    char *log = th_read_file(srv.log_path, &len);
    cr_assert_not_null(log);
    cr_assert_null(strstr(log, secret), "a key-shaped request id reached the log");
    cr_assert_null(strstr(log, "sm_live_"), "a key-shaped request id reached the log");
    cr_assert_null(strstr(log, "SM_LIVE_"), "a key-shaped request id reached the log");
    free(log);

    /* Trace ids of the usual shapes are still echoed. */
    const char *kept[] = {"0af7651916cd43dd8448eb211c80319c", "01890a5d-ac96-774b-bcce-b302099a8057", "smoke_test-1",
                          "sm_live"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        char hdr[128];
        snprintf(hdr, sizeof hdr, "X-Request-Id: %s", kept[i]);
        const char *h[] = {hdr, NULL};
        th_response r;
        th_request(&srv, "GET", "/healthz", h, NULL, &r);
        char rid[128];
        cr_assert(th_header(&r, "x-request-id", rid, sizeof rid));
        cr_assert_str_eq(rid, kept[i]);
        th_response_free(&r);
    }
}

Test(http, unknown_route_is_404_envelope)
{
    th_response r;
    th_request(&srv, "GET", "/nope", NULL, NULL, &r);
    th_assert_error(&r, 404, "not_found");
    th_response_free(&r);
    th_request(&srv, "DELETE", "/v1/does/not/exist?x=1", NULL, NULL, &r);
    th_assert_error(&r, 404, "not_found");
    th_response_free(&r);
}

Test(http, wrong_method_is_405_with_allow)
{
    th_response r;
    th_request(&srv, "POST", "/healthz", NULL, "", &r);
    th_assert_error(&r, 405, "method_not_allowed");
    char allow[64];
    cr_assert(th_header(&r, "allow", allow, sizeof allow));
    cr_assert_str_eq(allow, "GET");
    th_response_free(&r);
}

Test(http, body_over_route_limit_is_413_envelope)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    th_response r;
    th_request(&srv, "GET", "/healthz", h, "{\"too\":\"much\"}", &r);
    th_assert_error(&r, 413, "payload_too_large");
    th_response_free(&r);
}

Test(http, body_over_hard_limit_is_refused_unread)
{
    /* Announces 64 MiB and sends none of it: refused at once from the head alone, after the route
     * and its authentication. */
    const char req[] = "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n"
                       "Content-Length: 67108864\r\n\r\n";
    char *out = th_raw(&srv, req, sizeof req - 1, 2000);
    cr_assert(strncmp(out, "HTTP/1.1 413", 12) == 0, "got: %s", out);
    cr_assert(strstr(out, "payload_too_large") != NULL, "got: %s", out);
    free(out);
    const char other[] = "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\n\r\n";
    out = th_raw(&srv, other, sizeof other - 1, 2000);
    cr_assert(strncmp(out, "HTTP/1.1 405", 12) == 0, "the route decides first; got: %s", out);
    free(out);
}

Test(http, header_block_over_limit_is_431)
{
    static char big[20000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *hdr = malloc(sizeof big + 16);
    snprintf(hdr, sizeof big + 16, "X-Big: %s", big);
    const char *h[] = {hdr, NULL};
    th_response r;
    th_request(&srv, "GET", "/healthz", h, NULL, &r);
    th_assert_error(&r, 431, "request_header_fields_too_large");
    th_response_free(&r);
    free(hdr);
}

Test(http, an_encoded_nul_in_the_target_is_400)
{
    const char *targets[] = {"/healthz?x=%00", "/v1/admin/credentials/kAbc%00x",
                             "/v1/b2b/usage/summary?from=2026-01-01%00junk"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        th_response r;
        th_request(&srv, "GET", targets[i], NULL, NULL, &r);
        th_assert_error(&r, 400, "bad_request");
        th_response_free(&r);
    }
}

Test(http, garbage_request_gets_400_and_server_keeps_serving)
{
    const char *garbage[] = {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nHost x\r\n\r\n",
                             "\x16\x03\x01\x02\x00\x01\x00\r\n\r\n", "GET /healthz HTTP/9.9 extra\r\n\r\n"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        char *out = th_raw(&srv, garbage[i], strlen(garbage[i]), 2000);
        cr_assert(strncmp(out, "HTTP/1.1 400", 12) == 0, "case %zu got: %s", i, out);
        free(out);
        th_response r;
        th_request(&srv, "GET", "/healthz", NULL, NULL, &r);
        cr_assert_eq(r.status, 200);
        th_response_free(&r);
    }
}

Test(http, keep_alive_serves_many_requests_on_one_connection)
{
    const char one[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char req[512];
    req[0] = '\0';
    for (int i = 0; i < 4; i++)
        strcat(req, one);
    strcat(req, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    char *out = th_raw(&srv, req, strlen(req), 2000);
    int n = 0;
    for (const char *p = out; (p = strstr(p, "HTTP/1.1 200 OK")) != NULL; p++)
        n++;
    cr_assert_eq(n, 5, "pipelined responses: %s", out);
    free(out);
}

Test(http, metrics_count_requests_and_errors)
{
    th_response r;
    th_request(&srv, "GET", "/healthz", NULL, NULL, &r);
    th_response_free(&r);
    th_request(&srv, "GET", "/nope", NULL, NULL, &r);
    th_response_free(&r);
    th_request(&srv, "GET", "/metrics", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    char ct[128];
    th_header(&r, "content-type", ct, sizeof ct);
    cr_assert(strstr(ct, "text/plain; version=0.0.4") != NULL);
    cr_assert(strstr(r.body, "http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1\n") != NULL, "%s",
              r.body);
    cr_assert(strstr(r.body, "http_requests_total{route=\"unmatched\",status=\"404\"} 1\n") != NULL);
    cr_assert(strstr(r.body, "b2b_api_errors_total{code=\"not_found\"} 1\n") != NULL);
    cr_assert(strstr(r.body, "http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 1\n") != NULL);
    cr_assert(
        strstr(r.body, "http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"+Inf\"} 1\n") !=
        NULL);
    th_response_free(&r);
}

Test(http, readyz_with_working_store)
{
    th_response r;
    th_request(&srv, "GET", "/readyz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *data = json_object_get(r.json, "data");
    cr_assert_str_eq(json_string_value(json_object_get(data, "status")), "ready");
    cr_assert(json_integer_value(json_object_get(data, "schema_version")) >= 1);
    th_response_free(&r);
}

Test(http, openapi_is_served_from_docs)
{
    th_response r;
    th_request(&srv, "GET", "/openapi.yaml", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    size_t len;
    char *doc = th_read_file(STARMETER_SOURCE_DIR "/docs/openapi.yaml", &len);
    cr_assert_not_null(doc);
    cr_assert_eq(r.body_len, len);
    cr_assert(memcmp(r.body, doc, len) == 0);
    free(doc);
    th_response_free(&r);
}

Test(http, every_request_is_one_json_log_line)
{
    const char *h[] = {"X-Request-Id: log-line-check", NULL};
    th_response r;
    th_request(&srv, "GET", "/nope", h, NULL, &r);
    th_response_free(&r);
    size_t len;
    char *log = th_read_file(srv.log_path, &len);
    int found = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "not JSON: %s", line);
        const char *rid = json_string_value(json_object_get(j, "request_id"));
        if (rid && strcmp(rid, "log-line-check") == 0) {
            found++;
            cr_assert_str_eq(json_string_value(json_object_get(j, "method")), "GET");
            cr_assert_str_eq(json_string_value(json_object_get(j, "route")), "unmatched");
            cr_assert_eq(json_integer_value(json_object_get(j, "status")), 404);
            cr_assert(json_is_number(json_object_get(j, "duration_ms")));
        }
        json_decref(j);
    }
    cr_assert_eq(found, 1);
    free(log);
}

/* A store that fails every call once started: /readyz must say so without leaking internals. */
Test(readyz, broken_store_is_503_store_unavailable)
{
    th_server s;
    char dir[256];
    th_tmpdir(dir);
    app_err err;
    app_err_clear(&err);
    store *inner;
    if (th_store_is_postgres()) {
        char uri[512];
        th_pg_new_database(uri, sizeof uri);
        inner = store_pg_open(uri, 2, &err);
    } else {
        char path[300];
        snprintf(path, sizeof path, "%s/broken.db", dir);
        inner = store_sqlite_open(path, &err);
    }
    cr_assert_not_null(inner, "%s", err.message);
    /* Start-up goes well; then the store breaks. */
    store *faulty = store_faulty_new(inner, -1);
    th_opts o = {.store = faulty};
    th_start(&s, &o);
    store_faulty_break(faulty, true);
    th_response r;
    th_request(&s, "GET", "/readyz", NULL, NULL, &r);
    th_assert_error(&r, 503, "store_unavailable");
    cr_assert(strstr(r.body, "injected") == NULL, "internal detail leaked: %s", r.body);
    th_response_free(&r);
    th_request(&s, "GET", "/healthz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "liveness does not depend on the store");
    th_response_free(&r);
    th_stop(&s);
    th_rmdir(dir);
}
