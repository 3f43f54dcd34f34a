/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_APP_APP_H
#define STARMETER_APP_APP_H

#include <stdint.h>

#include "app/config.h"
#include "core/clock.h"
#include "core/log.h"
#include "infra/store.h"

/* A running starmeter: store, metrics, services and the HTTP server, wired together. */
typedef struct app app;

/* What a caller may supply instead of what `cfg` says; every member is optional (NULL). */
typedef struct app_parts {
    store *store;           /* owned by the app once passed; default: app_store_open(cfg) */
    const app_clock *clock; /* borrowed; default: the system clock */
} app_parts;

/*
 * Opens the store (migrating it), starts the server and returns the running app, or NULL with
 * `err` set. `log` is borrowed and must outlive the app.
 */
app *app_start(const app_config *cfg, const app_parts *parts, const app_log *log, app_err *err);
/* The port the server listens on. */
uint16_t app_port(const app *a);
/* Wakes the webhook sender: events were written to the outbox (see webhooks_kick). */
void app_webhooks_kick(app *a);
/* Stops serving (in-flight requests finish), closes the store and frees everything. NULL is a no-op. */
void app_stop(app *a);

/*
 * Opens the store `cfg` asks for (--store, else SQLite at --db), without migrating. NULL with
 * `err` set when it cannot; the caller owns the result (store_close).
 */
store *app_store_open(const app_config *cfg, app_err *err);

/* Loads or creates the pepper and readies `sv` over `st` (borrowed), for the server and the CLI. */
struct services;
struct keycache;
int app_services_init(struct services *sv, struct keycache *keys, store *st, const app_config *cfg,
                      const app_clock *clock, const app_log *log, app_err *err);

/* `starmeter serve`: runs until SIGINT or SIGTERM; returns the process exit code. */
int app_serve(const app_config *cfg);
/* `starmeter migrate`: applies pending migrations; returns the process exit code. */
int app_migrate(const app_config *cfg);

#endif
