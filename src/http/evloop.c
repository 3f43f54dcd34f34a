/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * core/evloop.h on h2o's loops: each worker lends its loop (http_worker.ev) to the hooks it calls
 * on its thread (loop_start, loop_stop); a stream is an h2o socket of that loop. h2o reads into
 * the socket's buffer and hands it to on_data; a write is copied, sent at once when nothing else
 * is being written, and otherwise gathered behind what is (h2o takes one write at a time).
 */
#include <assert.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "http/http_int.h"

typedef struct h2o_stream {
    ev_stream super;
    http_worker *w;
    h2o_socket_t *sock;
    const ev_stream_cbs *cbs;
    void *arg;
    h2o_timeout_entry_t expiry; /* linked to w->stream_deadline while armed */
    uint64_t due_ns;            /* monotonic: h2o's timeouts follow the wall clock, which may step */
    bool writing;               /* h2o holds `out` until on_written */
    char *out, *next;           /* being written; gathered meanwhile (both owned) */
    size_t out_len, out_cap, next_len, next_cap;
} h2o_stream;

static void stream_close(ev_stream *self)
{
    h2o_stream *s = (h2o_stream *)self;
    if (h2o_timeout_is_linked(&s->expiry))
        h2o_timeout_unlink(&s->expiry);
    /* h2o closes the descriptor now and never writes from `out` again; it frees its socket on
     * the loop's next run. */
    h2o_socket_close(s->sock);
    free(s->out);
    free(s->next);
    free(s);
}

static void stream_fail(h2o_stream *s, const char *why)
{
    s->cbs->on_error(s->arg, why);
    stream_close(&s->super);
}

static void on_expired(h2o_timeout_entry_t *entry)
{
    h2o_stream *s = H2O_STRUCT_FROM_MEMBER(h2o_stream, expiry, entry);
    if (clock_mono_ns() < s->due_ns) { /* the wall clock stepped forward: not due yet */
        h2o_timeout_link(s->w->ctx.loop, &s->w->stream_deadline, &s->expiry);
        return;
    }
    stream_fail(s, "no reply before the deadline");
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    h2o_stream *s = sock->data;
    if (err != NULL) {
        stream_fail(s, err == h2o_socket_error_closed ? "closed by the peer" : err);
        return;
    }
    size_t n = sock->input->size;
    if (n == 0)
        return;
    if (s->cbs->on_data(s->arg, sock->input->bytes, n) != 0) {
        stream_fail(s, "malformed data");
        return;
    }
    h2o_buffer_consume(&sock->input, n);
}

static void append(char **dst, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*cap - *len < n) {
        size_t c = *cap ? *cap : 16384;
        while (c - *len < n)
            c *= 2;
        *dst = xrealloc(*dst, c);
        *cap = c;
    }
    memcpy(*dst + *len, data, n);
    *len += n;
}

static void start_write(h2o_stream *s);

static void on_written(h2o_socket_t *sock, const char *err)
{
    h2o_stream *s = sock->data;
    s->writing = false;
    s->out_len = 0;
    if (err != NULL) {
        stream_fail(s, err);
        return;
    }
    if (s->next_len > 0) {
        char *b = s->out;
        size_t c = s->out_cap;
        s->out = s->next;
        s->out_len = s->next_len;
        s->out_cap = s->next_cap;
        s->next = b;
        s->next_len = 0;
        s->next_cap = c;
        start_write(s);
    }
}

static void start_write(h2o_stream *s)
{
    h2o_iovec_t v = h2o_iovec_init(s->out, s->out_len);
    s->writing = true;
    h2o_socket_write(s->sock, &v, 1, on_written);
}

static void stream_write(ev_stream *self, const char *data, size_t len)
{
    h2o_stream *s = (h2o_stream *)self;
    if (s->writing) {
        append(&s->next, &s->next_len, &s->next_cap, data, len);
        return;
    }
    append(&s->out, &s->out_len, &s->out_cap, data, len);
    start_write(s);
}

static void stream_arm(ev_stream *self, int armed)
{
    h2o_stream *s = (h2o_stream *)self;
    if (h2o_timeout_is_linked(&s->expiry))
        h2o_timeout_unlink(&s->expiry);
    if (armed) {
        s->due_ns = clock_mono_ns() + s->w->stream_deadline.timeout * 1000000u;
        h2o_timeout_link(s->w->ctx.loop, &s->w->stream_deadline, &s->expiry);
    }
}

static void loop_wake(ev_loop *loop)
{
    http_worker *w = H2O_STRUCT_FROM_MEMBER(http_worker, ev, loop);
    h2o_multithread_send_message(&w->wake, NULL);
}

static ev_stream *stream_adopt(ev_loop *loop, int fd, const ev_stream_cbs *cbs, void *arg, uint32_t deadline_ms);

static const struct ev_loop_ops h2o_ev_ops = {
    .adopt = stream_adopt,
    .write = stream_write,
    .arm = stream_arm,
    .close = stream_close,
    .wake = loop_wake,
};

static ev_stream *stream_adopt(ev_loop *loop, int fd, const ev_stream_cbs *cbs, void *arg, uint32_t deadline_ms)
{
    http_worker *w = H2O_STRUCT_FROM_MEMBER(http_worker, ev, loop);
    /* One deadline for every stream of the loop (h2o's timeouts are per duration). */
    if (!w->stream_deadline_set) {
        h2o_timeout_init(w->ctx.loop, &w->stream_deadline, deadline_ms);
        w->stream_deadline_set = true;
    }
    assert(w->stream_deadline.timeout == deadline_ms);
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    h2o_stream *s = xcalloc(1, sizeof *s);
    s->super.ops = &h2o_ev_ops;
    s->w = w;
    s->cbs = cbs;
    s->arg = arg;
    s->expiry.cb = on_expired;
    s->sock = h2o_evloop_socket_create(w->ctx.loop, fd, 0);
    s->sock->data = s;
    h2o_socket_read_start(s->sock, on_read);
    return &s->super;
}

void http__evloop_init(http_worker *w)
{
    w->ev.ops = &h2o_ev_ops;
}

void http__evloop_dispose(http_worker *w)
{
    if (w->stream_deadline_set)
        h2o_timeout_dispose(w->ctx.loop, &w->stream_deadline);
    w->stream_deadline_set = false;
}
