/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "api/v1/metered.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "domain/civil.h"
#include "services/usage.h"

#define IDEM_KEY_MAX 128
#define IDEM_TTL_MS (24LL * 3600 * 1000)

struct metered_call {
    api_env *env;
    const principal *who;
    metered_validate_fn validate;
    metered_handle_fn handle;
    void *state;
    usage_ticket ticket;
    usage_view view;
    bool idem;
    char idem_key[IDEM_KEY_MAX + 1];
    uint8_t fingerprint[32];
    idem_record stored; /* a found answer (body malloc'd) */
    int lookup_rc;
    char *body; /* the answer, in the arena */
    size_t body_len;
    int commit_rc;
    app_err refusal; /* a quota refusal, answered once it is recorded */
};

static void finish_idem(metered_call *m)
{
    if (m->idem)
        usage_idem_release(m->env->usage, m->who->account_id, m->idem_key);
}

static void fail(http_ctx *ctx, metered_call *m, const app_err *err)
{
    finish_idem(m);
    http_reply_error(ctx, err);
}

/* meta.usage and the quota policies of the RateLimit headers. */
static void usage_parts(http_ctx *ctx, metered_call *m, buf *meta)
{
    const usage_view *v = &m->view;
    if (!v->metered) {
        buf_appends(meta, "\"usage\":{\"metered\":false}");
        return;
    }
    char dreset[21], mreset[21];
    civil_format_rfc3339(v->day_reset_ms, dreset);
    civil_format_rfc3339(v->month_reset_ms, mreset);
    const struct {
        const char *name;
        opt_i64 limit;
        int64_t used;
        const char *reset;
    } per[2] = {{"daily", v->limits.daily_limit, v->day_used, dreset},
                {"monthly", v->limits.monthly_limit, v->month_used, mreset}};
    buf_appends(meta, "\"usage\":{\"metered\":true");
    char policy[160] = "";
    for (int i = 0; i < 2; i++) {
        if (per[i].limit.present)
            buf_appendf(meta, ",\"%s\":{\"used\":%lld,\"limit\":%lld,\"remaining\":%lld,\"resets_at\":\"%s\"}",
                        per[i].name, (long long)per[i].used, (long long)per[i].limit.v,
                        (long long)quota_remaining(per[i].limit, per[i].used), per[i].reset);
        else
            buf_appendf(meta, ",\"%s\":{\"used\":%lld,\"limit\":null,\"remaining\":null,\"resets_at\":\"%s\"}",
                        per[i].name, (long long)per[i].used, per[i].reset);
        if (per[i].limit.present) {
            size_t o = strlen(policy);
            snprintf(policy + o, sizeof policy - o, "%s\"%s\";q=%lld;w=%d", o ? ", " : "", per[i].name,
                     (long long)per[i].limit.v, i == 0 ? 86400 : 2592000);
        }
    }
    buf_appendf(meta, ",\"mode\":\"%s\"}", v->limits.mode == LIMIT_OVERAGE ? "overage" : "block");
    if (policy[0])
        http_add_header(ctx, "ratelimit-policy", policy);
    if (m->ticket.overage)
        http_add_header(ctx, "x-quota-overage", "true");
}

static void on_committed(void *arg, int rc)
{
    http_resume **token = arg;
    metered_call *m = *(metered_call **)(token + 1);
    m->commit_rc = rc;
    http_resume_post(*token);
}

static void after_commit(http_ctx *ctx, void *arg)
{
    metered_call *m = arg;
    if (m->ticket.blocked) { /* recorded (or not, if the store failed): the refusal stands */
        fail(ctx, m, &m->refusal);
        return;
    }
    if (m->commit_rc != 0) {
        /* Not in the store: not counted, not served. */
        usage_refund(m->env->usage, &m->ticket);
        app_err err;
        app_err_clear(&err);
        app_err_set(&err, APP_STORE_UNAVAILABLE, "usage could not be recorded");
        fail(ctx, m, &err);
        return;
    }
    finish_idem(m);
    http_reply_raw(ctx, 200, "application/json; charset=utf-8", m->body, m->body_len);
}

static void serve(http_ctx *ctx, metered_call *m)
{
    app_err err;
    app_err_clear(&err);
    int rc = usage_reserve(m->env->usage, m->who, clock_now_ms(m->env->clock), &m->ticket, &m->view, &err);
    if (rc != 0 && m->ticket.blocked) {
        /* The refusal is counted as blocked before it is answered, like a served call. */
        m->refusal = err;
        void **pair = http_arena_alloc(ctx, 2 * sizeof(void *));
        pair[0] = http_suspend(ctx, after_commit, m);
        pair[1] = m;
        usage_commit(m->env->usage, &m->ticket, NULL, on_committed, pair);
        return;
    }
    if (rc != 0) {
        fail(ctx, m, &err);
        return;
    }
    slice data = {NULL, 0}, extra = {NULL, 0};
    if ((rc = m->handle(ctx, m->state, &data, &extra, &err)) != 0) {
        usage_refund(m->env->usage, &m->ticket);
        if (err.code == APP_OK)
            app_err_set(&err, (app_code)rc, NULL);
        fail(ctx, m, &err);
        return;
    }
    buf meta;
    buf_init(&meta, 1 << 20);
    usage_parts(ctx, m, &meta);
    if (extra.len > 0) {
        buf_append(&meta, ",", 1);
        buf_append(&meta, extra.ptr, extra.len);
    }
    /* The whole body is built here (not by http_reply_data_raw) because an idempotent answer is
     * stored byte for byte. The request id is safe by construction: nothing needs escaping. */
    const char *rid = http_request_id(ctx);
    static const char open[] = "{\"data\":", mid[] = ",\"meta\":{", rid_key[] = ",\"request_id\":\"", close[] = "\"}}";
    size_t ridlen = strlen(rid);
    if (buf_failed(&meta) || meta.len == 0) {
        buf_cleanup(&meta);
        usage_refund(m->env->usage, &m->ticket);
        app_err_set(&err, APP_INTERNAL_ERROR, "usage metadata could not be built");
        fail(ctx, m, &err);
        return;
    }
    size_t n = sizeof open - 1 + data.len + sizeof mid - 1 + meta.len + sizeof rid_key - 1 + ridlen + sizeof close - 1;
    char *body = http_arena_alloc(ctx, n), *p = body;
#define PUT(src, len) (memcpy(p, (src), (len)), p += (len))
    PUT(open, sizeof open - 1);
    PUT(data.ptr, data.len);
    PUT(mid, sizeof mid - 1);
    PUT(meta.data, meta.len);
    PUT(rid_key, sizeof rid_key - 1);
    PUT(rid, ridlen);
    PUT(close, sizeof close - 1);
#undef PUT
    buf_cleanup(&meta);
    m->body = body;
    m->body_len = n;
    if (!m->ticket.counted && !m->idem) {
        /* Unmetered plan: nothing to commit. */
        http_reply_raw(ctx, 200, "application/json; charset=utf-8", m->body, m->body_len);
        return;
    }
    idem_record rec, *recp = NULL;
    if (m->idem) {
        memset(&rec, 0, sizeof rec);
        rec.account_id = m->who->account_id;
        str_copy(rec.key, sizeof rec.key, m->idem_key);
        memcpy(rec.fingerprint, m->fingerprint, 32);
        rec.status = 200;
        rec.body = m->body;
        rec.body_len = m->body_len;
        rec.expires_at = clock_now_ms(m->env->clock) + IDEM_TTL_MS;
        recp = &rec;
    }
    /* The token and the call travel together to the writer thread and back. */
    void **pair = http_arena_alloc(ctx, 2 * sizeof(void *));
    pair[0] = http_suspend(ctx, after_commit, m);
    pair[1] = m;
    usage_commit(m->env->usage, &m->ticket, recp, on_committed, pair);
}

static void lookup_run(void *arg)
{
    metered_call *m = arg;
    app_err err;
    app_err_clear(&err);
    m->lookup_rc =
        store_idem_get(m->env->store, m->who->account_id, m->idem_key, clock_now_ms(m->env->clock), &m->stored, &err);
}

static void lookup_done(http_ctx *ctx, void *arg)
{
    metered_call *m = arg;
    app_err err;
    app_err_clear(&err);
    if (m->lookup_rc == 0) {
        bool same = sodium_memcmp(m->stored.fingerprint, m->fingerprint, 32) == 0;
        if (same) {
            /* The stored answer, byte for byte: served once, counted once. */
            char *body = http_arena_dup(ctx, m->stored.body, m->stored.body_len);
            size_t len = m->stored.body_len;
            int status = m->stored.status;
            free(m->stored.body);
            finish_idem(m);
            http_add_header(ctx, "idempotent-replayed", "true");
            http_reply_raw(ctx, status, "application/json; charset=utf-8", body, len);
            return;
        }
        free(m->stored.body);
        app_err_set(&err, APP_IDEMPOTENCY_CONFLICT, NULL);
        fail(ctx, m, &err);
        return;
    }
    if (m->lookup_rc != APP_NOT_FOUND) {
        app_err_set(&err, (app_code)m->lookup_rc, "idempotency lookup failed");
        fail(ctx, m, &err);
        return;
    }
    serve(ctx, m);
}

static bool idem_key_valid(slice k)
{
    if (k.len == 0 || k.len > IDEM_KEY_MAX)
        return false;
    for (size_t i = 0; i < k.len; i++)
        if (k.ptr[i] < 0x21 || k.ptr[i] > 0x7e)
            return false;
    return true;
}

void api_metered(http_ctx *ctx, metered_validate_fn validate, metered_handle_fn handle, void *state)
{
    metered_call *m = http_arena_alloc(ctx, sizeof *m);
    memset(m, 0, sizeof *m);
    m->env = http_app(ctx);
    m->who = http_auth_data(ctx);
    m->validate = validate;
    m->handle = handle;
    m->state = state;
    app_err err;
    app_err_clear(&err);
    if (validate != NULL && validate(ctx, state, &err) != 0) {
        http_reply_error(ctx, &err);
        return;
    }
    slice key;
    if (!http_header(ctx, "idempotency-key", &key)) {
        serve(ctx, m);
        return;
    }
    if (!idem_key_valid(key)) {
        app_err_field(&err, "Idempotency-Key", "must be 1 to %d visible ASCII characters", IDEM_KEY_MAX);
        http_reply_error(ctx, &err);
        return;
    }
    memcpy(m->idem_key, key.ptr, key.len);
    m->idem_key[key.len] = '\0';
    /* The request's identity: method and full target (path and query). */
    slice target = http_target(ctx);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    crypto_generichash_update(&h, (const unsigned char *)"GET ", 4);
    crypto_generichash_update(&h, (const unsigned char *)target.ptr, target.len);
    crypto_generichash_final(&h, m->fingerprint, 32);
    if (!usage_idem_claim(m->env->usage, m->who->account_id, m->idem_key)) {
        app_err_set(&err, APP_IDEMPOTENCY_CONFLICT, "A request with this Idempotency-Key is still being served.");
        http_reply_error(ctx, &err);
        return;
    }
    m->idem = true;
    http_defer(ctx, lookup_run, lookup_done, m);
}
