/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "http/http_int.h"

const char *http__reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

void http_add_header(http_ctx *ctx, const char *name, const char *value)
{
    h2o_req_t *req = ctx->req;
    h2o_iovec_t n = h2o_strdup(&req->pool, name, strlen(name));
    h2o_strtolower(n.base, n.len); /* token lookup and HTTP/2 both need lower case */
    h2o_iovec_t v = h2o_strdup(&req->pool, value, strlen(value));
    h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
}

char *http_arena_dup(http_ctx *ctx, const char *p, size_t len)
{
    return h2o_strdup(&ctx->req->pool, p, len).base;
}

static const char *route_name(const http_ctx *ctx)
{
    return ctx->route_index < ctx->opts->nroutes ? ctx->opts->routes[ctx->route_index].path : "unmatched";
}

void http__head_prepare(http_ctx *ctx, int status, const char *content_type, size_t content_length)
{
    h2o_req_t *req = ctx->req;
    req->res.status = status;
    req->res.reason = http__reason(status);
    req->res.content_length = content_length;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, ctx->request_id,
                          strlen(ctx->request_id));
    if (ctx->allow != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, ctx->allow, strlen(ctx->allow));
}

void http__access_log(http_ctx *ctx, int status, app_code code, long long bytes, const char *outcome)
{
    h2o_req_t *req = ctx->req;
    uint64_t elapsed = clock_mono_ns() - ctx->started_ns;
    metrics_observe_request(ctx->opts->metrics, ctx->route_index, status, elapsed);
    if (code != APP_OK)
        metrics_count_error(ctx->opts->metrics, code);
    if (!log_enabled(ctx->opts->log, LOG_INFO))
        return;
    char method[16];
    str_escape_ctl(method, sizeof method, req->input.method.base, req->input.method.len);
    double ms = (double)elapsed / 1e6;
    if (outcome != NULL) /* a stream: what it sent and how it ended */
        log_write(ctx->opts->log, LOG_INFO, "request", "{s:s, s:s, s:s, s:i, s:f, s:I, s:s, s:s?}", "request_id",
                  ctx->request_id, "method", method, "route", route_name(ctx), "status", status, "duration_ms", ms,
                  "bytes", (json_int_t)bytes, "outcome", outcome, "code", code != APP_OK ? app_code_name(code) : NULL);
    else if (code == APP_OK)
        log_write(ctx->opts->log, LOG_INFO, "request", "{s:s, s:s, s:s, s:i, s:f}", "request_id", ctx->request_id,
                  "method", method, "route", route_name(ctx), "status", status, "duration_ms", ms);
    else
        log_write(ctx->opts->log, LOG_INFO, "request", "{s:s, s:s, s:s, s:i, s:f, s:s}", "request_id", ctx->request_id,
                  "method", method, "route", route_name(ctx), "status", status, "duration_ms", ms, "code",
                  app_code_name(code));
}

/*
 * The gate answers heads h2o has not processed, so it renders the response itself, as h2o would,
 * with Connection: close: a refused head's body (if any) is never read, so nothing after it on the
 * connection can be trusted to be a request.
 */
static void render_gate_answer(http_ctx *ctx, const slices *body)
{
    size_t body_len = body != NULL ? slices_len(body) : 0;
    h2o_req_t *req = ctx->req;
    char top[96];
    int n = snprintf(top, sizeof top, "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: %zu\r\n", req->res.status,
                     req->res.reason, req->res.content_length);
    assert(n > 0 && (size_t)n < sizeof top);
    size_t total = (size_t)n + 2 + body_len;
    for (size_t i = 0; i < req->res.headers.size; i++)
        total += req->res.headers.entries[i].name->len + 2 + req->res.headers.entries[i].value.len + 2;
    char *out = h2o_mem_alloc_pool(&req->pool, total), *p = out;
#define PUT(src, len) (memcpy(p, (src), (len)), p += (len))
    PUT(top, (size_t)n);
    for (size_t i = 0; i < req->res.headers.size; i++) {
        const h2o_header_t *h = &req->res.headers.entries[i];
        PUT(h->name->base, h->name->len);
        PUT(": ", 2);
        PUT(h->value.base, h->value.len);
        PUT("\r\n", 2);
    }
    PUT("\r\n", 2);
    if (body_len > 0) {
        slices_join(body, p);
        p += body_len;
    }
#undef PUT
    assert((size_t)(p - out) == total);
    http__gate_send(ctx, out, total);
}

/* Every response leaves through here: headers, metrics, the access log line. */
static void send_slices(http_ctx *ctx, int status, const char *content_type, const slices *body, app_code code)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_req_t *req = ctx->req;
    assert(!ctx->replied);
    ctx->replied = true;
    size_t len = slices_len(body);

    http__head_prepare(ctx, status, content_type, len);

    http__access_log(ctx, status, code, -1, NULL);

    /* HEAD: the headers GET would send, Content-Length included, and no body. */
    bool head = req->input.method.len == 4 && memcmp(req->input.method.base, "HEAD", 4) == 0;
    http__request_done(ctx);
    if (ctx->gate != NULL) {
        render_gate_answer(ctx, head ? NULL : body);
        return;
    }
    h2o_start_response(req, &generator);
    h2o_iovec_t b[SLICES_MAX];
    size_t n = 0;
    for (size_t i = 0; !head && i < body->n; i++)
        if (body->part[i].len > 0)
            b[n++] = h2o_iovec_init(body->part[i].ptr, body->part[i].len);
    h2o_send(req, b, n, H2O_SEND_STATE_FINAL);
    http_session *sess = http__session_of(req);
    if (sess != NULL)
        http__gate_response_started(sess, req);
}

static void send_bytes(http_ctx *ctx, int status, const char *content_type, const char *body, size_t len, app_code code)
{
    slices one = slices_one(slice_make(body, len));
    send_slices(ctx, status, content_type, &one, code);
}

static void send_json(http_ctx *ctx, int status, json_t *doc, app_code code)
{
    size_t n = json_dumpb(doc, NULL, 0, JSON_COMPACT);
    char *p = h2o_mem_alloc_pool(&ctx->req->pool, n ? n : 1);
    json_dumpb(doc, p, n, JSON_COMPACT);
    json_decref(doc);
    send_bytes(ctx, status, "application/json; charset=utf-8", p, n, code);
}

/*
 * Serialises `j` into the request arena (one pass into a stack buffer, a second only when it does
 * not fit). Returns NULL when jansson cannot encode it.
 */
static char *dump_to_arena(http_ctx *ctx, const json_t *j, size_t *len)
{
    char small[4096];
    size_t n = json_dumpb(j, small, sizeof small, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n == 0)
        return NULL;
    char *p = h2o_mem_alloc_pool(&ctx->req->pool, n);
    if (n <= sizeof small)
        memcpy(p, small, n);
    else
        json_dumpb(j, p, n, JSON_COMPACT | JSON_ENCODE_ANY);
    *len = n;
    return p;
}

/*
 * The success envelope is assembled from already-serialised parts rather than rebuilt as a jansson
 * tree: on the hot path the data is often cached bytes, and a tree per response cost more than
 * h2o itself. The parts are valid JSON from jansson; the request id is safe by construction
 * (UUIDv7, or a caller id checked against [A-Za-z0-9._:-]), so nothing here needs escaping. Nor is
 * the data copied: the envelope is three pieces, a static head, the data's own bytes, and a tail
 * of a few hundred bytes in the arena, sent with one writev (a 4.5 KB horoscope copied twice per
 * call cost two large allocations, a few percent of a call).
 */
slices http_envelope(http_ctx *ctx, slice data, slice meta_members)
{
    static const char open[] = "{\"data\":", mid[] = ",\"meta\":{", rid[] = "\"request_id\":\"", close[] = "\"}}";
    size_t idlen = strlen(ctx->request_id), meta_len = meta_members.len;
    size_t total = sizeof mid - 1 + (meta_len ? meta_len + 1 : 0) + sizeof rid - 1 + idlen + sizeof close - 1;
    char *out = h2o_mem_alloc_pool(&ctx->req->pool, total), *p = out;
#define PUT(src, n) (memcpy(p, (src), (n)), p += (n))
    PUT(mid, sizeof mid - 1);
    if (meta_len) {
        PUT(meta_members.ptr, meta_len);
        *p++ = ',';
    }
    PUT(rid, sizeof rid - 1);
    PUT(ctx->request_id, idlen);
    PUT(close, sizeof close - 1);
#undef PUT
    assert((size_t)(p - out) == total);
    return (slices){.part = {SLICE_LIT(open), data, slice_make(out, total)}, .n = 3};
}

void http_reply_data_raw(http_ctx *ctx, int status, const char *data, size_t data_len, const char *meta_members,
                         size_t meta_len)
{
    slices body = http_envelope(ctx, slice_make(data, data_len), slice_make(meta_members, meta_len));
    send_slices(ctx, status, "application/json; charset=utf-8", &body, APP_OK);
}

void http_reply_data(http_ctx *ctx, int status, json_t *data, json_t *meta)
{
    size_t dlen = 0, mlen = 0;
    char *d = dump_to_arena(ctx, data ? data : json_null(), &dlen);
    char *m = NULL;
    if (meta != NULL && json_object_size(meta) > 0) {
        m = dump_to_arena(ctx, meta, &mlen);
        if (m != NULL && mlen >= 2) { /* keep the members, drop the braces */
            m++;
            mlen -= 2;
        }
    }
    json_decref(data);
    json_decref(meta);
    if (d == NULL || (meta != NULL && mlen > 0 && m == NULL)) {
        app_err err;
        app_err_clear(&err);
        app_err_set(&err, APP_INTERNAL_ERROR, "response body could not be encoded as JSON");
        http_reply_error(ctx, &err);
        return;
    }
    http_reply_data_raw(ctx, status, d, dlen, m, mlen);
}

json_t *http__error_body(const app_err *err, const char *request_id)
{
    app_code code = err->code == APP_OK ? APP_INTERNAL_ERROR : err->code;
    /* Internal details (paths, library messages) stay in the log. */
    bool opaque = code == APP_INTERNAL_ERROR || code == APP_STORE_UNAVAILABLE;
    const char *message = (opaque || err->message[0] == '\0') ? app_code_message(code) : err->message;
    json_t *details = json_object();
    if (err->nfields > 0) {
        json_t *fields = json_array();
        for (size_t i = 0; i < err->nfields; i++)
            json_array_append_new(
                fields, json_pack("{s:s, s:s}", "field", err->fields[i].field, "issue", err->fields[i].issue));
        json_object_set_new(details, "fields", fields);
    }
    for (size_t i = 0; i < err->ndetails; i++) {
        json_t *v = err->details[i].kind == APP_DETAIL_INT ? json_integer(err->details[i].num)
                                                           : json_string(err->details[i].str);
        json_object_set_new(details, err->details[i].key, v);
    }
    return json_pack("{s:{s:s, s:s, s:o, s:s}}", "error", "code", app_code_name(code), "message", message, "details",
                     details, "request_id", request_id);
}

void http_reply_error(http_ctx *ctx, const app_err *err)
{
    app_code code = err->code == APP_OK ? APP_INTERNAL_ERROR : err->code;
    /* An internal error is a fault of its own each time; an unavailable store refuses every call
     * alike, and is logged once per interval (its cause is logged where it is met). */
    int64_t held = 0;
    if (code == APP_INTERNAL_ERROR ||
        (code == APP_STORE_UNAVAILABLE &&
         log_every_pass(&ctx->worker->srv->unavailable_log, (int64_t)(clock_mono_ns() / 1000000u), 10000, &held)))
        log_write(ctx->opts->log, LOG_ERROR, "request failed", "{s:s, s:s, s:s, s:I}", "request_id", ctx->request_id,
                  "code", app_code_name(code), "error", err->message, "held_back", (json_int_t)held);
    send_json(ctx, app_code_status(code), http__error_body(err, ctx->request_id), code);
}

void http_reply_code(http_ctx *ctx, app_code code)
{
    app_err err;
    app_err_clear(&err);
    app_err_set(&err, code, NULL);
    http_reply_error(ctx, &err);
}

void http_reply_replay(http_ctx *ctx, int status, const char *body, size_t len)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *rid = json_string_value(json_object_get(json_object_get(doc, "meta"), "request_id"));
    if (rid != NULL && http__request_id_is_safe(slice_make(rid, strlen(rid)))) {
        size_t n = strlen(rid);
        memcpy(ctx->request_id, rid, n);
        ctx->request_id[n] = '\0';
    }
    json_decref(doc);
    send_bytes(ctx, status, "application/json; charset=utf-8", body, len, APP_OK);
}

void http_reply_raw(http_ctx *ctx, int status, const char *content_type, const char *body, size_t len)
{
    send_bytes(ctx, status, content_type, body, len, APP_OK);
}

void http_reply_slices(http_ctx *ctx, int status, const char *content_type, const slices *body)
{
    send_slices(ctx, status, content_type, body, APP_OK);
}
