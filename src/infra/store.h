/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_STORE_H
#define STARMETER_INFRA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/err.h"
#include "domain/model.h"
#include "domain/webhook.h"

/*
 * The store: starmeter's durable state behind a table of function pointers, so services never
 * know which database answers. Each backend embeds `struct store` as its first member.
 * Every function returns 0 or a code of the error table, with `err` filled; a backend translates
 * its library's errors (SQLITE_BUSY, a SQLSTATE) into table codes here, at the boundary.
 * Backends are safe to call from several threads.
 */
typedef struct store store;

/* A change to one daily usage row: added to (account, credential, date). */
typedef struct usage_delta {
    int64_t account_id;
    int64_t credential_id;
    char date[11]; /* YYYY-MM-DD, the contract's local date */
    int64_t requests, overage, blocked;
} usage_delta;

/* The stored answer of an idempotent request. */
typedef struct idem_record {
    int64_t account_id;
    char key[129];
    uint8_t fingerprint[32];
    int status;
    char *body; /* owned by whoever filled the record; NUL-terminated */
    size_t body_len;
    int64_t expires_at;
} idem_record;

/*
 * How far one usage journal segment is folded into the ledger (bytes from its start): moved from
 * `from` to `offset`. A batch whose segment's mark is not at `from` in the ledger (0: none yet)
 * applies nothing and fails: its records were folded already, by a commit whose answer was lost
 * (a connection that broke after COMMIT went out), and must not be counted twice.
 */
typedef struct journal_mark {
    char segment[64]; /* the segment's file name */
    int64_t offset, from;
} journal_mark;

/*
 * A usage alert: a period's usage reached `threshold` percent of its limit. There is at most one
 * per (account, period, period_start, threshold): usage_apply writes a new one together with its
 * audit event, and nothing of either when it exists already.
 */
typedef struct usage_alert {
    int64_t account_id;
    bool monthly;          /* the month's limit; else the day's */
    char period_start[11]; /* YYYY-MM-DD in the contract's zone: the day, or the month's first day */
    int threshold;         /* percent, 1..100 */
    int64_t used, limit;   /* the period's calls when it was reached, and its limit */
    int64_t at;            /* Unix ms */
    audit_event *audit;    /* usage_apply: appended when the alert is new (seq and hashes filled); or NULL */
    const char *event;     /* usage_apply: the usage.threshold webhook event's body, enqueued for the account's
                              endpoints when the alert is new (webhook_enqueue); or NULL */
    char msg_id[WEBHOOK_MSG_ID_MAX + 1]; /* the event's webhook-id, when `event` */
    bool raised;                         /* usage_apply sets it: the alert is new and committed */
} usage_alert;

/*
 * One transaction of metered calls (group commit): usage deltas, answers of idempotent requests,
 * audit events of quota decisions, and how far usage journals are folded. Borrowed.
 * durable true: the batch is on stable storage when usage_apply returns (it survives a power
 * loss). durable false: it survives a crash of the process (kill -9) when usage_apply returns,
 * and a power loss only after the next `sync` (or the next durable write) returns; the caller
 * bounds that interval by calling `sync` periodically.
 */
typedef struct usage_batch {
    const usage_delta *deltas;
    size_t ndeltas;
    const idem_record *idem;
    size_t nidem;
    audit_event *audits; /* the store fills seq, prev_hash and hash */
    size_t naudits;
    const journal_mark *marks;
    size_t nmarks;
    usage_alert *alerts; /* written when new; each one's `raised` tells */
    size_t nalerts;
    bool durable;
} usage_batch;

/* Sums of usage rows. */
typedef struct usage_totals {
    int64_t requests, overage, blocked;
} usage_totals;

/* One row of a per-day or per-credential listing. */
typedef struct usage_row {
    char date[11];
    int64_t credential_id;
    usage_totals t;
} usage_row;

/* The most rows one page of an export listing holds, whatever the caller asks (constant memory). */
#define STORE_PAGE_MAX 1000

/* One line of an account's usage export: one credential's day (usage_key_days). */
typedef struct usage_key_day {
    char date[11];
    int64_t credential_id;
    char key_id[KEY_ID_LEN + 1];
    char label[LABEL_MAX_LEN * 4 + 1]; /* the credential's label now, not when the calls were made */
    usage_totals t;
} usage_key_day;

/* One line of the invoicing listing: an account, its contract and one credential's totals. */
typedef struct usage_account_row {
    int64_t account_id;
    char account_name[NAME_MAX_LEN * 4 + 1];
    char plan_code[PLAN_CODE_MAX_LEN + 1];
    limits limits;         /* effective: the plan's, with the contract's overrides (contract_effective_limits) */
    int64_t credential_id; /* 0: the account has no usage in the range (key_id and label empty, totals 0) */
    char key_id[KEY_ID_LEN + 1];
    char label[LABEL_MAX_LEN * 4 + 1];
    usage_totals t;
    account_status status; /* the account's now, when the page is read (not over the range) */
} usage_account_row;

/* Filters of the audit listing; zero values mean "any". */
typedef struct audit_filter {
    opt_i64 account_id;
    const char *action; /* exact match, or NULL */
    opt_i64 from_ms;    /* at >= from */
    opt_i64 to_ms;      /* at < to */
} audit_filter;

/* Sizes of the store's files, for /metrics. */
typedef struct store_stats {
    int64_t wal_bytes; /* the write-ahead log (0 when the backend has none) */
    int64_t db_bytes;  /* the database file */
} store_stats;

/*
 * Rows with their ids as they are in another store, for moving a whole store (`starmeter store
 * copy`). Borrowed. Each member is an array of n entries (NULL when n is 0); import_rows inserts
 * them in the order of the members, so a batch may hold a plan or account and the rows that
 * refer to it. Usage rows are whole rows (deltas holding the row's totals); audit events keep
 * their seq, at, prev_hash and hash as given, never recomputed, so the chain copied verifies.
 */
typedef struct store_import {
    const plan *plans;
    size_t nplans;
    const account *accounts;
    size_t naccounts;
    const contract *contracts;
    size_t ncontracts;
    const credential *credentials; /* every column, secret_hash, revoked_at and last_used_at included */
    size_t ncredentials;
    const usage_delta *usage;
    size_t nusage;
    const idem_record *idem;
    size_t nidem;
    const audit_event *audits;
    size_t naudits;
    const usage_alert *alerts; /* as they are (their events are among the audits); `audit` unused */
    size_t nalerts;
    const webhook *webhooks; /* endpoints, secrets included */
    size_t nwebhooks;
    const webhook_delivery *deliveries; /* pending deliveries, bodies included, of the endpoints above */
    size_t ndeliveries;
} store_import;

/*
 * Mutating calls take an optional audit event (NULL for none) that is appended, hash-chained, in
 * the same transaction as the change: a change is never without its audit record, nor the
 * reverse. The store fills the event's seq, prev_hash and hash. Listings fill caller arrays of
 * `cap` entries in id (or seq) order after the cursor `after`, and set *n.
 * Not found is not_found; a duplicate unique value is validation_error naming the field.
 */
struct store_ops {
    const char *name;
    /* Answers whether the store can serve queries now (for /readyz). */
    int (*ping)(store *self, app_err *err);
    /* Applies the migrations not yet applied, each in its own transaction; *applied counts them. */
    int (*migrate)(store *self, int *applied, app_err *err);
    /* The highest applied migration number (0 on an empty database). */
    int (*schema_version)(store *self, int *version, app_err *err);
    /* Closes the store and frees it. */
    void (*close)(store *self);

    int (*account_create)(store *self, account *io, audit_event *audit, app_err *err);
    int (*account_get)(store *self, int64_t id, account *out, app_err *err);
    int (*account_list)(store *self, int status /* -1: any */, int64_t after, account *out, size_t cap, size_t *n,
                        app_err *err);
    int (*account_set_status)(store *self, int64_t id, account_status status, audit_event *audit, app_err *err);

    int (*plan_create)(store *self, plan *io, audit_event *audit, app_err *err);
    int (*plan_get)(store *self, int64_t id, plan *out, app_err *err);
    int (*plan_get_by_code)(store *self, const char *code, plan *out, app_err *err);
    int (*plan_list)(store *self, int64_t after, plan *out, size_t cap, size_t *n, app_err *err);
    int (*plan_update)(store *self, const plan *p, audit_event *audit, app_err *err);

    int (*contract_put)(store *self, const contract *c, audit_event *audit, app_err *err);
    int (*contract_get)(store *self, int64_t account_id, contract *out, app_err *err);
    int (*contract_list)(store *self, int64_t after_account, contract *out, size_t cap, size_t *n, app_err *err);

    int (*credential_create)(store *self, credential *io, audit_event *audit, app_err *err);
    int (*credential_get)(store *self, const char *key_id, credential *out, app_err *err);
    int (*credential_list)(store *self, int64_t account_id /* -1: all */, int64_t after, credential *out, size_t cap,
                           size_t *n, app_err *err);
    /*
     * Writes status, label, expires_at and revoked_at of an active credential; not_found when it
     * is unknown or revoked (a revocation is final, whatever a concurrent change read before it).
     * expires_at never moves later (a rotation's grace, once shortened, stays short).
     */
    int (*credential_update)(store *self, const credential *c, audit_event *audit, app_err *err);
    /* Rotation in one transaction: updates `old` (its new expiry) and creates `fresh`. */
    int (*credential_rotate)(store *self, const credential *old, credential *fresh, audit_event *audit, app_err *err);
    /* Raises last_used_at of each credential to at[i] (never lowers it). */
    int (*credentials_touch)(store *self, const int64_t *ids, const int64_t *at, size_t n, app_err *err);

    int (*audit_list)(store *self, const audit_filter *f, int64_t after, audit_event *out, size_t cap, size_t *n,
                      app_err *err);
    /* A value that changes whenever another connection or process commits (to reload caches). */
    int (*change_token)(store *self, int64_t *out, app_err *err);

    /* Applies a batch in one transaction, all or nothing; every other write is durable. */
    int (*usage_apply)(store *self, const usage_batch *b, app_err *err);
    /* Totals of an account's rows with from <= date <= to (credential_id < 0: every credential). */
    int (*usage_sum)(store *self, int64_t account_id, int64_t credential_id, const char *from, const char *to,
                     usage_totals *out, app_err *err);
    /* Rows grouped by date (by_credential false) or by credential (true), from <= date <= to. */
    int (*usage_rows)(store *self, int64_t account_id, int64_t credential_id, const char *from, const char *to,
                      bool by_credential, usage_row *out, size_t cap, size_t *n, app_err *err);
    /*
     * An account's alerts of the days from `day_from` and the months from `month_from` on
     * (YYYY-MM-DD), newest first (by `at`, then threshold, then the month before the day), at most `cap`. `audit` is
     * NULL in each.
     */
    int (*alert_list)(store *self, int64_t account_id, const char *day_from, const char *month_from, usage_alert *out,
                      size_t cap, size_t *n, app_err *err);
    /*
     * Every alert of every account, in (account_id, period, period_start, threshold) order after
     * `after` (the last of the previous page; NULL: from the first). For copying a store.
     */
    int (*alert_list_all)(store *self, const usage_alert *after, usage_alert *out, size_t cap, size_t *n, app_err *err);
    /*
     * For copying a store: every webhook endpoint, secrets included, in id order after `after`;
     * and every pending delivery with its body (malloc'd, the caller frees each; on failure *n is 0
     * and nothing is owned), in id order after `after`.
     */
    int (*webhook_list_all)(store *self, int64_t after, webhook *out, size_t cap, size_t *n, app_err *err);
    int (*delivery_pending_list)(store *self, int64_t after, webhook_delivery *out, size_t cap, size_t *n,
                                 app_err *err);
    /*
     * Exports, page by page (keyset: a page starts after the last row of the previous one, NULL
     * for the first, which may be an element of `out`; at most min(cap, STORE_PAGE_MAX) rows; a
     * shorter page is the last).
     * usage_key_days: the account's rows from <= date <= to, one per day and credential, with the
     * credential's key_id and label, in (date, key_id) order (bytewise). Only rows that exist:
     * a credential without calls on a day has no row. Never a row of another account.
     */
    int (*usage_key_days)(store *self, int64_t account_id, const char *from, const char *to, const usage_key_day *after,
                          usage_key_day *out, size_t cap, size_t *n, app_err *err);
    /*
     * What an invoice run needs for from..to (a month): every account with a contract, with its
     * plan code and effective limits, once per credential with usage rows in the range (their
     * totals summed), or once with credential_id 0 and zero totals when it has none; in
     * (account_id, credential_id) order. Accounts without a contract have no row.
     */
    int (*usage_accounts_page)(store *self, const char *from, const char *to, const usage_account_row *after,
                               usage_account_row *out, size_t cap, size_t *n, app_err *err);
    /* The unexpired answer stored for (account, key); not_found if none. out->body is malloc'd. */
    int (*idem_get)(store *self, int64_t account_id, const char *key, int64_t now_ms, idem_record *out, app_err *err);
    /* Deletes expired idempotency answers. */
    int (*idem_purge)(store *self, int64_t now_ms, app_err *err);

    /*
     * Every usage row of every account, in (account_id, credential_id, date) order after `after`
     * (the last row of the previous page; NULL: from the first), each as a delta holding the row's
     * totals. For copying a store; reports use usage_sum and usage_rows.
     */
    int (*usage_list)(store *self, const usage_delta *after, usage_delta *out, size_t cap, size_t *n, app_err *err);
    /*
     * The idempotency answers unexpired at now_ms, in (account_id, key) order after `after` (the
     * last record of the previous page; NULL: from the first). Each out[i].body is malloc'd: the
     * caller frees it, also on a later page's failure (on failure *n is 0 and nothing is owned).
     */
    int (*idem_list)(store *self, int64_t now_ms, const idem_record *after, idem_record *out, size_t cap, size_t *n,
                     app_err *err);
    /*
     * Inserts the rows of `batch` with their ids in one transaction, all or nothing, and then
     * moves the id sequences past the largest ids, so that later creates never reuse one. A row
     * whose id, key_id or code exists already is validation_error; a usage row adds to an existing
     * one, an answer replaces one. Writes no audit event of its own: the events are the batch's.
     * Meant for an empty store (store copy checks that); a batch is a page, not a whole database.
     */
    int (*import_rows)(store *self, const store_import *batch, app_err *err);

    /*
     * Makes every transaction committed so far durable (an fsync of the log). Costs no system
     * call when nothing was committed with durable false since the last sync. Safe to call from
     * any thread; it waits for a commit in progress.
     */
    int (*sync)(store *self, app_err *err);
    /*
     * Fills *out with the sizes of the store's files. Never waits for the store's other calls
     * (it reads the file system, not the database), so /metrics can call it at any time.
     */
    int (*stats)(store *self, store_stats *out, app_err *err);
    /* How far the usage journal segment `segment` is folded (0 when the store has no mark). */
    int (*journal_mark)(store *self, const char *segment, int64_t *offset, app_err *err);
    /* Forgets a segment's mark (the segment is gone). */
    int (*journal_forget)(store *self, const char *segment, app_err *err);

    /*
     * Webhooks. Endpoints are listed per account in id order after `after`; deliveries of an
     * endpoint newest first, before the id `before` (0: from the newest), without their bodies
     * (body NULL); attempts of a delivery in id order after `after`.
     */
    /* An account with WEBHOOKS_PER_ACCOUNT_MAX endpoints already: validation_error on "url". */
    int (*webhook_create)(store *self, webhook *io, audit_event *audit, app_err *err);
    int (*webhook_get)(store *self, int64_t id, webhook *out, app_err *err);
    int (*webhook_list)(store *self, int64_t account_id, int64_t after, webhook *out, size_t cap, size_t *n,
                        app_err *err);
    /* Writes status, secret, prev_secret, prev_secret_expires_at and updated_at of an existing endpoint. */
    int (*webhook_update)(store *self, const webhook *w, audit_event *audit, app_err *err);
    /* Deletes an endpoint with its deliveries and their attempts. */
    int (*webhook_delete)(store *self, int64_t id, audit_event *audit, app_err *err);
    /*
     * Writes one pending delivery of `body` (NUL-terminated, at most WEBHOOK_BODY_MAX bytes), due at
     * now_ms, for each active endpoint of the account whose events include `event_type`, in one
     * transaction; *n_enqueued counts them. Enqueuing the same msg_id again for an endpoint adds
     * nothing (a delivery is unique per endpoint and msg_id), so a replayed event is sent once.
     */
    int (*webhook_enqueue)(store *self, int64_t account_id, const char *event_type, const char *msg_id,
                           const char *body, int64_t now_ms, size_t *n_enqueued, app_err *err);
    /*
     * Claims up to `cap` due deliveries (pending, next_attempt_at <= now_ms, of an active endpoint),
     * earliest first, and pushes their next_attempt_at to now_ms + lease_ms in the same transaction:
     * another sender (another process) does not take them meanwhile, and a sender that dies leaves
     * them due again once the lease is over. Each out[i].d.body is malloc'd: the caller frees it
     * (webhook_due_free); on failure *n is 0 and nothing is owned.
     */
    int (*webhook_due)(store *self, int64_t now_ms, int64_t lease_ms, webhook_due *out, size_t cap, size_t *n,
                       app_err *err);
    /*
     * Records one attempt (a->delivery_id, at, http_status, latency_ms, error) and its outcome in one
     * transaction: attempts + 1 and `status` (delivered, failed, or pending to retry at
     * next_attempt_at). not_found when the delivery is gone (its endpoint was deleted).
     */
    int (*webhook_attempt_record)(store *self, const webhook_attempt *a, delivery_status status,
                                  int64_t next_attempt_at, app_err *err);
    int (*webhook_deliveries_list)(store *self, int64_t webhook_id, int64_t before, webhook_delivery *out, size_t cap,
                                   size_t *n, app_err *err);
    int (*webhook_attempts_list)(store *self, int64_t delivery_id, int64_t after, webhook_attempt *out, size_t cap,
                                 size_t *n, app_err *err);
    /*
     * Sends a failed delivery again: pending, due at now_ms, its retry window starting over
     * (scheduled_at = now_ms). not_found when the endpoint has no such delivery; validation_error
     * (field delivery_id) when it is not failed.
     */
    int (*webhook_delivery_resend)(store *self, int64_t webhook_id, int64_t delivery_id, int64_t now_ms,
                                   audit_event *audit, app_err *err);
};

struct store {
    const struct store_ops *ops;
};

static inline int store_ping(store *s, app_err *err)
{
    return s->ops->ping(s, err);
}
static inline int store_migrate(store *s, int *applied, app_err *err)
{
    return s->ops->migrate(s, applied, err);
}
static inline int store_schema_version(store *s, int *version, app_err *err)
{
    return s->ops->schema_version(s, version, err);
}
/* Closes and frees `s`; NULL does nothing. */
static inline void store_close(store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

#define STORE_CALL(fn, ...) s->ops->fn(s, __VA_ARGS__)
static inline int store_account_create(store *s, account *io, audit_event *a, app_err *e)
{
    return STORE_CALL(account_create, io, a, e);
}
static inline int store_account_get(store *s, int64_t id, account *o, app_err *e)
{
    return STORE_CALL(account_get, id, o, e);
}
static inline int store_account_list(store *s, int status, int64_t after, account *o, size_t cap, size_t *n, app_err *e)
{
    return STORE_CALL(account_list, status, after, o, cap, n, e);
}
static inline int store_account_set_status(store *s, int64_t id, account_status st, audit_event *a, app_err *e)
{
    return STORE_CALL(account_set_status, id, st, a, e);
}
static inline int store_plan_create(store *s, plan *io, audit_event *a, app_err *e)
{
    return STORE_CALL(plan_create, io, a, e);
}
static inline int store_plan_get(store *s, int64_t id, plan *o, app_err *e)
{
    return STORE_CALL(plan_get, id, o, e);
}
static inline int store_plan_get_by_code(store *s, const char *code, plan *o, app_err *e)
{
    return STORE_CALL(plan_get_by_code, code, o, e);
}
static inline int store_plan_list(store *s, int64_t after, plan *o, size_t cap, size_t *n, app_err *e)
{
    return STORE_CALL(plan_list, after, o, cap, n, e);
}
static inline int store_plan_update(store *s, const plan *p, audit_event *a, app_err *e)
{
    return STORE_CALL(plan_update, p, a, e);
}
static inline int store_contract_put(store *s, const contract *c, audit_event *a, app_err *e)
{
    return STORE_CALL(contract_put, c, a, e);
}
static inline int store_contract_get(store *s, int64_t account_id, contract *o, app_err *e)
{
    return STORE_CALL(contract_get, account_id, o, e);
}
static inline int store_contract_list(store *s, int64_t after, contract *o, size_t cap, size_t *n, app_err *e)
{
    return STORE_CALL(contract_list, after, o, cap, n, e);
}
static inline int store_credential_create(store *s, credential *io, audit_event *a, app_err *e)
{
    return STORE_CALL(credential_create, io, a, e);
}
static inline int store_credential_get(store *s, const char *key_id, credential *o, app_err *e)
{
    return STORE_CALL(credential_get, key_id, o, e);
}
static inline int store_credential_list(store *s, int64_t account_id, int64_t after, credential *o, size_t cap,
                                        size_t *n, app_err *e)
{
    return STORE_CALL(credential_list, account_id, after, o, cap, n, e);
}
static inline int store_credential_update(store *s, const credential *c, audit_event *a, app_err *e)
{
    return STORE_CALL(credential_update, c, a, e);
}
static inline int store_credential_rotate(store *s, const credential *old, credential *fresh, audit_event *a,
                                          app_err *e)
{
    return STORE_CALL(credential_rotate, old, fresh, a, e);
}
static inline int store_credentials_touch(store *s, const int64_t *ids, const int64_t *at, size_t n, app_err *e)
{
    return STORE_CALL(credentials_touch, ids, at, n, e);
}
static inline int store_audit_list(store *s, const audit_filter *f, int64_t after, audit_event *o, size_t cap,
                                   size_t *n, app_err *e)
{
    return STORE_CALL(audit_list, f, after, o, cap, n, e);
}
static inline int store_change_token(store *s, int64_t *out, app_err *e)
{
    return STORE_CALL(change_token, out, e);
}
static inline int store_usage_apply(store *s, const usage_batch *b, app_err *e)
{
    return STORE_CALL(usage_apply, b, e);
}
static inline int store_usage_sum(store *s, int64_t account_id, int64_t credential_id, const char *from, const char *to,
                                  usage_totals *o, app_err *e)
{
    return STORE_CALL(usage_sum, account_id, credential_id, from, to, o, e);
}
static inline int store_usage_rows(store *s, int64_t account_id, int64_t credential_id, const char *from,
                                   const char *to, bool by_credential, usage_row *o, size_t cap, size_t *n, app_err *e)
{
    return STORE_CALL(usage_rows, account_id, credential_id, from, to, by_credential, o, cap, n, e);
}
static inline int store_alert_list(store *s, int64_t account_id, const char *day_from, const char *month_from,
                                   usage_alert *o, size_t cap, size_t *n, app_err *e)
{
    return STORE_CALL(alert_list, account_id, day_from, month_from, o, cap, n, e);
}
static inline int store_alert_list_all(store *s, const usage_alert *after, usage_alert *o, size_t cap, size_t *n,
                                       app_err *e)
{
    return STORE_CALL(alert_list_all, after, o, cap, n, e);
}
static inline int store_webhook_list_all(store *s, int64_t after, webhook *o, size_t cap, size_t *n, app_err *e)
{
    return STORE_CALL(webhook_list_all, after, o, cap, n, e);
}
static inline int store_delivery_pending_list(store *s, int64_t after, webhook_delivery *o, size_t cap, size_t *n,
                                              app_err *e)
{
    return STORE_CALL(delivery_pending_list, after, o, cap, n, e);
}
static inline int store_usage_key_days(store *s, int64_t account_id, const char *from, const char *to,
                                       const usage_key_day *after, usage_key_day *o, size_t cap, size_t *n, app_err *e)
{
    return STORE_CALL(usage_key_days, account_id, from, to, after, o, cap, n, e);
}
static inline int store_usage_accounts_page(store *s, const char *from, const char *to, const usage_account_row *after,
                                            usage_account_row *o, size_t cap, size_t *n, app_err *e)
{
    return STORE_CALL(usage_accounts_page, from, to, after, o, cap, n, e);
}
static inline int store_idem_get(store *s, int64_t account_id, const char *key, int64_t now_ms, idem_record *o,
                                 app_err *e)
{
    return STORE_CALL(idem_get, account_id, key, now_ms, o, e);
}
static inline int store_idem_purge(store *s, int64_t now_ms, app_err *e)
{
    return STORE_CALL(idem_purge, now_ms, e);
}
static inline int store_usage_list(store *s, const usage_delta *after, usage_delta *o, size_t cap, size_t *n,
                                   app_err *e)
{
    return STORE_CALL(usage_list, after, o, cap, n, e);
}
static inline int store_idem_list(store *s, int64_t now_ms, const idem_record *after, idem_record *o, size_t cap,
                                  size_t *n, app_err *e)
{
    return STORE_CALL(idem_list, now_ms, after, o, cap, n, e);
}
static inline int store_import_rows(store *s, const store_import *batch, app_err *e)
{
    return STORE_CALL(import_rows, batch, e);
}
static inline int store_sync(store *s, app_err *e)
{
    return STORE_CALL(sync, e);
}
static inline int store_stats_get(store *s, store_stats *o, app_err *e)
{
    return STORE_CALL(stats, o, e);
}
static inline int store_journal_mark(store *s, const char *segment, int64_t *offset, app_err *e)
{
    return STORE_CALL(journal_mark, segment, offset, e);
}
static inline int store_journal_forget(store *s, const char *segment, app_err *e)
{
    return STORE_CALL(journal_forget, segment, e);
}
static inline int store_webhook_create(store *s, webhook *io, audit_event *a, app_err *e)
{
    return STORE_CALL(webhook_create, io, a, e);
}
static inline int store_webhook_get(store *s, int64_t id, webhook *o, app_err *e)
{
    return STORE_CALL(webhook_get, id, o, e);
}
static inline int store_webhook_list(store *s, int64_t account_id, int64_t after, webhook *o, size_t cap, size_t *n,
                                     app_err *e)
{
    return STORE_CALL(webhook_list, account_id, after, o, cap, n, e);
}
static inline int store_webhook_update(store *s, const webhook *w, audit_event *a, app_err *e)
{
    return STORE_CALL(webhook_update, w, a, e);
}
static inline int store_webhook_delete(store *s, int64_t id, audit_event *a, app_err *e)
{
    return STORE_CALL(webhook_delete, id, a, e);
}
static inline int store_webhook_enqueue(store *s, int64_t account_id, const char *event_type, const char *msg_id,
                                        const char *body, int64_t now_ms, size_t *n_enqueued, app_err *e)
{
    return STORE_CALL(webhook_enqueue, account_id, event_type, msg_id, body, now_ms, n_enqueued, e);
}
static inline int store_webhook_due(store *s, int64_t now_ms, int64_t lease_ms, webhook_due *o, size_t cap, size_t *n,
                                    app_err *e)
{
    return STORE_CALL(webhook_due, now_ms, lease_ms, o, cap, n, e);
}
static inline int store_webhook_attempt_record(store *s, const webhook_attempt *a, delivery_status status,
                                               int64_t next_attempt_at, app_err *e)
{
    return STORE_CALL(webhook_attempt_record, a, status, next_attempt_at, e);
}
static inline int store_webhook_deliveries_list(store *s, int64_t webhook_id, int64_t before, webhook_delivery *o,
                                                size_t cap, size_t *n, app_err *e)
{
    return STORE_CALL(webhook_deliveries_list, webhook_id, before, o, cap, n, e);
}
static inline int store_webhook_attempts_list(store *s, int64_t delivery_id, int64_t after, webhook_attempt *o,
                                              size_t cap, size_t *n, app_err *e)
{
    return STORE_CALL(webhook_attempts_list, delivery_id, after, o, cap, n, e);
}
static inline int store_webhook_delivery_resend(store *s, int64_t webhook_id, int64_t delivery_id, int64_t now_ms,
                                                audit_event *a, app_err *e)
{
    return STORE_CALL(webhook_delivery_resend, webhook_id, delivery_id, now_ms, a, e);
}
#undef STORE_CALL

/* Frees the bodies of n due deliveries filled by store_webhook_due (not the array). */
static inline void store_webhook_due_free(webhook_due *due, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(due[i].d.body);
        due[i].d.body = NULL;
    }
}

/*
 * Opens (creating if needed, with its parent directory) the SQLite database at `path` in WAL
 * mode. Does not migrate. Returns NULL with `err` set (store_unavailable) on failure; the caller
 * owns the result and releases it with store_close.
 */
store *store_sqlite_open(const char *path, app_err *err);

/*
 * Connects to PostgreSQL at `conninfo` (a libpq connection URI or key=value string) with a pool of
 * `connections` connections (0 means 4). Does not migrate. Returns NULL with `err` set
 * (store_unavailable, the password never in the message) when the server cannot be reached; the
 * caller owns the result and releases it with store_close.
 */
store *store_pg_open(const char *conninfo, unsigned connections, app_err *err);

/*
 * A fault-injecting wrapper: forwards to `inner` (which it owns) until `fail_after` calls have
 * passed, then fails every call with store_unavailable. fail_after < 0 never fails. Used by tests
 * to reach error paths, as SQLite's own fault-injection tests do.
 */
store *store_faulty_new(store *inner, int fail_after);
/* Makes every later call of a faulty store fail, or work again, fail_after included (thread-safe). */
void store_faulty_break(store *faulty, bool broken);
/* Makes each later sync of a faulty store take `ms` first (a slow disk), and says how many are in
 * progress (thread-safe). */
void store_faulty_slow_sync(store *faulty, int ms);
int store_faulty_syncing(store *faulty);
/*
 * Makes the next `n` usage batches of a faulty store commit and then fail all the same, as a
 * connection that broke after its COMMIT went out does (thread-safe).
 */
void store_faulty_lose_commits(store *faulty, int n);
/* How many of those are still to come. */
int store_faulty_commits_to_lose(store *faulty);

#endif
