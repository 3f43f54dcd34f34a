/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "app/app.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "core/mem.h"
#include "http/http.h"
#include "infra/metrics.h"

struct app {
    app_config cfg;
    api_env env;
    metrics *metrics;
    char **route_labels;
    http_server *server;
    store *store;
    const app_log *log;
};

static void free_route_labels(char **labels)
{
    if (labels == NULL)
        return;
    for (size_t i = 0; i < api_routes_count; i++)
        free(labels[i]);
    free(labels);
}

static char **make_route_labels(void)
{
    char **labels = xcalloc(api_routes_count, sizeof *labels);
    for (size_t i = 0; i < api_routes_count; i++) {
        size_t n = strlen(api_routes[i].method) + strlen(api_routes[i].path) + 32;
        labels[i] = xmalloc(n);
        snprintf(labels[i], n, "method=\"%s\",route=\"%s\"", api_routes[i].method, api_routes[i].path);
    }
    return labels;
}

static store *open_and_migrate(const app_config *cfg, store *given, const app_log *log, app_err *err)
{
    store *st = given ? given : store_sqlite_open(cfg->db, err);
    int applied = 0;
    if (st == NULL)
        return NULL;
    if (store_migrate(st, &applied, err) != 0) {
        store_close(st);
        return NULL;
    }
    if (applied > 0)
        log_write(log, LOG_INFO, "migrations applied", "{s:i, s:s}", "count", applied, "store", st->ops->name);
    return st;
}

app *app_start(const app_config *cfg, const app_parts *parts, const app_log *log, app_err *err)
{
    static const app_parts none = {0};
    if (parts == NULL)
        parts = &none;
    if (sodium_init() < 0) {
        app_err_set(err, APP_INTERNAL_ERROR, "libsodium failed to initialise");
        store_close(parts->store);
        return NULL;
    }
    /* A peer that closes early must not kill the process through SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);

    app *a = xcalloc(1, sizeof *a);
    a->cfg = *cfg;
    a->log = log;
    a->store = open_and_migrate(cfg, parts->store, log, err);
    if (a->store == NULL)
        goto fail;
    a->route_labels = make_route_labels();
    a->metrics = metrics_new((const char *const *)a->route_labels, api_routes_count);
    a->env = (api_env){
        .store = a->store,
        .metrics = a->metrics,
        .log = log,
        .clock = parts->clock ? parts->clock : clock_system(),
    };
    http_server_opts opts = {
        .listen = cfg->listen,
        .threads = config_threads(cfg),
        .max_header_bytes = (size_t)cfg->max_header_bytes,
        .max_body_hard = (size_t)cfg->max_body_bytes,
        .routes = api_routes,
        .nroutes = api_routes_count,
        .app = &a->env,
        .log = log,
        .metrics = a->metrics,
    };
    a->server = http_server_start(&opts, err);
    if (a->server == NULL)
        goto fail;
    log_write(log, LOG_INFO, "listening", "{s:s, s:i, s:i, s:s, s:s}", "listen", cfg->listen, "port",
              (int)http_server_port(a->server), "threads", (int)opts.threads, "store", a->store->ops->name, "version",
              STARMETER_VERSION);
    return a;
fail:
    app_stop(a);
    return NULL;
}

uint16_t app_port(const app *a)
{
    return http_server_port(a->server);
}

void app_stop(app *a)
{
    if (a == NULL)
        return;
    if (a->server != NULL) {
        http_server_stop(a->server, (unsigned)a->cfg.shutdown_grace_ms);
        http_server_free(a->server);
    }
    store_close(a->store);
    metrics_free(a->metrics);
    free_route_labels(a->route_labels);
    free(a);
}

int app_serve(const app_config *cfg)
{
    app_log log;
    log_init(&log, cfg->log_level, STDERR_FILENO);

    /* Block the stop signals before any thread starts, so only sigwait below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    app_err err;
    app_err_clear(&err);
    app *a = app_start(cfg, NULL, &log, &err);
    if (a == NULL) {
        log_write(&log, LOG_ERROR, "cannot start", "{s:s, s:s}", "code", app_code_name(err.code), "error", err.message);
        return 1;
    }
    int sig = 0;
    sigwait(&stop, &sig);
    log_write(&log, LOG_INFO, "stopping", "{s:s}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    app_stop(a);
    log_write(&log, LOG_INFO, "stopped", NULL);
    return 0;
}

int app_migrate(const app_config *cfg)
{
    app_log log;
    log_init(&log, cfg->log_level, STDERR_FILENO);
    app_err err;
    app_err_clear(&err);
    store *st = store_sqlite_open(cfg->db, &err);
    int applied = 0, version = 0;
    if (st == NULL || store_migrate(st, &applied, &err) != 0 || store_schema_version(st, &version, &err) != 0) {
        log_write(&log, LOG_ERROR, "migration failed", "{s:s, s:s}", "code", app_code_name(err.code), "error",
                  err.message);
        store_close(st);
        return 1;
    }
    printf("migrations applied: %d, schema version: %d\n", applied, version);
    store_close(st);
    return 0;
}
