/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_API_API_H
#define STARMETER_API_API_H

#include "core/clock.h"
#include "core/log.h"
#include "http/http.h"
#include "infra/metrics.h"
#include "infra/store.h"

/* What handlers reach through http_app(): the services and the parts they need. Borrowed. */
typedef struct api_env {
    store *store;
    metrics *metrics;
    const app_log *log;
    const app_clock *clock;
} api_env;

/* The route table of the whole API; the dispatcher enforces it. */
extern const http_route api_routes[];
extern const size_t api_routes_count;

/* ops.c */
void api_ops_healthz(http_ctx *ctx);
void api_ops_readyz(http_ctx *ctx);
void api_ops_metrics(http_ctx *ctx);
void api_ops_openapi(http_ctx *ctx);

#endif
