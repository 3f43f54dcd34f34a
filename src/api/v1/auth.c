/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"

static const char *const rl_scopes[] = {"global", "account", "credential", "auth_failure"};

void api_metrics_register(api_env *env)
{
    env->metric_rate_limited =
        metrics_family_register(env->metrics, "b2b_rate_limited_total", "B2B calls refused by a rate limit, by scope.",
                                "scope", rl_scopes, RL_SCOPE_COUNT);
}

static int64_t ceil_seconds(int64_t ns)
{
    return (ns + 999999999) / 1000000000;
}

/* The 429 of a rate limit: details, Retry-After, a metric and a log line. */
static int refuse(api_env *env, http_ctx *ctx, rl_scope scope, gcra_policy p, const gcra_result *r, const char *key_id,
                  app_err *err)
{
    int64_t retry = ceil_seconds(r->retry_after_ns);
    if (retry < 1)
        retry = 1;
    app_err_set(err, APP_RATE_LIMITED, "Too many requests for the %s rate limit; retry in %lld s.",
                rl_scope_name(scope), (long long)retry);
    app_err_detail_str(err, "scope", rl_scope_name(scope));
    app_err_detail_int(err, "limit", p.burst);
    app_err_detail_int(err, "window_seconds", gcra_window_seconds(p));
    app_err_detail_int(err, "retry_after_seconds", retry);
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)retry);
    http_add_header(ctx, "retry-after", v);
    metrics_family_add(env->metrics, env->metric_rate_limited, scope, 1);
    log_write(env->log, LOG_WARN, "rate limited", "{s:s, s:s, s:s}", "request_id", http_request_id(ctx), "scope",
              rl_scope_name(scope), "key_id", key_id ? key_id : "");
    return APP_RATE_LIMITED;
}

/* A client address as a 64-bit id (FNV-1a of its text). */
static uint64_t address_id(const char *ip)
{
    uint64_t h = 1469598103934665603ull;
    for (; *ip; ip++)
        h = (h ^ (unsigned char)*ip) * 1099511628211ull;
    return h;
}

/*
 * A failed authentication from the caller's address: the 401 it earned while the address's failure
 * bucket has room, the 429 of that bucket once it is empty. Only failures reach here, after the
 * credential was checked in full: a valid credential never waits for other callers' failures (one
 * address may be a whole NAT), and whether a credential is valid never depends on the bucket. API
 * keys and the admin token share the bucket, so alternating them does not double the guessing rate.
 * Every failure is also counted and audited (authaudit), under the credential `known` names when
 * its key id is known, under the address otherwise.
 */
static int auth_failed(api_env *env, http_ctx *ctx, int rc, const principal *known, app_err *err)
{
    authaudit_reason reason;
    /* Counted and audited before the bucket: a refused attempt is an attempt all the same. */
    if (env->authaudit != NULL && authaudit_reason_of((app_code)rc, &reason))
        authaudit_record(env->authaudit, reason, known ? known->key_id : NULL, known ? known->account_id : 0,
                         http_peer(ctx));
    if (env->limiter == NULL || app_code_status((app_code)rc) != 401)
        return rc;
    int64_t now_ns = clock_now_ms(env->clock) * 1000000;
    gcra_result r =
        ratelimiter_take(env->limiter, RL_AUTH_FAILURE, address_id(http_peer(ctx)), env->auth_fail_policy, now_ns);
    if (r.allowed)
        return rc;
    app_err_clear(err);
    return refuse(env, ctx, RL_AUTH_FAILURE, env->auth_fail_policy, &r, NULL, err);
}

static int authorize_admin(api_env *env, http_ctx *ctx, app_err *err)
{
    slice h;
    static const char bearer[] = "Bearer ";
    if (!env->admin_enabled || !http_header(ctx, "authorization", &h) || h.len <= sizeof bearer - 1 ||
        strncasecmp(h.ptr, bearer, sizeof bearer - 1) != 0)
        return auth_failed(env, ctx, app_err_set(err, APP_ADMIN_AUTH_REQUIRED, NULL), NULL, err);
    /* Comparing hashes makes the comparison constant-time whatever the presented length. */
    uint8_t presented[HASH_LEN];
    crypto_generichash(presented, HASH_LEN, (const unsigned char *)h.ptr + sizeof bearer - 1,
                       h.len - (sizeof bearer - 1), NULL, 0);
    if (!hash_equal(presented, env->admin_token_hash))
        return auth_failed(env, ctx, app_err_set(err, APP_ADMIN_AUTH_REQUIRED, NULL), NULL, err);
    return 0;
}

/*
 * RateLimit-Policy lists every policy that applies; RateLimit reports the one closest to its
 * limit (the smallest share of its burst left). Names and meaning are in docs/openapi.yaml.
 */
static void rate_headers(http_ctx *ctx, const gcra_policy *p, const gcra_result *r, size_t n)
{
    char policy[256];
    size_t o = 0;
    size_t tightest = 0;
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(policy + o, sizeof policy - o, "%s\"%s\";q=%lld;w=%lld", i ? ", " : "",
                              rl_scope_name((rl_scope)i), (long long)p[i].burst, (long long)gcra_window_seconds(p[i]));
        if (o >= sizeof policy)
            o = sizeof policy - 1;
        /* r[i].remaining / p[i].burst < r[t].remaining / p[t].burst, without division */
        if (r[i].remaining * p[tightest].burst < r[tightest].remaining * p[i].burst)
            tightest = i;
    }
    http_add_header(ctx, "ratelimit-policy", policy);
    char rl[96];
    snprintf(rl, sizeof rl, "\"%s\";r=%lld;t=%lld", rl_scope_name((rl_scope)tightest), (long long)r[tightest].remaining,
             (long long)ceil_seconds(r[tightest].reset_ns));
    http_add_header(ctx, "ratelimit", rl);
}

const counters_rate *api_call_rate(http_ctx *ctx)
{
    api_env *env = http_app(ctx);
    const principal *p = http_auth_data(ctx);
    if (env->limiter == NULL || p == NULL) /* rate limits off: measuring their cost */
        return NULL;
    counters_rate *r = http_arena_alloc(ctx, sizeof *r);
    *r = (counters_rate){
        .policy = {env->global_policy,
                   {p->limits.rate_per_second, p->limits.burst},
                   {p->limits.credential_rate_per_second, p->limits.credential_burst}},
        .id = {0, p->account_id, p->credential_id},
    };
    return r;
}

int api_rate_outcome(http_ctx *ctx, const counters_rate *rate, const metering_view *view, app_err *err)
{
    if (rate == NULL || !view->rated)
        return 0;
    if (view->rate_limited) {
        const principal *p = http_auth_data(ctx);
        rl_scope scope = (rl_scope)view->rate_scope;
        return refuse(http_app(ctx), ctx, scope, rate->policy[scope], &view->rate[scope], p ? p->key_id : NULL, err);
    }
    rate_headers(ctx, rate->policy, view->rate, COUNTERS_RATES);
    return 0;
}

/*
 * The seed's require_authenticated_b2b_client: every /v1/b2b route goes through here. The key and
 * the account first; a failure then takes from its address's failure bucket (auth_failed), so
 * keys cannot be guessed at line rate while valid keys from the same address are never refused.
 * The global, account and credential rate limits are taken next, by the counters (with the call's
 * quota on a metered route: api_metered; api_admit otherwise), so that several nodes sharing their
 * counters share them too.
 */
static int authorize_api_key(api_env *env, http_ctx *ctx, app_err *err)
{
    slice key = {NULL, 0};
    http_header(ctx, "x-api-key", &key);
    principal *p = http_arena_alloc(ctx, sizeof *p);
    int rc = keycache_authenticate(env->services->keys, env->services->pepper, key, clock_now_ms(env->clock), p, err);
    if (rc != 0)
        return auth_failed(env, ctx, rc, p, err);
    http_set_auth(ctx, p);
    return 0;
}

/* ---- the rate limits of a call that is not metered ---- */

typedef struct admission {
    void (*next)(http_ctx *ctx, void *arg);
    void *arg;
    const counters_rate *rate;
} admission;

static void on_admitted(const metering_request *req, const metering_result *res)
{
    http_ctx *ctx = req->caller;
    admission *a = req->state;
    if (res->status == 0 && res->view.rate_limited) {
        app_err err;
        app_err_clear(&err);
        api_rate_outcome(ctx, a->rate, &res->view, &err);
        http_reply_error(ctx, &err);
        return;
    }
    if (res->status == 0) {
        http_reply_error(ctx, res->err);
        return;
    }
    api_rate_outcome(ctx, a->rate, &res->view, NULL);
    a->next(ctx, a->arg);
}

void api_admit(http_ctx *ctx, void (*next)(http_ctx *ctx, void *arg), void *arg)
{
    api_env *env = http_app(ctx);
    admission *a = http_arena_alloc(ctx, sizeof *a);
    a->next = next;
    a->arg = arg;
    a->rate = api_call_rate(ctx);
    if (a->rate == NULL) {
        next(ctx, arg);
        return;
    }
    metering_request req = {
        .caller = ctx, .state = a, .who = http_auth_data(ctx), .rate = a->rate, .done = on_admitted};
    metering_admit(env->metering, &req);
}

int api_authorize(http_ctx *ctx, http_auth auth, app_err *err)
{
    api_env *env = http_app(ctx);
    switch (auth) {
    case HTTP_AUTH_ADMIN: return authorize_admin(env, ctx, err);
    case HTTP_AUTH_API_KEY: return authorize_api_key(env, ctx, err);
    case HTTP_AUTH_NONE: return 0;
    }
    return app_err_set(err, APP_INTERNAL_ERROR, "unknown auth kind");
}
