/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_API_API_H
#define STARMETER_API_API_H

#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "http/http.h"
#include "infra/metrics.h"
#include "infra/store.h"
#include "services/astrology.h"
#include "services/authaudit.h"
#include "infra/ratelimit.h"
#include "services/services.h"
#include "services/webhooks.h"
#include "services/metering.h"

/* What handlers reach through http_app(): the services and the parts they need. Borrowed. */
typedef struct api_env {
    store *store;
    metrics *metrics;
    const app_log *log;
    const app_clock *clock;
    services *services;
    bool admin_enabled;
    uint8_t admin_token_hash[HASH_LEN]; /* BLAKE2b of the admin token; the token itself is not kept */
    ratelimiter *limiter;               /* NULL: rate limits off (benchmarks) */
    metering *metering;
    astrology *astrology;
    gcra_policy global_policy;
    gcra_policy auth_fail_policy;
    int metric_rate_limited; /* b2b_rate_limited_total{scope} */
    authaudit *authaudit;    /* failed authentications: counted and audited; NULL: neither */
} api_env;

/* How the metering service parks calls and resumes them on their loop (metered.c). */
extern const metering_host api_metering_host;

/* Registers the metrics the API counts (call once, before serving). */
void api_metrics_register(api_env *env);

/* The route table of the whole API; the dispatcher enforces it. */
extern const http_route api_routes[];
extern const size_t api_routes_count;

/* The dispatcher's authorize hook: admin bearer token, or API key (attaches a principal). */
int api_authorize(http_ctx *ctx, http_auth auth, app_err *err);

/*
 * The rate limits of the authenticated caller (global, account, credential), in the request's
 * arena; NULL when rate limits are off. Taken by the counters: with the quota on a metered route
 * (api_metered), alone otherwise (api_admit).
 */
const counters_rate *api_call_rate(http_ctx *ctx);
/*
 * After the counters decided `rate`: the RateLimit headers of an admitted call (0), or the 429 of
 * the limit that refused it (APP_RATE_LIMITED, `err` filled, Retry-After added, counted, logged).
 */
int api_rate_outcome(http_ctx *ctx, const counters_rate *rate, const metering_view *view, app_err *err);
/*
 * Runs next(ctx, arg) on this loop once the caller's rate limits admit the call, or answers their
 * 429 (or 503 when shared counters cannot be reached). The first step of every API-key route that
 * is not metered, and of a metered call with work of its own before its decision (a week to
 * compute, an Idempotency-Key to look up).
 */
void api_admit(http_ctx *ctx, void (*next)(http_ctx *ctx, void *arg), void *arg);

/* ops.c */
void api_ops_healthz(http_ctx *ctx);
void api_ops_readyz(http_ctx *ctx);
void api_ops_metrics(http_ctx *ctx);
void api_ops_openapi(http_ctx *ctx);

/* admin.c */
void api_admin_accounts_create(http_ctx *ctx);
void api_admin_accounts_list(http_ctx *ctx);
void api_admin_accounts_get(http_ctx *ctx);
void api_admin_accounts_patch(http_ctx *ctx);
void api_admin_plans_create(http_ctx *ctx);
void api_admin_plans_list(http_ctx *ctx);
void api_admin_plans_get(http_ctx *ctx);
void api_admin_plans_patch(http_ctx *ctx);
void api_admin_contract_put(http_ctx *ctx);
void api_admin_contract_get(http_ctx *ctx);
void api_admin_credentials_issue(http_ctx *ctx);
void api_admin_credentials_list(http_ctx *ctx);
void api_admin_credentials_rotate(http_ctx *ctx);
void api_admin_credentials_revoke(http_ctx *ctx);
void api_admin_audit_list(http_ctx *ctx);
void api_admin_audit_verify(http_ctx *ctx);
void api_admin_webhooks_create(http_ctx *ctx);
void api_admin_webhooks_list(http_ctx *ctx);
void api_admin_webhooks_get(http_ctx *ctx);
void api_admin_webhooks_patch(http_ctx *ctx);
void api_admin_webhooks_delete(http_ctx *ctx);
void api_admin_webhooks_rotate(http_ctx *ctx);
void api_admin_webhooks_deliveries(http_ctx *ctx);
void api_admin_webhooks_resend(http_ctx *ctx);

/* b2b.c */
void api_b2b_me(http_ctx *ctx);

/* b2b_astrology.c */
void api_b2b_astrology_weekly(http_ctx *ctx);

/* b2b_usage.c */
void api_b2b_usage_summary(http_ctx *ctx);
void api_b2b_usage_history(http_ctx *ctx);
void api_admin_usage_summary(http_ctx *ctx);
void api_admin_usage_history(http_ctx *ctx);
void api_b2b_usage_alerts(http_ctx *ctx);
void api_admin_usage_alerts(http_ctx *ctx);
/* The account's rows (?from&to&format), streamed; the admin's month for invoicing (?month&format). */
void api_b2b_usage_export(http_ctx *ctx);
void api_admin_usage_export(http_ctx *ctx);

#endif
