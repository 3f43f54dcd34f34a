/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Streamed answers (http_reply_stream). The stream is an h2o generator: h2o calls its proceed
 * callback once the previous chunk is written, and the stream sends the production of the next
 * one to the worker pool, as http_defer does; the chunk comes back to the loop and is handed to
 * h2o, which writes it from the stream's buffer. So one chunk is in memory at a time, and a client
 * that reads slowly slows the producer down instead of filling the server's memory.
 *
 * Who frees what: the stream (heap) owns the caller's state and the chunk buffer. It ends in
 * exactly one of three places, each of which frees it once: after the last chunk or an error is
 * handed to h2o (on_chunk), when h2o stops the generator while no chunk is being produced
 * (on_stop), or when a chunk comes back from the pool after h2o stopped the generator (on_chunk
 * sees `gone`). The request's arena (and ctx) dies with the request, so once `gone` is set only
 * the stream's own members are used.
 */
#include <string.h>

#include "core/mem.h"
#include "http/http_int.h"

typedef struct http_stream {
    h2o_generator_t super; /* first member: h2o hands it back to on_proceed and on_stop */
    http_ctx *ctx;         /* valid until `gone` */
    http_worker *worker;
    http_chunk_fn next;
    void (*free_state)(void *state);
    void *state;
    buf out; /* the chunk being produced or written */
    int status;
    const char *content_type; /* in the request arena */
    bool head_only;           /* HEAD: the first chunk decides the status, then only the head leaves */
    bool started;             /* the head is with h2o */
    bool producing;           /* a call of `next` is on the pool */
    bool gone;                /* h2o stopped the generator: the request is torn down */
    bool last;
    int rc;
    app_err err;
    long long bytes; /* body bytes handed to h2o */
} http_stream;

static void on_chunk(http_ctx *unused, void *arg);

static void stream_free(http_stream *st)
{
    if (st->free_state != NULL)
        st->free_state(st->state);
    buf_cleanup(&st->out);
    free(st);
}

/* The stream is over: log it, count it, give back the request's slot in the loop, free it. */
static void finish(http_stream *st, const char *outcome, app_code code)
{
    http__access_log(st->ctx, st->status, code, st->bytes, outcome);
    st->worker->inflight--;
    stream_free(st);
}

/* On a pool thread: one chunk into st->out. */
static void produce_chunk(void *arg)
{
    http_stream *st = arg;
    buf_reset(&st->out);
    st->last = false;
    app_err_clear(&st->err);
    int rc = st->next(st->state, &st->out, &st->last, &st->err);
    if (rc == 0 && buf_failed(&st->out))
        rc = app_err_set(&st->err, APP_INTERNAL_ERROR, "a chunk of the stream passed %d bytes", HTTP_STREAM_CHUNK_MAX);
    if (rc != 0 && st->err.code == APP_OK)
        app_err_set(&st->err, (app_code)rc, NULL);
    st->rc = rc;
}

static void produce(http_stream *st)
{
    st->producing = true;
    http__pool_submit(st->worker->srv->pool, st->ctx, &st->worker->done, produce_chunk, on_chunk, st);
}

static void on_proceed(h2o_generator_t *self, h2o_req_t *req)
{
    (void)req;
    produce((http_stream *)self);
}

/* h2o tears the request down (a write failed: client gone, deadline, server stopping). */
static void on_stop(h2o_generator_t *self, h2o_req_t *req)
{
    (void)req;
    http_stream *st = (http_stream *)self;
    st->gone = true;
    http__access_log(st->ctx, st->status, APP_OK, st->bytes, "aborted");
    if (st->producing)
        return; /* on_chunk frees it when the chunk comes back */
    st->worker->inflight--;
    stream_free(st);
}

static void start_head(http_stream *st)
{
    http_ctx *ctx = st->ctx;
    http__head_prepare(ctx, st->status, st->content_type, SIZE_MAX);
    /* h2o frames a HEAD answer without chunked encoding: say what GET would have used. */
    if (st->head_only && ctx->req->version >= 0x101)
        h2o_add_header(&ctx->req->pool, &ctx->req->res.headers, H2O_TOKEN_TRANSFER_ENCODING, NULL,
                       H2O_STRLIT("chunked"));
    h2o_start_response(ctx->req, &st->super);
    st->started = true;
}

/*
 * Hands the last bytes (or the error) to h2o and ends the stream. Without a chunked encoder
 * (HTTP/1.0) and nothing left to write, h2o completes the response, and closes the connection,
 * inside h2o_send: the stream ends before, and nothing of the request is touched after.
 */
static void send_last(http_stream *st, h2o_iovec_t *b, h2o_send_state_t state, const char *outcome, app_code code)
{
    h2o_req_t *req = st->ctx->req;
    size_t n = b != NULL && b->len > 0 ? 1 : 0;
    if (n == 0 && st->started && req->version < 0x101) {
        finish(st, outcome, code);
        h2o_send(req, NULL, 0, state);
        return;
    }
    if (!st->started)
        start_head(st);
    st->bytes += n ? (long long)b->len : 0;
    h2o_send(req, b, n, state);
    http_session *sess = http__session_of(req);
    if (sess != NULL)
        http__gate_response_started(sess, req);
    finish(st, outcome, code);
}

/* An error once the head is gone: the body is cut short where it is, visibly. */
static void fail_after_head(http_stream *st)
{
    http_ctx *ctx = st->ctx;
    log_write(ctx->opts->log, LOG_ERROR, "stream failed", "{s:s, s:s, s:s, s:I}", "request_id", ctx->request_id, "code",
              app_code_name(st->err.code), "error", st->err.message, "bytes", (json_int_t)st->bytes);
    /* h2o's chunked encoder writes an invalid chunk for this state, and the connection closes. */
    send_last(st, NULL, H2O_SEND_STATE_ERROR, "failed", st->err.code);
}

/* Back on the loop with a produced chunk (or an error). */
static void on_chunk(http_ctx *unused, void *arg)
{
    (void)unused; /* the request may be gone: st->ctx is read only when it is not */
    http_stream *st = arg;
    st->producing = false;
    if (st->gone) {
        st->worker->inflight--;
        stream_free(st);
        return;
    }
    http_ctx *ctx = st->ctx;
    h2o_req_t *req = ctx->req;
    if (st->rc != 0) {
        if (st->started) {
            fail_after_head(st);
            return;
        }
        /* Nothing has left yet: an ordinary error answer, which ends the request itself. */
        app_err err = st->err;
        stream_free(st);
        ctx->replied = false;
        http_reply_error(ctx, &err);
        return;
    }
    if (st->head_only) {
        send_last(st, NULL, H2O_SEND_STATE_FINAL, "complete", APP_OK);
    } else if (st->last) {
        /* h2o writes from the buffer after this returns, and the stream is freed now: the last
         * chunk goes to the arena, which lives until the response is written. */
        h2o_iovec_t b =
            h2o_iovec_init(st->out.len ? http_arena_dup(ctx, st->out.data, st->out.len) : NULL, st->out.len);
        send_last(st, &b, H2O_SEND_STATE_FINAL, "complete", APP_OK);
    } else if (st->out.len == 0) {
        /* Nothing to write: an empty chunk would end the body, so ask for the next one now. */
        produce(st);
    } else {
        if (!st->started)
            start_head(st);
        h2o_iovec_t b = h2o_iovec_init(st->out.data, st->out.len);
        st->bytes += (long long)b.len;
        h2o_send(req, &b, 1, H2O_SEND_STATE_IN_PROGRESS);
        http_session *sess = http__session_of(req);
        if (sess != NULL)
            http__gate_chunk_started(sess);
    }
}

void http_reply_stream(http_ctx *ctx, int status, const char *content_type, http_chunk_fn next,
                       void (*free_state)(void *state), void *state)
{
    assert(!ctx->replied && ctx->gate == NULL);
    ctx->replied = true;
    h2o_req_t *req = ctx->req;
    http_stream *st = xcalloc(1, sizeof *st);
    st->super.proceed = on_proceed;
    st->super.stop = on_stop;
    st->ctx = ctx;
    st->worker = ctx->worker;
    st->next = next;
    st->free_state = free_state;
    st->state = state;
    buf_init(&st->out, HTTP_STREAM_CHUNK_MAX);
    st->status = status;
    st->content_type = http_arena_dup(ctx, content_type, strlen(content_type));
    st->head_only = req->input.method.len == 4 && memcmp(req->input.method.base, "HEAD", 4) == 0;
    /* Without chunked encoding (HTTP/1.0) only the connection's end can end the body. */
    if (req->version < 0x101)
        req->http1_is_persistent = 0;
    produce(st);
}
