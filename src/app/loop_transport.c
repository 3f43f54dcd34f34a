/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * http/conn.h as the counters see it (counters_loop_transport): infra/ does not know the http
 * layer, so app/ passes its loop connections in.
 */
#include "app/loop_transport.h"

#include <stdlib.h>

#include "core/mem.h"
#include "http/conn.h"

/* What the counters gave open(), for the connection's handler to call. */
typedef struct link_owner {
    void (*on_data)(void *arg, const char *data, size_t len);
    void (*on_close)(void *arg, const char *why);
    void *arg;
    http_conn *conn;
} link_owner;

static void forward_data(void *arg, const char *data, size_t len)
{
    link_owner *o = arg;
    o->on_data(o->arg, data, len);
}

static void forward_close(void *arg, const char *why)
{
    link_owner *o = arg;
    void (*on_close)(void *, const char *) = o->on_close;
    void *owner_arg = o->arg;
    free(o);
    on_close(owner_arg, why);
}

static const http_conn_handler forwarder = {.on_data = forward_data, .on_close = forward_close};

static void *open_conn(const struct sockaddr *addr, socklen_t addrlen,
                       void (*on_data)(void *arg, const char *data, size_t len),
                       void (*on_close)(void *arg, const char *why), void *arg)
{
    link_owner *o = xcalloc(1, sizeof *o);
    *o = (link_owner){.on_data = on_data, .on_close = on_close, .arg = arg};
    o->conn = http_conn_open(addr, addrlen, &forwarder, o);
    if (o->conn == NULL) {
        free(o);
        return NULL;
    }
    return o;
}

static void write_conn(void *conn, const void *data, size_t len)
{
    http_conn_write(((link_owner *)conn)->conn, data, len);
}

static void close_conn(void *conn)
{
    link_owner *o = conn;
    http_conn_close(o->conn);
    free(o);
}

static const counters_loop_transport transport = {
    .on_loop = http_conn_on_loop, .open = open_conn, .write = write_conn, .close = close_conn};

const counters_loop_transport *app_loop_transport(void)
{
    return &transport;
}
