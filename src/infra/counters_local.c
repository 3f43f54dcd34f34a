/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The in-process counters (counters.h): decisions in memory, per account, under a shard's lock;
 * rate limits in the process's rate limiter (infra/ratelimit.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "infra/counters.h"
#include "infra/ratelimit.h"

/* Accounts spread over shards so that two callers contend only when their accounts share one. */
#define NSHARDS 64

enum {
    SEEN_DAY_BLOCK = 1u << 0,
    SEEN_MONTH_BLOCK = 1u << 1,
    SEEN_DAY_OVERAGE = 1u << 2,
    SEEN_MONTH_OVERAGE = 1u << 3,
};

/* One account's counts; account_id 0 marks a free slot (ids start at 1). */
typedef struct acct {
    int64_t account_id;
    int64_t last_ms; /* the latest instant decided: time never runs backwards for a counter */
    int64_t day_key, month_key;
    int64_t day_used, month_used;
    int64_t inflight;
    unsigned seen; /* SEEN_* of the current periods */
    /* The day and the month before the current ones: a contract whose zone moves west goes back
     * to the local date before, and finds its count again, as the ledger (rows by local date)
     * and the Redis counters (keys by local date) do. */
    int64_t prev_day_key, prev_month_key;
    int64_t prev_day_used, prev_month_used;
    unsigned prev_seen;
} acct;

/* An open-addressing table (linear probing, power-of-two size, at most half full). */
typedef struct shard {
    pthread_mutex_t mu;
    acct *slots;
    size_t n, cap;
} shard;

typedef struct local_counters {
    counters super;
    const app_clock *clock;
    ratelimiter *rates;
    shard shards[NSHARDS];
} local_counters;

static uint64_t mix(int64_t id)
{
    uint64_t x = (uint64_t)id;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static shard *shard_of(local_counters *c, int64_t id)
{
    return &c->shards[mix(id) % NSHARDS];
}

static acct *slot_find(acct *slots, size_t cap, int64_t id)
{
    size_t i = (size_t)(mix(id) >> 6) & (cap - 1);
    while (slots[i].account_id != 0 && slots[i].account_id != id)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* The account's slot, or NULL when it has none. Shard locked. */
static acct *acct_find(shard *sh, int64_t id)
{
    if (sh->cap == 0)
        return NULL;
    acct *a = slot_find(sh->slots, sh->cap, id);
    return a->account_id == id ? a : NULL;
}

/* The account's slot, created at zero in periods `p` when new. Shard locked. */
static acct *acct_add(shard *sh, int64_t id, const periods *p)
{
    acct *a = acct_find(sh, id);
    if (a != NULL)
        return a;
    if (2 * (sh->n + 1) > sh->cap) {
        size_t cap = sh->cap ? sh->cap * 2 : 16;
        acct *slots = xcalloc(cap, sizeof *slots);
        for (size_t i = 0; i < sh->cap; i++)
            if (sh->slots[i].account_id != 0)
                *slot_find(slots, cap, sh->slots[i].account_id) = sh->slots[i];
        free(sh->slots);
        sh->slots = slots;
        sh->cap = cap;
    }
    a = slot_find(sh->slots, sh->cap, id);
    memset(a, 0, sizeof *a);
    a->account_id = id;
    a->day_key = p->day_key;
    a->month_key = p->month_key;
    sh->n++;
    return a;
}

#define SEEN_DAY (SEEN_DAY_BLOCK | SEEN_DAY_OVERAGE)
#define SEEN_MONTH (SEEN_MONTH_BLOCK | SEEN_MONTH_OVERAGE)

/*
 * Makes `key` the current period of a pair (the day's or the month's), the one before it kept:
 * a later one starts at zero; the one before comes back with its count (its zone moved west); an
 * older one, unknown here, starts at zero.
 */
static void period_move(int64_t *cur_key, int64_t *cur_used, int64_t *prev_key, int64_t *prev_used, unsigned *seen,
                        unsigned *prev_seen, unsigned bits, int64_t key)
{
    if (key == *cur_key)
        return;
    int64_t k = *cur_key, u = *cur_used;
    unsigned s = *seen & bits;
    bool back = key == *prev_key;
    *cur_key = key;
    *cur_used = back ? *prev_used : 0;
    *seen = (*seen & ~bits) | (back ? *prev_seen & bits : 0u);
    if (key > k || back) { /* the period left behind is the one before, or (going back) the one after */
        *prev_key = k;
        *prev_used = u;
        *prev_seen = (*prev_seen & ~bits) | s;
    }
}

/* Moves the account to periods `p` if they are later than its own: a new day starts at zero. */
static void roll_forward(acct *a, const periods *p)
{
    if (p->day_key > a->day_key)
        period_move(&a->day_key, &a->day_used, &a->prev_day_key, &a->prev_day_used, &a->seen, &a->prev_seen, SEEN_DAY,
                    p->day_key);
    if (p->month_key > a->month_key)
        period_move(&a->month_key, &a->month_used, &a->prev_month_key, &a->prev_month_used, &a->seen, &a->prev_seen,
                    SEEN_MONTH, p->month_key);
}

/* Moves the account to periods `p`, later or earlier (a contract whose zone moved). */
static void roll_to(acct *a, const periods *p)
{
    period_move(&a->day_key, &a->day_used, &a->prev_day_key, &a->prev_day_used, &a->seen, &a->prev_seen, SEEN_DAY,
                p->day_key);
    period_move(&a->month_key, &a->month_used, &a->prev_month_key, &a->prev_month_used, &a->seen, &a->prev_seen,
                SEEN_MONTH, p->month_key);
}

static unsigned seen_bit(counters_first f)
{
    switch (f) {
    case COUNTERS_FIRST_DAY_BLOCK: return SEEN_DAY_BLOCK;
    case COUNTERS_FIRST_MONTH_BLOCK: return SEEN_MONTH_BLOCK;
    case COUNTERS_FIRST_DAY_OVERAGE: return SEEN_DAY_OVERAGE;
    case COUNTERS_FIRST_MONTH_OVERAGE: return SEEN_MONTH_OVERAGE;
    default: return 0;
    }
}

/* Takes the call's rate limits, all or none (counters_scope is rl_scope's order). False: refused. */
static bool take_rates(local_counters *c, const counters_rate *r, int64_t now_ms, counters_decision *dec)
{
    int64_t now_ns = now_ms * 1000000;
    for (int i = 0; i < COUNTERS_RATES; i++) {
        dec->rate[i] = ratelimiter_take(c->rates, (rl_scope)i, (uint64_t)r->id[i], r->policy[i], now_ns);
        if (!dec->rate[i].allowed) {
            for (int j = 0; j < i; j++)
                ratelimiter_refund(c->rates, (rl_scope)j, (uint64_t)r->id[j], r->policy[j], now_ns);
            dec->rate_limited = true;
            dec->rate_scope = (counters_scope)i;
            return false;
        }
    }
    return true;
}

static void local_reserve(counters *self, const counters_req *req, counters_decided_fn decided, void *arg)
{
    local_counters *c = (local_counters *)self;
    counters_decision dec;
    memset(&dec, 0, sizeof dec);
    if ((req->rate != NULL && !take_rates(c, req->rate, clock_now_ms(c->clock), &dec)) || req->limits == NULL) {
        dec.now_ms = clock_now_ms(c->clock);
        decided(arg, &dec);
        return;
    }
    /* The periods are computed outside the lock; again inside only if another caller decided a
     * later instant meanwhile (a call that read the clock before midnight but arrives after one
     * that read it after must not reset the new day's count). */
    int64_t now = clock_now_ms(c->clock);
    periods p = period_at(req->zone, now);
    shard *sh = shard_of(c, req->account_id);
    pthread_mutex_lock(&sh->mu);
    acct *a = acct_add(sh, req->account_id, &p);
    if (a->last_ms > now) {
        now = a->last_ms;
        p = period_at(req->zone, now);
    }
    a->last_ms = now;
    roll_to(a, &p);
    dec.d = quota_decide(req->limits, a->day_used, a->month_used);
    if (dec.d.outcome != QUOTA_BLOCK) {
        a->day_used++;
        a->month_used++;
        a->inflight++;
        dec.reserved = true;
    }
    counters_first first = counters_first_of(&dec.d);
    if (first != COUNTERS_FIRST_NONE && !(a->seen & seen_bit(first))) {
        a->seen |= seen_bit(first);
        dec.first = first;
    }
    dec.day_used = a->day_used;
    dec.month_used = a->month_used;
    pthread_mutex_unlock(&sh->mu);
    dec.now_ms = now;
    dec.p = p;
    decided(arg, &dec);
}

static void local_commit(counters *self, int64_t account_id, const counters_decision *dec)
{
    local_counters *c = (local_counters *)self;
    if (!dec->reserved)
        return;
    shard *sh = shard_of(c, account_id);
    pthread_mutex_lock(&sh->mu);
    acct *a = acct_find(sh, account_id);
    if (a != NULL && a->inflight > 0)
        a->inflight--;
    pthread_mutex_unlock(&sh->mu);
}

static void local_refund(counters *self, int64_t account_id, const counters_decision *dec)
{
    local_counters *c = (local_counters *)self;
    shard *sh = shard_of(c, account_id);
    pthread_mutex_lock(&sh->mu);
    acct *a = acct_find(sh, account_id);
    if (a != NULL) {
        bool same_day = a->day_key == dec->p.day_key, same_month = a->month_key == dec->p.month_key;
        if (dec->reserved) {
            /* Only in the periods the call was reserved in: after a rollover nothing is owed. */
            if (same_day && a->day_used > 0)
                a->day_used--;
            if (same_month && a->month_used > 0)
                a->month_used--;
            if (a->inflight > 0)
                a->inflight--;
        }
        bool daily = dec->first == COUNTERS_FIRST_DAY_BLOCK || dec->first == COUNTERS_FIRST_DAY_OVERAGE;
        if (dec->first != COUNTERS_FIRST_NONE && (daily ? same_day : same_month))
            a->seen &= ~seen_bit(dec->first);
    }
    pthread_mutex_unlock(&sh->mu);
}

static int local_read(counters *self, int64_t account_id, period_zone zone, counters_usage *out, app_err *err)
{
    (void)err;
    local_counters *c = (local_counters *)self;
    memset(out, 0, sizeof *out);
    int64_t now = clock_now_ms(c->clock);
    shard *sh = shard_of(c, account_id);
    pthread_mutex_lock(&sh->mu);
    acct *a = acct_find(sh, account_id);
    if (a != NULL) {
        periods p = period_at(zone, now > a->last_ms ? now : a->last_ms);
        out->day_used = p.day_key == a->day_key ? a->day_used : p.day_key == a->prev_day_key ? a->prev_day_used : 0;
        out->month_used = p.month_key == a->month_key        ? a->month_used
                          : p.month_key == a->prev_month_key ? a->prev_month_used
                                                             : 0;
        out->inflight = a->inflight;
    }
    pthread_mutex_unlock(&sh->mu);
    return 0;
}

static void local_seed(counters *self, const counters_seed_row *row)
{
    local_counters *c = (local_counters *)self;
    shard *sh = shard_of(c, row->account_id);
    pthread_mutex_lock(&sh->mu);
    acct *a = acct_add(sh, row->account_id, &row->p);
    roll_forward(a, &row->p);
    if (a->day_key == row->p.day_key) {
        a->day_used = row->day_used;
        a->seen &= ~(unsigned)(SEEN_DAY_BLOCK | SEEN_DAY_OVERAGE);
        a->seen |= (row->day_blocked ? SEEN_DAY_BLOCK : 0u) | (row->day_overage ? SEEN_DAY_OVERAGE : 0u);
    }
    if (a->month_key == row->p.month_key) {
        a->month_used = row->month_used;
        a->seen &= ~(unsigned)(SEEN_MONTH_BLOCK | SEEN_MONTH_OVERAGE);
        a->seen |= (row->month_blocked ? SEEN_MONTH_BLOCK : 0u) | (row->month_overage ? SEEN_MONTH_OVERAGE : 0u);
    }
    pthread_mutex_unlock(&sh->mu);
}

static void local_free(counters *self)
{
    local_counters *c = (local_counters *)self;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_destroy(&c->shards[i].mu);
        free(c->shards[i].slots);
    }
    ratelimiter_free(c->rates);
    free(c);
}

static const struct counters_ops local_ops = {
    .name = "local",
    .async = false,
    .reserve = local_reserve,
    .commit = local_commit,
    .refund = local_refund,
    .read = local_read,
    .seed = local_seed,
    .free = local_free,
};

counters *counters_local_new(const app_clock *clock)
{
    local_counters *c = xcalloc(1, sizeof *c);
    c->super.ops = &local_ops;
    c->clock = clock;
    c->rates = ratelimiter_new();
    for (int i = 0; i < NSHARDS; i++)
        pthread_mutex_init(&c->shards[i].mu, NULL);
    return &c->super;
}
