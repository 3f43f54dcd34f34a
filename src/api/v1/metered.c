/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "api/v1/metered.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "domain/civil.h"
#include "services/metering.h"

/* ---- the metering service's host: http's arena, suspend and resume ---- */

static void *host_alloc(void *caller, size_t n)
{
    return http_arena_alloc(caller, n);
}

static void on_resume(http_ctx *ctx, void *call)
{
    (void)ctx;
    metering_continue(call);
}

static void *host_park(void *caller, metering_call *call)
{
    return http_suspend(caller, on_resume, call);
}

static void host_resume(void *const *tokens, size_t n)
{
    http_resume_post_all((http_resume *const *)tokens, n);
}

const metering_host api_metering_host = {.alloc = host_alloc, .park = host_park, .resume = host_resume};

/* ---- one call ---- */

typedef struct metered {
    metered_handle_fn handle;
    void *state;
} metered;

/* Appends to a fixed buffer; once something does not fit, *len stays past cap (sticky). */
static void __attribute__((format(printf, 4, 5))) putf(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    *len = n < 0 ? cap : *len + (size_t)n;
}

/*
 * meta.usage (numbers and fixed names only, so printed rather than built as a tree) and the
 * RateLimit-Policy of the contract's quotas. Returns the length written, or 0 if it did not fit.
 */
static size_t usage_members(const metering_view *v, char *out, size_t cap, char *policy, size_t pcap)
{
    size_t len = 0, plen = 0;
    policy[0] = '\0';
    if (!v->metered) {
        putf(out, cap, &len, "\"usage\":{\"metered\":false}");
        return len < cap ? len : 0;
    }
    char dreset[21], mreset[21];
    civil_format_rfc3339(v->day_reset_ms, dreset);
    civil_format_rfc3339(v->month_reset_ms, mreset);
    const struct {
        const char *name;
        opt_i64 limit;
        int64_t used;
        const char *reset;
        int window_s;
    } per[2] = {{"daily", v->limits.daily_limit, v->day_used, dreset, 86400},
                {"monthly", v->limits.monthly_limit, v->month_used, mreset, 2592000}};
    putf(out, cap, &len, "\"usage\":{\"metered\":true");
    for (int i = 0; i < 2; i++) {
        if (!per[i].limit.present) {
            putf(out, cap, &len, ",\"%s\":{\"used\":%lld,\"limit\":null,\"remaining\":null,\"resets_at\":\"%s\"}",
                 per[i].name, (long long)per[i].used, per[i].reset);
            continue;
        }
        putf(out, cap, &len, ",\"%s\":{\"used\":%lld,\"limit\":%lld,\"remaining\":%lld,\"resets_at\":\"%s\"}",
             per[i].name, (long long)per[i].used, (long long)per[i].limit.v,
             (long long)quota_remaining(per[i].limit, per[i].used), per[i].reset);
        putf(policy, pcap, &plen, "%s\"%s\";q=%lld;w=%d", plen ? ", " : "", per[i].name, (long long)per[i].limit.v,
             per[i].window_s);
    }
    putf(out, cap, &len, ",\"mode\":\"%s\"}", v->limits.mode == LIMIT_OVERAGE ? "overage" : "block");
    if (plen >= pcap)
        policy[0] = '\0';
    return len < cap ? len : 0;
}

static int on_render(const metering_request *req, const metering_view *view, slices *body, const char **why)
{
    http_ctx *ctx = req->caller;
    metered *mt = req->state;
    slice data = {NULL, 0}, extra = {NULL, 0};
    int rc = mt->handle(ctx, mt->state, &data, &extra, why);
    if (rc != 0)
        return rc;
    char meta[1024], policy[160];
    size_t len = usage_members(view, meta, sizeof meta, policy, sizeof policy);
    if (len == 0 || len + 1 + extra.len > sizeof meta) {
        *why = "usage metadata could not be built";
        return APP_INTERNAL_ERROR;
    }
    if (extra.len > 0) {
        meta[len++] = ',';
        memcpy(meta + len, extra.ptr, extra.len);
        len += extra.len;
    }
    if (policy[0])
        http_add_header(ctx, "ratelimit-policy", policy);
    *body = http_envelope(ctx, data, slice_make(meta, len));
    return 0;
}

static void on_done(const metering_request *req, const metering_result *res)
{
    http_ctx *ctx = req->caller;
    if (res->status == 0 && res->view.rate_limited) {
        app_err err;
        app_err_clear(&err);
        api_rate_outcome(ctx, req->rate, &res->view, &err);
        http_reply_error(ctx, &err);
        return;
    }
    if (res->status == 0) {
        http_reply_error(ctx, res->err);
        return;
    }
    api_rate_outcome(ctx, req->rate, &res->view, NULL);
    if (res->replayed) {
        http_add_header(ctx, "idempotent-replayed", "true");
        http_reply_replay(ctx, res->status, res->body.part[0].ptr, res->body.part[0].len);
        return;
    }
    if (res->view.overage)
        http_add_header(ctx, "x-quota-overage", "true");
    http_reply_slices(ctx, res->status, "application/json; charset=utf-8", &res->body);
}

static bool idem_key_valid(slice k)
{
    if (k.len == 0 || k.len > METERING_IDEM_KEY_MAX)
        return false;
    for (size_t i = 0; i < k.len; i++)
        if (k.ptr[i] < 0x21 || k.ptr[i] > 0x7e)
            return false;
    return true;
}

static void run(http_ctx *ctx, metered *mt, bool admitted)
{
    api_env *env = http_app(ctx);
    metering_request req = {.caller = ctx,
                            .state = mt,
                            .who = http_auth_data(ctx),
                            .rate = admitted ? NULL : api_call_rate(ctx),
                            .render = on_render,
                            .done = on_done};
    slice key;
    if (http_header(ctx, "idempotency-key", &key)) {
        if (!idem_key_valid(key)) {
            app_err err;
            app_err_clear(&err);
            app_err_field(&err, "Idempotency-Key", "must be 1 to %d visible ASCII characters", METERING_IDEM_KEY_MAX);
            http_reply_error(ctx, &err);
            return;
        }
        req.has_idem = true;
        memcpy(req.idem_key, key.ptr, key.len);
        req.idem_key[key.len] = '\0';
        /* The request's identity: method and full target (path and query). */
        slice target = http_target(ctx);
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, sizeof req.fingerprint);
        crypto_generichash_update(&h, (const unsigned char *)"GET ", 4);
        crypto_generichash_update(&h, (const unsigned char *)target.ptr, target.len);
        crypto_generichash_final(&h, req.fingerprint, sizeof req.fingerprint);
    }
    metering_run(env->metering, &req);
}

static void run_admitted(http_ctx *ctx, void *mt)
{
    run(ctx, mt, true);
}

void api_metered(http_ctx *ctx, metered_handle_fn handle, void *state, bool admitted)
{
    metered *mt = http_arena_alloc(ctx, sizeof *mt);
    mt->handle = handle;
    mt->state = state;
    slice key;
    if (!admitted && http_header(ctx, "idempotency-key", &key)) {
        api_admit(ctx, run_admitted, mt);
        return;
    }
    run(ctx, mt, admitted);
}
