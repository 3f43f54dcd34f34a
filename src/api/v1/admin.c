/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The admin API: each handler reads the request on the event loop, runs its service call on the
 * worker pool (the store may wait on the disk) and answers back on the loop.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/mem.h"
#include "domain/apikey.h"
#include "domain/civil.h"

typedef struct admin_job admin_job;
typedef int (*admin_op)(admin_job *j);

struct admin_job {
    api_env *env;
    admin_op op;
    int success_status;
    json_t *body; /* owned */
    int64_t id;
    int64_t delivery_id;
    char key[PLAN_CODE_MAX_LEN + 1]; /* a plan code or a key_id */
    char status[16];
    bool has_status;
    audit_filter filter;
    char action[64];
    page_req page;
    char cursor[32];
    actor actor;
    char request_id[65];
    json_t *out; /* owned until replied */
    app_err err;
    int rc;
};

static void run(void *arg)
{
    admin_job *j = arg;
    j->rc = j->op(j);
}

static void finish(http_ctx *ctx, void *arg)
{
    admin_job *j = arg;
    if (j->rc == 0) {
        http_reply_data(ctx, j->success_status, j->out, NULL);
        j->out = NULL;
    } else {
        if (j->err.code == APP_OK)
            app_err_set(&j->err, (app_code)j->rc, NULL);
        http_reply_error(ctx, &j->err);
    }
    json_decref(j->body);
    json_decref(j->out);
    free(j);
}

static admin_job *job_new(http_ctx *ctx, admin_op op, int success_status)
{
    admin_job *j = xcalloc(1, sizeof *j);
    j->env = http_app(ctx);
    j->op = op;
    j->success_status = success_status;
    str_copy(j->request_id, sizeof j->request_id, http_request_id(ctx));
    j->actor.name = "admin";
    j->actor.request_id = j->request_id;
    app_err_clear(&j->err);
    return j;
}

static void job_fail(http_ctx *ctx, admin_job *j)
{
    http_reply_error(ctx, &j->err);
    json_decref(j->body);
    free(j);
}

/* Parses the body as JSON (an empty body is JSON null); malformed JSON is 400 bad_request. */
static bool read_body(http_ctx *ctx, admin_job *j)
{
    slice b = http_body(ctx);
    if (b.len == 0) {
        j->body = json_null();
        return true;
    }
    json_error_t jerr;
    j->body = json_loadb(b.ptr, b.len, JSON_REJECT_DUPLICATES, &jerr);
    if (j->body == NULL) {
        app_err_set(&j->err, APP_BAD_REQUEST, "the body is not valid JSON: %s", jerr.text);
        app_err_detail_int(&j->err, "line", jerr.line);
        app_err_detail_int(&j->err, "column", jerr.column);
        return false;
    }
    return true;
}

static bool read_id(http_ctx *ctx, admin_job *j)
{
    if (!str_to_id(http_path_param(ctx, "id"), 1, INT64_MAX, &j->id)) {
        app_err_set(&j->err, APP_NOT_FOUND, "no account has that id");
        return false;
    }
    return true;
}

static bool read_key(http_ctx *ctx, admin_job *j, const char *param)
{
    slice v = http_path_param(ctx, param);
    if (v.len == 0 || v.len >= sizeof j->key) {
        app_err_set(&j->err, APP_NOT_FOUND, NULL);
        return false;
    }
    memcpy(j->key, v.ptr, v.len);
    j->key[v.len] = '\0';
    return true;
}

/* limit and cursor query parameters. */
static bool read_page(http_ctx *ctx, admin_job *j)
{
    slice v;
    if (http_query(ctx, "limit", &v, &j->err) && !str_to_i64(v, 1, LIST_LIMIT_MAX, &j->page.limit))
        app_err_field(&j->err, "limit", "must be an integer from 1 to %d", LIST_LIMIT_MAX);
    if (http_query(ctx, "cursor", &v, &j->err)) {
        if (v.len == 0 || v.len >= sizeof j->cursor)
            app_err_field(&j->err, "cursor", "is not a cursor this API returned");
        else {
            memcpy(j->cursor, v.ptr, v.len);
            j->cursor[v.len] = '\0';
            j->page.cursor = j->cursor;
        }
    }
    return j->err.code == APP_OK;
}

/* Starts the job, or answers its error now. */
static void go(http_ctx *ctx, admin_job *j, bool ok)
{
    if (!ok || j->err.code != APP_OK) {
        job_fail(ctx, j);
        return;
    }
    http_defer(ctx, run, finish, j);
}

/* ---- accounts ---- */

static int op_account_create(admin_job *j)
{
    return admin_account_create(j->env->services, &j->actor, j->body, &j->out, &j->err);
}
void api_admin_accounts_create(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_account_create, 201);
    go(ctx, j, read_body(ctx, j));
}

static int op_account_list(admin_job *j)
{
    return admin_account_list(j->env->services, j->has_status ? j->status : NULL, &j->page, &j->out, &j->err);
}
void api_admin_accounts_list(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_account_list, 200);
    slice v;
    if (http_query(ctx, "status", &v, &j->err)) {
        if (slice_eq(v, "active") || slice_eq(v, "suspended")) {
            memcpy(j->status, v.ptr, v.len);
            j->status[v.len] = '\0';
            j->has_status = true;
        } else {
            app_err_field(&j->err, "status", "must be one of: active, suspended");
        }
    }
    go(ctx, j, read_page(ctx, j));
}

static int op_account_get(admin_job *j)
{
    return admin_account_get(j->env->services, j->id, &j->out, &j->err);
}
void api_admin_accounts_get(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_account_get, 200);
    go(ctx, j, read_id(ctx, j));
}

static int op_account_patch(admin_job *j)
{
    return admin_account_patch(j->env->services, &j->actor, j->id, j->body, &j->out, &j->err);
}
void api_admin_accounts_patch(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_account_patch, 200);
    go(ctx, j, read_id(ctx, j) && read_body(ctx, j));
}

/* ---- contracts ---- */

static int op_contract_put(admin_job *j)
{
    return admin_contract_put(j->env->services, &j->actor, j->id, j->body, &j->out, &j->err);
}
void api_admin_contract_put(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_contract_put, 200);
    go(ctx, j, read_id(ctx, j) && read_body(ctx, j));
}

static int op_contract_get(admin_job *j)
{
    return admin_contract_get(j->env->services, j->id, &j->out, &j->err);
}
void api_admin_contract_get(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_contract_get, 200);
    go(ctx, j, read_id(ctx, j));
}

/* ---- credentials ---- */

static int op_credential_issue(admin_job *j)
{
    return admin_credential_issue(j->env->services, &j->actor, j->id, j->body, &j->out, &j->err);
}
void api_admin_credentials_issue(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_credential_issue, 201);
    go(ctx, j, read_id(ctx, j) && read_body(ctx, j));
}

static int op_credential_list(admin_job *j)
{
    return admin_credential_list(j->env->services, j->id, &j->out, &j->err);
}
void api_admin_credentials_list(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_credential_list, 200);
    go(ctx, j, read_id(ctx, j));
}

static int op_credential_rotate(admin_job *j)
{
    return admin_credential_rotate(j->env->services, &j->actor, j->key, j->body, &j->out, &j->err);
}
void api_admin_credentials_rotate(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_credential_rotate, 201);
    go(ctx, j, read_key(ctx, j, "key_id") && read_body(ctx, j));
}

static int op_credential_revoke(admin_job *j)
{
    return admin_credential_revoke(j->env->services, &j->actor, j->key, &j->out, &j->err);
}
void api_admin_credentials_revoke(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_credential_revoke, 200);
    go(ctx, j, read_key(ctx, j, "key_id"));
}

/* ---- plans ---- */

static int op_plan_create(admin_job *j)
{
    return admin_plan_create(j->env->services, &j->actor, j->body, &j->out, &j->err);
}
void api_admin_plans_create(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_plan_create, 201);
    go(ctx, j, read_body(ctx, j));
}

static int op_plan_list(admin_job *j)
{
    return admin_plan_list(j->env->services, &j->page, &j->out, &j->err);
}
void api_admin_plans_list(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_plan_list, 200);
    go(ctx, j, read_page(ctx, j));
}

static int op_plan_get(admin_job *j)
{
    return admin_plan_get(j->env->services, j->key, &j->out, &j->err);
}
void api_admin_plans_get(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_plan_get, 200);
    go(ctx, j, read_key(ctx, j, "code"));
}

static int op_plan_patch(admin_job *j)
{
    return admin_plan_patch(j->env->services, &j->actor, j->key, j->body, &j->out, &j->err);
}
void api_admin_plans_patch(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_plan_patch, 200);
    go(ctx, j, read_key(ctx, j, "code") && read_body(ctx, j));
}

/* ---- audit ---- */

static int op_audit_list(admin_job *j)
{
    return admin_audit_list(j->env->services, &j->filter, &j->page, &j->out, &j->err);
}

static void read_time_param(http_ctx *ctx, admin_job *j, const char *name, opt_i64 *out)
{
    slice v;
    int64_t ms;
    if (!http_query(ctx, name, &v, &j->err))
        return;
    if (civil_parse_rfc3339(v.ptr, v.len, &ms))
        *out = opt_some(ms);
    else
        app_err_field(&j->err, name, "must be an RFC 3339 timestamp such as 2026-11-01T00:00:00Z");
}

static int op_audit_verify(admin_job *j)
{
    return admin_audit_verify(j->env->services, &j->out, &j->err);
}
void api_admin_audit_verify(http_ctx *ctx)
{
    go(ctx, job_new(ctx, op_audit_verify, 200), true);
}

void api_admin_audit_list(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_audit_list, 200);
    slice v;
    int64_t id;
    if (http_query(ctx, "account_id", &v, &j->err)) {
        if (str_to_id(v, 1, INT64_MAX, &id))
            j->filter.account_id = opt_some(id);
        else
            app_err_field(&j->err, "account_id",
                          "must be a positive integer in canonical decimal form (no sign, no leading zeros)");
    }
    if (http_query(ctx, "action", &v, &j->err)) {
        if (v.len == 0 || v.len >= sizeof j->action)
            app_err_field(&j->err, "action", "must be 1 to %zu characters", sizeof j->action - 1);
        else {
            memcpy(j->action, v.ptr, v.len);
            j->action[v.len] = '\0';
            j->filter.action = j->action;
        }
    }
    read_time_param(ctx, j, "from", &j->filter.from_ms);
    read_time_param(ctx, j, "to", &j->filter.to_ms);
    go(ctx, j, read_page(ctx, j));
}

/* ---- webhooks ---- */

/* Path parameter `param` as an id, or not_found naming `what`. */
static bool read_path_id(http_ctx *ctx, admin_job *j, const char *param, const char *what, int64_t *out)
{
    if (!str_to_id(http_path_param(ctx, param), 1, INT64_MAX, out)) {
        app_err_set(&j->err, APP_NOT_FOUND, "no %s has that id", what);
        return false;
    }
    return true;
}

static int op_webhook_create(admin_job *j)
{
    return admin_webhook_create(j->env->services, &j->actor, j->id, j->body, &j->out, &j->err);
}
void api_admin_webhooks_create(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_webhook_create, 201);
    go(ctx, j, read_id(ctx, j) && read_body(ctx, j));
}

static int op_webhook_list(admin_job *j)
{
    return admin_webhook_list(j->env->services, j->id, &j->page, &j->out, &j->err);
}
void api_admin_webhooks_list(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_webhook_list, 200);
    go(ctx, j, read_id(ctx, j) && read_page(ctx, j));
}

static int op_webhook_get(admin_job *j)
{
    return admin_webhook_get(j->env->services, j->id, &j->out, &j->err);
}
void api_admin_webhooks_get(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_webhook_get, 200);
    go(ctx, j, read_path_id(ctx, j, "id", "webhook", &j->id));
}

static int op_webhook_patch(admin_job *j)
{
    return admin_webhook_patch(j->env->services, &j->actor, j->id, j->body, &j->out, &j->err);
}
void api_admin_webhooks_patch(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_webhook_patch, 200);
    go(ctx, j, read_path_id(ctx, j, "id", "webhook", &j->id) && read_body(ctx, j));
}

static int op_webhook_delete(admin_job *j)
{
    return admin_webhook_delete(j->env->services, &j->actor, j->id, &j->out, &j->err);
}
void api_admin_webhooks_delete(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_webhook_delete, 200);
    go(ctx, j, read_path_id(ctx, j, "id", "webhook", &j->id));
}

static int op_webhook_rotate(admin_job *j)
{
    return admin_webhook_rotate(j->env->services, &j->actor, j->id, &j->out, &j->err);
}
void api_admin_webhooks_rotate(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_webhook_rotate, 201);
    go(ctx, j, read_path_id(ctx, j, "id", "webhook", &j->id));
}

static int op_webhook_deliveries(admin_job *j)
{
    return admin_webhook_deliveries(j->env->services, j->id, &j->page, &j->out, &j->err);
}
void api_admin_webhooks_deliveries(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_webhook_deliveries, 200);
    go(ctx, j, read_path_id(ctx, j, "id", "webhook", &j->id) && read_page(ctx, j));
}

static int op_webhook_resend(admin_job *j)
{
    return admin_webhook_resend(j->env->services, &j->actor, j->id, j->delivery_id, &j->out, &j->err);
}
void api_admin_webhooks_resend(http_ctx *ctx)
{
    admin_job *j = job_new(ctx, op_webhook_resend, 200);
    go(ctx, j,
       read_path_id(ctx, j, "id", "webhook", &j->id) &&
           read_path_id(ctx, j, "delivery_id", "delivery", &j->delivery_id));
}
