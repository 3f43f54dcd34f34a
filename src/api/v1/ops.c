/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "api/api.h"
#include "core/buf.h"
#include "core/embedded.h"

void api_ops_healthz(http_ctx *ctx)
{
    static const char data[] = "{\"status\":\"ok\"}";
    http_reply_data_raw(ctx, 200, data, sizeof data - 1, NULL, 0);
}

/* What the readiness check learns off the loop. */
typedef struct readiness {
    store *store;
    metering *metering; /* NULL in servers that meter nothing */
    int rc;
    int version;
    app_err err;
} readiness;

/* On the worker pool: the store's mutex may be held by a commit, and the loop must not wait on it. */
static void readyz_ping(void *arg)
{
    readiness *r = arg;
    app_err_clear(&r->err);
    r->rc = store_ping(r->store, &r->err);
    if (r->rc == 0)
        r->rc = store_schema_version(r->store, &r->version, &r->err);
    if (r->rc == 0 && r->metering != NULL)
        r->rc = metering_health(r->metering, &r->err);
}

static void on_readyz_pinged(http_ctx *ctx, void *arg)
{
    readiness *r = arg;
    if (r->rc != 0)
        http_reply_error(ctx, &r->err);
    else
        http_reply_data(
            ctx, 200,
            json_pack("{s:s, s:s, s:i}", "status", "ready", "store", r->store->ops->name, "schema_version", r->version),
            NULL);
}

/*
 * Ready when the store answers a query and a call can be counted now (writes to the journal and
 * the ledger succeed: a full disk still answers queries), asked from the worker pool and answered
 * on the loop.
 */
void api_ops_readyz(http_ctx *ctx)
{
    api_env *env = http_app(ctx);
    readiness *r = http_arena_alloc(ctx, sizeof *r); /* lives until the response, after the done callback */
    r->store = env->store;
    r->metering = env->metering;
    r->rc = 0;
    r->version = 0;
    http_defer(ctx, readyz_ping, on_readyz_pinged, r);
}

/* What /metrics renders off the loop: the store's sizes may take a query (PostgreSQL). */
typedef struct metrics_job {
    api_env *env;
    buf b;
} metrics_job;

static void metrics_render_job(void *arg)
{
    metrics_job *j = arg;
    buf_init(&j->b, 4u << 20);
    metrics_render(j->env->metrics, &j->b);
    store_stats ss;
    app_err serr;
    app_err_clear(&serr);
    if (store_stats_get(j->env->store, &ss, &serr) == 0) /* a failed stat leaves the gauges out */
        buf_appendf(&j->b,
                    "# HELP store_wal_bytes Size of the store's write-ahead log file, in bytes.\n"
                    "# TYPE store_wal_bytes gauge\nstore_wal_bytes %lld\n"
                    "# HELP store_db_bytes Size of the store's database, in bytes.\n"
                    "# TYPE store_db_bytes gauge\nstore_db_bytes %lld\n",
                    (long long)ss.wal_bytes, (long long)ss.db_bytes);
}

static void on_metrics_rendered(http_ctx *ctx, void *arg)
{
    metrics_job *j = arg;
    if (buf_failed(&j->b)) {
        buf_cleanup(&j->b);
        http_reply_code(ctx, APP_INTERNAL_ERROR);
        return;
    }
    char *body = http_arena_dup(ctx, j->b.data, j->b.len);
    size_t len = j->b.len;
    buf_cleanup(&j->b);
    http_reply_raw(ctx, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

void api_ops_metrics(http_ctx *ctx)
{
    metrics_job *j = http_arena_alloc(ctx, sizeof *j); /* lives until the response */
    j->env = http_app(ctx);
    http_defer(ctx, metrics_render_job, on_metrics_rendered, j);
}

void api_ops_openapi(http_ctx *ctx)
{
    http_reply_raw(ctx, 200, "application/yaml; charset=utf-8", embedded_openapi[0].bytes, embedded_openapi[0].len);
}
