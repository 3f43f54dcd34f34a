/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "services/authaudit.h"

#include <assert.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/str.h"
#include "domain/model.h"
#include "services/services.h"

/* Open addressing at a load of at most one half keeps probes short under a flood. */
#define SLOTS (2 * AUTHAUDIT_MAX_TARGETS)
/* Audit events written per store call. */
#define WRITE_BATCH 16
#define MINUTE_MS 60000

static const char *const reason_names[AUTHAUDIT_REASONS] = {
    "missing_api_key", "invalid_api_key", "revoked_api_key", "expired_api_key", "admin_auth_required",
};

/* One (reason, target, minute) and what was counted in it. */
typedef struct tally {
    bool used;
    authaudit_reason reason;
    int64_t minute;
    char target[64]; /* "key:<key_id>", "address:<ip>" or "other" */
    int64_t account_id;
    int64_t count, first_at, last_at;
} tally;

struct authaudit {
    authaudit_opts o;
    int metric;
    pthread_mutex_t mu; /* guards the table and the overflow tallies; held for copies only */
    tally *slots;
    size_t live;
    tally other[AUTHAUDIT_REASONS]; /* what came once the table was full */
    /* The thread's own: minutes taken out of the table, written or waiting for the store. */
    pthread_mutex_t write_mu;
    tally *pending;
    size_t npending;
    pthread_t thread;
    bool started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
    bool store_failing; /* logged once per outage */
};

const char *authaudit_reason_name(authaudit_reason r)
{
    return (unsigned)r < AUTHAUDIT_REASONS ? reason_names[r] : "unknown";
}

bool authaudit_reason_of(app_code code, authaudit_reason *out)
{
    switch (code) {
    case APP_MISSING_API_KEY: *out = AUTHAUDIT_MISSING_API_KEY; return true;
    case APP_INVALID_API_KEY: *out = AUTHAUDIT_INVALID_API_KEY; return true;
    case APP_REVOKED_API_KEY: *out = AUTHAUDIT_REVOKED_API_KEY; return true;
    case APP_EXPIRED_API_KEY: *out = AUTHAUDIT_EXPIRED_API_KEY; return true;
    case APP_ADMIN_AUTH_REQUIRED: *out = AUTHAUDIT_ADMIN_AUTH_REQUIRED; return true;
    default: return false;
    }
}

authaudit *authaudit_new(const authaudit_opts *opts)
{
    authaudit *a = xcalloc(1, sizeof *a);
    a->o = *opts;
    a->metric = metrics_family_register(a->o.metrics, "b2b_auth_failures_total",
                                        "Failed authentications, by reason (also in the audit trail as auth.failure).",
                                        "reason", reason_names, AUTHAUDIT_REASONS);
    a->slots = xcalloc(SLOTS, sizeof *a->slots);
    a->pending = xcalloc(AUTHAUDIT_MAX_TARGETS + AUTHAUDIT_REASONS, sizeof *a->pending);
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->write_mu, NULL);
    pthread_mutex_init(&a->stop_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the period must not follow wall-clock jumps */
    pthread_cond_init(&a->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    return a;
}

static uint64_t slot_hash(authaudit_reason reason, int64_t minute, const char *target)
{
    uint64_t h = 1469598103934665603ull;
    h = (h ^ (uint64_t)reason) * 1099511628211ull;
    h = (h ^ (uint64_t)minute) * 1099511628211ull;
    for (; *target; target++)
        h = (h ^ (unsigned char)*target) * 1099511628211ull;
    return h;
}

static void count_in(tally *t, int64_t now_ms)
{
    if (t->count == 0)
        t->first_at = now_ms;
    t->count++;
    t->last_at = now_ms;
}

void authaudit_record(authaudit *a, authaudit_reason reason, const char *key_id, int64_t account_id,
                      const char *address)
{
    assert((unsigned)reason < AUTHAUDIT_REASONS);
    metrics_family_add(a->o.metrics, a->metric, reason, 1);
    char target[64];
    if (key_id != NULL && key_id[0] != '\0')
        snprintf(target, sizeof target, "key:%s", key_id);
    else
        snprintf(target, sizeof target, "address:%s", address != NULL && address[0] != '\0' ? address : "unknown");
    int64_t now = clock_now_ms(a->o.clock);
    int64_t minute = now / MINUTE_MS;
    size_t i = (size_t)(slot_hash(reason, minute, target) % SLOTS);
    pthread_mutex_lock(&a->mu);
    for (;; i = (i + 1) % SLOTS) {
        tally *t = &a->slots[i];
        if (t->used && t->reason == reason && t->minute == minute && strcmp(t->target, target) == 0) {
            count_in(t, now);
            break;
        }
        if (!t->used) {
            if (a->live >= AUTHAUDIT_MAX_TARGETS) {
                tally *o = &a->other[reason];
                if (o->count == 0) {
                    o->reason = reason;
                    o->minute = minute;
                    str_copy(o->target, sizeof o->target, "other");
                }
                count_in(o, now);
                break;
            }
            *t = (tally){.used = true, .reason = reason, .minute = minute, .account_id = key_id ? account_id : 0};
            str_copy(t->target, sizeof t->target, target);
            count_in(t, now);
            a->live++;
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
}

size_t authaudit_size(authaudit *a)
{
    pthread_mutex_lock(&a->mu);
    size_t n = a->live;
    pthread_mutex_unlock(&a->mu);
    return n;
}

/*
 * Moves the tallies of minutes before `minute` (every one when `all`) into the pending list, as
 * many as it has room for, and rebuilds the table from what stays. Called with write_mu held.
 */
static void take_closed(authaudit *a, int64_t minute, bool all)
{
    size_t room = AUTHAUDIT_MAX_TARGETS + AUTHAUDIT_REASONS - a->npending;
    pthread_mutex_lock(&a->mu);
    for (size_t r = 0; r < AUTHAUDIT_REASONS && room > 0; r++) {
        tally *o = &a->other[r];
        if (o->count > 0 && (all || o->minute < minute)) {
            a->pending[a->npending++] = *o;
            memset(o, 0, sizeof *o);
            room--;
        }
    }
    bool moved = false;
    for (size_t i = 0; i < SLOTS && room > 0; i++) {
        tally *t = &a->slots[i];
        if (t->used && (all || t->minute < minute)) {
            a->pending[a->npending++] = *t;
            t->used = false;
            a->live--;
            room--;
            moved = true;
        }
    }
    if (moved) {
        /* Linear probing cannot leave holes in a chain: put back what stays. */
        tally *old = a->slots;
        a->slots = xcalloc(SLOTS, sizeof *a->slots);
        for (size_t i = 0; i < SLOTS; i++) {
            if (!old[i].used)
                continue;
            size_t j = (size_t)(slot_hash(old[i].reason, old[i].minute, old[i].target) % SLOTS);
            while (a->slots[j].used)
                j = (j + 1) % SLOTS;
            a->slots[j] = old[i];
        }
        free(old);
    }
    pthread_mutex_unlock(&a->mu);
}

/* The audit event of one tally. */
static void event_of(const tally *t, int64_t now_ms, audit_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->at = now_ms;
    str_copy(ev->actor, sizeof ev->actor, "anonymous");
    str_copy(ev->action, sizeof ev->action, "auth.failure");
    str_copy(ev->target, sizeof ev->target, t->target);
    ev->account_id = t->account_id > 0 ? opt_some(t->account_id) : opt_none();
    json_t *d =
        json_pack("{s:s, s:I, s:o, s:o}", "reason", authaudit_reason_name(t->reason), "count", (json_int_t)t->count,
                  "first_at", services_json_time(t->first_at), "last_at", services_json_time(t->last_at));
    char *text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    str_copy(ev->details, sizeof ev->details, text ? text : "{}");
    free(text);
    json_decref(d);
}

int authaudit_flush(authaudit *a, bool all, app_err *err)
{
    pthread_mutex_lock(&a->write_mu);
    int64_t now = clock_now_ms(a->o.clock);
    take_closed(a, now / MINUTE_MS, all);
    int rc = 0;
    size_t done = 0;
    audit_event *evs = xmalloc(WRITE_BATCH * sizeof *evs);
    while (done < a->npending) {
        size_t n = a->npending - done < WRITE_BATCH ? a->npending - done : WRITE_BATCH;
        for (size_t i = 0; i < n; i++)
            event_of(&a->pending[done + i], now, &evs[i]);
        usage_batch ub = {.audits = evs, .naudits = n};
        if ((rc = store_usage_apply(a->o.store, &ub, err)) != 0)
            break;
        done += n;
    }
    free(evs);
    memmove(a->pending, a->pending + done, (a->npending - done) * sizeof *a->pending);
    a->npending -= done;
    if (rc != 0 && !a->store_failing)
        log_write(a->o.log, LOG_WARN, "failed authentications not written to the audit trail yet", "{s:i, s:s}",
                  "pending", (int)a->npending, "error", err->message);
    a->store_failing = rc != 0;
    pthread_mutex_unlock(&a->write_mu);
    return rc;
}

static void *flush_main(void *arg)
{
    authaudit *a = arg;
    pthread_mutex_lock(&a->stop_mu);
    while (!a->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (int64_t)AUTHAUDIT_FLUSH_MS * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&a->stop_cv, &a->stop_mu, &ts);
        if (a->stopping)
            break;
        pthread_mutex_unlock(&a->stop_mu);
        app_err err;
        app_err_clear(&err);
        authaudit_flush(a, false, &err);
        pthread_mutex_lock(&a->stop_mu);
    }
    pthread_mutex_unlock(&a->stop_mu);
    return NULL;
}

int authaudit_start(authaudit *a, app_err *err)
{
    if (pthread_create(&a->thread, NULL, flush_main, a) != 0)
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot start the failed-authentication audit thread");
    a->started = true;
    return 0;
}

void authaudit_free(authaudit *a)
{
    if (a == NULL)
        return;
    if (a->started) {
        pthread_mutex_lock(&a->stop_mu);
        a->stopping = true;
        pthread_cond_signal(&a->stop_cv);
        pthread_mutex_unlock(&a->stop_mu);
        pthread_join(a->thread, NULL);
    }
    app_err err;
    app_err_clear(&err);
    authaudit_flush(a, true, &err);
    pthread_cond_destroy(&a->stop_cv);
    pthread_mutex_destroy(&a->stop_mu);
    pthread_mutex_destroy(&a->write_mu);
    pthread_mutex_destroy(&a->mu);
    free(a->slots);
    free(a->pending);
    free(a);
}
