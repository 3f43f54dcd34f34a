/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * HTTP/1 corners a hostile or broken client reaches, over raw sockets: HEAD, ambiguous framing,
 * encoded path segments, malformed heads answered with the error envelope, bodies refused before
 * they are read.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

TestSuite(protocol, .init = setup, .fini = teardown, .timeout = 60);

/* How many responses a raw exchange holds. */
static int count_responses(const char *out)
{
    int n = 0;
    for (const char *p = out; (p = strstr(p, "HTTP/1.1 ")) != NULL; p++)
        if (p == out || p[-1] == '\n')
            n++;
    return n;
}

/* The value of header `name` in the first response's head, into v[cap]; false if absent. */
static bool raw_header(const char *out, const char *name, char *v, size_t cap)
{
    const char *end = strstr(out, "\r\n\r\n");
    size_t n = strlen(name);
    for (const char *p = strstr(out, "\r\n"); p != NULL && p < end; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *s = p + 2 + n + 1;
            while (*s == ' ')
                s++;
            size_t len = strcspn(s, "\r");
            if (len >= cap)
                len = cap - 1;
            memcpy(v, s, len);
            v[len] = '\0';
            return true;
        }
    }
    return false;
}

/* The first response's body, as its Content-Length delimits it; owned. */
static char *raw_body(const char *out)
{
    char cl[32];
    const char *b = strstr(out, "\r\n\r\n");
    cr_assert(b != NULL && raw_header(out, "content-length", cl, sizeof cl), "no head: %s", out);
    size_t n = strtoul(cl, NULL, 10);
    b += 4;
    cr_assert(strlen(b) >= n, "short body: %s", out);
    char *body = malloc(n + 1);
    memcpy(body, b, n);
    body[n] = '\0';
    return body;
}

/* Asserts the first response is the error envelope with `status` and `code`, request id included. */
static void assert_raw_error(const char *out, int status, const char *code)
{
    char line[32];
    snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    cr_assert(strncmp(out, line, strlen(line)) == 0, "want %d, got: %s", status, out);
    char ct[128], rid[128];
    cr_assert(raw_header(out, "content-type", ct, sizeof ct) && strstr(ct, "application/json") != NULL, "%s", out);
    cr_assert(raw_header(out, "x-request-id", rid, sizeof rid), "no X-Request-Id: %s", out);
    char *body = raw_body(out);
    json_t *j = json_loads(body, 0, NULL);
    cr_assert_not_null(j, "not JSON: %s", body);
    json_t *e = json_object_get(j, "error");
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), code, "%s", body);
    cr_assert_str_eq(json_string_value(json_object_get(e, "request_id")), rid);
    cr_assert(json_is_string(json_object_get(e, "message")));
    cr_assert(json_is_object(json_object_get(e, "details")));
    json_decref(j);
    free(body);
}

static char *exchange(const char *bytes)
{
    return th_raw(&srv, bytes, strlen(bytes), 3000);
}

static void assert_serving(void)
{
    th_response r;
    th_request(&srv, "GET", "/healthz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
}

/* ---- HEAD ---- */

Test(protocol, head_answers_like_get_without_a_body)
{
    char *get = exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    char get_len[32];
    cr_assert(raw_header(get, "content-length", get_len, sizeof get_len));
    /* HEAD then GET on one connection: a body after the HEAD's head would be read as the second
     * response's start. */
    char *out = exchange("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                         "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
    char head_len[32];
    cr_assert(raw_header(out, "content-length", head_len, sizeof head_len));
    cr_assert_str_eq(head_len, get_len, "HEAD announces what GET would send");
    const char *second = strstr(out, "\r\n\r\n") + 4;
    cr_assert(strncmp(second, "HTTP/1.1 200 ", 13) == 0, "bytes after HEAD's head: %s", second);
    cr_assert_eq(count_responses(out), 2);
    free(out);
    free(get);
}

Test(protocol, head_of_an_error_has_no_body)
{
    char *out = exchange("HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                         "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strncmp(out, "HTTP/1.1 404 ", 13) == 0, "%s", out);
    char rid[64];
    cr_assert(raw_header(out, "x-request-id", rid, sizeof rid));
    const char *second = strstr(out, "\r\n\r\n") + 4;
    cr_assert(strncmp(second, "HTTP/1.1 200 ", 13) == 0, "a 404 body followed HEAD: %s", second);
    free(out);
}

/* ---- framing ---- */

Test(protocol, two_different_content_lengths_are_400_and_close)
{
    /* Read with the first length, the rest would run as a request of its own (smuggling). */
    char *out = exchange("POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n"
                         "Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 41\r\n\r\n"
                         "{}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_raw_error(out, 400, "bad_request");
    char conn[32];
    cr_assert(raw_header(out, "connection", conn, sizeof conn));
    cr_assert_str_eq(conn, "close");
    cr_assert_eq(count_responses(out), 1, "the rest ran as a request: %s", out);
    free(out);
    assert_serving();
}

Test(protocol, repeated_equal_content_length_is_accepted)
{
    char *out = exchange("POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n"
                         "Content-Type: application/json\r\nContent-Length: 12\r\nContent-Length: 12\r\n"
                         "Connection: close\r\n\r\n{\"name\":\"A\"}");
    cr_assert(strncmp(out, "HTTP/1.1 201 ", 13) == 0, "%s", out);
    free(out);
}

Test(protocol, content_length_with_transfer_encoding_closes_after_the_answer)
{
    char *out = exchange("POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n"
                         "Content-Type: application/json\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "c\r\n{\"name\":\"B\"}\r\n0\r\n\r\n"
                         "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strncmp(out, "HTTP/1.1 201 ", 13) == 0, "chunked decides: %s", out);
    char conn[32];
    cr_assert(raw_header(out, "connection", conn, sizeof conn));
    cr_assert_str_eq(conn, "close");
    cr_assert_eq(count_responses(out), 1, "%s", out);
    free(out);
}

Test(protocol, malformed_framing_is_400_envelope)
{
    const char *cases[] = {
        "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
        "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = exchange(cases[i]);
        cr_assert(strncmp(out, "HTTP/1.1 400 ", 13) == 0, "case %zu: %s", i, out);
        assert_raw_error(out, 400, "bad_request");
        free(out);
    }
}

/* ---- the path ---- */

Test(protocol, target_without_leading_slash_is_400)
{
    const char *cases[] = {"GET healthz HTTP/1.1\r\nHost: x\r\n\r\n", "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
                           "GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = exchange(cases[i]);
        assert_raw_error(out, 400, "bad_request");
        free(out);
    }
}

Test(protocol, encoded_slash_and_dot_segments_do_not_choose_the_route)
{
    const char *auth[] = {TH_ADMIN_AUTH, NULL};
    th_response r;
    /* "accounts%2F1" is one segment: it is not /accounts/{id}, and not /accounts either. */
    th_request(&srv, "GET", "/v1/admin/accounts%2F1", auth, NULL, &r);
    th_assert_error(&r, 404, "not_found");
    th_response_free(&r);
    th_request(&srv, "GET", "/v1/admin/accounts%2f", auth, NULL, &r);
    th_assert_error(&r, 404, "not_found");
    th_response_free(&r);
    /* Dot segments, plain or encoded, are refused rather than resolved. */
    const char *dots[] = {"/v1/admin/plans/%2e%2e/accounts", "/v1/admin/plans/../accounts", "/healthz/.",
                          "/v1/b2b/astrology/%2E%2e/../usage/summary", "/./healthz"};
    for (size_t i = 0; i < sizeof dots / sizeof dots[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n\r\n", dots[i]);
        char *out = exchange(req);
        assert_raw_error(out, 400, "bad_request");
        free(out);
    }
    /* An encoded byte that is not a separator is still that byte. */
    th_request(&srv, "GET", "/v1/admin/%61ccounts", auth, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
}

/* ---- the envelope for what HTTP parsing refuses ---- */

Test(protocol, malformed_heads_get_the_error_envelope)
{
    struct {
        const char *bytes;
        size_t len;
        int status;
        const char *code;
    } cases[] = {
#define C(s, st, c) {s, sizeof s - 1, st, c}
        C("GARBAGE\r\n\r\n", 400, "bad_request"),
        C("\x16\x03\x01\x02\x00\x01\x00\r\n\r\n", 400, "bad_request"),
        C("GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 400, "bad_request"),
        C("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400, "bad_request"),
        C("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400, "bad_request"),
        C("POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400,
          "bad_request"),
#undef C
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = th_raw(&srv, cases[i].bytes, cases[i].len, 3000);
        assert_raw_error(out, cases[i].status, cases[i].code);
        free(out);
    }
    assert_serving();
}

Test(protocol, too_many_or_too_large_headers_are_431_envelope)
{
    char *req = malloc(64 * 1024);
    size_t o = (size_t)snprintf(req, 64 * 1024, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 120; i++)
        o += (size_t)snprintf(req + o, 64 * 1024 - o, "X-H%d: v\r\n", i);
    o += (size_t)snprintf(req + o, 64 * 1024 - o, "\r\n");
    char *out = th_raw(&srv, req, o, 3000);
    assert_raw_error(out, 431, "request_header_fields_too_large");
    free(out);
    /* A header block over --max-header-bytes, never finished: refused once the bound is passed. */
    o = (size_t)snprintf(req, 64 * 1024, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + o, 'a', 40000);
    o += 40000;
    out = th_raw(&srv, req, o, 3000);
    assert_raw_error(out, 431, "request_header_fields_too_large");
    free(out);
    free(req);
    assert_serving();
}

Test(protocol, folded_header_lines_are_400)
{
    /* obs-fold: one intermediary joins the line to X-A, another reads it apart. */
    char *out = exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n");
    assert_raw_error(out, 400, "bad_request");
    free(out);
    out = exchange("POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n"
                   "Content-Type: application/json\r\nContent-Length: 2\r\n\tchunked\r\n\r\n{}");
    assert_raw_error(out, 400, "bad_request");
    free(out);
    assert_serving();
}

Test(protocol, too_many_headers_are_431_before_the_head_ends)
{
    char *req = malloc(64 * 1024);
    size_t o = (size_t)snprintf(req, 64 * 1024, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 150; i++)
        o += (size_t)snprintf(req + o, 64 * 1024 - o, "X-H%d: v\r\n", i);
    char *out = th_raw(&srv, req, o, 3000); /* no blank line: the head is not finished */
    assert_raw_error(out, 431, "request_header_fields_too_large");
    free(out);
    free(req);
}

Test(protocol, broken_chunked_encoding_is_400_from_h2o_and_closes)
{
    /* Documented in openapi.yaml: the body is h2o's to decode, after the gate let the head through,
     * so its refusal is h2o's plain-text 400; the connection closes and nothing else runs. */
    char *out = exchange("POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n"
                         "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
                         "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strncmp(out, "HTTP/1.1 400 ", 13) == 0, "%s", out);
    cr_assert_eq(count_responses(out), 1, "%s", out);
    free(out);
    assert_serving();
}

Test(protocol, an_idempotent_replay_names_one_request_in_header_and_body)
{
    th_response r;
    cr_assert_eq(th_admin(&srv, "POST", "/v1/admin/plans", "{\"code\":\"rp\",\"name\":\"R\",\"daily_limit\":10}", &r),
                 201, "%s", r.body);
    th_response_free(&r);
    th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"Acme\"}", &r);
    long long id = json_integer_value(json_object_get(th_data(&r), "id"));
    th_response_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", id);
    cr_assert_eq(th_admin(&srv, "PUT", path, "{\"plan_code\":\"rp\"}", &r), 200, "%s", r.body);
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", id);
    th_admin(&srv, "POST", path, NULL, &r);
    char hk[160];
    snprintf(hk, sizeof hk, "X-API-Key: %s", json_string_value(json_object_get(th_data(&r), "api_key")));
    th_response_free(&r);
    const char *h[] = {hk, "Idempotency-Key: replay-1", NULL};
    const char *url = "/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2026-W47";
    th_response a, b;
    th_request(&srv, "GET", url, h, NULL, &a);
    cr_assert_eq(a.status, 200, "%s", a.body);
    th_request(&srv, "GET", url, h, NULL, &b);
    cr_assert_eq(b.status, 200, "%s", b.body);
    cr_assert_str_eq(a.body, b.body, "the stored answer, byte for byte");
    char rid_a[80], rid_b[80];
    cr_assert(th_header(&a, "x-request-id", rid_a, sizeof rid_a));
    cr_assert(th_header(&b, "x-request-id", rid_b, sizeof rid_b));
    const char *body_rid = json_string_value(json_object_get(json_object_get(b.json, "meta"), "request_id"));
    cr_assert_str_eq(rid_b, body_rid, "header and body of the replay");
    cr_assert_str_eq(rid_b, rid_a, "the replay names the request that was served");
    th_response_free(&a);
    th_response_free(&b);
}
