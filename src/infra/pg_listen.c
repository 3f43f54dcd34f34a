/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "infra/pg_listen.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"

struct pg_listener {
    char *conninfo;
    char channel[64];
    PGconn *conn; /* NULL while disconnected */
};

static int fail(pg_listener *l, const char *what, app_err *err)
{
    /* libpq's connection messages name the host and port, never the password. */
    int rc = app_err_set(err, APP_STORE_UNAVAILABLE, "postgres listener: %s: %s", what,
                         l->conn ? PQerrorMessage(l->conn) : "no connection");
    PQfinish(l->conn);
    l->conn = NULL;
    return rc;
}

static int connect_and_listen(pg_listener *l, app_err *err)
{
    l->conn = PQconnectdb(l->conninfo);
    if (l->conn == NULL || PQstatus(l->conn) != CONNECTION_OK)
        return fail(l, "connect", err);
    char sql[96];
    snprintf(sql, sizeof sql, "LISTEN %s", l->channel);
    PGresult *r = PQexec(l->conn, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? 0 : fail(l, "listen", err);
}

pg_listener *pg_listener_open(const char *conninfo, const char *channel, app_err *err)
{
    size_t n = strlen(channel);
    bool ident = n > 0 && n < 64;
    for (size_t i = 0; i < n && ident; i++)
        ident =
            (channel[i] >= 'a' && channel[i] <= 'z') || (channel[i] >= '0' && channel[i] <= '9') || channel[i] == '_';
    if (!ident) {
        app_err_set(err, APP_INTERNAL_ERROR, "postgres listener: bad channel name");
        return NULL;
    }
    pg_listener *l = xcalloc(1, sizeof *l);
    l->conninfo = xstrdup(conninfo);
    memcpy(l->channel, channel, n + 1);
    if (connect_and_listen(l, err) != 0) {
        pg_listener_close(l);
        return NULL;
    }
    return l;
}

/* Consumes whatever input arrived and every notification in it. */
static int drain(pg_listener *l, bool *notified, app_err *err)
{
    if (!PQconsumeInput(l->conn))
        return fail(l, "read", err);
    PGnotify *nt;
    while ((nt = PQnotifies(l->conn)) != NULL) {
        *notified = true;
        PQfreemem(nt);
    }
    return 0;
}

int pg_listener_wait(pg_listener *l, int timeout_ms, bool *notified, app_err *err)
{
    *notified = false;
    if (l->conn == NULL) {
        int rc = connect_and_listen(l, err);
        if (rc != 0)
            return rc;
        *notified = true; /* anything may have changed while disconnected */
        return 0;
    }
    int rc = drain(l, notified, err);
    if (rc != 0 || *notified)
        return rc;
    struct pollfd p = {.fd = PQsocket(l->conn), .events = POLLIN};
    if (p.fd < 0)
        return fail(l, "socket", err);
    int n = poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR)
        return fail(l, "poll", err);
    if (n > 0)
        return drain(l, notified, err);
    return 0;
}

void pg_listener_close(pg_listener *l)
{
    if (l == NULL)
        return;
    PQfinish(l->conn);
    free(l->conninfo);
    free(l);
}
