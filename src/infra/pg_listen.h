/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_PG_LISTEN_H
#define STARMETER_INFRA_PG_LISTEN_H

/*
 * Waits for PostgreSQL notifications on one channel (LISTEN), on a connection of its own: how a
 * process learns at once that another one changed keys, accounts or contracts (the PostgreSQL
 * store notifies `starmeter_change` in every admin write). One thread uses a listener at a time.
 */
#include <stdbool.h>

#include "core/err.h"

#define PG_CHANGE_CHANNEL "starmeter_change"

typedef struct pg_listener pg_listener;

/*
 * Connects to `conninfo` and listens on `channel` (an identifier of letters, digits and
 * underscores). NULL with `err` set (store_unavailable) when the server cannot be reached.
 */
pg_listener *pg_listener_open(const char *conninfo, const char *channel, app_err *err);

/*
 * Waits at most `timeout_ms` for notifications; *notified tells whether any arrived (all pending
 * ones are consumed). A lost connection is reopened here: the call that finds it lost fails
 * (store_unavailable) and the next one tries again, so changes missed meanwhile must be caught
 * by the caller's periodic resync.
 */
int pg_listener_wait(pg_listener *l, int timeout_ms, bool *notified, app_err *err);

/* Closes the connection and frees the listener; NULL does nothing. */
void pg_listener_close(pg_listener *l);

#endif
