/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The gate: every request head, on every connection, is read and judged here before h2o parses it.
 * h2o 2.2 reads a whole request body before a handler runs, answers some malformed requests itself
 * in text/plain, and accepts framing that RFC 9112 calls ambiguous. The gate holds the connection's
 * read callback between requests; once a complete head is in the socket's buffer it either answers
 * with the error envelope and closes, or gives the callback back to h2o, which parses the same
 * bytes. After each response it takes the callback again, before h2o looks at pipelined bytes.
 *
 * What it decides from the head alone: the target's form, the framing (Content-Length and
 * Transfer-Encoding), and, for a request that announces a body, the route, its authentication,
 * its body limit and the server's budget of bodies in flight. Requests without a body go to h2o
 * unjudged beyond their form: on_req decides them as before, at no extra cost.
 */
#include <linux/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "core/mem.h"
#include "http/http_int.h"

/*
 * libh2o exports picohttpparser, the parser it uses itself, without installing its header; the
 * gate uses the same parser so that it and h2o read the same bytes the same way.
 */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

/* A head with more header fields than h2o takes is answered 431; beyond this many it is garbage. */
#define GATE_MAX_HEADERS_SEEN 256
/* Pipelined bytes a connection may have sent beyond the request being answered: past this, the
 * connection closes after the answer rather than the server holding an unbounded queue for it. */
#define GATE_MAX_PIPELINED (64 * 1024)
/* After its own answer the gate reads and discards what the client still sends, so that closing
 * with unread bytes does not reset the connection before the answer is read, up to this much. */
#define GATE_LINGER_BYTES (1024 * 1024)

typedef struct head {
    const char *method, *path;
    size_t method_len, path_len, len, nheaders;
    int minor;
    struct phr_header *headers;
} head;

static void on_gate_read(h2o_socket_t *sock, const char *err);
static void free_refusal(http_session *sess);

http_session *http__session_of(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    return sock != NULL ? sock->on_close.data : NULL;
}

void http__gate_release(http_session *sess)
{
    if (sess->body_reserved > 0) {
        atomic_fetch_sub(&sess->worker->srv->body_bytes, sess->body_reserved);
        sess->body_reserved = 0;
    }
}

/* ---- judging a head ---- */

static bool name_is(const struct phr_header *h, const char *lower)
{
    size_t n = strlen(lower);
    return h->name_len == n && strncasecmp(h->name, lower, n) == 0;
}

static bool value_is(const struct phr_header *h, const char *lower)
{
    size_t n = strlen(lower);
    return h->value_len == n && strncasecmp(h->value, lower, n) == 0;
}

/* What the framing headers say about the body. */
typedef struct framing {
    bool has_length, chunked;
    uint64_t length;
} framing;

static int read_framing(const head *h, framing *f, bool *close_after, app_err *err)
{
    memset(f, 0, sizeof *f);
    size_t ntransfer = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct phr_header *hd = &h->headers[i];
        if (name_is(hd, "content-length")) {
            uint64_t v = 0;
            if (hd->value_len == 0 || hd->value_len > 18)
                return app_err_set(err, APP_BAD_REQUEST, "Content-Length must be a decimal number of bytes.");
            for (size_t k = 0; k < hd->value_len; k++) {
                if (hd->value[k] < '0' || hd->value[k] > '9')
                    return app_err_set(err, APP_BAD_REQUEST, "Content-Length must be a decimal number of bytes.");
                v = v * 10 + (uint64_t)(hd->value[k] - '0');
            }
            /* RFC 9112 6.3: several differing lengths leave the message's end unknown. */
            if (f->has_length && v != f->length)
                return app_err_set(err, APP_BAD_REQUEST,
                                   "Content-Length is given more than once with different values.");
            f->has_length = true;
            f->length = v;
        } else if (name_is(hd, "transfer-encoding")) {
            if (++ntransfer > 1 || !value_is(hd, "chunked"))
                return app_err_set(err, APP_BAD_REQUEST, "Transfer-Encoding must be chunked alone.");
            f->chunked = true;
        } else if (name_is(hd, "expect") && !value_is(hd, "100-continue")) {
            return app_err_set(err, APP_BAD_REQUEST, "Only Expect: 100-continue is supported.");
        }
    }
    /* Both: the chunked encoding decides (as h2o does), and the connection closes after the answer
     * (RFC 9112 6.3), since an intermediary may have read the message the other way. */
    if (f->chunked && f->has_length)
        *close_after = true;
    return 0;
}

/*
 * Sets up `ctx` for the gate's own use: a request that h2o never processes, holding the head's
 * method, target and headers in its arena, so that the route table, the authorize hook and the
 * reply path work on it as on any request.
 */
static http_ctx *gate_ctx_new(http_session *sess, const head *h)
{
    http_server *srv = sess->worker->srv;
    h2o_req_t *req = xcalloc(1, sizeof *req);
    h2o_init_request(req, sess->sock->data, NULL);
    /* h2o_dispose_request walks the output streams: an empty one stands for the connection's. */
    static h2o_ostream_t no_stream;
    req->_ostr_top = &no_stream;
    req->input.method = h2o_strdup(&req->pool, h->method, h->method_len);
    req->input.path = h2o_strdup(&req->pool, h->path, h->path_len);
    req->method = req->input.method;
    req->path = req->input.path;
    const char *q = memchr(h->path, '?', h->path_len);
    req->query_at = q != NULL ? (size_t)(q - h->path) : SIZE_MAX;
    req->version = 0x100 | (h->minor != 0);
    size_t n = h->nheaders < H2O_MAX_HEADERS ? h->nheaders : H2O_MAX_HEADERS;
    for (size_t i = 0; i < n; i++) {
        if (h->headers[i].name == NULL) /* an obs-fold line, refused before anything reads it */
            continue;
        /* Copied: the socket's buffer the head was read from is consumed while the answer lives. */
        h2o_iovec_t name = h2o_strdup(&req->pool, h->headers[i].name, h->headers[i].name_len);
        h2o_strtolower(name.base, name.len);
        h2o_iovec_t value = h2o_strdup(&req->pool, h->headers[i].value, h->headers[i].value_len);
        h2o_add_header_by_str(&req->pool, &req->headers, name.base, name.len, 1, NULL, value.base, value.len);
    }
    http_ctx *ctx = h2o_mem_alloc_pool(&req->pool, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->gate = sess;
    ctx->worker = sess->worker;
    ctx->opts = &srv->opts;
    ctx->route_index = srv->opts.nroutes;
    ctx->started_ns = clock_mono_ns();
    http__request_id_pick(ctx);
    sess->worker->inflight++;
    return ctx;
}

static void gate_ctx_free(http_ctx *ctx)
{
    h2o_req_t *req = ctx->req;
    h2o_dispose_request(req);
    free(req);
}

static void refuse(http_session *sess, const head *h, app_err *err)
{
    http_reply_error(gate_ctx_new(sess, h), err);
}

static void refuse_code(http_session *sess, const head *h, app_code code, const char *detail_key, long long detail)
{
    app_err err;
    app_err_clear(&err);
    app_err_set(&err, code, NULL);
    if (detail_key != NULL)
        app_err_detail_int(&err, detail_key, detail);
    refuse(sess, h, &err);
}

/*
 * A head that announces a body: route, authentication, the route's limit and the budget, in the
 * order on_req applies them, so that no byte of a body is read for a request that will be refused.
 * Returns true when the request may go on (the ctx, if one was needed, is already freed).
 */
static bool judge_body(http_session *sess, const head *h, const framing *f)
{
    http_server *srv = sess->worker->srv;
    const http_server_opts *o = &srv->opts;
    const char *q = memchr(h->path, '?', h->path_len);
    slice path = slice_make(h->path, q ? (size_t)(q - h->path) : h->path_len);
    slice method = slice_make(h->method, h->method_len);
    if (slice_eq(method, "HEAD"))
        method = slice_make("GET", 3);
    bool path_matched;
    char allow[128];
    size_t idx = http__route_match(o->routes, o->nroutes, method, path, NULL, &path_matched, allow, sizeof allow);
    http_ctx *ctx = gate_ctx_new(sess, h);
    app_err err;
    app_err_clear(&err);
    if (idx == o->nroutes) {
        if (path_matched) {
            ctx->allow = h2o_strdup(&ctx->req->pool, allow, strlen(allow)).base;
            app_err_set(&err, APP_METHOD_NOT_ALLOWED, NULL);
            app_err_detail_str(&err, "allowed_methods", allow);
        } else {
            app_err_set(&err, APP_NOT_FOUND, NULL);
        }
        http_reply_error(ctx, &err);
        return false;
    }
    ctx->route_index = idx;
    http__route_match(o->routes, o->nroutes, method, path, ctx, &path_matched, allow, sizeof allow);
    const http_route *route = &o->routes[idx];
    if (route->auth != HTTP_AUTH_NONE && (o->authorize == NULL || o->authorize(ctx, route->auth, &err) != 0)) {
        if (err.code == APP_OK) /* as on_req answers it */
            app_err_set(&err, route->auth == HTTP_AUTH_ADMIN ? APP_ADMIN_AUTH_REQUIRED : APP_MISSING_API_KEY, NULL);
        http_reply_error(ctx, &err);
        return false;
    }
    if ((f->chunked && route->max_body == 0) || (!f->chunked && f->length > route->max_body) ||
        f->length > o->max_body_hard) {
        app_err_set(&err, APP_PAYLOAD_TOO_LARGE, NULL);
        app_err_detail_int(&err, "max_bytes", (long long)route->max_body);
        http_reply_error(ctx, &err);
        return false;
    }
    /* A body larger than the whole budget never fits, however long the client waits: 413, not a
     * 429 that would be retried forever. */
    if (o->max_body_in_flight > 0 && !f->chunked && f->length > o->max_body_in_flight) {
        app_err_set(&err, APP_PAYLOAD_TOO_LARGE, NULL);
        app_err_detail_int(&err, "max_bytes", (long long)o->max_body_in_flight);
        http_reply_error(ctx, &err);
        return false;
    }
    /* A chunked body's length is unknown: it holds as much as h2o may read for it, or the whole
     * budget when that is more (it then runs alone instead of never). */
    uint64_t want = f->chunked ? srv->entity_cap : f->length;
    if (o->max_body_in_flight > 0 && want > o->max_body_in_flight)
        want = o->max_body_in_flight;
    if (o->max_body_in_flight > 0 && want > 0) {
        size_t held = atomic_fetch_add(&srv->body_bytes, (size_t)want);
        if (held + want > o->max_body_in_flight) {
            atomic_fetch_sub(&srv->body_bytes, (size_t)want);
            app_err_set(&err, APP_RATE_LIMITED, "The server holds too many request bodies; retry in 1 s.");
            app_err_detail_str(&err, "scope", "server");
            app_err_detail_int(&err, "retry_after_seconds", 1);
            http_add_header(ctx, "retry-after", "1");
            http_reply_error(ctx, &err);
            return false;
        }
        sess->body_reserved = (size_t)want;
    }
    /* Let through: the request is h2o's now; on_req will see it again with its body. */
    http__request_done(ctx);
    gate_ctx_free(ctx);
    return true;
}

/* Judges the complete head at the start of the socket's buffer; true to let it through. */
static bool judge(http_session *sess, const head *h)
{
    app_err err;
    app_err_clear(&err);
    /* An obs-fold line (RFC 9112 5.2): picohttpparser accepts it as a value without a name, which
     * an intermediary may join to the line before or not; either reading may be the wrong one. */
    for (size_t i = 0; i < h->nheaders; i++) {
        if (h->headers[i].name == NULL) {
            app_err_set(&err, APP_BAD_REQUEST, "Header lines may not be folded.");
            refuse(sess, h, &err);
            return false;
        }
    }
    slice target = slice_make(h->path, h->path_len);
    if (http__path_check(target, &err) != 0) {
        refuse(sess, h, &err);
        return false;
    }
    framing f;
    bool close_after = false;
    if (read_framing(h, &f, &close_after, &err) != 0) {
        refuse(sess, h, &err);
        return false;
    }
    sess->close_after = close_after;
    if ((f.has_length && f.length > 0) || f.chunked)
        return judge_body(sess, h, &f);
    return true;
}

/* Looks at what the socket holds: waits for more, refuses, or hands the head to h2o. */
static void inspect(http_session *sess)
{
    h2o_socket_t *sock = sess->sock;
    const http_server_opts *o = &sess->worker->srv->opts;
    size_t avail = sock->input->size;
    if (avail == 0)
        return;
    struct phr_header headers[H2O_MAX_HEADERS];
    head h = {.headers = headers, .nheaders = H2O_MAX_HEADERS};
    /* The bytes seen before are passed on, so that a head arriving in pieces is not scanned whole
     * again at each piece: the parser only looks for the blank line among the new ones. */
    int rc = phr_parse_request(sock->input->bytes, avail, &h.method, &h.method_len, &h.path, &h.path_len, &h.minor,
                               headers, &h.nheaders, sess->parsed_len);
    head none = {.method = "", .path = "", .headers = headers};
    if (rc == -2) {
        if (avail > o->max_header_bytes)
            refuse_code(sess, &none, APP_HEADERS_TOO_LARGE, "max_bytes", (long long)o->max_header_bytes);
        else
            sess->parsed_len = avail;
        return;
    }
    if (rc == -1) {
        /* Too many fields for h2o (431), or not HTTP/1 at all (400). */
        struct phr_header *many = xcalloc(GATE_MAX_HEADERS_SEEN, sizeof *many);
        head m = {.headers = many, .nheaders = GATE_MAX_HEADERS_SEEN};
        int rc2 = phr_parse_request(sock->input->bytes, avail, &m.method, &m.method_len, &m.path, &m.path_len, &m.minor,
                                    many, &m.nheaders, 0);
        if (rc2 > 0)
            refuse_code(sess, &m, APP_HEADERS_TOO_LARGE, "max_headers", H2O_MAX_HEADERS);
        else if (rc2 == -2) /* more fields than h2o takes already, and not finished */
            refuse_code(sess, &none, APP_HEADERS_TOO_LARGE, "max_headers", H2O_MAX_HEADERS);
        else
            refuse_code(sess, &none, APP_BAD_REQUEST, NULL, 0);
        free(many);
        return;
    }
    h.len = (size_t)rc;
    if (h.len > o->max_header_bytes) {
        refuse_code(sess, &h, APP_HEADERS_TOO_LARGE, "max_bytes", (long long)o->max_header_bytes);
        return;
    }
    if (!judge(sess, &h))
        return;
    sess->head_len = h.len;
    sess->parsed_len = 0;
    h2o_socket_read_start(sock, sess->h2o_read);
    sess->h2o_read(sock, NULL);
}

static void on_gate_read(h2o_socket_t *sock, const char *err)
{
    http_session *sess = sock->on_close.data;
    if (err != NULL) { /* h2o closes its connection on a read error */
        sess->h2o_read(sock, err);
        return;
    }
    inspect(sess);
}

/* Bytes of what this server sent that the client has acknowledged so far (0 where unknown). */
static uint64_t bytes_acked(h2o_socket_t *sock)
{
    struct tcp_info ti;
    memset(&ti, 0, sizeof ti);
    socklen_t len = sizeof ti;
    if (getsockopt(h2o_socket_get_fd(sock), IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked)
        return 0;
    return ti.tcpi_bytes_acked;
}

static void write_deadline_arm(http_session *sess)
{
    sess->acked = bytes_acked(sess->sock);
    h2o_timeout_link(sess->worker->ctx.loop, &sess->worker->write_timeout, &sess->write_deadline);
}

/*
 * The deadline is one of idleness: a client that reads, however slowly, has acknowledged bytes
 * since the last look, and the deadline starts again. One that acknowledged nothing for a whole
 * period has its socket shut down, so that the pending write fails and h2o tears the connection
 * down as after any write error.
 */
static void on_write_deadline(h2o_timeout_entry_t *entry)
{
    http_session *sess = H2O_STRUCT_FROM_MEMBER(http_session, write_deadline, entry);
    uint64_t acked = bytes_acked(sess->sock);
    if (acked != sess->acked) {
        sess->acked = acked;
        h2o_timeout_link(sess->worker->ctx.loop, &sess->worker->write_timeout, &sess->write_deadline);
        return;
    }
    const http_server_opts *o = &sess->worker->srv->opts;
    log_write(o->log, LOG_WARN, "write deadline passed", "{s:i}", "write_timeout_ms", (int)o->write_timeout_ms);
    shutdown(h2o_socket_get_fd(sess->sock), SHUT_RDWR);
}

static void on_linger_timeout(h2o_timeout_entry_t *entry);

void http__gate_attach(http_session *sess)
{
    sess->write_deadline.cb = on_write_deadline;
    sess->linger.cb = on_linger_timeout;
    sess->h2o_read = sess->sock->_cb.read;
    assert(sess->h2o_read != NULL);
    h2o_socket_read_start(sess->sock, on_gate_read);
}

void http__gate_detach(http_session *sess)
{
    if (sess->parked_input != NULL) /* closed while its request waited (h2o freed the other) */
        h2o_buffer_dispose(&sess->parked_input);
    h2o_timeout_unlink(&sess->write_deadline);
    h2o_timeout_unlink(&sess->linger);
    http__gate_release(sess);
    free_refusal(sess);
}

/* ---- the gate's own answers ---- */

static void free_refusal(http_session *sess)
{
    if (sess->refusal != NULL) {
        h2o_req_t *req = sess->refusal;
        sess->refusal = NULL;
        h2o_dispose_request(req);
        free(req);
    }
}

/* h2o owns the connection object: a read error is how it is told to close it. */
static void close_now(http_session *sess)
{
    h2o_timeout_unlink(&sess->linger);
    sess->h2o_read(sess->sock, h2o_socket_error_closed);
}

static void on_linger_timeout(h2o_timeout_entry_t *entry)
{
    close_now(H2O_STRUCT_FROM_MEMBER(http_session, linger, entry));
}

static void on_linger_read(h2o_socket_t *sock, const char *err)
{
    http_session *sess = sock->on_close.data;
    sess->lingered += sock->input->size;
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (err != NULL || sess->lingered > GATE_LINGER_BYTES)
        close_now(sess);
}

/*
 * The answer is out. A client may still be sending what the refused head announced: closing with
 * those bytes unread would make the kernel reset the connection, and a reset can destroy the
 * answer before the client reads it (RFC 9112 9.6). So the sending side is shut, and what arrives
 * is read and dropped until the client closes too, for a bounded time and number of bytes.
 */
static void on_refusal_written(h2o_socket_t *sock, const char *err)
{
    http_session *sess = sock->on_close.data;
    h2o_timeout_unlink(&sess->write_deadline);
    free_refusal(sess);
    if (err != NULL || shutdown(h2o_socket_get_fd(sock), SHUT_WR) != 0) {
        close_now(sess);
        return;
    }
    sess->lingered = sock->input->size;
    h2o_buffer_consume(&sock->input, sock->input->size);
    h2o_timeout_link(sess->worker->ctx.loop, &sess->worker->linger_timeout, &sess->linger);
    h2o_socket_read_start(sock, on_linger_read);
}

void http__gate_send(http_ctx *ctx, const char *bytes, size_t len)
{
    http_session *sess = ctx->gate;
    h2o_socket_read_stop(sess->sock);
    sess->refusal = ctx->req;
    h2o_iovec_t b = h2o_iovec_init(bytes, len);
    h2o_socket_write(sess->sock, &b, 1, on_refusal_written);
    write_deadline_arm(sess);
}

/* ---- after a response ---- */

/*
 * The request's response is written: its buffer becomes the connection's input again. Returns the
 * bytes read while it waited (to follow what was there already, once h2o has consumed the
 * request), or NULL.
 */
static h2o_buffer_t *unpark_input(http_session *sess)
{
    if (sess->parked_input == NULL)
        return NULL;
    h2o_buffer_t *waited = sess->sock->input;
    sess->sock->input = sess->parked_input;
    sess->parked_input = NULL;
    return waited;
}

/* Appends what was read while the request waited to the connection's input, and frees it. */
static void join_waited(h2o_socket_t *sock, h2o_buffer_t *waited)
{
    if (waited == NULL)
        return;
    if (waited->size > 0) {
        h2o_iovec_t dst = h2o_buffer_reserve(&sock->input, waited->size);
        if (dst.base == NULL)
            h2o_fatal("out of memory joining a connection's input");
        memcpy(dst.base, waited->bytes, waited->size);
        sock->input->size += waited->size;
    }
    h2o_buffer_dispose(&waited);
}

static void on_response_written(h2o_socket_t *sock, const char *err)
{
    http_session *sess = sock->on_close.data;
    h2o_req_t *req = sess->req;
    size_t reqsize = sess->reqsize;
    h2o_buffer_t *waited = unpark_input(sess);
    h2o_timeout_unlink(&sess->write_deadline);
    http__gate_release(sess);
    h2o_socket_cb written = sess->h2o_written;
    sess->h2o_written = NULL;
    sess->req = NULL;
    sess->head_len = sess->reqsize = sess->parsed_len = 0;
    sess->close_after = false;
    size_t extra = (sock->input->size > reqsize ? sock->input->size - reqsize : 0) + (waited ? waited->size : 0);
    /* h2o 2.2 ignores a write error here: with keep-alive it would go on to parse the pipelined
     * bytes itself, past the gate. Whether the connection stays open is read now, not when the
     * response started: h2o may have changed its mind since. */
    if (err != NULL || extra > GATE_MAX_PIPELINED)
        req->http1_is_persistent = 0;
    if (!req->http1_is_persistent || extra == 0) {
        if (waited != NULL)
            h2o_buffer_dispose(&waited);
    }
    if (!req->http1_is_persistent) {
        written(sock, err); /* h2o closes the connection, and the session with it */
        return;
    }
    if (extra == 0) {
        written(sock, NULL); /* h2o consumes the request and waits: nothing else to hide */
        h2o_socket_read_start(sock, on_gate_read);
        return;
    }
    /* h2o consumes the request's bytes and then parses what follows them, before the gate could
     * see it. It is given a stand-in buffer of exactly the request's length instead (its bytes are
     * never read), and the real one, pipelined bytes in place, comes back after. */
    h2o_buffer_t *held = sock->input;
    h2o_buffer_init(&sock->input, held->_prototype);
    if (h2o_buffer_reserve(&sock->input, reqsize).base == NULL) {
        sock->input = held;
        req->http1_is_persistent = 0;
        if (waited != NULL)
            h2o_buffer_dispose(&waited);
        written(sock, NULL);
        return;
    }
    sock->input->size = reqsize;
    written(sock, NULL);
    assert(sock->input->size == 0); /* the stand-in went back to its prototype */
    sock->input = held;
    h2o_buffer_consume(&sock->input, reqsize);
    join_waited(sock, waited); /* h2o is done with the request: its buffer may move now */
    h2o_socket_read_start(sock, on_gate_read);
    inspect(sess);
}

/* Bytes that arrive while a request waits: kept, as pipelined bytes are, up to the same bound. */
static void on_waiting_read(h2o_socket_t *sock, const char *err)
{
    if (err != NULL || sock->input->size > GATE_MAX_PIPELINED)
        h2o_socket_read_stop(sock); /* the end of stream, or enough: the answer finds out */
}

void http__gate_waiting(http_session *sess)
{
    h2o_socket_t *sock = sess->sock;
    if (sess->parked_input != NULL || h2o_socket_is_reading(sock))
        return;
    /* h2o's request points into its input buffer (method, path, headers), which a read may grow,
     * moving or freeing it: the buffer is set aside until the response is written, and reads go
     * to a fresh one (unpark_input joins them). */
    sess->parked_input = sock->input;
    h2o_buffer_init(&sock->input, sess->parked_input->_prototype);
    h2o_socket_read_start(sock, on_waiting_read);
}

void http__gate_response_started(http_session *sess, h2o_req_t *req)
{
    h2o_socket_t *sock = sess->sock;
    /* h2o has at least the response's head to write: its completion is pending. */
    assert(sock->_cb.write != NULL);
    sess->req = req;
    sess->reqsize = sess->head_len + (req->entity.base != NULL ? req->entity.len : 0);
    sess->h2o_written = sock->_cb.write;
    sock->_cb.write = on_response_written;
    write_deadline_arm(sess);
}

/*
 * A chunk of a stream is written: the write deadline stops, and h2o's own completion runs, which
 * asks the stream's generator for the next chunk (or, after a failed write, tears the request
 * down and stops the generator). The response is not over: the gate keeps out of the way until
 * the stream's last write, which goes through http__gate_response_started.
 */
static void on_chunk_written(h2o_socket_t *sock, const char *err)
{
    http_session *sess = sock->on_close.data;
    h2o_timeout_unlink(&sess->write_deadline);
    h2o_socket_cb written = sess->h2o_written;
    sess->h2o_written = NULL;
    written(sock, err);
}

void http__gate_chunk_started(http_session *sess)
{
    h2o_socket_t *sock = sess->sock;
    assert(sock->_cb.write != NULL);
    sess->h2o_written = sock->_cb.write;
    sock->_cb.write = on_chunk_written;
    write_deadline_arm(sess);
}
