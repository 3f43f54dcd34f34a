/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The webhook sender: one thread, never an event loop. Each round claims the due deliveries (a
 * lease keeps other processes off them), posts them all at once (so one endpoint that hangs holds
 * the others up for at most the timeout), and records each attempt with its outcome: 2xx
 * delivered; anything else retried after an exponential backoff with full jitter, until the retry
 * window from the delivery's creation is over, then failed.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/str.h"
#include "core/webhook_sign.h"
#include "infra/webhook_http.h"
#include "services/webhooks.h"

/* How long a sleeping sender waits at most before it looks at the outbox again. */
#define IDLE_WAIT_MS 1000
/* A claimed delivery is left alone this long past the attempt's own timeout. */
#define LEASE_MARGIN_MS 60000

enum { OUTCOME_DELIVERED, OUTCOME_RETRY, OUTCOME_FAILED, OUTCOMES };
static const char *const outcome_names[OUTCOMES] = {"delivered", "retry", "failed"};

struct webhook_sender {
    webhook_sender_opts o;
    int metric; /* b2b_webhook_deliveries_total{outcome} */
    webhook_due *due;
    webhook_request *reqs;
    char (*sigs)[2 * WEBHOOK_SIG_LEN];
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool kicked;        /* guarded by mu */
    atomic_bool stop;   /* also read by the posting loop */
    int64_t soonest;    /* the thread's: the earliest retry it scheduled, INT64_MAX for none */
    bool store_failing; /* the thread's: the last round failed on the store (logged once per outage) */
};

webhook_sender *webhook_sender_new(const webhook_sender_opts *opts)
{
    webhook_sender *w = xcalloc(1, sizeof *w);
    w->o = *opts;
    if (w->o.retry.base_ms <= 0)
        w->o.retry.base_ms = 5000;
    if (w->o.retry.max_ms <= 0)
        w->o.retry.max_ms = 3600000;
    if (w->o.retry.window_ms <= 0)
        w->o.retry.window_ms = WEBHOOK_RETRY_WINDOW_MS;
    if (w->o.timeout_ms <= 0)
        w->o.timeout_ms = 5000;
    if (w->o.batch == 0)
        w->o.batch = 32;
    w->due = xcalloc(w->o.batch, sizeof *w->due);
    w->reqs = xcalloc(w->o.batch, sizeof *w->reqs);
    w->sigs = xcalloc(w->o.batch, sizeof *w->sigs);
    w->metric = metrics_family_register(w->o.metrics, "b2b_webhook_deliveries_total",
                                        "Webhook attempts by outcome: delivered (2xx), to be retried, or failed for "
                                        "good (its retry window is over).",
                                        "outcome", outcome_names, OUTCOMES);
    w->soonest = INT64_MAX;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&w->stop, false);
    webhook_http_global_init();
    return w;
}

/*
 * The webhook-signature header: the current secret's signature and, while a rotated-out secret
 * still signs, its own after a space (receivers accept a message when any one matches).
 */
static void sign(const webhook_due *d, int64_t now_ms, char out[2 * WEBHOOK_SIG_LEN])
{
    char cur[WEBHOOK_SIG_LEN], prev[WEBHOOK_SIG_LEN];
    int64_t ts = now_ms / 1000;
    webhook_sign(d->secret, d->d.msg_id, ts, d->d.body, d->d.body_len, cur);
    if (d->prev_secret[0] != '\0' && d->prev_secret_expires_at.present && d->prev_secret_expires_at.v > now_ms &&
        webhook_sign(d->prev_secret, d->d.msg_id, ts, d->d.body, d->d.body_len, prev))
        snprintf(out, 2 * WEBHOOK_SIG_LEN, "%s %s", cur, prev);
    else
        snprintf(out, 2 * WEBHOOK_SIG_LEN, "%s", cur);
}

/* Records the attempt at delivery `d`, started at `started`, and decides what comes next (as of `now`). */
static void record(webhook_sender *w, const webhook_due *d, const webhook_request *r, int64_t started, int64_t now)
{
    webhook_attempt a = {
        .delivery_id = d->d.id, .at = started, .http_status = r->http_status, .latency_ms = r->latency_ms};
    str_copy(a.error, sizeof a.error, r->error);
    delivery_status status = DELIVERY_DELIVERED;
    int64_t next = now;
    int outcome = OUTCOME_DELIVERED;
    if (r->http_status < 200 || r->http_status > 299) {
        /* Counted from the last time it was sent again by hand: backoff starts over then. */
        next = webhook_retry_at(&w->o.retry, d->d.attempts - d->d.attempts_before + 1, d->d.scheduled_at, now,
                                randombytes_random());
        status = next < 0 ? DELIVERY_FAILED : DELIVERY_PENDING;
        outcome = next < 0 ? OUTCOME_FAILED : OUTCOME_RETRY;
        if (next < 0)
            next = now;
    }
    app_err err;
    app_err_clear(&err);
    int rc = store_webhook_attempt_record(w->o.store, &a, status, next, &err);
    if (rc == APP_NOT_FOUND) {
        /* Its endpoint was deleted while the attempt was in flight: nothing left to record. */
        return;
    }
    if (rc != 0) {
        /* The lease brings it back: the attempt is made again once the lease is over. */
        log_write(w->o.log, LOG_WARN, "webhook attempt not recorded", "{s:I, s:I, s:s}", "webhook_id",
                  (json_int_t)d->d.webhook_id, "delivery_id", (json_int_t)d->d.id, "error", err.message);
        return;
    }
    metrics_family_add(w->o.metrics, w->metric, (size_t)outcome, 1);
    if (outcome == OUTCOME_RETRY && next < w->soonest)
        w->soonest = next;
    /* The endpoint by its id: its URL may carry a token in its path or query. */
    log_write(w->o.log, outcome == OUTCOME_FAILED ? LOG_WARN : LOG_DEBUG, "webhook attempt",
              "{s:I, s:I, s:s, s:s, s:i, s:I, s:I, s:s}", "webhook_id", (json_int_t)d->d.webhook_id, "delivery_id",
              (json_int_t)d->d.id, "msg_id", d->d.msg_id, "outcome", outcome_names[outcome], "http_status",
              r->http_status, "latency_ms", (json_int_t)r->latency_ms, "attempt", (json_int_t)(d->d.attempts + 1),
              "error", r->error);
}

int webhook_sender_run_once(webhook_sender *w, size_t *sent, app_err *err)
{
    *sent = 0;
    int64_t now = clock_now_ms(w->o.clock);
    size_t n;
    int rc = store_webhook_due(w->o.store, now, w->o.timeout_ms + LEASE_MARGIN_MS, w->due, w->o.batch, &n, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        webhook_due *d = &w->due[i];
        sign(d, now, w->sigs[i]);
        w->reqs[i] = (webhook_request){.url = d->url,
                                       .msg_id = d->d.msg_id,
                                       .timestamp = now / 1000,
                                       .signatures = w->sigs[i],
                                       .body = d->d.body,
                                       .body_len = d->d.body_len};
    }
    webhook_http_post_all(w->reqs, n, w->o.timeout_ms, w->o.allow_private, &w->stop);
    int64_t after = clock_now_ms(w->o.clock);
    for (size_t i = 0; i < n; i++) {
        /* Cut off by a stop: its lease brings it back after a restart, no attempt is counted. One
         * that ran to its end is recorded even then (a 2xx already received is not sent again). */
        if (w->reqs[i].completed)
            record(w, &w->due[i], &w->reqs[i], now, after);
        sodium_memzero(w->due[i].secret, sizeof w->due[i].secret);
        sodium_memzero(w->due[i].prev_secret, sizeof w->due[i].prev_secret);
    }
    store_webhook_due_free(w->due, n);
    *sent = n;
    return 0;
}

/* Sleeps until kicked, stopped, the earliest retry scheduled here, or IDLE_WAIT_MS. */
static void wait_for_work(webhook_sender *w)
{
    int64_t wait = IDLE_WAIT_MS;
    if (w->soonest != INT64_MAX) {
        int64_t until = w->soonest - clock_now_ms(w->o.clock);
        if (until <= 0) {
            w->soonest = INT64_MAX;
            return;
        }
        if (until < wait)
            wait = until;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + wait * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&w->mu);
    while (!w->kicked && !atomic_load(&w->stop))
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
            break;
    w->kicked = false;
    pthread_mutex_unlock(&w->mu);
}

static void *sender_main(void *arg)
{
    webhook_sender *w = arg;
    while (!atomic_load(&w->stop)) {
        app_err err;
        app_err_clear(&err);
        size_t sent = 0;
        int rc = webhook_sender_run_once(w, &sent, &err);
        if (rc != 0 && !w->store_failing)
            log_write(w->o.log, LOG_WARN, "webhook deliveries cannot be read; retrying", "{s:s}", "error", err.message);
        else if (rc == 0 && w->store_failing)
            log_write(w->o.log, LOG_INFO, "webhook deliveries readable again", NULL);
        w->store_failing = rc != 0;
        /* A full batch may have more behind it: the next round at once. */
        if (rc == 0 && sent == w->o.batch)
            continue;
        wait_for_work(w);
    }
    return NULL;
}

int webhook_sender_start(webhook_sender *w, app_err *err)
{
    if (pthread_create(&w->thread, NULL, sender_main, w) != 0)
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot start the webhook sender");
    w->started = true;
    return 0;
}

void webhooks_kick(webhook_sender *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->kicked = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void webhook_sender_free(webhook_sender *w)
{
    if (w == NULL)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        atomic_store(&w->stop, true);
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->sigs);
    free(w->reqs);
    free(w->due);
    free(w);
}
