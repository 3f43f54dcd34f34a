/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "api/api.h"
#include "core/buf.h"
#include "core/embedded.h"

void api_ops_healthz(http_ctx *ctx)
{
    static const char data[] = "{\"status\":\"ok\"}";
    http_reply_data_raw(ctx, 200, data, sizeof data - 1, NULL, 0);
}

/* Ready when the store answers a query. The store call is a single prepared read of a few µs. */
void api_ops_readyz(http_ctx *ctx)
{
    api_env *env = http_app(ctx);
    app_err err;
    app_err_clear(&err);
    int version = 0;
    if (store_ping(env->store, &err) != 0 || store_schema_version(env->store, &version, &err) != 0) {
        http_reply_error(ctx, &err);
        return;
    }
    http_reply_data(
        ctx, 200,
        json_pack("{s:s, s:s, s:i}", "status", "ready", "store", env->store->ops->name, "schema_version", version),
        NULL);
}

void api_ops_metrics(http_ctx *ctx)
{
    api_env *env = http_app(ctx);
    buf b;
    buf_init(&b, 4u << 20);
    metrics_render(env->metrics, &b);
    if (buf_failed(&b)) {
        buf_cleanup(&b);
        http_reply_code(ctx, APP_INTERNAL_ERROR);
        return;
    }
    char *body = http_arena_dup(ctx, b.data, b.len);
    size_t len = b.len;
    buf_cleanup(&b);
    http_reply_raw(ctx, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

void api_ops_openapi(http_ctx *ctx)
{
    http_reply_raw(ctx, 200, "application/yaml; charset=utf-8", embedded_openapi[0].bytes, embedded_openapi[0].len);
}
