/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "services/usage.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"
#include "domain/civil.h"

#define NSHARDS 32
#define BATCH_MAX 4096

/* Today's and this month's counts of one account. */
typedef struct acct {
    int64_t account_id;
    int64_t last_ms; /* the latest instant decided: time never runs backwards for a counter */
    int64_t day_key, month_key;
    int64_t day_used, month_used;
    bool day_block_seen, month_block_seen, day_overage_seen, month_overage_seen;
} acct;

typedef struct shard {
    pthread_mutex_t mu;
    acct *accts;
    size_t n, cap;
} shard;

typedef struct item {
    struct item *next;
    usage_delta delta;
    bool has_idem;
    idem_record idem; /* body owned */
    bool has_audit;
    audit_event *audit; /* owned */
    unsigned audit_flag;
    int64_t day_key, month_key;
    usage_done_fn done;
    void *arg;
} item;

typedef struct idem_claim {
    int64_t account_id;
    char key[129];
} idem_claim;

struct usage {
    store *st;
    tzdb *tz;
    const app_clock *clock;
    const app_log *log;
    metrics *m;
    int metric_events, metric_exceeded;
    shard shards[NSHARDS];

    pthread_mutex_t qmu;
    pthread_cond_t qcv, idle_cv;
    item *head, *tail;
    bool stopping, writing;
    pthread_t writer;

    pthread_mutex_t imu;
    idem_claim *claims;
    size_t nclaims, capclaims;
};

static const char *const outcomes[] = {"served", "overage", "blocked"};
static const char *const exceeded[] = {"period=\"daily\",mode=\"block\"", "period=\"daily\",mode=\"overage\"",
                                       "period=\"monthly\",mode=\"block\"", "period=\"monthly\",mode=\"overage\""};

periods usage_periods(usage *u, const char *timezone, int64_t now_ms)
{
    period_zone z = {period_utc_offset, NULL};
    if (timezone != NULL && strcmp(timezone, "UTC") != 0 && !tzdb_zone(u->tz, timezone, &z))
        z = (period_zone){period_utc_offset, NULL};
    return period_at(z, now_ms);
}

/* The account's counters, created at zero, rolled over to the current periods. Shard locked. */
static acct *acct_find(shard *sh, int64_t id)
{
    for (size_t i = 0; i < sh->n; i++)
        if (sh->accts[i].account_id == id)
            return &sh->accts[i];
    return NULL;
}

static acct *acct_of(shard *sh, int64_t id, const periods *p)
{
    acct *a = acct_find(sh, id);
    if (a == NULL) {
        if (sh->n == sh->cap) {
            sh->cap = sh->cap ? sh->cap * 2 : 16;
            sh->accts = xrealloc(sh->accts, sh->cap * sizeof *sh->accts);
        }
        a = &sh->accts[sh->n++];
        memset(a, 0, sizeof *a);
        a->account_id = id;
        a->day_key = p->day_key;
        a->month_key = p->month_key;
    }
    /* Only forward: a call that read the clock before midnight but arrives after one that read it
     * after must not reset the new day's count. */
    if (p->day_key > a->day_key) {
        a->day_key = p->day_key;
        a->day_used = 0;
        a->day_block_seen = a->day_overage_seen = false;
    }
    if (p->month_key > a->month_key) {
        a->month_key = p->month_key;
        a->month_used = 0;
        a->month_block_seen = a->month_overage_seen = false;
    }
    return a;
}

enum { SEEN_DAY_BLOCK = 1, SEEN_MONTH_BLOCK, SEEN_DAY_OVERAGE, SEEN_MONTH_OVERAGE };

static bool *seen_flag(acct *a, unsigned flag)
{
    switch (flag) {
    case SEEN_DAY_BLOCK: return &a->day_block_seen;
    case SEEN_MONTH_BLOCK: return &a->month_block_seen;
    case SEEN_DAY_OVERAGE: return &a->day_overage_seen;
    default: return &a->month_overage_seen;
    }
}

static shard *shard_of(usage *u, int64_t account_id)
{
    return &u->shards[(uint64_t)account_id % NSHARDS];
}

static void audit_dropped(usage *u, int64_t account_id, int64_t day_key, int64_t month_key, unsigned flag);

/* ---- the writer ---- */

static void enqueue(usage *u, item *it)
{
    pthread_mutex_lock(&u->qmu);
    if (u->tail)
        u->tail->next = it;
    else
        u->head = it;
    u->tail = it;
    pthread_cond_signal(&u->qcv);
    pthread_mutex_unlock(&u->qmu);
}

static void free_item(item *it)
{
    free(it->idem.body);
    free(it->audit);
    free(it);
}

/* Commits one batch: deltas summed per row, idempotent answers, audit events, one transaction. */
static void write_batch(usage *u, item *batch)
{
    size_t n = 0;
    for (item *it = batch; it; it = it->next)
        n++;
    usage_delta *d = xcalloc(n, sizeof *d);
    idem_record *idem = xcalloc(n, sizeof *idem);
    audit_event *audits = xcalloc(n, sizeof *audits);
    size_t nd = 0, ni = 0, na = 0;
    for (item *it = batch; it; it = it->next) {
        if (it->has_idem)
            idem[ni++] = it->idem;
        if (it->has_audit)
            audits[na++] = *it->audit;
        if (it->delta.requests == 0 && it->delta.overage == 0 && it->delta.blocked == 0)
            continue; /* an audit or an unmetered idempotent answer: no row to touch */
        size_t k = 0;
        while (k < nd && !(d[k].account_id == it->delta.account_id && d[k].credential_id == it->delta.credential_id &&
                           strcmp(d[k].date, it->delta.date) == 0))
            k++;
        if (k == nd)
            d[nd++] = it->delta;
        else {
            d[k].requests += it->delta.requests;
            d[k].overage += it->delta.overage;
            d[k].blocked += it->delta.blocked;
        }
    }
    app_err err;
    app_err_clear(&err);
    int rc = store_usage_apply(u->st, d, nd, idem, ni, audits, na, &err);
    if (rc != 0)
        log_write(u->log, LOG_ERROR, "usage commit failed", "{s:s, s:I}", "error", err.message, "calls", (json_int_t)n);
    while (batch) {
        item *next = batch->next;
        if (rc == 0) { /* counted once it is in the store */
            const usage_delta *dl = &batch->delta;
            if (dl->requests > dl->overage)
                metrics_family_add(u->m, u->metric_events, 0, (uint64_t)(dl->requests - dl->overage));
            if (dl->overage > 0)
                metrics_family_add(u->m, u->metric_events, 1, (uint64_t)dl->overage);
            if (dl->blocked > 0)
                metrics_family_add(u->m, u->metric_events, 2, (uint64_t)dl->blocked);
        } else if (batch->has_audit) {
            audit_dropped(u, batch->delta.account_id, batch->day_key, batch->month_key, batch->audit_flag);
        }
        if (batch->done)
            batch->done(batch->arg, rc);
        free_item(batch);
        batch = next;
    }
    free(d);
    free(idem);
    free(audits);
}

static void *writer_main(void *arg)
{
    usage *u = arg;
    pthread_mutex_lock(&u->qmu);
    for (;;) {
        while (u->head == NULL && !u->stopping)
            pthread_cond_wait(&u->qcv, &u->qmu);
        if (u->head == NULL && u->stopping)
            break;
        /* Everything queued while the previous batch was committing goes in this one. */
        item *batch = u->head;
        size_t n = 1;
        item *last = batch;
        while (last->next && n < BATCH_MAX) {
            last = last->next;
            n++;
        }
        u->head = last->next;
        if (u->head == NULL)
            u->tail = NULL;
        last->next = NULL;
        u->writing = true;
        pthread_mutex_unlock(&u->qmu);
        write_batch(u, batch);
        pthread_mutex_lock(&u->qmu);
        u->writing = false;
        pthread_cond_broadcast(&u->idle_cv);
    }
    pthread_mutex_unlock(&u->qmu);
    return NULL;
}

void usage_flush(usage *u)
{
    pthread_mutex_lock(&u->qmu);
    while (u->head != NULL || u->writing)
        pthread_cond_wait(&u->idle_cv, &u->qmu);
    pthread_mutex_unlock(&u->qmu);
}

/* ---- life cycle ---- */

usage *usage_new(store *st, tzdb *tz, const app_clock *clock, const app_log *log, metrics *m)
{
    usage *u = xcalloc(1, sizeof *u);
    u->st = st;
    u->tz = tz;
    u->clock = clock;
    u->log = log;
    u->m = m;
    u->metric_events = metrics_family_register(m, "b2b_usage_events_total",
                                               "Metered calls by outcome: served within limits, served as "
                                               "overage, or blocked.",
                                               "outcome", outcomes, 3);
    u->metric_exceeded = metrics_family_register(
        m, "b2b_quota_exceeded_total", "Calls past a contractual limit, by period and mode.", NULL, exceeded, 4);
    for (int i = 0; i < NSHARDS; i++)
        pthread_mutex_init(&u->shards[i].mu, NULL);
    pthread_mutex_init(&u->qmu, NULL);
    pthread_cond_init(&u->qcv, NULL);
    pthread_cond_init(&u->idle_cv, NULL);
    pthread_mutex_init(&u->imu, NULL);
    if (pthread_create(&u->writer, NULL, writer_main, u) != 0)
        abort(); /* no writer, no metering: refuse to run */
    return u;
}

void usage_free(usage *u)
{
    if (u == NULL)
        return;
    pthread_mutex_lock(&u->qmu);
    u->stopping = true;
    pthread_cond_signal(&u->qcv);
    pthread_mutex_unlock(&u->qmu);
    pthread_join(u->writer, NULL);
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_destroy(&u->shards[i].mu);
        free(u->shards[i].accts);
    }
    pthread_mutex_destroy(&u->qmu);
    pthread_cond_destroy(&u->qcv);
    pthread_cond_destroy(&u->idle_cv);
    pthread_mutex_destroy(&u->imu);
    free(u->claims);
    free(u);
}

int usage_rebuild(usage *u, app_err *err)
{
    enum { PAGE = 256 };
    contract *cs = xmalloc(PAGE * sizeof *cs);
    int64_t after = 0, now = clock_now_ms(u->clock);
    size_t n;
    int rc = 0;
    do {
        if ((rc = store_contract_list(u->st, after, cs, PAGE, &n, err)) != 0)
            break;
        for (size_t i = 0; i < n && rc == 0; i++) {
            periods p = usage_periods(u, cs[i].timezone, now);
            char today[11], first[11];
            period_date_format(p.today, today);
            period_date_format((local_date){p.today.year, p.today.month, 1}, first);
            usage_totals day, month;
            if ((rc = store_usage_sum(u->st, cs[i].account_id, -1, today, today, &day, err)) != 0 ||
                (rc = store_usage_sum(u->st, cs[i].account_id, -1, first, today, &month, err)) != 0)
                break;
            shard *sh = shard_of(u, cs[i].account_id);
            pthread_mutex_lock(&sh->mu);
            acct *a = acct_of(sh, cs[i].account_id, &p);
            a->day_used = day.requests;
            a->month_used = month.requests;
            a->day_block_seen = day.blocked > 0;
            a->month_block_seen = month.blocked > 0;
            a->day_overage_seen = day.overage > 0;
            a->month_overage_seen = month.overage > 0;
            pthread_mutex_unlock(&sh->mu);
        }
        if (n > 0)
            after = cs[n - 1].account_id;
    } while (n == PAGE && rc == 0);
    free(cs);
    return rc;
}

/* ---- decisions ---- */

static audit_event *quota_audit(const principal *p, const char *action, const quota_decision *d, int64_t now)
{
    audit_event *ev = xcalloc(1, sizeof *ev);
    ev->at = now;
    str_copy(ev->actor, sizeof ev->actor, "system");
    str_copy(ev->action, sizeof ev->action, action);
    snprintf(ev->target, sizeof ev->target, "account:%lld", (long long)p->account_id);
    ev->account_id = opt_some(p->account_id);
    snprintf(ev->details, sizeof ev->details,
             "{\"period\":\"%s\",\"limit\":%lld,\"used\":%lld,\"mode\":\"%s\",\"key_id\":\"%s\"}",
             quota_period_name(d->period), (long long)d->limit, (long long)d->used,
             p->limits.mode == LIMIT_OVERAGE ? "overage" : "block", p->key_id);
    return ev;
}

int usage_reserve(usage *u, const principal *p, int64_t now_ms, usage_ticket *t, usage_view *view, app_err *err)
{
    memset(t, 0, sizeof *t);
    memset(view, 0, sizeof *view);
    if (!p->has_contract)
        return app_err_set(err, APP_FORBIDDEN, "This account has no contract yet; ask your account manager.");
    view->limits = p->limits;
    if (!p->metered)
        return 0; /* an internal plan: served, never counted */
    view->metered = true;

    shard *sh = shard_of(u, p->account_id);
    pthread_mutex_lock(&sh->mu);
    acct *a = acct_find(sh, p->account_id);
    if (a != NULL && a->last_ms > now_ms)
        now_ms = a->last_ms;
    periods per = usage_periods(u, p->timezone, now_ms);
    a = acct_of(sh, p->account_id, &per);
    a->last_ms = now_ms;
    quota_decision d = quota_decide(&p->limits, a->day_used, a->month_used);
    audit_event *audit = NULL;
    unsigned audit_flag = 0;
    if (d.outcome == QUOTA_BLOCK) {
        audit_flag = d.period == QUOTA_DAILY ? SEEN_DAY_BLOCK : SEEN_MONTH_BLOCK;
    } else {
        a->day_used++;
        a->month_used++;
        if (d.outcome == QUOTA_SERVE_OVERAGE)
            audit_flag = d.period == QUOTA_DAILY ? SEEN_DAY_OVERAGE : SEEN_MONTH_OVERAGE;
    }
    if (audit_flag != 0 && !*seen_flag(a, audit_flag)) {
        *seen_flag(a, audit_flag) = true;
        audit = quota_audit(p, d.outcome == QUOTA_BLOCK ? "quota.block" : "quota.overage", &d, now_ms);
    } else {
        audit_flag = 0;
    }
    view->day_used = a->day_used;
    view->month_used = a->month_used;
    pthread_mutex_unlock(&sh->mu);
    view->day_reset_ms = per.day_end_ms;
    view->month_reset_ms = per.month_end_ms;

    t->counted = true;
    t->account_id = p->account_id;
    t->credential_id = p->credential_id;
    t->day_key = per.day_key;
    t->month_key = per.month_key;
    period_date_format(per.today, t->date);
    t->overage = d.outcome == QUOTA_SERVE_OVERAGE;
    t->audit_flag = audit_flag;

    size_t exceeded_slot = (d.period == QUOTA_MONTHLY ? 2 : 0) + (p->limits.mode == LIMIT_OVERAGE ? 1 : 0);
    if (d.outcome == QUOTA_BLOCK) {
        metrics_family_add(u->m, u->metric_exceeded, exceeded_slot, 1);
        t->counted = false;
        t->blocked = true;
        t->audit = audit;
        int64_t reset = d.period == QUOTA_DAILY ? per.day_end_ms : per.month_end_ms;
        char resets_at[21];
        civil_format_rfc3339(reset, resets_at);
        log_write(u->log, LOG_WARN, "quota exceeded", "{s:I, s:s, s:s, s:I, s:I, s:s}", "account_id",
                  (json_int_t)p->account_id, "key_id", p->key_id, "period", quota_period_name(d.period), "limit",
                  (json_int_t)d.limit, "used", (json_int_t)d.used, "mode",
                  p->limits.mode == LIMIT_OVERAGE ? "overage" : "block");
        app_err_set(err, APP_B2B_QUOTA_EXCEEDED, "The %s limit of %lld calls is reached; it resets at %s.",
                    quota_period_name(d.period), (long long)d.limit, resets_at);
        app_err_detail_str(err, "period", quota_period_name(d.period));
        app_err_detail_int(err, "limit", d.limit);
        app_err_detail_int(err, "used", d.used);
        app_err_detail_int(err, "remaining", 0);
        app_err_detail_str(err, "resets_at", resets_at);
        app_err_detail_str(err, "mode", p->limits.mode == LIMIT_OVERAGE ? "overage" : "block");
        if (p->limits.mode == LIMIT_OVERAGE && p->limits.overage_cap.present)
            app_err_detail_int(err, "overage_cap", p->limits.overage_cap.v);
        return APP_B2B_QUOTA_EXCEEDED;
    }
    if (d.outcome == QUOTA_SERVE_OVERAGE) {
        metrics_family_add(u->m, u->metric_exceeded, exceeded_slot, 1);
        log_write(u->log, LOG_INFO, "overage", "{s:I, s:s, s:s, s:I, s:I}", "account_id", (json_int_t)p->account_id,
                  "key_id", p->key_id, "period", quota_period_name(d.period), "limit", (json_int_t)d.limit, "used",
                  (json_int_t)d.used);
    }
    t->audit = audit; /* the first overage of the period: committed with this call */
    return 0;
}

/* An audit event that will not be written: the next decision of the period writes it instead. */
static void audit_dropped(usage *u, int64_t account_id, int64_t day_key, int64_t month_key, unsigned flag)
{
    if (flag == 0)
        return;
    shard *sh = shard_of(u, account_id);
    pthread_mutex_lock(&sh->mu);
    acct *a = acct_find(sh, account_id);
    bool daily = flag == SEEN_DAY_BLOCK || flag == SEEN_DAY_OVERAGE;
    if (a != NULL && (daily ? a->day_key == day_key : a->month_key == month_key))
        *seen_flag(a, flag) = false;
    pthread_mutex_unlock(&sh->mu);
}

void usage_refund(usage *u, usage_ticket *t)
{
    if (t->audit != NULL)
        audit_dropped(u, t->account_id, t->day_key, t->month_key, t->audit_flag);
    free(t->audit); /* a call not served leaves no overage to audit */
    t->audit = NULL;
    if (!t->counted)
        return;
    shard *sh = shard_of(u, t->account_id);
    pthread_mutex_lock(&sh->mu);
    for (size_t i = 0; i < sh->n; i++) {
        acct *a = &sh->accts[i];
        if (a->account_id != t->account_id)
            continue;
        /* Only the periods the call was reserved in: after a rollover there is nothing to give back. */
        if (a->day_key == t->day_key && a->day_used > 0)
            a->day_used--;
        if (a->month_key == t->month_key && a->month_used > 0)
            a->month_used--;
    }
    pthread_mutex_unlock(&sh->mu);
}

void usage_commit(usage *u, usage_ticket *t, const idem_record *idem, usage_done_fn done, void *arg)
{
    item *it = xcalloc(1, sizeof *it);
    it->delta = (usage_delta){.account_id = t->account_id,
                              .credential_id = t->credential_id,
                              .requests = t->counted ? 1 : 0,
                              .overage = t->overage ? 1 : 0,
                              .blocked = t->blocked ? 1 : 0};
    memcpy(it->delta.date, t->date, sizeof t->date);
    it->has_audit = t->audit != NULL;
    it->audit = t->audit;
    it->audit_flag = t->audit_flag;
    it->day_key = t->day_key;
    it->month_key = t->month_key;
    t->audit = NULL;
    if (idem != NULL) {
        it->has_idem = true;
        it->idem = *idem;
        it->idem.body = xmalloc(idem->body_len + 1);
        memcpy(it->idem.body, idem->body, idem->body_len);
        it->idem.body[idem->body_len] = '\0';
    }
    it->done = done;
    it->arg = arg;
    enqueue(u, it);
}

bool usage_idem_claim(usage *u, int64_t account_id, const char *key)
{
    bool ok = true;
    pthread_mutex_lock(&u->imu);
    for (size_t i = 0; i < u->nclaims && ok; i++)
        if (u->claims[i].account_id == account_id && strcmp(u->claims[i].key, key) == 0)
            ok = false;
    if (ok) {
        if (u->nclaims == u->capclaims) {
            u->capclaims = u->capclaims ? u->capclaims * 2 : 16;
            u->claims = xrealloc(u->claims, u->capclaims * sizeof *u->claims);
        }
        u->claims[u->nclaims].account_id = account_id;
        str_copy(u->claims[u->nclaims].key, sizeof u->claims[0].key, key);
        u->nclaims++;
    }
    pthread_mutex_unlock(&u->imu);
    return ok;
}

void usage_idem_release(usage *u, int64_t account_id, const char *key)
{
    pthread_mutex_lock(&u->imu);
    for (size_t i = 0; i < u->nclaims; i++) {
        if (u->claims[i].account_id == account_id && strcmp(u->claims[i].key, key) == 0) {
            u->claims[i] = u->claims[--u->nclaims];
            break;
        }
    }
    pthread_mutex_unlock(&u->imu);
}
