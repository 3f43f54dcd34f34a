/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "app/store_copy.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/*
 * Rows per page: one target transaction each. PostgreSQL receives a page as one pipeline whose
 * answers are read only once it is sent, so a page stays in the hundreds of rows. Audit events
 * are the large rows (their details), hence a smaller page.
 */
#define PAGE_ROWS 500
#define PAGE_AUDITS 200

/* Fails unless `to` holds no account, plan or audit event. */
static int check_empty(store *to, app_err *err)
{
    account a;
    plan p;
    audit_event *ev = xmalloc(sizeof *ev);
    size_t na = 0, np = 0, ne = 0;
    int rc = store_account_list(to, -1, 0, &a, 1, &na, err);
    if (rc == 0)
        rc = store_plan_list(to, 0, &p, 1, &np, err);
    if (rc == 0)
        rc = store_audit_list(to, NULL, 0, ev, 1, &ne, err);
    free(ev);
    if (rc == 0 && (na || np || ne))
        rc = app_err_set(err, APP_VALIDATION_ERROR,
                         "the target store is not empty (it holds %s): copy only into a new, empty database",
                         na   ? "accounts"
                         : np ? "plans"
                              : "audit events");
    return rc;
}

/*
 * One kind of row: how to list a page of it after the last row of the previous page (NULL: the
 * first page), and where a page goes in a store_import. Rows are listed in key order, so the last
 * row of a page is the cursor of the next.
 */
typedef struct row_kind {
    size_t size, page;
    size_t count; /* offsetof the kind's member of store_copy_counts */
    int (*list)(store *from, const void *last, int64_t now_ms, void *rows, size_t cap, size_t *n, app_err *err);
    void (*batch)(store_import *b, const void *rows, size_t n);
    void (*release)(void *rows, size_t n); /* what a page owns (NULL: nothing) */
} row_kind;

static int list_plans(store *from, const void *last, int64_t now_ms, void *rows, size_t cap, size_t *n, app_err *err)
{
    (void)now_ms;
    return store_plan_list(from, last ? ((const plan *)last)->id : 0, rows, cap, n, err);
}
static void batch_plans(store_import *b, const void *rows, size_t n)
{
    b->plans = rows;
    b->nplans = n;
}

static int list_accounts(store *from, const void *last, int64_t now_ms, void *rows, size_t cap, size_t *n, app_err *err)
{
    (void)now_ms;
    return store_account_list(from, -1, last ? ((const account *)last)->id : 0, rows, cap, n, err);
}
static void batch_accounts(store_import *b, const void *rows, size_t n)
{
    b->accounts = rows;
    b->naccounts = n;
}

static int list_contracts(store *from, const void *last, int64_t now_ms, void *rows, size_t cap, size_t *n,
                          app_err *err)
{
    (void)now_ms;
    return store_contract_list(from, last ? ((const contract *)last)->account_id : 0, rows, cap, n, err);
}
static void batch_contracts(store_import *b, const void *rows, size_t n)
{
    b->contracts = rows;
    b->ncontracts = n;
}

static int list_credentials(store *from, const void *last, int64_t now_ms, void *rows, size_t cap, size_t *n,
                            app_err *err)
{
    (void)now_ms;
    return store_credential_list(from, -1, last ? ((const credential *)last)->id : 0, rows, cap, n, err);
}
static void batch_credentials(store_import *b, const void *rows, size_t n)
{
    b->credentials = rows;
    b->ncredentials = n;
}

static int list_usage(store *from, const void *last, int64_t now_ms, void *rows, size_t cap, size_t *n, app_err *err)
{
    (void)now_ms;
    return store_usage_list(from, last, rows, cap, n, err);
}
static void batch_usage(store_import *b, const void *rows, size_t n)
{
    b->usage = rows;
    b->nusage = n;
}

static int list_idem(store *from, const void *last, int64_t now_ms, void *rows, size_t cap, size_t *n, app_err *err)
{
    return store_idem_list(from, now_ms, last, rows, cap, n, err);
}
static void batch_idem(store_import *b, const void *rows, size_t n)
{
    b->idem = rows;
    b->nidem = n;
}
static void release_idem(void *rows, size_t n)
{
    idem_record *r = rows;
    for (size_t i = 0; i < n; i++) {
        free(r[i].body);
        r[i].body = NULL;
    }
}

static int list_audit(store *from, const void *last, int64_t now_ms, void *rows, size_t cap, size_t *n, app_err *err)
{
    (void)now_ms;
    return store_audit_list(from, NULL, last ? ((const audit_event *)last)->seq : 0, rows, cap, n, err);
}
static void batch_audit(store_import *b, const void *rows, size_t n)
{
    b->audits = rows;
    b->naudits = n;
}

static int list_alerts(store *from, const void *last, int64_t now_ms, void *rows, size_t cap, size_t *n, app_err *err)
{
    (void)now_ms;
    return store_alert_list_all(from, last, rows, cap, n, err);
}
static void batch_alerts(store_import *b, const void *rows, size_t n)
{
    b->alerts = rows;
    b->nalerts = n;
}

static int list_webhooks(store *from, const void *last, int64_t now_ms, void *rows, size_t cap, size_t *n, app_err *err)
{
    (void)now_ms;
    return store_webhook_list_all(from, last ? ((const webhook *)last)->id : 0, rows, cap, n, err);
}
static void batch_webhooks(store_import *b, const void *rows, size_t n)
{
    b->webhooks = rows;
    b->nwebhooks = n;
}

static int list_deliveries(store *from, const void *last, int64_t now_ms, void *rows, size_t cap, size_t *n,
                           app_err *err)
{
    (void)now_ms;
    return store_delivery_pending_list(from, last ? ((const webhook_delivery *)last)->id : 0, rows, cap, n, err);
}
static void batch_deliveries(store_import *b, const void *rows, size_t n)
{
    b->deliveries = rows;
    b->ndeliveries = n;
}
static void release_deliveries(void *rows, size_t n)
{
    webhook_delivery *d = rows;
    for (size_t i = 0; i < n; i++) {
        free(d[i].body);
        d[i].body = NULL;
    }
}

/* Referenced rows first: contracts name plans and accounts, usage rows name credentials. */
static const row_kind KINDS[] = {
    {sizeof(plan), PAGE_ROWS, offsetof(store_copy_counts, plans), list_plans, batch_plans, NULL},
    {sizeof(account), PAGE_ROWS, offsetof(store_copy_counts, accounts), list_accounts, batch_accounts, NULL},
    {sizeof(contract), PAGE_ROWS, offsetof(store_copy_counts, contracts), list_contracts, batch_contracts, NULL},
    {sizeof(credential), PAGE_ROWS, offsetof(store_copy_counts, credentials), list_credentials, batch_credentials,
     NULL},
    {sizeof(usage_delta), PAGE_ROWS, offsetof(store_copy_counts, usage_rows), list_usage, batch_usage, NULL},
    {sizeof(idem_record), PAGE_ROWS, offsetof(store_copy_counts, idem_records), list_idem, batch_idem, release_idem},
    {sizeof(audit_event), PAGE_AUDITS, offsetof(store_copy_counts, audit_events), list_audit, batch_audit, NULL},
    {sizeof(usage_alert), PAGE_ROWS, offsetof(store_copy_counts, usage_alerts), list_alerts, batch_alerts, NULL},
    {sizeof(webhook), PAGE_ROWS, offsetof(store_copy_counts, webhooks), list_webhooks, batch_webhooks, NULL},
    {sizeof(webhook_delivery), PAGE_ROWS, offsetof(store_copy_counts, webhook_deliveries), list_deliveries,
     batch_deliveries, release_deliveries},
};

/* Copies every row of one kind, a page (one target transaction) at a time. */
static int copy_kind(const row_kind *k, store *from, store *to, int64_t now_ms, store_copy_counts *counts, app_err *err)
{
    char *rows = xmalloc(k->page * k->size), *last = xmalloc(k->size);
    int64_t *count = (int64_t *)((char *)counts + k->count);
    size_t got = 0;
    bool first = true;
    int rc;
    while ((rc = k->list(from, first ? NULL : last, now_ms, rows, k->page, &got, err)) == 0 && got > 0) {
        store_import b = {0};
        k->batch(&b, rows, got);
        rc = store_import_rows(to, &b, err);
        /* The cursor is the last row's key; what the page owns (bodies) is released first. */
        if (k->release != NULL)
            k->release(rows, got);
        memcpy(last, rows + (got - 1) * k->size, k->size);
        if (rc != 0)
            break;
        *count += (int64_t)got;
        first = false;
    }
    free(rows);
    free(last);
    return rc;
}

int store_copy(store *from, store *to, int64_t now_ms, store_copy_counts *counts, app_err *err)
{
    store_copy_counts local;
    store_copy_counts *n = counts ? counts : &local;
    memset(n, 0, sizeof *n);
    int rc = check_empty(to, err);
    for (size_t i = 0; rc == 0 && i < sizeof KINDS / sizeof KINDS[0]; i++)
        rc = copy_kind(&KINDS[i], from, to, now_ms, n, err);
    return rc;
}

int store_copy_check_journal(const char *dir, app_err *err)
{
    static const char suffix[] = ".journal";
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0
                               : app_err_set(err, APP_STORE_UNAVAILABLE, "cannot read the usage journal %s: %s", dir,
                                             strerror(errno));
    int rc = 0;
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        size_t len = strlen(de->d_name);
        if (len > sizeof suffix - 1 && strcmp(de->d_name + len - (sizeof suffix - 1), suffix) == 0)
            rc = app_err_set(err, APP_VALIDATION_ERROR,
                             "the source's usage journal %s holds %s, counts not yet in the database: stop the "
                             "source's server cleanly (SIGTERM), which folds its journal, then copy",
                             dir, de->d_name);
    }
    closedir(d);
    return rc;
}
