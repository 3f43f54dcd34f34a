/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Usage reports: the B2B routes (a key sees its own account only) and the admin one. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/mem.h"
#include "core/str.h"
#include "services/report.h"

typedef enum report_kind { REPORT_SUMMARY, REPORT_HISTORY, REPORT_ALERTS } report_kind;

typedef struct report_job {
    api_env *env;
    int64_t account_id;
    report_kind kind;
    char from[16], to[16], key_id[16];
    bool has_from, has_to, has_key;
    json_t *out;
    app_err err;
    int rc;
} report_job;

static void run(void *arg)
{
    report_job *j = arg;
    int64_t now = clock_now_ms(j->env->clock);
    switch (j->kind) {
    case REPORT_HISTORY:
        j->rc = report_history(j->env->services, j->env->metering, j->account_id, j->has_from ? j->from : NULL,
                               j->has_to ? j->to : NULL, j->has_key ? j->key_id : NULL, now, &j->out, &j->err);
        break;
    case REPORT_ALERTS:
        j->rc = report_alerts(j->env->services, j->env->metering, j->account_id, now, &j->out, &j->err);
        break;
    default: j->rc = report_summary(j->env->services, j->env->metering, j->account_id, now, &j->out, &j->err);
    }
}

static void done(http_ctx *ctx, void *arg)
{
    report_job *j = arg;
    if (j->rc == 0)
        http_reply_data(ctx, 200, j->out, NULL);
    else
        http_reply_error(ctx, &j->err);
    free(j);
}

/* Copies query parameter `name` into out[cap]; a value too long is a validation error. */
static bool query_copy(http_ctx *ctx, report_job *j, const char *name, char *out, size_t cap)
{
    slice v;
    if (!http_query(ctx, name, &v))
        return false;
    if (v.len == 0 || v.len >= cap) {
        app_err_field(&j->err, name, "is not valid");
        return false;
    }
    memcpy(out, v.ptr, v.len);
    out[v.len] = '\0';
    return true;
}

static void start(http_ctx *ctx, int64_t account_id, report_kind kind)
{
    report_job *j = xcalloc(1, sizeof *j);
    j->env = http_app(ctx);
    j->account_id = account_id;
    j->kind = kind;
    app_err_clear(&j->err);
    if (kind == REPORT_HISTORY) {
        j->has_from = query_copy(ctx, j, "from", j->from, sizeof j->from);
        j->has_to = query_copy(ctx, j, "to", j->to, sizeof j->to);
        j->has_key = query_copy(ctx, j, "credential", j->key_id, sizeof j->key_id);
    }
    if (j->err.code != APP_OK) {
        http_reply_error(ctx, &j->err);
        free(j);
        return;
    }
    http_defer(ctx, run, done, j);
}

static void summary_admitted(http_ctx *ctx, void *unused)
{
    (void)unused;
    const principal *p = http_auth_data(ctx);
    start(ctx, p->account_id, REPORT_SUMMARY);
}

static void history_admitted(http_ctx *ctx, void *unused)
{
    (void)unused;
    const principal *p = http_auth_data(ctx);
    start(ctx, p->account_id, REPORT_HISTORY);
}

static void alerts_admitted(http_ctx *ctx, void *unused)
{
    (void)unused;
    const principal *p = http_auth_data(ctx);
    start(ctx, p->account_id, REPORT_ALERTS);
}

void api_b2b_usage_summary(http_ctx *ctx)
{
    api_admit(ctx, summary_admitted, NULL);
}

void api_b2b_usage_history(http_ctx *ctx)
{
    api_admit(ctx, history_admitted, NULL);
}

void api_b2b_usage_alerts(http_ctx *ctx)
{
    api_admit(ctx, alerts_admitted, NULL);
}

static bool admin_account(http_ctx *ctx, int64_t *id)
{
    if (str_to_id(http_path_param(ctx, "id"), 1, INT64_MAX, id))
        return true;
    http_reply_code(ctx, APP_NOT_FOUND);
    return false;
}

void api_admin_usage_summary(http_ctx *ctx)
{
    int64_t id;
    if (admin_account(ctx, &id))
        start(ctx, id, REPORT_SUMMARY);
}

void api_admin_usage_history(http_ctx *ctx)
{
    int64_t id;
    if (admin_account(ctx, &id))
        start(ctx, id, REPORT_HISTORY);
}

void api_admin_usage_alerts(http_ctx *ctx)
{
    int64_t id;
    if (admin_account(ctx, &id))
        start(ctx, id, REPORT_ALERTS);
}
