/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "app/app.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <signal.h>
#include <time.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "core/mem.h"
#include "core/str.h"
#include "http/http.h"
#include "infra/metrics.h"
#include "infra/secret_file.h"
#include "infra/ephemeris.h"
#include "infra/tzdb.h"
#include "services/authaudit.h"
#include "services/keycache.h"
#include "infra/counters.h"
#include "infra/pg_listen.h"
#include "services/metering.h"
#include "services/services.h"
#include "services/webhooks.h"

struct app {
    app_config cfg;
    api_env env;
    services services;
    keycache *keys;
    ratelimiter *limiter;
    tzdb *tz;
    counters *counters;
    metering *metering;
    authaudit *authaudit;
    webhook_sender *webhooks;
    ephemeris eph;
    astrology *astrology;
    http_static *web;
    metrics *metrics;
    char **route_labels;
    http_server *server;
    store *store;
    const app_log *log;
    /* The sync thread: picks up changes made by other processes, writes last-used times. */
    pthread_t sync_thread;
    bool sync_started;
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;
    bool sync_stop;
    pthread_mutex_t change_mu; /* one reload of the key cache at a time; guards change_token */
    int64_t change_token;
    /* On PostgreSQL: a thread that reloads as soon as another process notifies a change. */
    pg_listener *listener;
    pthread_t listen_thread;
    bool listen_started;
    atomic_bool listen_stop;
    bool store_down; /* the sync thread's: the store failed its last ping (logged once per outage) */
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

/*
 * What a missing SQLite database leaves behind when it existed: its WAL or shared-memory index,
 * its usage journal, or the pepper beside it (when the pepper is the default one, in the
 * database's own directory). The first such path found goes into out[cap]; false when none.
 */
static bool sqlite_traces(const app_config *cfg, char *out, size_t cap)
{
    const char *db = config_sqlite_path(cfg);
    char paths[4][1100];
    size_t n = 0;
    /* a path too long for a slot is no trace of this database: it is left out */
    if ((size_t)snprintf(paths[n], sizeof paths[0], "%s-wal", db) < sizeof paths[0])
        n++;
    if ((size_t)snprintf(paths[n], sizeof paths[0], "%s-shm", db) < sizeof paths[0])
        n++;
    config_journal_dir(cfg, paths[n++], sizeof paths[0]);
    if (cfg->pepper_file[0] == '\0' && db == cfg->db)
        config_pepper_path(cfg, paths[n++], sizeof paths[0]);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0) {
            str_copy(out, cap, paths[i]); /* shortened if need be: it still says where to look */
            return true;
        }
    }
    return false;
}

/*
 * Starting empty on purpose (--recreate-db) where a database was lost: what it left behind would
 * be taken for the new one's (a stale WAL applied to it, a journal of counts for accounts it does
 * not have replayed into it), so it is moved aside, renamed <path>.orphaned-<unix ms>, and kept.
 */
static void set_traces_aside(const app_config *cfg)
{
    const char *db = config_sqlite_path(cfg);
    char paths[3][1100], aside[1200];
    bool fits[3];
    fits[0] = (size_t)snprintf(paths[0], sizeof paths[0], "%s-wal", db) < sizeof paths[0];
    fits[1] = (size_t)snprintf(paths[1], sizeof paths[1], "%s-shm", db) < sizeof paths[1];
    config_journal_dir(cfg, paths[2], sizeof paths[2]);
    fits[2] = true;
    long long now = (long long)clock_now_ms(clock_system());
    for (int i = 0; i < 3; i++) {
        /* a truncated path names another file: never rename that */
        if (!fits[i] || (size_t)snprintf(aside, sizeof aside, "%s.orphaned-%lld", paths[i], now) >= sizeof aside)
            continue;
        if (rename(paths[i], aside) == 0)
            fprintf(stderr, "starmeter: --recreate-db: %s moved aside to %s\n", paths[i], aside);
    }
}

store *app_store_open(const app_config *cfg, app_err *err)
{
    if (config_store_is_postgres(cfg))
        return store_pg_open(cfg->store, (unsigned)cfg->store_connections, err);
    const char *db = config_sqlite_path(cfg);
    struct stat st;
    char trace[1100];
    /* Creating an empty database where one was deleted would hide the loss: it must be asked for. */
    if (!cfg->recreate_db && stat(db, &st) != 0 && errno == ENOENT && sqlite_traces(cfg, trace, sizeof trace)) {
        app_err_set(err, APP_STORE_UNAVAILABLE,
                    "no database at %s, but %s remains from one: restore the database, or start empty with "
                    "--recreate-db (or `starmeter migrate`)",
                    db, trace);
        return NULL;
    }
    if (cfg->recreate_db && stat(db, &st) != 0 && errno == ENOENT)
        set_traces_aside(cfg);
    return store_sqlite_open(db, err);
}

static store *open_and_migrate(const app_config *cfg, store *given, const app_log *log, app_err *err)
{
    store *st = given ? given : app_store_open(cfg, err);
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

/* Writes the last-used times gathered since the previous call, in one transaction. */
static void flush_last_used(app *a)
{
    enum { BATCH = 512 };
    int64_t ids[BATCH], at[BATCH];
    size_t n;
    while ((n = keycache_take_touched(a->keys, ids, at, BATCH)) > 0) {
        app_err err;
        app_err_clear(&err);
        if (store_credentials_touch(a->store, ids, at, n, &err) != 0) {
            log_write(a->log, LOG_WARN, "last_used_at not written", "{s:s}", "error", err.message);
            return;
        }
        if (n < BATCH)
            return;
    }
}

/*
 * Reloads the key cache when another process (the CLI, another node) changed the store, or
 * always when `force` (the periodic full resync).
 */
static void pick_up_changes(app *a, bool force)
{
    app_err err;
    app_err_clear(&err);
    int64_t token;
    pthread_mutex_lock(&a->change_mu);
    if (store_change_token(a->store, &token, &err) == 0 && (force || token != a->change_token)) {
        if (keycache_reload(a->keys, a->store, &err) == 0)
            a->change_token = token;
        else
            log_write(a->log, LOG_WARN, "key cache reload failed", "{s:s}", "error", err.message);
    }
    pthread_mutex_unlock(&a->change_mu);
}

/* Every this many sync intervals the key cache is reloaded whatever the change token says. */
#define FULL_RESYNC_INTERVALS 60

static void *listen_main(void *arg)
{
    app *a = arg;
    bool failing = false;
    while (!atomic_load(&a->listen_stop)) {
        bool notified;
        app_err err;
        app_err_clear(&err);
        if (pg_listener_wait(a->listener, 200, &notified, &err) != 0) {
            if (!failing)
                log_write(a->log, LOG_WARN, "change notifications lost; retrying", "{s:s}", "error", err.message);
            failing = true;
            struct timespec pause = {0, 200 * 1000000L};
            nanosleep(&pause, NULL);
            continue;
        }
        if (failing)
            log_write(a->log, LOG_INFO, "change notifications back", NULL);
        failing = false;
        if (notified)
            pick_up_changes(a, false);
    }
    return NULL;
}

/*
 * Asks the store whether it answers, once per sync interval, and logs an outage once when it
 * starts and once when it ends, whatever the number of calls it refuses meanwhile (a deleted
 * database file is such an outage, one that lasts until a restart).
 */
static void watch_store(app *a)
{
    app_err err;
    app_err_clear(&err);
    bool down = store_ping(a->store, &err) != 0;
    if (down && !a->store_down)
        log_write(a->log, LOG_ERROR, "store unavailable: readiness, metered calls and admin writes answer 503",
                  "{s:s, s:s, s:s}", "severity", "critical", "store", a->store->ops->name, "error", err.message);
    else if (!down && a->store_down)
        log_write(a->log, LOG_INFO, "store available again", "{s:s}", "store", a->store->ops->name);
    a->store_down = down;
}

static void *sync_main(void *arg)
{
    app *a = arg;
    unsigned long intervals = 0;
    pthread_mutex_lock(&a->sync_mu);
    while (!a->sync_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (a->cfg.sync_interval_ms % 1000) * 1000000;
        until.tv_sec += a->cfg.sync_interval_ms / 1000 + ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&a->sync_cv, &a->sync_mu, &until);
        if (a->sync_stop)
            break;
        pthread_mutex_unlock(&a->sync_mu);
        watch_store(a);
        pick_up_changes(a, ++intervals % FULL_RESYNC_INTERVALS == 0);
        flush_last_used(a);
        app_err perr;
        app_err_clear(&perr);
        store_idem_purge(a->store, clock_now_ms(a->env.clock), &perr);
        pthread_mutex_lock(&a->sync_mu);
    }
    pthread_mutex_unlock(&a->sync_mu);
    return NULL;
}

/* Loads or creates the pepper and opens the services over `st`; shared by serve and the CLI. */
int app_services_init(services *sv, keycache *keys, store *st, const app_config *cfg, const app_clock *clock,
                      const app_log *log, app_err *err)
{
    char pepper_path[1100];
    config_pepper_path(cfg, pepper_path, sizeof pepper_path);
    memset(sv, 0, sizeof *sv);
    sv->store = st;
    sv->keys = keys;
    sv->clock = clock;
    sv->log = log;
    sv->webhooks_allow_private = cfg->webhooks_allow_private != 0;
    return pepper_load_or_create(pepper_path, sv->pepper, err);
}

static int admin_token(const app_config *cfg, api_env *env, app_err *err)
{
    char token[256];
    if (cfg->admin_token_file[0] != '\0') {
        if (secret_file_read(cfg->admin_token_file, token, sizeof token, err) != 0)
            return err->code;
    } else {
        str_copy(token, sizeof token, cfg->admin_token);
    }
    env->admin_enabled = token[0] != '\0';
    if (env->admin_enabled && strlen(token) < 16) {
        sodium_memzero(token, sizeof token);
        return app_err_set(err, APP_VALIDATION_ERROR, "the admin token must be at least 16 characters");
    }
    crypto_generichash(env->admin_token_hash, HASH_LEN, (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_memzero(token, sizeof token);
    return 0;
}

/* Each event loop hands the metered calls of an iteration to the writer in one go. */
static bool on_loop_iteration(void *metering_)
{
    return metering_loop_flush(metering_);
}

static void on_loop_start(void *metering_, ev_loop *loop)
{
    metering_loop_start(metering_, loop);
}

static void on_loop_stop(void *metering_, ev_loop *loop)
{
    (void)loop;
    metering_loop_stop(metering_);
}

static bool on_loop_busy(void *metering_)
{
    return metering_loop_busy(metering_);
}

/* Descriptors kept for everything but client connections: listeners, the store, the journal, logs. */
#define RESERVED_DESCRIPTORS 64

/*
 * Raises the soft descriptor limit to the hard one, and keeps the connection cap below what is
 * left of it after RESERVED_DESCRIPTORS, so that accepting can never be what exhausts them.
 */
static size_t connection_cap(const app_config *cfg, const app_log *log)
{
    size_t cap = (size_t)cfg->max_connections;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return cap;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    if (rl.rlim_cur == RLIM_INFINITY)
        return cap;
    size_t room =
        rl.rlim_cur > 2 * RESERVED_DESCRIPTORS ? (size_t)rl.rlim_cur - RESERVED_DESCRIPTORS : (size_t)rl.rlim_cur / 2;
    if (cap > room) {
        log_write(log, LOG_WARN, "connection cap lowered to fit the descriptor limit", "{s:i, s:i, s:i}",
                  "max_connections", (int)cfg->max_connections, "nofile", (int)rl.rlim_cur, "cap", (int)room);
        cap = room;
    }
    return cap;
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
    pthread_mutex_init(&a->sync_mu, NULL);
    pthread_cond_init(&a->sync_cv, NULL);
    pthread_mutex_init(&a->change_mu, NULL);
    atomic_init(&a->listen_stop, false);
    const app_clock *clock = parts->clock ? parts->clock : clock_system();
    a->store = open_and_migrate(cfg, parts->store, log, err);
    if (a->store == NULL)
        goto fail;
    a->keys = keycache_new();
    if (app_services_init(&a->services, a->keys, a->store, cfg, clock, log, err) != 0)
        goto fail;
    if (cfg->demo) {
        char key_path[1100];
        config_data_path(cfg, "demo.key", key_path, sizeof key_path);
        bool created;
        if (services_seed_demo(&a->services, key_path, &created, err) != 0)
            goto fail;
        if (created) {
            log_write(log, LOG_INFO, "demo seeded", "{s:s}", "key_file", key_path);
            /* The key itself goes to the terminal only, never to the log. */
            if (isatty(STDOUT_FILENO))
                printf("Demo API key written to %s (mode 0600). Try:\n"
                       "  curl -H \"X-API-Key: $(cat %s)\" http://%s/v1/b2b/me\n",
                       key_path, key_path, cfg->listen);
        }
    }
    if (store_change_token(a->store, &a->change_token, err) != 0 || keycache_reload(a->keys, a->store, err) != 0)
        goto fail;
    a->route_labels = make_route_labels();
    a->metrics = metrics_new((const char *const *)a->route_labels, api_routes_count);
    a->env = (api_env){
        .store = a->store,
        .metrics = a->metrics,
        .log = log,
        .clock = clock,
        .services = &a->services,
        .limiter = a->limiter = cfg->rate_limits ? ratelimiter_new() : NULL,
        .global_policy = {cfg->global_rate, cfg->global_burst},
        .auth_fail_policy = {cfg->auth_fail_rate, cfg->auth_fail_burst},
    };
    api_metrics_register(&a->env);
    authaudit_opts aopts = {.store = a->store, .clock = clock, .log = log, .metrics = a->metrics};
    a->env.authaudit = a->authaudit = authaudit_new(&aopts);
    if (authaudit_start(a->authaudit, err) != 0)
        goto fail;
    /* Webhooks leave from a thread of their own, never from an event loop. */
    webhook_sender_opts wopts = {
        .store = a->store,
        .clock = clock,
        .log = log,
        .metrics = a->metrics,
        .allow_private = cfg->webhooks_allow_private != 0,
        .retry = {.base_ms = cfg->webhooks_retry_base_ms, .max_ms = cfg->webhooks_retry_max_ms},
        .timeout_ms = cfg->webhooks_timeout_ms};
    a->services.webhooks = a->webhooks = webhook_sender_new(&wopts);
    if (webhook_sender_start(a->webhooks, err) != 0)
        goto fail;
    a->tz = tzdb_new();
    if (cfg->counters[0] != '\0') {
        a->counters = counters_redis_new(cfg->counters, clock, cfg->counters_unavailable == 1, err);
        if (a->counters == NULL)
            goto fail;
    } else {
        a->counters = counters_local_new(clock);
    }
    char journal_dir[1100];
    config_journal_dir(cfg, journal_dir, sizeof journal_dir);
    metering_opts mopts = {.store = a->store,
                           .counters = a->counters,
                           .tz = a->tz,
                           .clock = clock,
                           .log = log,
                           .metrics = a->metrics,
                           .host = &api_metering_host,
                           .durability = cfg->durability ? METERING_DURABLE_FSYNC : METERING_DURABLE_PROCESS,
                           .journal_dir = journal_dir,
                           .webhooks = a->webhooks};
    a->env.metering = a->metering = metering_new(&mopts, err);
    if (a->metering == NULL || metering_start(a->metering, err) != 0)
        goto fail;
    if (ephemeris_init(&a->eph, cfg->ephemeris_path, err) != 0)
        goto fail;
    ephemeris_model model;
    int probe = ephemeris_probe(&a->eph, &model, err);
    ephemeris_thread_cleanup(); /* this thread computes nothing else */
    if (probe != 0)
        goto fail;
    if (model != EPHEMERIS_MODEL_SWISS)
        log_write(log, LOG_WARN, "ephemeris files not found: the Moshier model answers", "{s:s}", "path",
                  cfg->ephemeris_path);
    a->env.astrology = a->astrology = astrology_new(&a->eph, 64);
    if (admin_token(cfg, &a->env, err) != 0)
        goto fail;
    if (pthread_create(&a->sync_thread, NULL, sync_main, a) != 0) {
        app_err_set(err, APP_INTERNAL_ERROR, "cannot start the sync thread");
        goto fail;
    }
    a->sync_started = true;
    if (config_store_is_postgres(cfg)) {
        /* Other processes' changes apply within milliseconds; the sync thread's polling and
         * full resync remain the safety net when notifications are lost. */
        a->listener = pg_listener_open(cfg->store, PG_CHANGE_CHANNEL, err);
        if (a->listener == NULL)
            goto fail;
        if (pthread_create(&a->listen_thread, NULL, listen_main, a) != 0) {
            app_err_set(err, APP_INTERNAL_ERROR, "cannot start the change listener");
            goto fail;
        }
        a->listen_started = true;
    }
    http_server_opts opts = {
        .listen = cfg->listen,
        .threads = config_threads(cfg),
        .max_header_bytes = (size_t)cfg->max_header_bytes,
        .max_body_hard = (size_t)cfg->max_body_bytes,
        .max_connections = connection_cap(cfg, log),
        .max_body_in_flight = (size_t)cfg->max_body_memory,
        .write_timeout_ms = (unsigned)cfg->write_timeout_ms,
        .routes = api_routes,
        .nroutes = api_routes_count,
        .app = &a->env,
        .log = log,
        .metrics = a->metrics,
        .pool_threads = (unsigned)cfg->pool_threads,
        .authorize = api_authorize,
        .pool_thread_exit = ephemeris_thread_cleanup, /* pool threads compute the weeks */
        .loop_hook = on_loop_iteration,
        .loop_start = on_loop_start,
        .loop_stop = on_loop_stop,
        .loop_busy = on_loop_busy,
        .loop_hook_arg = a->metering,
    };
    struct stat web_st;
    if (cfg->web_root[0] != '\0' && stat(cfg->web_root, &web_st) == 0 && S_ISDIR(web_st.st_mode)) {
        a->web = http_static_load(cfg->web_root, err);
        if (a->web == NULL)
            goto fail;
    } else {
        log_write(log, LOG_INFO, "no panel: its files are not built", "{s:s}", "web_root", cfg->web_root);
    }
    opts.static_files = a->web;
    a->server = http_server_start(&opts, err);
    if (a->server == NULL)
        goto fail;
    log_write(log, LOG_INFO, "listening", "{s:s, s:i, s:i, s:s, s:s, s:b}", "listen", cfg->listen, "port",
              (int)http_server_port(a->server), "threads", (int)opts.threads, "store", a->store->ops->name, "version",
              STARMETER_VERSION, "admin_api", a->env.admin_enabled);
    return a;
fail:
    app_stop(a);
    return NULL;
}

uint16_t app_port(const app *a)
{
    return http_server_port(a->server);
}

void app_webhooks_kick(app *a)
{
    webhooks_kick(a->webhooks);
}

void app_stop(app *a)
{
    if (a == NULL)
        return;
    if (a->server != NULL) {
        http_server_stop(a->server, (unsigned)a->cfg.shutdown_grace_ms);
        http_server_free(a->server);
    }
    if (a->sync_started) {
        pthread_mutex_lock(&a->sync_mu);
        a->sync_stop = true;
        pthread_cond_signal(&a->sync_cv);
        pthread_mutex_unlock(&a->sync_mu);
        pthread_join(a->sync_thread, NULL);
    }
    if (a->listen_started) {
        atomic_store(&a->listen_stop, true);
        pthread_join(a->listen_thread, NULL);
    }
    pg_listener_close(a->listener);
    authaudit_free(a->authaudit); /* writes the failures still counted */
    metering_free(a->metering);   /* commits and syncs what is queued (and may kick the sender) */
    /* After the server and the metering: nothing can kick it any more; an attempt in flight is
     * abandoned (leased), and sent again by the next start. */
    webhook_sender_free(a->webhooks);
    a->services.webhooks = NULL;
    counters_free(a->counters);
    astrology_free(a->astrology);
    http_static_free(a->web);
    tzdb_free(a->tz);
    if (a->keys != NULL && a->store != NULL)
        flush_last_used(a);
    keycache_free(a->keys);
    ratelimiter_free(a->limiter);
    store_close(a->store);
    metrics_free(a->metrics);
    free_route_labels(a->route_labels);
    pthread_cond_destroy(&a->sync_cv);
    pthread_mutex_destroy(&a->sync_mu);
    pthread_mutex_destroy(&a->change_mu);
    sodium_memzero(&a->services.pepper, sizeof a->services.pepper);
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
    /* Request lines go through a ring drained by a log thread: no event loop waits on stderr. */
    log_async_start(&log, 0);

    app_err err;
    app_err_clear(&err);
    app *a = app_start(cfg, NULL, &log, &err);
    if (a == NULL) {
        log_write(&log, LOG_ERROR, "cannot start", "{s:s, s:s}", "code", app_code_name(err.code), "error", err.message);
        log_close(&log);
        return 1;
    }
    int sig = 0;
    sigwait(&stop, &sig);
    log_write(&log, LOG_INFO, "stopping", "{s:s}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    app_stop(a);
    log_write(&log, LOG_INFO, "stopped", NULL);
    log_close(&log);
    return 0;
}

int app_migrate(const app_config *cfg)
{
    app_log log;
    log_init(&log, cfg->log_level, STDERR_FILENO);
    app_err err;
    app_err_clear(&err);
    /* Asking for migrations is asking for a database: an empty one where none is, traces or not. */
    app_config create = *cfg;
    create.recreate_db = 1;
    store *st = app_store_open(&create, &err);
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
