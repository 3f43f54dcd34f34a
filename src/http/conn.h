/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_HTTP_CONN_H
#define STARMETER_HTTP_CONN_H

/*
 * Outgoing TCP connections driven by the calling thread's event loop: how a client of another
 * service (the Redis counters) talks to it from the loop that serves the request, with no thread
 * in between. Everything here runs on that loop's thread; bytes are delivered as they arrive and
 * written as the socket takes them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct http_conn http_conn;

typedef struct http_conn_handler {
    /* Bytes arrived (borrowed for the call). */
    void (*on_data)(void *arg, const char *data, size_t len);
    /*
     * The connection is gone (refused, reset, closed by the peer, or the loop is ending); `why`
     * for the log. Nothing is called after it, and the connection is freed.
     */
    void (*on_close)(void *arg, const char *why);
} http_conn_handler;

/* True on a thread that runs one of the server's event loops. */
bool http_conn_on_loop(void);

/*
 * Connects to `addr` from this thread's loop. Writes made before the connection is up are sent
 * once it is. NULL when this thread runs no loop or the socket cannot be created (on_close is then
 * not called). `h` and `arg` are borrowed for the connection's life.
 */
http_conn *http_conn_open(const struct sockaddr *addr, socklen_t addrlen, const http_conn_handler *h, void *arg);

/* Queues `len` bytes (copied) and sends them as soon as the socket takes them. */
void http_conn_write(http_conn *c, const void *data, size_t len);

/* Closes the connection without calling on_close, and frees it; NULL does nothing. */
void http_conn_close(http_conn *c);

#endif
