/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "services/metering.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/str.h"
#include "domain/civil.h"
#include "infra/journal.h"

#define BATCH_MAX 4096
/* Journal records folded into the ledger per transaction. */
#define FOLD_MAX 8192
#define IDEM_TTL_MS (24LL * 3600 * 1000)

/* Where a parked call is, so metering_continue knows what comes next. */
typedef enum call_stage {
    STAGE_NONE = 0,
    STAGE_LOOKUP,         /* the stored answer of an Idempotency-Key */
    STAGE_COMMIT,         /* a served call committed to the ledger with its answer or audit event */
    STAGE_RECORD_REFUSAL, /* a refusal committed to the ledger with its audit event */
    STAGE_SYNC,           /* a journaled call or refusal waiting for the fsync (fsync durability) */
    STAGE_DECIDE,         /* waiting for shared counters' decision */
    STAGE_CLAIM,          /* waiting for the shared claim of an Idempotency-Key */
} call_stage;

/*
 * One metered call. It lives in the caller's request arena (host->alloc) and so do the answer and
 * the audit event it carries: the request is parked while the writer reads them, so nothing is
 * copied or freed on the way to the store and back.
 */
struct metering_call {
    metering *m;
    metering_request req;
    struct metering_call *next; /* in a queue to the writer */
    call_stage stage;
    void *token; /* the host's resume token while parked */
    counters_decision dec;
    counters_decision pending; /* an asynchronous decision, until the call is back on its loop */
    bool decided;              /* dec holds a decision of the counters (to commit or refund) */
    bool admission;            /* metering_admit: rate limits only */
    bool claimed_shared;       /* this process holds the Idempotency-Key's shared claim */
    int claim_rc;              /* the shared claim's answer, until the call is back on its loop */
    bool claim_won;
    metering_view view;
    slices body;
    usage_delta delta;
    audit_event *audit;  /* the first refusal or overage of a period, or NULL */
    usage_alert *alerts; /* the alert thresholds its count reaches (in its arena), or NULL */
    size_t nalerts;
    bool store_answer; /* an idempotent answer to store with the count */
    idem_record found; /* the writer's lookup; body malloc'd by the store */
    int rc;            /* the writer's result */
    bool journaled;    /* the count is written in the journal (it will be folded) */
    app_err *err;      /* the call's failure, allocated when there is one */
};

/* Where a write of the usage path fails (see write_failed). */
typedef enum write_site {
    SITE_JOURNAL_APPEND,
    SITE_JOURNAL_SYNC,
    SITE_COMMIT,
    SITE_FOLD,
    SITE_SYNC,
    WRITE_SITES
} write_site;

struct metering {
    metering_opts o;
    int metric_events, metric_exceeded, metric_thresholds;
    journal *j; /* NULL: every count goes through a ledger commit */

    pthread_mutex_t qmu;
    pthread_cond_t qcv, idle_cv;
    metering_call *head, *tail;
    bool stopping, writing;
    int64_t settle_asked, settle_done; /* metering_settle's requests, and the last one served */
    int settle_rc;                     /* how the fold of the last one served went: 0, or the store's error */
    /* The seeder's (the counters' connection thread): when its last fold came back, and, after one
     * that did not in time, the settle round the folder must pass before it waits again. */
    int64_t seed_settled_ms, seed_wait_after;
    pthread_cond_t fold_cv; /* wakes the folder (a settle, a stop) */
    bool folder_stopping;
    pthread_cond_t sync_cv; /* wakes the syncer (a stop) */
    bool syncer_stopping, syncer_started;
    /* The syncer's rounds: the last one started, and the last one that succeeded (sync_round). */
    _Atomic int64_t sync_round_started, sync_round_done;
    /* The folder's: sealed segments folded to their end, and the round that must succeed before
     * they are removed (retire_durable). */
    struct retiring {
        journal_segment *seg;
        int64_t round;
    } retiring[256];
    size_t nretiring;
    /* The folder's: a fold failed, and whether its commit took effect is unknown (a connection
     * that broke after COMMIT went out): the ledger's marks are read again before the next. */
    bool marks_unsure;
    atomic_bool store_unsynced;         /* a ledger commit was made without fsync since the last sync */
    _Atomic int64_t ledger_down_since;  /* monotonic ms of the first failure of a run of them; 0: healthy */
    _Atomic int64_t journal_down_since; /* the same for appends to the journal */
    pthread_mutex_t emu;                /* write_error */
    char write_error[sizeof(((app_err *)0)->message)]; /* the last failed write's message, for /readyz */
    log_every write_log[WRITE_SITES];                  /* one line per interval for each kind of failed write */
    pthread_t writer, folder, syncer;
    bool started;

    /*
     * Shared counters (Redis) only: the accounts decided since the last reconciliation, an
     * open-addressing set keyed by account id (0 is the empty slot), with their zones.
     */
    bool shared;
    bool batched_resumes; /* the counters flush after their callbacks: resumes go in batches */
    pthread_mutex_t amu;
    struct active_account {
        int64_t account_id;
        period_zone zone;
    } * active;
    size_t nactive, capactive;     /* capactive: 0 or a power of two */
    _Atomic uint64_t active_round; /* moves on each time reconcile takes the set */
    int metric_drift;
    int metric_degraded;
    bool degraded_seen; /* the folder's: the counters' degraded state last recorded */

    pthread_mutex_t imu; /* idempotency keys being served now */
    struct idem_claim {
        int64_t account_id;
        char key[METERING_IDEM_KEY_MAX + 1];
    } * claims;
    size_t nclaims, capclaims;
};

/* What one event-loop thread queued for the writer during the current iteration. */
static _Thread_local struct {
    metering *m;
    metering_call *head, *tail;
} loop_batch;

/* The journal segment this thread appends to. */
static _Thread_local struct {
    metering *m;
    journal_segment *seg;
} loop_journal;

static const char *const outcomes[] = {"served", "overage", "blocked"};
static const char *const exceeded[] = {"period=\"daily\",mode=\"block\"", "period=\"daily\",mode=\"overage\"",
                                       "period=\"monthly\",mode=\"block\"", "period=\"monthly\",mode=\"overage\""};

static period_zone zone_of(metering *m, const char *timezone)
{
    period_zone z = {period_utc_offset, NULL};
    if (timezone != NULL && strcmp(timezone, "UTC") != 0 && !tzdb_zone(m->o.tz, timezone, &z))
        z = (period_zone){period_utc_offset, NULL};
    return z;
}

periods metering_periods(metering *m, const char *timezone, int64_t now_ms)
{
    return period_at(zone_of(m, timezone), now_ms);
}

/* ---- the ledger's standing, for the counters ---- */

/*
 * Fills `row` (account_id and p set) with the ledger's sums of the account's day and month: the
 * calls served and whether a refusal or an overage is already recorded. 0 or the store's error.
 */
static int ledger_row(metering *m, counters_seed_row *row, app_err *err)
{
    char today[11], first[11];
    period_date_format(row->p.today, today);
    period_date_format((local_date){row->p.today.year, row->p.today.month, 1}, first);
    usage_totals day, month;
    int rc;
    if ((rc = store_usage_sum(m->o.store, row->account_id, -1, today, today, &day, err)) != 0 ||
        (rc = store_usage_sum(m->o.store, row->account_id, -1, first, today, &month, err)) != 0)
        return rc;
    row->day_used = day.requests;
    row->month_used = month.requests;
    row->day_blocked = day.blocked > 0;
    row->month_blocked = month.blocked > 0;
    row->day_overage = day.overage > 0;
    row->month_overage = month.overage > 0;
    return 0;
}

static bool settle_within(metering *m, int64_t ms, int64_t *done);
static int64_t mono_ms(void);

/*
 * The Redis counters' seeder: on their connection thread, when Redis lost an account's counts.
 * This node's journaled calls are folded first, so that the seed lacks only what is in flight and
 * what the other nodes have not folded yet. The wait is bounded: the folder may itself be waiting
 * for this thread (a reconciliation's read of Redis), and then the seed goes without it.
 */
static int seed_from_ledger(void *arg, counters_seed_row *row)
{
    metering *m = arg;
    app_err err;
    app_err_clear(&err);
    /* Once per METERING_SYNC_DELAY_MS at most (many accounts seed in a row after a loss), and not
     * again after a wait that timed out until the folder has come round: the folder may itself be
     * waiting for this thread, and then every account would wait the whole deadline. */
    if (m->j != NULL && mono_ms() - m->seed_settled_ms >= METERING_SYNC_DELAY_MS) {
        bool wait = m->seed_wait_after == 0;
        int64_t done;
        if (settle_within(m, wait ? METERING_SEED_SETTLE_MS : 0, &done)) {
            m->seed_settled_ms = mono_ms();
            m->seed_wait_after = 0;
        } else if (wait) {
            m->seed_wait_after = done + 1; /* timed out: no waiting until the folder serves a later round */
        } else if (done >= m->seed_wait_after) {
            m->seed_wait_after = 0; /* it came round: the next seed waits again */
        }
    }
    int rc = ledger_row(m, row, &err);
    if (rc != 0)
        log_write(m->o.log, LOG_ERROR, "counters not seeded: the ledger did not answer", "{s:I, s:s}", "account_id",
                  (json_int_t)row->account_id, "error", err.message);
    else
        log_write(m->o.log, LOG_INFO, "counters seeded from the ledger", "{s:I, s:I, s:I}", "account_id",
                  (json_int_t)row->account_id, "day_used", (json_int_t)row->day_used, "month_used",
                  (json_int_t)row->month_used);
    return rc;
}

static size_t active_slot(const struct active_account *set, size_t cap, int64_t account_id)
{
    size_t i = (size_t)((uint64_t)account_id * 0x9E3779B97F4A7C15ull) & (cap - 1);
    while (set[i].account_id != 0 && set[i].account_id != account_id)
        i = (i + 1) & (cap - 1);
    return i;
}

/* Remembers that `account_id` had a decided call since the last reconciliation. */
static void active_mark(metering *m, int64_t account_id, period_zone zone)
{
    pthread_mutex_lock(&m->amu);
    if ((m->nactive + 1) * 2 > m->capactive) {
        size_t cap = m->capactive ? m->capactive * 2 : 64;
        struct active_account *set = xcalloc(cap, sizeof *set);
        for (size_t i = 0; i < m->capactive; i++)
            if (m->active[i].account_id != 0)
                set[active_slot(set, cap, m->active[i].account_id)] = m->active[i];
        free(m->active);
        m->active = set;
        m->capactive = cap;
    }
    size_t i = active_slot(m->active, m->capactive, account_id);
    if (m->active[i].account_id == 0) {
        m->active[i] = (struct active_account){account_id, zone};
        m->nactive++;
    }
    pthread_mutex_unlock(&m->amu);
}

/*
 * Notes an account decided, from the thread the decision arrives on (the counters' own, or an
 * event loop's): the set's lock is taken only for an account this thread did not note already in
 * the current round, so a busy account costs each thread one lock per round.
 */
static void active_note(metering *m, int64_t account_id, const char *timezone)
{
    static _Thread_local struct {
        const metering *m;
        int64_t account_id;
        uint64_t round;
    } last;
    uint64_t round = atomic_load_explicit(&m->active_round, memory_order_acquire);
    if (last.m == m && last.account_id == account_id && last.round == round)
        return;
    active_mark(m, account_id, zone_of(m, timezone));
    last.m = m;
    last.account_id = account_id;
    last.round = round;
}

/* ---- idempotency keys in flight ---- */

static bool idem_claim(metering *m, int64_t account_id, const char *key)
{
    bool ok = true;
    pthread_mutex_lock(&m->imu);
    for (size_t i = 0; i < m->nclaims && ok; i++)
        if (m->claims[i].account_id == account_id && strcmp(m->claims[i].key, key) == 0)
            ok = false;
    if (ok) {
        if (m->nclaims == m->capclaims) {
            m->capclaims = m->capclaims ? m->capclaims * 2 : 16;
            m->claims = xrealloc(m->claims, m->capclaims * sizeof *m->claims);
        }
        m->claims[m->nclaims].account_id = account_id;
        str_copy(m->claims[m->nclaims].key, sizeof m->claims[0].key, key);
        m->nclaims++;
    }
    pthread_mutex_unlock(&m->imu);
    return ok;
}

static void idem_release(metering *m, int64_t account_id, const char *key)
{
    pthread_mutex_lock(&m->imu);
    for (size_t i = 0; i < m->nclaims; i++) {
        if (m->claims[i].account_id == account_id && strcmp(m->claims[i].key, key) == 0) {
            m->claims[i] = m->claims[--m->nclaims];
            break;
        }
    }
    pthread_mutex_unlock(&m->imu);
}

/* ---- the end of a call ---- */

static app_err *call_err(metering_call *c)
{
    if (c->err == NULL) {
        c->err = c->m->o.host->alloc(c->req.caller, sizeof *c->err);
        app_err_clear(c->err);
    }
    return c->err;
}

static void finish(metering_call *c, int status, bool replayed)
{
    if (c->claimed_shared)
        counters_release(c->m->o.counters, c->req.who->account_id, c->req.idem_key);
    if (c->req.has_idem)
        idem_release(c->m, c->req.who->account_id, c->req.idem_key);
    metering_result res = {
        .status = status, .err = status ? NULL : c->err, .body = c->body, .replayed = replayed, .view = c->view};
    c->req.done(&c->req, &res);
}

/* Ends the call with the error already in c->err. */
static void fail(metering_call *c)
{
    finish(c, 0, false);
}

static void fail_code(metering_call *c, app_code code, const char *message)
{
    app_err_set(call_err(c), code, "%s", message);
    fail(c);
}

/* ---- the hand-off to the writer ---- */

static void push(metering *m, metering_call *head, metering_call *tail)
{
    pthread_mutex_lock(&m->qmu);
    if (m->tail)
        m->tail->next = head;
    else
        m->head = head;
    m->tail = tail;
    pthread_cond_signal(&m->qcv);
    pthread_mutex_unlock(&m->qmu);
}

/* Parks the call and queues it for the writer: in this loop's batch, or at once off a loop. */
static void park_for_writer(metering_call *c, call_stage stage)
{
    metering *m = c->m;
    c->stage = stage;
    c->next = NULL;
    c->token = m->o.host->park(c->req.caller, c);
    if (loop_batch.m != m) {
        push(m, c, c);
        return;
    }
    if (loop_batch.tail)
        loop_batch.tail->next = c;
    else
        loop_batch.head = c;
    loop_batch.tail = c;
}

void metering_loop_start(metering *m, ev_loop *loop)
{
    counters_attach_loop(m->o.counters, loop);
}

void metering_loop_stop(metering *m)
{
    counters_detach_loop(m->o.counters);
}

bool metering_loop_busy(metering *m)
{
    return counters_loop_busy(m->o.counters);
}

bool metering_loop_flush(metering *m)
{
    bool again = counters_hand_over(m->o.counters); /* the iteration's reservations, in one go too */
    if (loop_batch.m != m) {
        /* This thread is an event loop from now on: its calls travel in batches. */
        loop_batch.m = m;
        loop_batch.head = loop_batch.tail = NULL;
        return again;
    }
    if (loop_batch.head != NULL) {
        push(m, loop_batch.head, loop_batch.tail);
        loop_batch.head = loop_batch.tail = NULL;
    }
    return again;
}

static int64_t mono_ms(void)
{
    return (int64_t)(clock_mono_ns() / 1000000u);
}

/* The writes that can fail with every call while a disk is full, each logged once per interval. */
static const char *const write_site_msg[WRITE_SITES] = {
    [SITE_JOURNAL_APPEND] = "usage journal append failed",
    [SITE_JOURNAL_SYNC] = "usage journal sync failed",
    [SITE_COMMIT] = "usage commit failed",
    [SITE_FOLD] = "usage journal fold failed",
    [SITE_SYNC] = "usage sync failed",
};

/*
 * A failed write of the usage path: remembered for /readyz (an append to the journal starts a
 * journal outage; the ledger's are ledger_health's) and logged once per METERING_FAILURE_LOG_MS
 * for each site, with the number of lines held back, so that a full disk refusing every call does
 * not fill what is left of it with the same line.
 */
static void write_failed(metering *m, write_site site, const app_err *err, size_t calls)
{
    int64_t now = mono_ms(), held, zero = 0;
    if (site == SITE_JOURNAL_APPEND || site == SITE_JOURNAL_SYNC)
        atomic_compare_exchange_strong(&m->journal_down_since, &zero, now);
    pthread_mutex_lock(&m->emu);
    str_copy(m->write_error, sizeof m->write_error, err->message);
    pthread_mutex_unlock(&m->emu);
    if (log_every_pass(&m->write_log[site], now, METERING_FAILURE_LOG_MS, &held))
        log_write(m->o.log, LOG_ERROR, write_site_msg[site], "{s:s, s:I, s:I}", "error", err->message, "calls",
                  (json_int_t)calls, "held_back", (json_int_t)held);
}

/* An append reached the journal: an outage of the journal is over. Cheap on the hot path. */
static void journal_wrote(metering *m)
{
    if (atomic_load_explicit(&m->journal_down_since, memory_order_relaxed) != 0)
        atomic_store(&m->journal_down_since, 0);
}

/* Records how the last call to the ledger went: a failure starts (or continues) an outage. */
static void ledger_health(metering *m, int rc)
{
    if (rc == 0) {
        atomic_store(&m->ledger_down_since, 0);
        return;
    }
    int64_t zero = 0;
    atomic_compare_exchange_strong(&m->ledger_down_since, &zero, mono_ms());
}

/*
 * A write to the ledger that counts nothing: a journal mark for a segment that never exists,
 * written and forgotten, each in its own transaction, as a fold writes its marks.
 */
static int ledger_probe(metering *m, app_err *err)
{
    journal_mark mark = {.segment = "readiness-probe", .offset = 0};
    usage_batch ub = {.marks = &mark, .nmarks = 1};
    int rc = store_usage_apply(m->o.store, &ub, err);
    return rc != 0 ? rc : store_journal_forget(m->o.store, mark.segment, err);
}

/* Whether the ledger has failed for longer than the grace that the journal absorbs. */
static bool ledger_down(metering *m)
{
    int64_t since = atomic_load(&m->ledger_down_since);
    return since != 0 && mono_ms() - since > METERING_LEDGER_GRACE_MS;
}

/* ---- the writer ---- */

static int delta_cmp(const void *a, const void *b)
{
    const usage_delta *x = a, *y = b;
    if (x->account_id != y->account_id)
        return x->account_id < y->account_id ? -1 : 1;
    if (x->credential_id != y->credential_id)
        return x->credential_id < y->credential_id ? -1 : 1;
    return strcmp(x->date, y->date);
}

/* Sorts and sums the deltas of the same row; returns how many rows remain. */
static size_t deltas_merge(usage_delta *d, size_t nd)
{
    qsort(d, nd, sizeof *d, delta_cmp);
    size_t k = 0;
    for (size_t i = 0; i < nd; i++) {
        if (k > 0 && delta_cmp(&d[k - 1], &d[i]) == 0) {
            d[k - 1].requests += d[i].requests;
            d[k - 1].overage += d[i].overage;
            d[k - 1].blocked += d[i].blocked;
        } else {
            d[k++] = d[i];
        }
    }
    return k;
}

static void count_outcomes(metering *m, const usage_delta *dl)
{
    if (dl->requests > dl->overage)
        metrics_family_add(m->o.metrics, m->metric_events, 0, (uint64_t)(dl->requests - dl->overage));
    if (dl->overage > 0)
        metrics_family_add(m->o.metrics, m->metric_events, 1, (uint64_t)dl->overage);
    if (dl->blocked > 0)
        metrics_family_add(m->o.metrics, m->metric_events, 2, (uint64_t)dl->blocked);
}

/* The journal record of a call's count. */
static journal_entry entry_of(const metering_call *c)
{
    return (journal_entry){.account_id = c->delta.account_id,
                           .credential_id = c->delta.credential_id,
                           .day = c->dec.p.day_key,
                           .requests = (int32_t)c->delta.requests,
                           .overage = (int32_t)c->delta.overage,
                           .blocked = (int32_t)c->delta.blocked};
}

static bool durable_commits(const metering *m)
{
    return m->o.durability == METERING_DURABLE_FSYNC;
}

static int alert_cmp(const void *a, const void *b)
{
    const usage_alert *x = a, *y = b;
    if (x->account_id != y->account_id)
        return x->account_id < y->account_id ? -1 : 1;
    if (x->monthly != y->monthly)
        return x->monthly ? 1 : -1;
    int c = strcmp(x->period_start, y->period_start);
    if (c != 0)
        return c;
    if (x->threshold != y->threshold)
        return x->threshold < y->threshold ? -1 : 1;
    return x->used < y->used ? -1 : x->used > y->used;
}

/*
 * Puts a batch's alerts in key order, and an alert's candidates in the order of their counts:
 * when calls of two loops both find a threshold due, the one that reached it is written first
 * and is the alert (the other finds it there), and the batches of two nodes take the alerts' row
 * locks in the same order (no deadlock between their transactions).
 */
static size_t alerts_order(usage_alert *a, size_t n)
{
    if (n > 1)
        qsort(a, n, sizeof *a, alert_cmp);
    return n;
}

/* An alert the ledger took as new: counted and logged (its audit event is written with it). */
static void alert_raised(metering *m, const usage_alert *a)
{
    metrics_family_add(m->o.metrics, m->metric_thresholds, (a->monthly ? 100u : 0u) + (size_t)a->threshold - 1, 1);
    log_write(m->o.log, LOG_INFO, "usage threshold reached", "{s:I, s:s, s:s, s:i, s:I, s:I}", "account_id",
              (json_int_t)a->account_id, "period", a->monthly ? "month" : "day", "period_start", a->period_start,
              "threshold", a->threshold, "used", (json_int_t)a->used, "limit", (json_int_t)a->limit);
}

/*
 * One batch of parked calls: the idempotency lookups; then every count, stored answer and audit
 * event in one transaction (the deltas summed per row); one fsync of the journal for the calls
 * that wait on it; then one resume for all.
 */
static void write_batch(metering *m, metering_call *batch, size_t n)
{
    usage_delta *d = xcalloc(n, sizeof *d);
    idem_record *idem = xcalloc(n, sizeof *idem);
    audit_event *audits = xcalloc(n, sizeof *audits);
    void **tokens = xcalloc(n, sizeof *tokens);
    size_t nd = 0, ni = 0, na = 0, nwrites = 0, nsyncs = 0, nal = 0, capal = 0;
    usage_alert *alerts = NULL;
    int64_t now = clock_now_ms(m->o.clock);
    for (metering_call *c = batch; c; c = c->next) {
        if (c->stage == STAGE_SYNC) {
            nsyncs++;
            continue;
        }
        if (c->stage == STAGE_LOOKUP) {
            app_err err;
            app_err_clear(&err);
            c->rc = store_idem_get(m->o.store, c->req.who->account_id, c->req.idem_key, now, &c->found, &err);
            if (c->rc != 0 && c->rc != APP_NOT_FOUND)
                log_write(m->o.log, LOG_ERROR, "idempotency lookup failed", "{s:s}", "error", err.message);
            continue;
        }
        nwrites++;
        if (c->store_answer) {
            idem_record *r = &idem[ni++];
            *r = (idem_record){.account_id = c->req.who->account_id,
                               .status = 200,
                               .body = (char *)c->body.part[0].ptr,
                               .body_len = c->body.part[0].len,
                               .expires_at = now + IDEM_TTL_MS};
            str_copy(r->key, sizeof r->key, c->req.idem_key);
            memcpy(r->fingerprint, c->req.fingerprint, 32);
        }
        if (c->audit != NULL)
            audits[na++] = *c->audit;
        for (size_t k = 0; k < c->nalerts; k++) {
            if (nal == capal)
                alerts = xrealloc(alerts, (capal = capal ? 2 * capal : 8) * sizeof *alerts);
            alerts[nal++] = c->alerts[k];
        }
        if (c->delta.requests != 0 || c->delta.blocked != 0)
            d[nd++] = c->delta;
    }
    int rc = 0, sync_rc = 0;
    if (nwrites > 0) {
        app_err err;
        app_err_clear(&err);
        usage_batch ub = {.deltas = d,
                          .ndeltas = deltas_merge(d, nd),
                          .idem = idem,
                          .nidem = ni,
                          .audits = audits,
                          .naudits = na,
                          .alerts = alerts,
                          .nalerts = alerts_order(alerts, nal),
                          .durable = durable_commits(m)};
        rc = store_usage_apply(m->o.store, &ub, &err);
        ledger_health(m, rc);
        if (rc != 0)
            write_failed(m, SITE_COMMIT, &err, nwrites);
        else if (!ub.durable)
            atomic_store(&m->store_unsynced, true);
        bool raised = false;
        for (size_t k = 0; k < nal; k++)
            if (alerts[k].raised) {
                alert_raised(m, &alerts[k]);
                raised = true;
            }
        if (raised)
            webhooks_kick(m->o.webhooks); /* their deliveries are in the outbox now */
    }
    if (nsyncs > 0) {
        app_err err;
        app_err_clear(&err);
        journal_entry *je = xmalloc(nsyncs * sizeof *je);
        size_t k = 0;
        for (metering_call *c = batch; c; c = c->next)
            if (c->stage == STAGE_SYNC)
                je[k++] = entry_of(c);
        if (loop_journal.m != m) { /* the writer's own segment */
            loop_journal.m = m;
            loop_journal.seg = NULL;
        }
        bool any, appended = (sync_rc = journal_append(m->j, &loop_journal.seg, je, k, &err)) == 0;
        if (appended)
            for (metering_call *c = batch; c; c = c->next)
                c->journaled |= c->stage == STAGE_SYNC;
        if (sync_rc != 0 || (sync_rc = journal_sync(m->j, &any, &err)) != 0)
            write_failed(m, appended ? SITE_JOURNAL_SYNC : SITE_JOURNAL_APPEND, &err, k);
        else
            journal_wrote(m);
        free(je);
    }
    /* Nothing of a call may be touched once its token is posted: its loop may free it at once. */
    size_t nt = 0;
    for (metering_call *c = batch, *next; c; c = next) {
        next = c->next;
        if (c->stage == STAGE_SYNC)
            c->rc = sync_rc;
        else if (c->stage != STAGE_LOOKUP) {
            c->rc = rc;
            if (rc == 0)
                count_outcomes(m, &c->delta);
        }
        tokens[nt++] = c->token;
    }
    m->o.host->resume(tokens, nt);
    free(tokens);
    free(d);
    free(idem);
    free(audits);
    free(alerts);
}

/* The ledger rows journal records add to. */
static void deltas_of_entries(const journal_entry *e, size_t n, usage_delta *d)
{
    for (size_t k = 0; k < n; k++) {
        d[k] = (usage_delta){.account_id = e[k].account_id,
                             .credential_id = e[k].credential_id,
                             .requests = e[k].requests,
                             .overage = e[k].overage,
                             .blocked = e[k].blocked};
        period_date_format(period_date_from_days(e[k].day), d[k].date);
    }
}

/*
 * After a failed fold, where the ledger's marks are: a fold whose commit took effect although its
 * answer was lost moved them, and its records must not be folded again. The marks move only from
 * where a fold read them (journal_mark), so a mark read before such a commit became visible only
 * makes the next fold fail, and be read again. 0, or the store's error (still unsure).
 */
static int marks_reread(metering *m, journal_segment **segs, size_t ns, app_err *err)
{
    int64_t at[256];
    for (size_t i = 0; i < ns; i++) {
        int rc = store_journal_mark(m->o.store, segs[i]->name, &at[i], err);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < ns; i++)
        if (at[i] != segs[i]->folded) {
            log_write(m->o.log, LOG_WARN, "usage journal fold had committed", "{s:s, s:I, s:I}", "segment",
                      segs[i]->name, "from", (json_int_t)segs[i]->folded, "to", (json_int_t)at[i]);
            segs[i]->folded = at[i];
            /* that commit may have gone without fsync: the next sync round makes it durable before
             * the segment can be removed */
            atomic_store(&m->store_unsynced, true);
        }
    m->marks_unsure = false;
    return 0;
}

/*
 * Folds what the event loops appended to the journal since the last fold into the ledger: the
 * counts summed per row, in one transaction with how far each segment is folded, so that a
 * replay after a crash starts where the ledger stops. Returns 0 or the store's error (the same
 * records are folded again next time, from where the ledger's marks say).
 */
static int fold(metering *m, bool *touched)
{
    journal_segment *segs[256];
    size_t ns = journal_segments(m->j, segs, 256);
    if (m->marks_unsure) {
        app_err err;
        app_err_clear(&err);
        *touched = true;
        int rc = marks_reread(m, segs, ns, &err);
        if (rc != 0) {
            write_failed(m, SITE_FOLD, &err, 0);
            return rc;
        }
    }
    journal_entry *e = xmalloc(FOLD_MAX * sizeof *e);
    usage_delta *d = xmalloc(FOLD_MAX * sizeof *d);
    journal_mark marks[256];
    int64_t next[256];
    int rc = 0;
    bool more = true;
    while (more && rc == 0) {
        size_t ne = 0, nm = 0;
        more = false;
        for (size_t i = 0; i < ns && rc == 0; i++) {
            size_t got;
            app_err err;
            app_err_clear(&err);
            if ((rc = journal_read(segs[i], segs[i]->folded, e + ne, FOLD_MAX - ne, &got, &next[i], &err)) != 0) {
                log_write(m->o.log, LOG_ERROR, "usage journal read failed", "{s:s}", "error", err.message);
                break;
            }
            if (got == 0)
                continue;
            deltas_of_entries(e + ne, got, d + ne);
            ne += got;
            str_copy(marks[nm].segment, sizeof marks[nm].segment, segs[i]->name);
            marks[nm].from = segs[i]->folded;
            marks[nm++].offset = next[i];
            if (ne == FOLD_MAX) {
                more = true; /* the rest waits for the next round */
                break;
            }
        }
        if (rc != 0 || ne == 0)
            break;
        app_err err;
        app_err_clear(&err);
        usage_batch ub = {.deltas = d, .ndeltas = deltas_merge(d, ne), .marks = marks, .nmarks = nm};
        *touched = true;
        if ((rc = store_usage_apply(m->o.store, &ub, &err)) != 0) {
            m->marks_unsure = true;
            write_failed(m, SITE_FOLD, &err, ne);
            break;
        }
        for (size_t k = 0; k < ub.ndeltas; k++)
            count_outcomes(m, &d[k]); /* once committed: a fold tried again counts once */
        atomic_store(&m->store_unsynced, true);
        for (size_t i = 0, k = 0; i < ns && k < nm; i++)
            if (strcmp(segs[i]->name, marks[k].segment) == 0)
                segs[i]->folded = marks[k++].offset;
    }
    free(e);
    free(d);
    return rc;
}

/*
 * One round of making what was committed and appended so far durable: the journal's segments, then
 * the ledger's commits made without fsync. A fold committed before the round started is durable
 * once it succeeded (sync_round_done). False when it failed.
 */
static bool sync_round(metering *m)
{
    int64_t round = atomic_fetch_add(&m->sync_round_started, 1) + 1;
    app_err err;
    app_err_clear(&err);
    bool any, ok = true;
    if (m->j != NULL && journal_sync(m->j, &any, &err) != 0) {
        write_failed(m, SITE_JOURNAL_SYNC, &err, 0);
        ok = false; /* the ledger's commits are synced all the same: a failing journal disk is no reason not to */
        app_err_clear(&err);
    }
    if (atomic_exchange(&m->store_unsynced, false) && store_sync(m->o.store, &err) != 0) {
        atomic_store(&m->store_unsynced, true);
        write_failed(m, SITE_SYNC, &err, 0);
        ok = false;
    }
    if (!ok)
        return false;
    atomic_store(&m->sync_round_done, round);
    return true;
}

/* Removes segment `seg`, folded to its end and durably in the ledger (the folder's). */
static void retire(metering *m, journal_segment *seg)
{
    app_err err;
    app_err_clear(&err);
    char name[JOURNAL_NAME_MAX];
    str_copy(name, sizeof name, seg->name);
    /* The file first, durably: a mark forgotten while its file could come back would have the
     * file replayed from its start. A mark left behind costs a row, nothing else. */
    if (journal_retire(m->j, seg, &err) != 0 || store_journal_forget(m->o.store, name, &err) != 0)
        log_write(m->o.log, LOG_WARN, "usage journal mark not removed", "{s:s, s:s}", "segment", name, "error",
                  err.message);
}

/*
 * The folder's, on each tick: removes the segments no loop appends to any more once their counts
 * are durably in the ledger: folded to their end, then a sync round started after that fold
 * succeeded (m->retiring remembers the round each waits for).
 */
static void retire_durable(metering *m)
{
    if (m->j == NULL)
        return;
    journal_segment *segs[256];
    size_t ns = journal_segments(m->j, segs, 256);
    int64_t done = atomic_load(&m->sync_round_done);
    for (size_t i = 0; i < ns; i++) {
        if (!atomic_load(&segs[i]->sealed) || segs[i]->folded < atomic_load(&segs[i]->end))
            continue;
        size_t k = 0;
        while (k < m->nretiring && m->retiring[k].seg != segs[i])
            k++;
        if (k == m->nretiring) { /* folded to its end since the last tick: a round started later makes it durable */
            if (m->nretiring < sizeof m->retiring / sizeof m->retiring[0])
                m->retiring[m->nretiring++] = (struct retiring){segs[i], atomic_load(&m->sync_round_started) + 1};
            continue;
        }
        if (done < m->retiring[k].round)
            continue;
        m->retiring[k] = m->retiring[--m->nretiring];
        retire(m, segs[i]);
    }
}

/* At the end, the loops and the writer done: makes everything durable and removes every segment. */
static void sync_all(metering *m)
{
    if (!sync_round(m) || m->j == NULL)
        return;
    journal_segment *segs[256];
    size_t ns = journal_segments(m->j, segs, 256);
    for (size_t i = 0; i < ns; i++)
        if (segs[i]->folded >= atomic_load(&segs[i]->end))
            retire(m, segs[i]);
}

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    int64_t ns = ts->tv_nsec + (ms > 0 ? ms : 0) * 1000000;
    ts->tv_sec += ns / 1000000000;
    ts->tv_nsec = ns % 1000000000;
}

/* Commits whatever was parked while the previous batch was committing, in one batch. */
static void *writer_main(void *arg)
{
    metering *m = arg;
    pthread_mutex_lock(&m->qmu);
    for (;;) {
        if (m->head == NULL) {
            if (m->stopping)
                break;
            pthread_cond_wait(&m->qcv, &m->qmu);
            continue;
        }
        metering_call *batch = m->head, *last = batch;
        size_t n = 1;
        while (last->next && n < BATCH_MAX) {
            last = last->next;
            n++;
        }
        m->head = last->next;
        if (m->head == NULL)
            m->tail = NULL;
        last->next = NULL;
        m->writing = true;
        pthread_mutex_unlock(&m->qmu);
        write_batch(m, batch, n);
        pthread_mutex_lock(&m->qmu);
        m->writing = false;
        pthread_cond_broadcast(&m->idle_cv);
    }
    pthread_mutex_unlock(&m->qmu);
    return NULL;
}

/*
 * Reconciliation of the shared counters with the ledger, for the accounts decided since the last
 * round, right after a fold (so this node's journaled calls are in the ledger).
 *
 * The rule. Every call Redis counts is either in flight (reserved, not yet journaled, committed or
 * refunded), journaled and not yet folded (on this node or another), or in the ledger; a refund
 * takes a call out of Redis that never reaches the ledger. So with nothing lost, Redis >= ledger,
 * and Redis - ledger is every node's calls in flight plus the other nodes' unfolded calls (at most
 * METERING_SYNC_DELAY_MS of their traffic). Redis BELOW the ledger means Redis lost counts: it is
 * raised to the ledger's figure (atomically in Redis, never lowered: the ledger was read before,
 * and it only grows). Redis above the ledger is never corrected. The drift exported is the summed
 * |Redis - ledger| of the day counters of the round, so it is 0 once traffic stops and every node
 * has folded, and stays above 0 while Redis has lost counts that nothing raised yet.
 */
static void reconcile(metering *m)
{
    pthread_mutex_lock(&m->amu);
    struct active_account *set = m->active;
    size_t cap = m->capactive;
    atomic_fetch_add_explicit(&m->active_round, 1, memory_order_release); /* threads note again */
    m->active = NULL;
    m->nactive = m->capactive = 0;
    pthread_mutex_unlock(&m->amu);
    int64_t drift = 0, now = clock_now_ms(m->o.clock);
    for (size_t i = 0; i < cap; i++) {
        if (set[i].account_id == 0)
            continue;
        counters_seed_row row = {.account_id = set[i].account_id, .p = period_at(set[i].zone, now)};
        counters_usage before;
        app_err err;
        app_err_clear(&err);
        if (ledger_row(m, &row, &err) != 0 || counters_raise(m->o.counters, &row, &before, &err) != 0) {
            log_write(m->o.log, LOG_WARN, "counters not reconciled", "{s:I, s:s}", "account_id",
                      (json_int_t)row.account_id, "error", err.message);
            continue;
        }
        int64_t redis = before.day_used < 0 ? 0 : before.day_used;
        drift += redis > row.day_used ? redis - row.day_used : row.day_used - redis;
        if (before.day_used < row.day_used || before.month_used < row.month_used)
            log_write(m->o.log, LOG_WARN, "counters raised to the ledger", "{s:I, s:I, s:I, s:I, s:I}", "account_id",
                      (json_int_t)row.account_id, "day_redis", (json_int_t)before.day_used, "day_ledger",
                      (json_int_t)row.day_used, "month_redis", (json_int_t)before.month_used, "month_ledger",
                      (json_int_t)row.month_used);
    }
    free(set);
    metrics_gauge_set(m->o.metrics, m->metric_drift, (uint64_t)drift);
}

/*
 * Shared counters in open mode decide alone while Redis is away: each change of that state is an
 * audit event, a log line and the b2b_counters_degraded gauge. Recorded once the event is written
 * (a store that fails is tried again on the next round).
 */
static void watch_degraded(metering *m)
{
    bool degraded = counters_degraded(m->o.counters);
    if (degraded == m->degraded_seen)
        return;
    audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.at = clock_now_ms(m->o.clock);
    str_copy(ev.actor, sizeof ev.actor, "system");
    str_copy(ev.action, sizeof ev.action, degraded ? "counters.degraded" : "counters.restored");
    str_copy(ev.target, sizeof ev.target, "counters");
    str_copy(ev.details, sizeof ev.details,
             degraded ? "{\"decided_by\":\"this process alone\"}" : "{\"decided_by\":\"shared counters\"}");
    usage_batch ub = {.audits = &ev, .naudits = 1};
    app_err err;
    app_err_clear(&err);
    if (store_usage_apply(m->o.store, &ub, &err) != 0)
        return;
    m->degraded_seen = degraded;
    metrics_gauge_set(m->o.metrics, m->metric_degraded, degraded ? 1 : 0);
    if (degraded)
        log_write(m->o.log, LOG_ERROR, "shared counters unreachable: deciding limits in this process alone", NULL);
    else
        log_write(m->o.log, LOG_WARN, "shared counters reachable again: limits are decided across processes", NULL);
}

/*
 * Every METERING_SYNC_DELAY_MS, or when metering_settle asks, folds the journal into the ledger,
 * and removes the segments whose counts the syncer made durable there. Its own thread, so that
 * this work never delays the answers the writer resumes.
 */
static void *folder_main(void *arg)
{
    metering *m = arg;
    int64_t tick_due = mono_ms() + METERING_SYNC_DELAY_MS, checked = mono_ms(), journal_checked = mono_ms();
    int64_t reconcile_due = mono_ms() + METERING_RECONCILE_MS;
    pthread_mutex_lock(&m->qmu);
    for (;;) {
        bool settle = m->settle_asked > m->settle_done;
        bool tick = mono_ms() >= tick_due;
        if (!settle && !tick) {
            if (m->folder_stopping)
                break;
            struct timespec ts;
            deadline_in(&ts, tick_due - mono_ms());
            pthread_cond_timedwait(&m->fold_cv, &m->qmu, &ts);
            continue;
        }
        int64_t asked = m->settle_asked;
        pthread_mutex_unlock(&m->qmu);
        bool touched = false;
        int rc = m->j != NULL ? fold(m, &touched) : 0, fold_rc = rc;
        if (!touched && mono_ms() - checked >= METERING_LEDGER_CHECK_MS) {
            /* Nothing to fold: ask the ledger whether it answers, so an outage is noticed
             * before calls are journaled into it; once writes have failed, whether it takes one
             * (a full disk still answers queries). And whether the journal's disk does. */
            app_err perr;
            app_err_clear(&perr);
            rc = atomic_load(&m->ledger_down_since) != 0 ? ledger_probe(m, &perr) : store_ping(m->o.store, &perr);
            touched = true;
            if (rc != 0) {
                pthread_mutex_lock(&m->emu);
                str_copy(m->write_error, sizeof m->write_error, perr.message);
                pthread_mutex_unlock(&m->emu);
            }
        }
        /* The journal's disk, whether or not anything was folded (appends may all be failing). */
        if (m->j != NULL && atomic_load(&m->journal_down_since) != 0 &&
            mono_ms() - journal_checked >= METERING_LEDGER_CHECK_MS) {
            app_err perr;
            app_err_clear(&perr);
            journal_checked = mono_ms();
            if (journal_probe(m->j, &perr) == 0)
                journal_wrote(m);
        }
        if (touched) {
            ledger_health(m, rc);
            checked = mono_ms();
        }
        if (tick) {
            retire_durable(m);
            tick_due = mono_ms() + METERING_SYNC_DELAY_MS;
        }
        if (m->shared)
            watch_degraded(m);
        if (m->shared && mono_ms() >= reconcile_due) {
            if (rc == 0) /* after a failed fold this node's calls are not in the ledger: wait */
                reconcile(m);
            reconcile_due = mono_ms() + METERING_RECONCILE_MS;
        }
        pthread_mutex_lock(&m->qmu);
        if (settle) {
            m->settle_done = asked;
            m->settle_rc = fold_rc;
        }
        pthread_cond_broadcast(&m->idle_cv);
    }
    pthread_mutex_unlock(&m->qmu);
    /* The loops and the writer are done: fold the last appends, make everything durable, and
     * remove the journal. */
    bool touched = false;
    if (m->j != NULL)
        fold(m, &touched);
    sync_all(m);
    return NULL;
}

/*
 * Every METERING_SYNC_DELAY_MS, a round of sync_round. Its own thread: an fsync can take long (a
 * slow or busy disk), and the folder keeps folding meanwhile, so the ledger a node seeds counters
 * Redis lost from lags by METERING_SYNC_DELAY_MS, not by the fsync.
 */
static void *syncer_main(void *arg)
{
    metering *m = arg;
    pthread_mutex_lock(&m->qmu);
    while (!m->syncer_stopping) {
        struct timespec ts;
        deadline_in(&ts, METERING_SYNC_DELAY_MS);
        int rc = 0;
        while (!m->syncer_stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&m->sync_cv, &m->qmu, &ts);
        if (m->syncer_stopping)
            break;
        pthread_mutex_unlock(&m->qmu);
        sync_round(m);
        pthread_mutex_lock(&m->qmu);
    }
    pthread_mutex_unlock(&m->qmu);
    return NULL;
}

void metering_flush(metering *m)
{
    pthread_mutex_lock(&m->qmu);
    while (m->head != NULL || m->writing)
        pthread_cond_wait(&m->idle_cv, &m->qmu);
    pthread_mutex_unlock(&m->qmu);
}

/*
 * Asks the folder for a fold and waits for it: without a deadline when `ms` < 0, else for at most
 * `ms` and not once the folder stops. Returns 0, the fold's error, or -1 when it did not come back
 * in time; *done: the last settle round the folder had served by then.
 */
static int settle_round(metering *m, int64_t ms, int64_t *done)
{
    struct timespec until;
    deadline_in(&until, ms);
    pthread_mutex_lock(&m->qmu);
    int64_t ticket = ++m->settle_asked;
    pthread_cond_signal(&m->fold_cv);
    int w = 0;
    while (m->settle_done < ticket && (ms < 0 || (!m->folder_stopping && w != ETIMEDOUT)))
        w = ms < 0 ? pthread_cond_wait(&m->idle_cv, &m->qmu) : pthread_cond_timedwait(&m->idle_cv, &m->qmu, &until);
    int rc = m->settle_done >= ticket ? m->settle_rc : -1;
    *done = m->settle_done;
    pthread_mutex_unlock(&m->qmu);
    return rc;
}

/* metering_settle for at most `ms`: false when the fold failed or did not come back in time. */
static bool settle_within(metering *m, int64_t ms, int64_t *done)
{
    return settle_round(m, ms, done) == 0;
}

int metering_settle(metering *m, app_err *err)
{
    int64_t done;
    if (settle_round(m, -1, &done) != 0)
        return app_err_set(err, APP_STORE_UNAVAILABLE,
                           "calls answered are not in the ledger yet: it refuses their counts (see /readyz)");
    return 0;
}

/* ---- life cycle ---- */

static void flush_resumes(void *arg);

/* The label sets of b2b_quota_threshold_total: the day's thresholds 1..100, then the month's. */
#define THRESHOLD_LABELS 200
static char threshold_label_text[THRESHOLD_LABELS][40];
static const char *threshold_labels[THRESHOLD_LABELS];
static pthread_once_t threshold_labels_once = PTHREAD_ONCE_INIT;

static void threshold_labels_init(void)
{
    for (int i = 0; i < THRESHOLD_LABELS; i++) {
        snprintf(threshold_label_text[i], sizeof threshold_label_text[i], "period=\"%s\",threshold=\"%d\"",
                 i < 100 ? "day" : "month", i % 100 + 1);
        threshold_labels[i] = threshold_label_text[i];
    }
}

metering *metering_new(const metering_opts *opts, app_err *err)
{
    journal *j = NULL;
    if (opts->journal_dir != NULL && (j = journal_open(opts->journal_dir, err)) == NULL)
        return NULL;
    metering *m = xcalloc(1, sizeof *m);
    m->o = *opts;
    m->j = j;
    m->metric_events = metrics_family_register(m->o.metrics, "b2b_usage_events_total",
                                               "Metered calls by outcome: served within limits, served as "
                                               "overage, or blocked.",
                                               "outcome", outcomes, 3);
    m->metric_exceeded =
        metrics_family_register(m->o.metrics, "b2b_quota_exceeded_total",
                                "Calls past a contractual limit, by period and mode.", NULL, exceeded, 4);
    pthread_once(&threshold_labels_once, threshold_labels_init);
    m->metric_thresholds = metrics_family_register_sparse(
        m->o.metrics, "b2b_quota_threshold_total",
        "Usage alerts raised (usage.threshold): a period's usage reached a threshold of its limit.", threshold_labels,
        THRESHOLD_LABELS);
    /* Shared counters lose counts with Redis: they seed from the ledger and are reconciled. */
    m->shared = counters_set_seeder(m->o.counters, seed_from_ledger, m);
    m->batched_resumes = counters_set_flush(m->o.counters, flush_resumes, NULL);
    if (m->shared) {
        m->metric_drift = metrics_gauge_register(m->o.metrics, "b2b_counter_drift",
                                                 "Calls: the summed difference between the shared counters and "
                                                 "the ledger, per account's day, at the last reconciliation.");
        m->metric_degraded = metrics_gauge_register(m->o.metrics, "b2b_counters_degraded",
                                                    "1 while the shared counters cannot be reached and this process "
                                                    "decides limits alone (--counters-unavailable open).");
    }
    pthread_mutex_init(&m->amu, NULL);
    pthread_mutex_init(&m->qmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the sync delay must not follow wall-clock jumps */
    pthread_cond_init(&m->qcv, &ca);
    pthread_cond_init(&m->fold_cv, &ca);
    pthread_cond_init(&m->sync_cv, &ca);
    pthread_cond_init(&m->idle_cv, &ca); /* waited with a deadline too (settle_within) */
    pthread_condattr_destroy(&ca);
    atomic_init(&m->sync_round_started, 0);
    atomic_init(&m->sync_round_done, 0);
    atomic_init(&m->store_unsynced, false);
    atomic_init(&m->ledger_down_since, 0);
    atomic_init(&m->journal_down_since, 0);
    pthread_mutex_init(&m->emu, NULL);
    pthread_mutex_init(&m->imu, NULL);
    return m;
}

void metering_free(metering *m)
{
    if (m == NULL)
        return;
    if (m->started) {
        pthread_mutex_lock(&m->qmu);
        m->stopping = true;
        pthread_cond_signal(&m->qcv);
        pthread_mutex_unlock(&m->qmu);
        pthread_join(m->writer, NULL);
        pthread_mutex_lock(&m->qmu); /* the folder makes everything durable at its end */
        m->syncer_stopping = true;
        pthread_cond_signal(&m->sync_cv);
        pthread_mutex_unlock(&m->qmu);
        if (m->syncer_started)
            pthread_join(m->syncer, NULL);
        pthread_mutex_lock(&m->qmu);
        m->folder_stopping = true;
        pthread_cond_signal(&m->fold_cv);
        pthread_mutex_unlock(&m->qmu);
        pthread_join(m->folder, NULL);
    }
    journal_close(m->j);
    pthread_mutex_destroy(&m->qmu);
    pthread_cond_destroy(&m->qcv);
    pthread_cond_destroy(&m->fold_cv);
    pthread_cond_destroy(&m->sync_cv);
    pthread_cond_destroy(&m->idle_cv);
    pthread_mutex_destroy(&m->imu);
    pthread_mutex_destroy(&m->amu);
    pthread_mutex_destroy(&m->emu);
    free(m->active);
    free(m->claims);
    free(m);
}

/* A segment a crashed process left: its records past the ledger's mark, folded, durably. */
static int replay_leftover(void *arg, const char *name, journal_leftover *lo, app_err *err)
{
    metering *m = arg;
    int64_t from = 0;
    int rc = store_journal_mark(m->o.store, name, &from, err);
    journal_entry *e = xmalloc(FOLD_MAX * sizeof *e);
    usage_delta *d = xmalloc(FOLD_MAX * sizeof *d);
    int64_t replayed = 0;
    for (size_t n = FOLD_MAX; rc == 0 && n == FOLD_MAX;) {
        int64_t next;
        if ((rc = journal_leftover_read(lo, from, e, FOLD_MAX, &n, &next, err)) != 0 || n == 0)
            break;
        deltas_of_entries(e, n, d);
        journal_mark mark = {.from = from, .offset = next};
        str_copy(mark.segment, sizeof mark.segment, name);
        usage_batch ub = {.deltas = d, .ndeltas = deltas_merge(d, n), .marks = &mark, .nmarks = 1, .durable = true};
        if ((rc = store_usage_apply(m->o.store, &ub, err)) == 0) {
            replayed += (int64_t)n;
            from = next;
        }
    }
    free(e);
    free(d);
    if (rc == 0) {
        if (replayed > 0)
            log_write(m->o.log, LOG_WARN, "usage journal replayed", "{s:s, s:I}", "segment", name, "records",
                      (json_int_t)replayed);
        /* The file first, durably, then its mark (see retire); a stray mark costs a row. */
        app_err ferr;
        app_err_clear(&ferr);
        if (journal_leftover_remove(lo, &ferr) != 0 || store_journal_forget(m->o.store, name, &ferr) != 0)
            log_write(m->o.log, LOG_WARN, "usage journal mark not removed", "{s:s, s:s}", "segment", name, "error",
                      ferr.message);
    }
    return rc;
}

int metering_start(metering *m, app_err *err)
{
    if (m->j != NULL && journal_recover(m->j, replay_leftover, m, err) != 0)
        return err->code;
    enum { PAGE = 256 };
    contract *cs = xmalloc(PAGE * sizeof *cs);
    int64_t after = 0, now = clock_now_ms(m->o.clock);
    size_t n;
    int rc = 0;
    do {
        if ((rc = store_contract_list(m->o.store, after, cs, PAGE, &n, err)) != 0)
            break;
        for (size_t i = 0; i < n && rc == 0; i++) {
            counters_seed_row row = {.account_id = cs[i].account_id, .p = metering_periods(m, cs[i].timezone, now)};
            if ((rc = ledger_row(m, &row, err)) == 0)
                counters_seed(m->o.counters, &row);
        }
        if (n > 0)
            after = cs[n - 1].account_id;
    } while (n == PAGE && rc == 0);
    free(cs);
    if (rc != 0)
        return rc;
    if (pthread_create(&m->writer, NULL, writer_main, m) != 0)
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot start the usage writer");
    if (pthread_create(&m->folder, NULL, folder_main, m) != 0) {
        pthread_mutex_lock(&m->qmu);
        m->stopping = true;
        pthread_cond_signal(&m->qcv);
        pthread_mutex_unlock(&m->qmu);
        pthread_join(m->writer, NULL);
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot start the usage folder");
    }
    m->started = true;
    /* Without a syncer the folder's last round makes everything durable at the end. */
    m->syncer_started = pthread_create(&m->syncer, NULL, syncer_main, m) == 0;
    if (!m->syncer_started)
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot start the usage syncer");
    return 0;
}

/* ---- the call ---- */

static const char *mode_name(const limits *l)
{
    return l->mode == LIMIT_OVERAGE ? "overage" : "block";
}

/* An audit event of the system about the call's account, in the call's arena; steals `details`. */
static audit_event *system_audit(metering_call *c, const char *action, json_t *details)
{
    const principal *p = c->req.who;
    audit_event *ev = c->m->o.host->alloc(c->req.caller, sizeof *ev);
    memset(ev, 0, sizeof *ev);
    ev->at = c->dec.now_ms;
    str_copy(ev->actor, sizeof ev->actor, "system");
    str_copy(ev->action, sizeof ev->action, action);
    snprintf(ev->target, sizeof ev->target, "account:%lld", (long long)p->account_id);
    ev->account_id = opt_some(p->account_id);
    size_t len = details ? json_dumpb(details, ev->details, sizeof ev->details - 1, JSON_COMPACT) : 0;
    if (len == 0 || len >= sizeof ev->details)
        len = 0; /* cannot happen with these bounded values; an empty object keeps the event valid */
    ev->details[len] = '\0';
    if (len == 0)
        str_copy(ev->details, sizeof ev->details, "{}");
    json_decref(details);
    return ev;
}

/* The audit event of the first refusal or overage of a period. */
static audit_event *quota_audit(metering_call *c, const char *action)
{
    const principal *p = c->req.who;
    const quota_decision *d = &c->dec.d;
    return system_audit(c, action,
                        json_pack("{s:s, s:I, s:I, s:s, s:s}", "period", quota_period_name(d->period), "limit",
                                  (json_int_t)d->limit, "used", (json_int_t)d->used, "mode", mode_name(&p->limits),
                                  "key_id", p->key_id));
}

/*
 * The usage.threshold webhook event of alert `a`, in the call's arena, and its webhook-id in
 * a->msg_id: one id per account, period and threshold, the same for every endpoint and attempt,
 * so a receiver can deduplicate on it.
 */
static const char *alert_event(metering_call *c, usage_alert *a)
{
    char at[21];
    civil_format_rfc3339(a->at, at);
    snprintf(a->msg_id, sizeof a->msg_id, "thr_%lld_%s_%s_%d", (long long)a->account_id, a->monthly ? "month" : "day",
             a->period_start, a->threshold);
    json_t *ev = json_pack("{s:s, s:s, s:{s:I, s:s, s:s, s:i, s:I, s:I, s:s}}", "type", "usage.threshold", "timestamp",
                           at, "data", "account_id", (json_int_t)a->account_id, "period", a->monthly ? "month" : "day",
                           "period_start", a->period_start, "threshold", a->threshold, "used", (json_int_t)a->used,
                           "limit", (json_int_t)a->limit, "at", at);
    char *text = ev != NULL ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (text == NULL)
        return NULL; /* cannot happen with these bounded values: the alert stands, without deliveries */
    size_t len = strlen(text);
    char *copy = c->m->o.host->alloc(c->req.caller, len + 1);
    memcpy(copy, text, len + 1);
    free(text);
    return copy;
}

static void fill_alert(metering_call *c, usage_alert *a, bool monthly, int pct)
{
    const principal *p = c->req.who;
    local_date start = c->dec.p.today;
    if (monthly)
        start.day = 1;
    *a = (usage_alert){.account_id = p->account_id,
                       .monthly = monthly,
                       .threshold = pct,
                       /* The count at which the threshold is reached: the same figure whichever call
                        * finds it due first (another loop's, or one after a restart). */
                       .used = quota_threshold_calls(pct, monthly ? p->limits.monthly_limit : p->limits.daily_limit),
                       .limit = monthly ? p->limits.monthly_limit.v : p->limits.daily_limit.v,
                       .at = c->dec.now_ms};
    period_date_format(start, a->period_start);
    a->event = alert_event(c, a);
    a->audit = system_audit(c, "usage.threshold",
                            json_pack("{s:s, s:s, s:i, s:I, s:I, s:s}", "period", monthly ? "month" : "day",
                                      "period_start", a->period_start, "threshold", pct, "used", (json_int_t)a->used,
                                      "limit", (json_int_t)a->limit, "key_id", p->key_id));
}

/*
 * Per event loop: the thresholds of each account's current day and month that a call of this loop
 * took to the ledger (written there, or found there already), so that calls past a threshold ask
 * the ledger once per loop and period, not each time; the ledger keeps one alert however many
 * ask. A fixed table with no lock (each loop has its own); when it fills it starts over, and each
 * threshold is asked once more, which the ledger answers with "exists".
 */
#define ALERT_SEEN_SLOTS 1024 /* a power of two */
typedef struct alert_seen {
    int64_t account_id; /* 0: an empty slot */
    int64_t day_key, month_key;
    uint8_t nday, nmonth;
    uint8_t day[ALERT_THRESHOLDS_MAX], month[ALERT_THRESHOLDS_MAX];
} alert_seen;
static _Thread_local struct {
    alert_seen slots[ALERT_SEEN_SLOTS];
    size_t used;
} alerts_seen;

/* The account's slot: its entry, or the empty slot where it would go. */
static alert_seen *seen_slot(int64_t account_id)
{
    size_t mask = ALERT_SEEN_SLOTS - 1;
    size_t i = (size_t)(((uint64_t)account_id * 0x9E3779B97F4A7C15u) >> 32) & mask;
    alert_seen *e = &alerts_seen.slots[i];
    while (e->account_id != account_id && e->account_id != 0)
        e = &alerts_seen.slots[i = (i + 1) & mask];
    return e;
}

/* The account's entry for periods `p` (emptied when its day or month moved on), made if needed. */
static alert_seen *seen_of(int64_t account_id, const periods *p)
{
    alert_seen *e = seen_slot(account_id);
    if (e->account_id == 0) {
        if (alerts_seen.used >= ALERT_SEEN_SLOTS / 4 * 3) {
            memset(&alerts_seen, 0, sizeof alerts_seen);
            return seen_of(account_id, p);
        }
        alerts_seen.used++;
        *e = (alert_seen){.account_id = account_id, .day_key = p->day_key, .month_key = p->month_key};
    }
    if (e->day_key != p->day_key) {
        e->day_key = p->day_key;
        e->nday = 0;
    }
    if (e->month_key != p->month_key) {
        e->month_key = p->month_key;
        e->nmonth = 0;
    }
    return e;
}

static void seen_add(uint8_t *list, uint8_t *n, uint8_t pct)
{
    if (*n < ALERT_THRESHOLDS_MAX)
        list[(*n)++] = pct; /* else asked again next time: harmless */
}

static void seen_remove(uint8_t *list, uint8_t *n, uint8_t pct)
{
    for (uint8_t i = 0; i < *n; i++)
        if (list[i] == pct) {
            list[i] = list[--*n];
            return;
        }
}

/* The call's alerts were not written (its commit failed): the next call past them asks again. */
static void alerts_not_written(metering_call *c)
{
    if (c->nalerts == 0)
        return;
    alert_seen *e = seen_of(c->req.who->account_id, &c->dec.p);
    for (size_t i = 0; i < c->nalerts; i++) {
        const usage_alert *a = &c->alerts[i];
        if (a->monthly)
            seen_remove(e->month, &e->nmonth, (uint8_t)a->threshold);
        else
            seen_remove(e->day, &e->nday, (uint8_t)a->threshold);
    }
}

/*
 * The alert thresholds due with this served call's count (domain/quota.c: the call that reaches a
 * threshold finds it due, and a later one if that call's counts were lost), with their audit
 * events, in the call's arena. The call is then written to the ledger with them, never journaled,
 * and the store keeps an alert only when it is new.
 */
static void note_alerts(metering_call *c)
{
    const principal *p = c->req.who;
    const limits *l = &p->limits;
    if (l->alerts.n == 0 || (!l->daily_limit.present && !l->monthly_limit.present))
        return;
    /* Looked up without taking a slot: only accounts with something due take one. */
    const alert_seen *found = seen_slot(p->account_id);
    bool day_known = found->account_id != 0 && found->day_key == c->dec.p.day_key;
    bool month_known = found->account_id != 0 && found->month_key == c->dec.p.month_key;
    uint8_t day[ALERT_THRESHOLDS_MAX], month[ALERT_THRESHOLDS_MAX];
    size_t nd =
        quota_thresholds_due(&l->alerts, l->daily_limit, c->dec.day_used, found->day, day_known ? found->nday : 0, day);
    size_t nm = quota_thresholds_due(&l->alerts, l->monthly_limit, c->dec.month_used, found->month,
                                     month_known ? found->nmonth : 0, month);
    if (nd + nm == 0)
        return;
    alert_seen *e = seen_of(p->account_id, &c->dec.p);
    for (size_t i = 0; i < nd; i++)
        seen_add(e->day, &e->nday, day[i]);
    for (size_t i = 0; i < nm; i++)
        seen_add(e->month, &e->nmonth, month[i]);
    c->alerts = c->m->o.host->alloc(c->req.caller, (nd + nm) * sizeof *c->alerts);
    for (size_t i = 0; i < nd; i++)
        fill_alert(c, &c->alerts[c->nalerts++], false, day[i]);
    for (size_t i = 0; i < nm; i++)
        fill_alert(c, &c->alerts[c->nalerts++], true, month[i]);
}

static void delta_init(metering_call *c)
{
    c->delta = (usage_delta){.account_id = c->req.who->account_id, .credential_id = c->req.who->credential_id};
    period_date_format(c->dec.p.today, c->delta.date);
}

typedef enum journaled { NOT_JOURNALED, JOURNALED, JOURNALED_LATER } journaled;

/*
 * The common call's count goes to the journal. With process durability, to this thread's segment:
 * one write, no hand-off, answered now (JOURNALED; or answered 503 at once if the write failed).
 * With fsync durability it is parked for the writer, which appends and fsyncs the batch before it
 * resumes it (JOURNALED_LATER). NOT_JOURNALED without a journal: the ledger commit counts it.
 */
static journaled journal_count(metering_call *c)
{
    metering *m = c->m;
    if (m->j == NULL)
        return NOT_JOURNALED;
    if (durable_commits(m)) {
        /* The writer appends the whole batch to its own segment: one write, one fsync for all. */
        park_for_writer(c, STAGE_SYNC);
        return JOURNALED_LATER;
    }
    if (loop_journal.m != m) {
        loop_journal.m = m;
        loop_journal.seg = NULL;
    }
    journal_entry e = entry_of(c);
    app_err jerr;
    app_err_clear(&jerr);
    if (journal_append(m->j, &loop_journal.seg, &e, 1, &jerr) != 0) {
        write_failed(m, SITE_JOURNAL_APPEND, &jerr, 1);
        c->rc = APP_STORE_UNAVAILABLE;
        c->stage = STAGE_SYNC;
        metering_continue(c); /* answered 503 as a failed commit is */
        return JOURNALED_LATER;
    }
    journal_wrote(m);
    return JOURNALED;
}

/* Renders the decided call's answer and queues its count (and stored answer) for the writer. */
static void serve(metering_call *c)
{
    metering *m = c->m;
    const char *why = NULL;
    app_err *err = NULL;
    int rc = c->req.render(&c->req, &c->view, &c->body, &why);
    if (rc != 0) {
        err = call_err(c);
        app_err_set(err, (app_code)rc, "%s", why ? why : "the answer could not be produced");
        if (c->decided)
            counters_refund(m->o.counters, c->req.who->account_id, &c->dec);
        fail(c);
        return;
    }
    if (!c->decided && !c->req.has_idem) {
        finish(c, 200, false); /* an internal plan: nothing to record */
        return;
    }
    if (c->decided) {
        delta_init(c);
        c->delta.requests = 1;
        c->delta.overage = c->dec.d.outcome == QUOTA_SERVE_OVERAGE ? 1 : 0;
        if (c->dec.first != COUNTERS_FIRST_NONE)
            c->audit = quota_audit(c, "quota.overage");
        note_alerts(c);
    }
    c->store_answer = c->req.has_idem;
    if (c->store_answer && c->body.n > 1) { /* stored byte for byte, and sent from the same bytes */
        size_t n = slices_len(&c->body);
        char *joined = m->o.host->alloc(c->req.caller, n ? n : 1);
        slices_join(&c->body, joined);
        c->body = slices_one(slice_make(joined, n));
    }
    journaled how =
        c->audit == NULL && c->nalerts == 0 && !c->store_answer && c->decided ? journal_count(c) : NOT_JOURNALED;
    if (how == JOURNALED) {
        counters_commit(m->o.counters, c->req.who->account_id, &c->dec);
        finish(c, 200, false);
    }
    if (how == NOT_JOURNALED)
        park_for_writer(c, STAGE_COMMIT);
}

/* A refusal: answered once it is recorded as blocked (or not, if the store failed: it stands). */
static void refuse(metering_call *c)
{
    metering *m = c->m;
    const principal *p = c->req.who;
    const quota_decision *d = &c->dec.d;
    int64_t reset = d->period == QUOTA_DAILY ? c->dec.p.day_end_ms : c->dec.p.month_end_ms;
    char resets_at[21];
    civil_format_rfc3339(reset, resets_at);
    log_write(m->o.log, LOG_WARN, "quota exceeded", "{s:I, s:s, s:s, s:I, s:I, s:s}", "account_id",
              (json_int_t)p->account_id, "key_id", p->key_id, "period", quota_period_name(d->period), "limit",
              (json_int_t)d->limit, "used", (json_int_t)d->used, "mode", mode_name(&p->limits));
    app_err *err = call_err(c);
    app_err_set(err, APP_B2B_QUOTA_EXCEEDED, "The %s limit of %lld calls is reached; it resets at %s.",
                quota_period_name(d->period), (long long)d->limit, resets_at);
    app_err_detail_str(err, "period", quota_period_name(d->period));
    app_err_detail_int(err, "limit", d->limit);
    app_err_detail_int(err, "used", d->used);
    app_err_detail_int(err, "remaining", 0);
    app_err_detail_str(err, "resets_at", resets_at);
    app_err_detail_str(err, "mode", mode_name(&p->limits));
    if (p->limits.mode == LIMIT_OVERAGE && p->limits.overage_cap.present)
        app_err_detail_int(err, "overage_cap", p->limits.overage_cap.v);
    delta_init(c);
    c->delta.blocked = 1;
    if (c->dec.first != COUNTERS_FIRST_NONE)
        c->audit = quota_audit(c, "quota.block");
    journaled how = c->audit == NULL ? journal_count(c) : NOT_JOURNALED;
    if (how == JOURNALED)
        fail(c);
    if (how == NOT_JOURNALED)
        park_for_writer(c, STAGE_RECORD_REFUSAL);
}

/* The rate limits' part of a decision into the call's view. */
static void view_rates(metering_call *c, const counters_decision *dec)
{
    c->view.rated = c->req.rate != NULL;
    c->view.rate_limited = dec->rate_limited;
    c->view.rate_scope = dec->rate_scope;
    memcpy(c->view.rate, dec->rate, sizeof c->view.rate);
}

static void on_decided(void *arg, const counters_decision *dec)
{
    metering_call *c = arg;
    metering *m = c->m;
    const principal *p = c->req.who;
    if (dec->rc != 0) {
        fail_code(c, (app_code)dec->rc, "the usage counters cannot be reached");
        return;
    }
    c->dec = *dec;
    c->decided = dec->reserved;
    if (c->admission || !p->metered) {
        c->view = (metering_view){.metered = false, .limits = p->limits};
        view_rates(c, dec);
    } else {
        c->view = (metering_view){.metered = true,
                                  .limits = p->limits,
                                  .day_used = dec->day_used,
                                  .month_used = dec->month_used,
                                  .day_reset_ms = dec->p.day_end_ms,
                                  .month_reset_ms = dec->p.month_end_ms,
                                  .overage = dec->d.outcome == QUOTA_SERVE_OVERAGE};
        view_rates(c, dec);
    }
    if (dec->rate_limited) {
        app_err_set(call_err(c), APP_RATE_LIMITED, NULL);
        fail(c);
        return;
    }
    if (c->admission) {
        finish(c, 200, false);
        return;
    }
    if (!p->metered) {
        serve(c);
        return;
    }
    if (dec->d.outcome != QUOTA_SERVE) {
        size_t slot = (dec->d.period == QUOTA_MONTHLY ? 2 : 0) + (p->limits.mode == LIMIT_OVERAGE ? 1 : 0);
        metrics_family_add(m->o.metrics, m->metric_exceeded, slot, 1);
    }
    if (dec->d.outcome == QUOTA_BLOCK) {
        refuse(c);
        return;
    }
    if (dec->d.outcome == QUOTA_SERVE_OVERAGE)
        log_write(m->o.log, LOG_INFO, "overage", "{s:I, s:s, s:s, s:I, s:I}", "account_id", (json_int_t)p->account_id,
                  "key_id", p->key_id, "period", quota_period_name(dec->d.period), "limit", (json_int_t)dec->d.limit,
                  "used", (json_int_t)dec->d.used);
    serve(c);
}

/*
 * The resume tokens of calls the shared counters answered, on the counters' thread, sent in one
 * go by flush_resumes (at the end of the counters' batch, or when full): one message per loop.
 */
#define RESUME_BATCH 256
static _Thread_local struct {
    void *tokens[RESUME_BATCH];
    size_t n;
    const metering_host *host;
} resumes;

static void flush_resumes(void *arg)
{
    (void)arg;
    if (resumes.n > 0)
        resumes.host->resume(resumes.tokens, resumes.n);
    resumes.n = 0;
}

static void resume_later(metering_call *c)
{
    resumes.host = c->m->o.host;
    resumes.tokens[resumes.n++] = c->token;
    if (resumes.n == RESUME_BATCH)
        flush_resumes(NULL);
}

/* Shared counters decide on a thread of their own: the decision travels back to the call's loop. */
static void on_decided_elsewhere(void *arg, const counters_decision *dec)
{
    metering_call *c = arg;
    metering *m = c->m;
    if (m->shared && dec->rc == 0 && dec->reserved)
        active_note(m, c->req.who->account_id, c->req.who->timezone);
    c->pending = *dec;
    if (m->batched_resumes)
        resume_later(c);
    else
        m->o.host->resume(&c->token, 1);
}

/*
 * Decides the call: its rate limits, and its quota when it is metered (an internal plan is served
 * uncounted). The counters decide both at once.
 */
static void decide(metering_call *c)
{
    const principal *p = c->req.who;
    bool quota = p->metered && !c->admission;
    if (!quota && c->req.rate == NULL) {
        c->view = (metering_view){.metered = false, .limits = p->limits};
        if (c->admission)
            finish(c, 200, false);
        else
            serve(c);
        return;
    }
    if (quota && ledger_down(c->m)) {
        /* The journal absorbs a short outage; past its grace, nothing more is counted or served
         * until the ledger answers again (the folder checks at least every second). */
        fail_code(c, APP_STORE_UNAVAILABLE, "the usage ledger cannot be reached");
        return;
    }
    counters_req creq = {.account_id = p->account_id,
                         .rate = c->req.rate,
                         .limits = quota ? &p->limits : NULL,
                         .zone = zone_of(c->m, quota ? p->timezone : NULL)};
    if (c->m->o.counters->ops->async) {
        c->stage = STAGE_DECIDE;
        c->token = c->m->o.host->park(c->req.caller, c);
        counters_reserve(c->m->o.counters, &creq, on_decided_elsewhere, c);
        return;
    }
    counters_reserve(c->m->o.counters, &creq, on_decided, c);
}

static void after_lookup(metering_call *c)
{
    if (c->rc == APP_NOT_FOUND) {
        decide(c);
        return;
    }
    if (c->rc != 0) {
        fail_code(c, (app_code)c->rc, "idempotency lookup failed");
        return;
    }
    bool same = sodium_memcmp(c->found.fingerprint, c->req.fingerprint, 32) == 0;
    if (same) {
        /* The stored answer, byte for byte: served once, counted once. */
        char *body = c->m->o.host->alloc(c->req.caller, c->found.body_len ? c->found.body_len : 1);
        memcpy(body, c->found.body, c->found.body_len);
        c->body = slices_one(slice_make(body, c->found.body_len));
    }
    free(c->found.body);
    c->found.body = NULL;
    if (!same) {
        app_err_set(call_err(c), APP_IDEMPOTENCY_CONFLICT, NULL);
        fail(c);
        return;
    }
    finish(c, 200, true);
}

static void after_commit(metering_call *c)
{
    metering *m = c->m;
    if (c->rc != 0) {
        /* Not in the ledger: not counted, not served. */
        if (c->decided)
            counters_refund(m->o.counters, c->req.who->account_id, &c->dec);
        alerts_not_written(c);
        fail_code(c, APP_STORE_UNAVAILABLE, "usage could not be recorded");
        return;
    }
    if (c->decided)
        counters_commit(m->o.counters, c->req.who->account_id, &c->dec);
    finish(c, 200, false);
}

static void after_refusal(metering_call *c)
{
    if (c->rc != 0 && c->dec.first != COUNTERS_FIRST_NONE) /* the audit was not written: the next one is first */
        counters_refund(c->m->o.counters, c->req.who->account_id, &c->dec);
    fail(c);
}

/* A call whose count was to be journaled: its append and fsync came back (or failed). */
static void after_sync(metering_call *c)
{
    metering *m = c->m;
    if (c->delta.blocked) {
        fail(c); /* the refusal stands either way */
        return;
    }
    if (c->rc != 0) {
        if (!c->journaled) /* the append failed: not counted anywhere */
            counters_refund(m->o.counters, c->req.who->account_id, &c->dec);
        else /* written, not known durable: it will be folded, but no 2xx leaves without its fsync */
            counters_commit(m->o.counters, c->req.who->account_id, &c->dec);
        fail_code(c, APP_STORE_UNAVAILABLE, "usage could not be recorded");
        return;
    }
    counters_commit(m->o.counters, c->req.who->account_id, &c->dec);
    finish(c, 200, false);
}

/* The shared claim of the call's Idempotency-Key came back: look its stored answer up once held. */
static void after_claim(metering_call *c)
{
    if (c->claim_rc != 0) {
        fail_code(c, (app_code)c->claim_rc, "the usage counters cannot be reached");
        return;
    }
    if (!c->claim_won) {
        fail_code(c, APP_IDEMPOTENCY_CONFLICT, "A request with this Idempotency-Key is still being served.");
        return;
    }
    c->claimed_shared = true;
    park_for_writer(c, STAGE_LOOKUP);
}

static void on_claimed_elsewhere(void *arg, int rc, bool claimed)
{
    metering_call *c = arg;
    c->claim_rc = rc;
    c->claim_won = claimed;
    if (c->m->batched_resumes)
        resume_later(c);
    else
        c->m->o.host->resume(&c->token, 1);
}

void metering_continue(metering_call *c)
{
    call_stage stage = c->stage;
    c->stage = STAGE_NONE;
    switch (stage) {
    case STAGE_LOOKUP: after_lookup(c); break;
    case STAGE_COMMIT: after_commit(c); break;
    case STAGE_RECORD_REFUSAL: after_refusal(c); break;
    case STAGE_SYNC: after_sync(c); break;
    case STAGE_DECIDE: on_decided(c, &c->pending); break;
    case STAGE_CLAIM: after_claim(c); break;
    default: assert(!"a call resumed that was not parked");
    }
}

void metering_admit(metering *m, const metering_request *req)
{
    metering_call *c = m->o.host->alloc(req->caller, sizeof *c);
    memset(c, 0, sizeof *c);
    c->m = m;
    c->req = *req;
    c->req.has_idem = false;
    c->admission = true;
    decide(c);
}

void metering_run(metering *m, const metering_request *req)
{
    metering_call *c = m->o.host->alloc(req->caller, sizeof *c);
    memset(c, 0, sizeof *c);
    c->m = m;
    c->req = *req;
    if (!req->who->has_contract) {
        c->req.has_idem = false; /* nothing claimed yet */
        fail_code(c, APP_FORBIDDEN, "This account has no contract yet; ask your account manager.");
        return;
    }
    if (!req->has_idem) {
        decide(c);
        return;
    }
    if (!idem_claim(m, req->who->account_id, req->idem_key)) {
        c->req.has_idem = false; /* the claim is another request's */
        fail_code(c, APP_IDEMPOTENCY_CONFLICT, "A request with this Idempotency-Key is still being served.");
        return;
    }
    if (counters_shares_claims(m->o.counters)) {
        /* Other processes may be serving the same key right now: the claim is shared too. */
        c->stage = STAGE_CLAIM;
        c->token = m->o.host->park(c->req.caller, c);
        counters_claim(m->o.counters, req->who->account_id, req->idem_key, on_claimed_elsewhere, c);
        return;
    }
    park_for_writer(c, STAGE_LOOKUP);
}

int metering_health(metering *m, app_err *err)
{
    if (atomic_load(&m->journal_down_since) == 0 && !ledger_down(m))
        return 0;
    char why[sizeof(((app_err *)0)->message)];
    pthread_mutex_lock(&m->emu);
    str_copy(why, sizeof why, m->write_error[0] != '\0' ? m->write_error : "the ledger does not answer");
    pthread_mutex_unlock(&m->emu);
    return app_err_set(err, APP_STORE_UNAVAILABLE, "calls cannot be counted now: %s", why);
}
