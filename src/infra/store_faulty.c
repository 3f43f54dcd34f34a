/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/mem.h"
#include "infra/store.h"

typedef struct faulty_store {
    store super;
    store *inner;
    atomic_int fail_after; /* < 0: only `broken` fails calls */
    atomic_int calls;
    atomic_bool broken;
    atomic_int sync_ms; /* how long each sync takes first (store_faulty_slow_sync) */
    atomic_int syncing; /* syncs in progress */
    atomic_int lost;    /* usage batches still to commit with their answer lost (store_faulty_lose_commits) */
} faulty_store;

static bool should_fail(faulty_store *s, app_err *err)
{
    int n = atomic_fetch_add(&s->calls, 1), after = atomic_load(&s->fail_after);
    if (!atomic_load(&s->broken) && (after < 0 || n < after))
        return false;
    app_err_set(err, APP_STORE_UNAVAILABLE, "injected store fault after %d calls", after);
    return true;
}

static int faulty_ping(store *self, app_err *err)
{
    faulty_store *s = (faulty_store *)self;
    return should_fail(s, err) ? APP_STORE_UNAVAILABLE : store_ping(s->inner, err);
}

static int faulty_migrate(store *self, int *applied, app_err *err)
{
    faulty_store *s = (faulty_store *)self;
    return should_fail(s, err) ? APP_STORE_UNAVAILABLE : store_migrate(s->inner, applied, err);
}

static int faulty_schema_version(store *self, int *version, app_err *err)
{
    faulty_store *s = (faulty_store *)self;
    return should_fail(s, err) ? APP_STORE_UNAVAILABLE : store_schema_version(s->inner, version, err);
}

/* Every other operation: fail when due, else forward. */
#define FORWARD(fn, params, args)                                                                                      \
    static int faulty_##fn params                                                                                      \
    {                                                                                                                  \
        faulty_store *s = (faulty_store *)self;                                                                        \
        return should_fail(s, err) ? APP_STORE_UNAVAILABLE : s->inner->ops->fn args;                                   \
    }
FORWARD(account_create, (store * self, account *io, audit_event *a, app_err *err), (s->inner, io, a, err))
FORWARD(account_get, (store * self, int64_t id, account *o, app_err *err), (s->inner, id, o, err))
FORWARD(account_list, (store * self, int st, int64_t after, account *o, size_t cap, size_t *n, app_err *err),
        (s->inner, st, after, o, cap, n, err))
FORWARD(account_set_status, (store * self, int64_t id, account_status st, audit_event *a, app_err *err),
        (s->inner, id, st, a, err))
FORWARD(plan_create, (store * self, plan *io, audit_event *a, app_err *err), (s->inner, io, a, err))
FORWARD(plan_get, (store * self, int64_t id, plan *o, app_err *err), (s->inner, id, o, err))
FORWARD(plan_get_by_code, (store * self, const char *code, plan *o, app_err *err), (s->inner, code, o, err))
FORWARD(plan_list, (store * self, int64_t after, plan *o, size_t cap, size_t *n, app_err *err),
        (s->inner, after, o, cap, n, err))
FORWARD(plan_update, (store * self, const plan *p, audit_event *a, app_err *err), (s->inner, p, a, err))
FORWARD(contract_put, (store * self, const contract *c, audit_event *a, app_err *err), (s->inner, c, a, err))
FORWARD(contract_get, (store * self, int64_t id, contract *o, app_err *err), (s->inner, id, o, err))
FORWARD(contract_list, (store * self, int64_t after, contract *o, size_t cap, size_t *n, app_err *err),
        (s->inner, after, o, cap, n, err))
FORWARD(credential_create, (store * self, credential *io, audit_event *a, app_err *err), (s->inner, io, a, err))
FORWARD(credential_get, (store * self, const char *key_id, credential *o, app_err *err), (s->inner, key_id, o, err))
FORWARD(credential_list,
        (store * self, int64_t account_id, int64_t after, credential *o, size_t cap, size_t *n, app_err *err),
        (s->inner, account_id, after, o, cap, n, err))
FORWARD(credential_update, (store * self, const credential *c, audit_event *a, app_err *err), (s->inner, c, a, err))
FORWARD(credential_rotate, (store * self, const credential *old, credential *fresh, audit_event *a, app_err *err),
        (s->inner, old, fresh, a, err))
FORWARD(credentials_touch, (store * self, const int64_t *ids, const int64_t *at, size_t n, app_err *err),
        (s->inner, ids, at, n, err))
FORWARD(audit_list,
        (store * self, const audit_filter *f, int64_t after, audit_event *o, size_t cap, size_t *n, app_err *err),
        (s->inner, f, after, o, cap, n, err))
FORWARD(change_token, (store * self, int64_t *out, app_err *err), (s->inner, out, err))

static int faulty_usage_apply(store *self, const usage_batch *b, app_err *err)
{
    faulty_store *s = (faulty_store *)self;
    if (should_fail(s, err))
        return APP_STORE_UNAVAILABLE;
    int rc = store_usage_apply(s->inner, b, err);
    int left = atomic_load(&s->lost);
    while (rc == 0 && left > 0 && !atomic_compare_exchange_weak(&s->lost, &left, left - 1))
        ;
    if (rc == 0 && left > 0) /* committed, and the caller is told otherwise */
        return app_err_set(err, APP_STORE_UNAVAILABLE, "injected fault: the commit's answer was lost");
    return rc;
}
FORWARD(alert_list,
        (store * self, int64_t id, const char *day_from, const char *month_from, usage_alert *o, size_t cap, size_t *n,
         app_err *err),
        (s->inner, id, day_from, month_from, o, cap, n, err))
FORWARD(alert_list_all, (store * self, const usage_alert *after, usage_alert *o, size_t cap, size_t *n, app_err *err),
        (s->inner, after, o, cap, n, err))
FORWARD(webhook_list_all, (store * self, int64_t after, webhook *o, size_t cap, size_t *n, app_err *err),
        (s->inner, after, o, cap, n, err))
FORWARD(delivery_pending_list, (store * self, int64_t after, webhook_delivery *o, size_t cap, size_t *n, app_err *err),
        (s->inner, after, o, cap, n, err))
FORWARD(usage_sum,
        (store * self, int64_t acc, int64_t cred, const char *from, const char *to, usage_totals *o, app_err *err),
        (s->inner, acc, cred, from, to, o, err))
FORWARD(usage_rows,
        (store * self, int64_t acc, int64_t cred, const char *from, const char *to, bool by_cred, usage_row *o,
         size_t cap, size_t *n, app_err *err),
        (s->inner, acc, cred, from, to, by_cred, o, cap, n, err))
FORWARD(idem_get, (store * self, int64_t acc, const char *key, int64_t now, idem_record *o, app_err *err),
        (s->inner, acc, key, now, o, err))
FORWARD(idem_purge, (store * self, int64_t now, app_err *err), (s->inner, now, err))
FORWARD(usage_key_days,
        (store * self, int64_t acc, const char *from, const char *to, const usage_key_day *after, usage_key_day *o,
         size_t cap, size_t *n, app_err *err),
        (s->inner, acc, from, to, after, o, cap, n, err))
FORWARD(usage_accounts_page,
        (store * self, const char *from, const char *to, const usage_account_row *after, usage_account_row *o,
         size_t cap, size_t *n, app_err *err),
        (s->inner, from, to, after, o, cap, n, err))
FORWARD(usage_list, (store * self, const usage_delta *after, usage_delta *o, size_t cap, size_t *n, app_err *err),
        (s->inner, after, o, cap, n, err))
FORWARD(idem_list,
        (store * self, int64_t now, const idem_record *after, idem_record *o, size_t cap, size_t *n, app_err *err),
        (s->inner, now, after, o, cap, n, err))
FORWARD(import_rows, (store * self, const store_import *batch, app_err *err), (s->inner, batch, err))
static int faulty_sync(store *self, app_err *err)
{
    faulty_store *s = (faulty_store *)self;
    if (should_fail(s, err))
        return APP_STORE_UNAVAILABLE;
    atomic_fetch_add(&s->syncing, 1);
    int ms = atomic_load(&s->sync_ms);
    if (ms > 0)
        nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000}, NULL);
    int rc = store_sync(s->inner, err);
    atomic_fetch_sub(&s->syncing, 1);
    return rc;
}
FORWARD(journal_mark, (store * self, const char *segment, int64_t *offset, app_err *err),
        (s->inner, segment, offset, err))
FORWARD(journal_forget, (store * self, const char *segment, app_err *err), (s->inner, segment, err))
FORWARD(webhook_create, (store * self, webhook *io, audit_event *a, app_err *err), (s->inner, io, a, err))
FORWARD(webhook_get, (store * self, int64_t id, webhook *o, app_err *err), (s->inner, id, o, err))
FORWARD(webhook_list, (store * self, int64_t acc, int64_t after, webhook *o, size_t cap, size_t *n, app_err *err),
        (s->inner, acc, after, o, cap, n, err))
FORWARD(webhook_update, (store * self, const webhook *w, audit_event *a, app_err *err), (s->inner, w, a, err))
FORWARD(webhook_delete, (store * self, int64_t id, audit_event *a, app_err *err), (s->inner, id, a, err))
FORWARD(webhook_enqueue,
        (store * self, int64_t acc, const char *type, const char *msg_id, const char *body, int64_t now, size_t *n,
         app_err *err),
        (s->inner, acc, type, msg_id, body, now, n, err))
FORWARD(webhook_due, (store * self, int64_t now, int64_t lease, webhook_due *o, size_t cap, size_t *n, app_err *err),
        (s->inner, now, lease, o, cap, n, err))
FORWARD(webhook_attempt_record,
        (store * self, const webhook_attempt *a, delivery_status st, int64_t next, app_err *err),
        (s->inner, a, st, next, err))
FORWARD(webhook_deliveries_list,
        (store * self, int64_t id, int64_t before, webhook_delivery *o, size_t cap, size_t *n, app_err *err),
        (s->inner, id, before, o, cap, n, err))
FORWARD(webhook_attempts_list,
        (store * self, int64_t id, int64_t after, webhook_attempt *o, size_t cap, size_t *n, app_err *err),
        (s->inner, id, after, o, cap, n, err))
FORWARD(webhook_delivery_resend, (store * self, int64_t wid, int64_t did, int64_t now, audit_event *a, app_err *err),
        (s->inner, wid, did, now, a, err))
#undef FORWARD

/* Always forwarded: sizes of files are observation, not a store operation a test wants to fail. */
static int faulty_stats(store *self, store_stats *out, app_err *err)
{
    return store_stats_get(((faulty_store *)self)->inner, out, err);
}

static void faulty_close(store *self)
{
    faulty_store *s = (faulty_store *)self;
    store_close(s->inner);
    free(s);
}

static const struct store_ops faulty_ops = {
    .name = "faulty",
    .ping = faulty_ping,
    .migrate = faulty_migrate,
    .schema_version = faulty_schema_version,
    .close = faulty_close,
    .account_create = faulty_account_create,
    .account_get = faulty_account_get,
    .account_list = faulty_account_list,
    .account_set_status = faulty_account_set_status,
    .plan_create = faulty_plan_create,
    .plan_get = faulty_plan_get,
    .plan_get_by_code = faulty_plan_get_by_code,
    .plan_list = faulty_plan_list,
    .plan_update = faulty_plan_update,
    .contract_put = faulty_contract_put,
    .contract_get = faulty_contract_get,
    .contract_list = faulty_contract_list,
    .credential_create = faulty_credential_create,
    .credential_get = faulty_credential_get,
    .credential_list = faulty_credential_list,
    .credential_update = faulty_credential_update,
    .credential_rotate = faulty_credential_rotate,
    .credentials_touch = faulty_credentials_touch,
    .audit_list = faulty_audit_list,
    .change_token = faulty_change_token,
    .usage_apply = faulty_usage_apply,
    .journal_mark = faulty_journal_mark,
    .journal_forget = faulty_journal_forget,
    .usage_sum = faulty_usage_sum,
    .alert_list = faulty_alert_list,
    .alert_list_all = faulty_alert_list_all,
    .webhook_list_all = faulty_webhook_list_all,
    .delivery_pending_list = faulty_delivery_pending_list,
    .usage_rows = faulty_usage_rows,
    .idem_get = faulty_idem_get,
    .idem_purge = faulty_idem_purge,
    .usage_list = faulty_usage_list,
    .usage_key_days = faulty_usage_key_days,
    .usage_accounts_page = faulty_usage_accounts_page,
    .idem_list = faulty_idem_list,
    .import_rows = faulty_import_rows,
    .sync = faulty_sync,
    .stats = faulty_stats,
    .webhook_create = faulty_webhook_create,
    .webhook_get = faulty_webhook_get,
    .webhook_list = faulty_webhook_list,
    .webhook_update = faulty_webhook_update,
    .webhook_delete = faulty_webhook_delete,
    .webhook_enqueue = faulty_webhook_enqueue,
    .webhook_due = faulty_webhook_due,
    .webhook_attempt_record = faulty_webhook_attempt_record,
    .webhook_deliveries_list = faulty_webhook_deliveries_list,
    .webhook_attempts_list = faulty_webhook_attempts_list,
    .webhook_delivery_resend = faulty_webhook_delivery_resend,
};

store *store_faulty_new(store *inner, int fail_after)
{
    faulty_store *s = xcalloc(1, sizeof *s);
    s->super.ops = &faulty_ops;
    s->inner = inner;
    atomic_init(&s->fail_after, fail_after);
    atomic_init(&s->calls, 0);
    atomic_init(&s->broken, false);
    return &s->super;
}

void store_faulty_slow_sync(store *faulty, int ms)
{
    atomic_store(&((faulty_store *)faulty)->sync_ms, ms);
}

int store_faulty_syncing(store *faulty)
{
    return atomic_load(&((faulty_store *)faulty)->syncing);
}

void store_faulty_lose_commits(store *faulty, int n)
{
    atomic_store(&((faulty_store *)faulty)->lost, n);
}

int store_faulty_commits_to_lose(store *faulty)
{
    return atomic_load(&((faulty_store *)faulty)->lost);
}

void store_faulty_break(store *faulty, bool broken)
{
    faulty_store *s = (faulty_store *)faulty;
    if (!broken) /* working again means past the fail_after count too */
        atomic_store(&s->fail_after, -1);
    atomic_store(&s->broken, broken);
}
