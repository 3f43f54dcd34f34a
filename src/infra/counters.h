/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_COUNTERS_H
#define STARMETER_INFRA_COUNTERS_H

/*
 * The counters that decide a metered call: per account, the calls served in the current day and
 * month of the contract's time zone. A reservation is the contract's decision (domain/quota.c)
 * and the increment that goes with it, made atomically, so in block mode exactly `limit` calls
 * pass however many callers ask at once. The ledger (the store's enterprise_daily_usages) records
 * what was served; the counters only decide, and are seeded from the ledger at start.
 *
 * A table of function pointers like store.h, so a shared implementation (Redis, for several
 * nodes) plugs in without touching the metering service: its decision may come later, from a
 * round trip, which is why reserve answers through a callback. The in-process implementation
 * (counters_local_new) decides in memory and calls back before reserve returns.
 */
#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/evloop.h"
#include "domain/gcra.h"
#include "domain/model.h"
#include "domain/period.h"
#include "domain/quota.h"

typedef struct counters counters;

/* The rate limits a call takes, in this order (GCRA, domain/gcra.h). */
typedef enum counters_scope {
    COUNTERS_RATE_GLOBAL = 0,
    COUNTERS_RATE_ACCOUNT,
    COUNTERS_RATE_CREDENTIAL
} counters_scope;
#define COUNTERS_RATES 3

/* A call's rate limits: each scope's policy and whose bucket it is (the global one is id 0). */
typedef struct counters_rate {
    gcra_policy policy[COUNTERS_RATES];
    int64_t id[COUNTERS_RATES];
} counters_rate;

/*
 * What a reservation asks: whose call, under which rate limits and contract, in which time zone.
 * Borrowed. The rate limits are taken first, all or none: a call one of them refuses is decided
 * no further (nothing taken, nothing counted). Without limits (NULL) only the rate limits are
 * decided (a call that is not metered); without rate (NULL) only the contract.
 */
typedef struct counters_req {
    int64_t account_id;
    const counters_rate *rate;
    const limits *limits;
    period_zone zone; /* the contract's zone; its periods are computed at the counters' own clock */
} counters_req;

/* The first refusal or the first overage of a period: the one quota decision that is audited. */
typedef enum counters_first {
    COUNTERS_FIRST_NONE = 0,
    COUNTERS_FIRST_DAY_BLOCK,
    COUNTERS_FIRST_MONTH_BLOCK,
    COUNTERS_FIRST_DAY_OVERAGE,
    COUNTERS_FIRST_MONTH_OVERAGE,
} counters_first;

/* The answer to a reservation. */
typedef struct counters_decision {
    int rc;                           /* 0, or an error code (the counters cannot be reached): nothing reserved */
    bool rate_limited;                /* a rate limit refused the call: nothing taken or reserved */
    counters_scope rate_scope;        /* which one, when rate_limited */
    gcra_result rate[COUNTERS_RATES]; /* each scope's standing after this decision (when req->rate) */
    bool degraded;                    /* decided by this process alone, the shared counters being unreachable */
    quota_decision d;                 /* serve, serve as overage, or block, and the period that decided */
    bool reserved;                    /* a call was counted: end it with counters_commit or counters_refund */
    counters_first first;             /* this decision is the first of its kind in its period */
    int64_t now_ms;                   /* the instant decided (never earlier than an earlier decision's) */
    periods p;                        /* the day and month it was decided in */
    int64_t day_used, month_used;     /* after this decision */
} counters_decision;

/* The kind of `first` a quota decision would be (NONE for a call served within its limits). */
static inline counters_first counters_first_of(const quota_decision *d)
{
    bool daily = d->period == QUOTA_DAILY;
    switch (d->outcome) {
    case QUOTA_BLOCK: return daily ? COUNTERS_FIRST_DAY_BLOCK : COUNTERS_FIRST_MONTH_BLOCK;
    case QUOTA_SERVE_OVERAGE: return daily ? COUNTERS_FIRST_DAY_OVERAGE : COUNTERS_FIRST_MONTH_OVERAGE;
    default: return COUNTERS_FIRST_NONE;
    }
}

/* Receives a decision; `dec` is borrowed for the duration of the call. */
typedef void (*counters_decided_fn)(void *arg, const counters_decision *dec);

/*
 * Receives the answer to a claim: rc 0 or an error code (the counters cannot be reached), and
 * whether this process now holds the claim.
 */
typedef void (*counters_claimed_fn)(void *arg, int rc, bool claimed);

/* How long a claim lives when its holder never releases it (a process that died). */
#define COUNTERS_CLAIM_TTL_MS 30000

/* An account's counts as the counters hold them. */
typedef struct counters_usage {
    int64_t day_used, month_used; /* reserved calls included */
    int64_t inflight;             /* reserved, neither committed nor refunded yet */
} counters_usage;

/* An account's standing in periods `p`, as the ledger records it. */
typedef struct counters_seed_row {
    int64_t account_id;
    periods p;
    int64_t day_used, month_used;    /* calls served, overage included */
    bool day_blocked, month_blocked; /* a refusal is already recorded in the period */
    bool day_overage, month_overage; /* an overage is already recorded in the period */
} counters_seed_row;

/*
 * The ledger's standing of row->account_id in periods row->p (both set by the caller): fills the
 * rest of `row`. 0, or an error code when the ledger cannot answer.
 */
typedef int (*counters_seeder_fn)(void *arg, counters_seed_row *row);

struct counters_ops {
    const char *name;
    /*
     * When true, `decided` runs on a thread of the counters' own, later; the caller moves it to its
     * loop (an allowed variant of reserve's "before returning, or later on the calling thread's
     * event loop"). False for the local counters, true for Redis.
     */
    bool async;
    /*
     * Decides the next call of req->account_id and reserves it when it is served. Calls `decided`
     * exactly once: before returning, or later on the calling thread's event loop.
     */
    void (*reserve)(counters *self, const counters_req *req, counters_decided_fn decided, void *arg);
    /* The reserved call was served and its count is in the ledger. */
    void (*commit)(counters *self, int64_t account_id, const counters_decision *dec);
    /*
     * The decision did not stand: the reserved call was not served (its count is given back, in
     * the periods it was reserved in only), and a `first` decision was not recorded (the next
     * decision of its kind in that period is the first again).
     */
    void (*refund)(counters *self, int64_t account_id, const counters_decision *dec);
    /* The account's counts at the counters' clock, in `zone` (zero for an unknown account). */
    int (*read)(counters *self, int64_t account_id, period_zone zone, counters_usage *out, app_err *err);
    /* Sets an account's counts from the ledger (at start, or when the counters lost them). */
    void (*seed)(counters *self, const counters_seed_row *row);
    /*
     * For counters that can lose their counts (Redis), NULL for the others. set_seeder: where a
     * reservation's period has no counter (a restart, a flush, a new period), ask `fn` (with `arg`,
     * borrowed) for the ledger's figures, create the missing counters from them (nodes seeding at
     * once keep the first seed) and decide then; a reservation the seeder cannot answer for is
     * decided unavailable. `fn` runs on the counters' own thread, may block on the store, and must
     * not call the counters. Set once, before the first reservation. raise: reconciliation with
     * the ledger, lifting the account's counters of periods row->p to at least row->day_used and
     * row->month_used, never lowering them (other nodes' calls may be counted and not yet folded);
     * *before gets what they held (-1: missing). Waits for the round trip: not from `decided`.
     */
    void (*set_seeder)(counters *self, counters_seeder_fn fn, void *arg);
    int (*raise)(counters *self, const counters_seed_row *row, counters_usage *before, app_err *err);
    /*
     * For counters shared by several processes, NULL for the others: claim an Idempotency-Key of
     * an account for as long as its call is being served, so a duplicate sent to another process
     * at the same time is told so. `done` runs once, as reserve's `decided` does (on the counters'
     * thread when async). A claim not released lapses after COUNTERS_CLAIM_TTL_MS. release gives
     * back a claim this process holds (queued, not waited for).
     */
    void (*claim)(counters *self, int64_t account_id, const char *key, counters_claimed_fn done, void *arg);
    void (*release)(counters *self, int64_t account_id, const char *key);
    /*
     * For shared counters that may decide alone (Redis in open mode), NULL for the others: true
     * while the shared counters cannot be reached and this process decides from its own counts
     * (decisions then have `degraded` set). Any thread.
     */
    bool (*degraded)(counters *self);
    /*
     * For async counters, NULL for the others: after a run of `decided` and `done` callbacks on
     * its thread, and before it waits for more work, the counters call `flush(arg)` there, so a
     * caller can gather what those callbacks hand on (one wake-up per event loop, not one per
     * call) and send it in one go. Set once, before the first reservation.
     */
    void (*set_flush)(counters *self, void (*flush)(void *arg), void *arg);
    /*
     * For async counters, NULL for the others: hands what the calling thread reserved since its
     * previous call to the counters' thread in one go (one lock, one wake-up and one batch for an
     * event loop's iteration, not one per call). Once a thread has called it, its reservations
     * wait for its next call (its other requests take them along, in order), so it must call it
     * after every run of work that may reserve (an event loop: after every iteration); until then
     * a thread's reservations are handed over one by one. Calling thread only. Returns true when it
     * kept a small batch back to gather more: the caller runs once more without waiting (an event
     * loop: an iteration with a zero timeout) and calls it again, which hands it over then.
     */
    bool (*hand_over)(counters *self);
    /*
     * For async counters that can talk from an event loop, NULL for the others: attach_loop lends
     * the calling thread's event loop (core/evloop.h) to the counters, from before its first
     * iteration (the thread then hands over as above) until detach_loop, called on the same
     * thread after its last iteration, when none of its reservations is awaited any more. While
     * attached, `decided` may run on that loop, in one of its iterations, instead of the counters'
     * thread; the flush hook then runs there too, after those callbacks. One attached loop may
     * carry the others' requests (their `decided` then runs on it): loop_busy, on a loop's
     * thread, is true while that loop still carries requests, and a stopping loop iterates until
     * it is false (or its time is up) before it calls detach_loop. NULL: never busy.
     */
    void (*attach_loop)(counters *self, ev_loop *loop);
    void (*detach_loop)(counters *self);
    bool (*loop_busy)(counters *self);
    /* Frees the counters; NULL does nothing. */
    void (*free)(counters *self);
};

struct counters {
    const struct counters_ops *ops;
};

static inline void counters_reserve(counters *c, const counters_req *req, counters_decided_fn decided, void *arg)
{
    c->ops->reserve(c, req, decided, arg);
}
static inline void counters_commit(counters *c, int64_t account_id, const counters_decision *dec)
{
    c->ops->commit(c, account_id, dec);
}
static inline void counters_refund(counters *c, int64_t account_id, const counters_decision *dec)
{
    c->ops->refund(c, account_id, dec);
}
static inline int counters_read(counters *c, int64_t account_id, period_zone zone, counters_usage *out, app_err *err)
{
    return c->ops->read(c, account_id, zone, out, err);
}
static inline void counters_seed(counters *c, const counters_seed_row *row)
{
    c->ops->seed(c, row);
}
/* Gives the counters a seeder; false (nothing done) when they never lose their counts. */
static inline bool counters_set_seeder(counters *c, counters_seeder_fn fn, void *arg)
{
    if (c->ops->set_seeder == NULL)
        return false;
    c->ops->set_seeder(c, fn, arg);
    return true;
}
/* Raises lost counts to the ledger's (see raise); 0 without anything to do for other counters. */
static inline int counters_raise(counters *c, const counters_seed_row *row, counters_usage *before, app_err *err)
{
    return c->ops->raise != NULL ? c->ops->raise(c, row, before, err) : 0;
}
/* True when the counters share Idempotency-Key claims between processes (claim is not NULL). */
static inline bool counters_shares_claims(const counters *c)
{
    return c->ops->claim != NULL;
}
static inline void counters_claim(counters *c, int64_t account_id, const char *key, counters_claimed_fn done, void *arg)
{
    c->ops->claim(c, account_id, key, done, arg);
}
static inline void counters_release(counters *c, int64_t account_id, const char *key)
{
    c->ops->release(c, account_id, key);
}
/* Sets the flush hook of async counters (see set_flush); false (nothing done) for the others. */
static inline bool counters_set_flush(counters *c, void (*flush)(void *arg), void *arg)
{
    if (c->ops->set_flush == NULL)
        return false;
    c->ops->set_flush(c, flush, arg);
    return true;
}
/*
 * Hands over this thread's reservations (see hand_over); nothing for counters without it. True:
 * run once more without waiting, then call it again.
 */
static inline bool counters_hand_over(counters *c)
{
    return c->ops->hand_over != NULL && c->ops->hand_over(c);
}
/* Lends this thread's event loop to the counters, or takes it back (see attach_loop). */
static inline void counters_attach_loop(counters *c, ev_loop *loop)
{
    if (c->ops->attach_loop != NULL)
        c->ops->attach_loop(c, loop);
}
static inline void counters_detach_loop(counters *c)
{
    if (c->ops->detach_loop != NULL)
        c->ops->detach_loop(c);
}
/* Whether this thread's loop still carries requests (see attach_loop). */
static inline bool counters_loop_busy(counters *c)
{
    return c->ops->loop_busy != NULL && c->ops->loop_busy(c);
}
/* True while this process decides alone (see degraded); false for counters that never do. */
static inline bool counters_degraded(counters *c)
{
    return c->ops->degraded != NULL && c->ops->degraded(c);
}
static inline void counters_free(counters *c)
{
    if (c != NULL)
        c->ops->free(c);
}

/*
 * The in-process counters: sharded by account, each shard an open-addressing table under its own
 * mutex, decisions made and called back before counters_reserve returns. Time comes from `clock`
 * (borrowed; a test clock in tests) and never runs backwards for an account. The caller owns the
 * result (counters_free).
 */
counters *counters_local_new(const app_clock *clock);

/*
 * The Redis counters (infra/counters_redis.c), shared by every node on the same Redis and exact
 * across them: reservations are decided (domain/quota.c's rule) and counted atomically by a Lua
 * script, one run for the reservations queued together. `uri` is "redis://host:port/db" (port
 * 6379 and db 0 when absent). Periods come from `clock` (borrowed) as it is, with no per-account
 * monotonicity. Reservations and refunds are queued to one connection thread that pipelines them
 * (an event loop's once per iteration, with hand_over), or sent on an attached loop's connection
 * (attach_loop); `decided` runs on that thread, or that loop (ops->async),
 * with dec->rc = APP_COUNTERS_UNAVAILABLE when Redis cannot be reached (the thread reconnects by
 * itself). With `fail_open`, a reservation Redis cannot answer is decided by this process alone
 * instead (dec->degraded), from the ledger's figures (the seeder's) and its own calls since, and a
 * claim is granted; when Redis is back its counters are raised to what this process counted.
 * The rate limits and the rule are the same; only their scope shrinks to one process. commit does
 * nothing for a decision of Redis (a reservation is already counted). read and seed wait for their
 * round trip through the same queue, so `decided` must not call them; read reports inflight as 0
 * (Redis does not track commits). Returns NULL with `err`: APP_VALIDATION_ERROR for a malformed
 * uri, or APP_COUNTERS_UNAVAILABLE when Redis cannot be reached at start without `fail_open` (with
 * it, the counters start all the same and decide alone until they connect). The caller owns the
 * result (counters_free, which fails what is still queued).
 */
counters *counters_redis_new(const char *uri, const app_clock *clock, bool fail_open, app_err *err);

#endif
