/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Outgoing connections on the loop (conn.h), over h2o's sockets. Each loop keeps a list of its
 * connections so that the loop's end closes them (their owners hear of it through on_close).
 *
 * Writing: h2o allows one write in flight per socket, so bytes written meanwhile gather in
 * `pending` and go in the next write, when the one in flight completes.
 */
#include "http/conn.h"

#include <h2o.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "http/http_conn_loop.h"

struct http_conn {
    h2o_socket_t *sock;
    const http_conn_handler *h;
    void *arg;
    bool connected;
    char *inflight, *pending; /* the buffer being written, and the one filling meanwhile */
    size_t inflight_len, pending_len, pending_cap, inflight_cap;
    struct http_conn *next, **prev; /* in this loop's list */
};

/* This thread's loop and its connections. */
static _Thread_local struct {
    h2o_loop_t *loop;
    http_conn *head;
} tls;

bool http_conn_on_loop(void)
{
    return tls.loop != NULL;
}

static void unlink_conn(http_conn *c)
{
    *c->prev = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}

static void conn_free(http_conn *c)
{
    unlink_conn(c);
    free(c->inflight);
    free(c->pending);
    free(c);
}

/* The socket failed or closed: closes it, tells the owner, frees the connection. */
static void conn_lost(http_conn *c, const char *why)
{
    if (c->sock != NULL) {
        c->sock->data = NULL;
        h2o_socket_close(c->sock);
        c->sock = NULL;
    }
    const http_conn_handler *h = c->h;
    void *arg = c->arg;
    conn_free(c);
    h->on_close(arg, why);
}

static void on_write(h2o_socket_t *sock, const char *err);

/* Sends what is pending when nothing is in flight. */
static void flush(http_conn *c)
{
    if (!c->connected || c->inflight_len > 0 || c->pending_len == 0)
        return;
    char *buf = c->inflight;
    size_t cap = c->inflight_cap;
    c->inflight = c->pending;
    c->inflight_cap = c->pending_cap;
    c->inflight_len = c->pending_len;
    c->pending = buf;
    c->pending_cap = cap;
    c->pending_len = 0;
    h2o_iovec_t v = h2o_iovec_init(c->inflight, c->inflight_len);
    h2o_socket_write(c->sock, &v, 1, on_write);
}

static void on_write(h2o_socket_t *sock, const char *err)
{
    http_conn *c = sock->data;
    if (c == NULL)
        return;
    if (err != NULL) {
        conn_lost(c, err);
        return;
    }
    c->inflight_len = 0;
    flush(c);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    http_conn *c = sock->data;
    if (c == NULL)
        return;
    if (err != NULL) {
        conn_lost(c, err);
        return;
    }
    size_t n = sock->input->size;
    if (n == 0)
        return;
    /* The owner may close the connection from on_data: the bytes are consumed first. */
    char stackbuf[16384], *copy = n <= sizeof stackbuf ? stackbuf : xmalloc(n);
    memcpy(copy, sock->input->bytes, n);
    h2o_buffer_consume(&sock->input, n);
    c->h->on_data(c->arg, copy, n);
    if (copy != stackbuf)
        free(copy);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
    http_conn *c = sock->data;
    if (c == NULL)
        return;
    if (err != NULL) {
        conn_lost(c, err);
        return;
    }
    c->connected = true;
    int one = 1; /* requests and their answers are small: never wait to fill a segment */
    setsockopt(h2o_socket_get_fd(sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    h2o_socket_read_start(sock, on_read);
    flush(c);
}

http_conn *http_conn_open(const struct sockaddr *addr, socklen_t addrlen, const http_conn_handler *h, void *arg)
{
    if (tls.loop == NULL)
        return NULL;
    h2o_socket_t *sock = h2o_socket_connect(tls.loop, (struct sockaddr *)addr, addrlen, on_connect);
    if (sock == NULL)
        return NULL;
    http_conn *c = xcalloc(1, sizeof *c);
    c->sock = sock;
    c->h = h;
    c->arg = arg;
    sock->data = c;
    c->next = tls.head;
    c->prev = &tls.head;
    if (tls.head != NULL)
        tls.head->prev = &c->next;
    tls.head = c;
    return c;
}

void http_conn_write(http_conn *c, const void *data, size_t len)
{
    if (c->pending_len + len > c->pending_cap) {
        size_t cap = c->pending_cap ? c->pending_cap : 4096;
        while (cap < c->pending_len + len)
            cap *= 2;
        c->pending = xrealloc(c->pending, cap);
        c->pending_cap = cap;
    }
    memcpy(c->pending + c->pending_len, data, len);
    c->pending_len += len;
    flush(c);
}

void http_conn_close(http_conn *c)
{
    if (c == NULL)
        return;
    if (c->sock != NULL) {
        c->sock->data = NULL;
        h2o_socket_close(c->sock);
    }
    conn_free(c);
}

void http__conn_loop_begin(h2o_loop_t *loop)
{
    tls.loop = loop;
    tls.head = NULL;
}

void http__conn_loop_end(void)
{
    while (tls.head != NULL)
        conn_lost(tls.head, "the event loop is ending");
    tls.loop = NULL;
}
