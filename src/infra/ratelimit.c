/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "infra/ratelimit.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define NSHARDS 64

typedef struct slot {
    uint64_t key; /* 0: empty */
    int64_t tat;
} slot;

typedef struct shard {
    pthread_mutex_t mu;
    slot *slots;
    size_t cap; /* power of two */
    size_t used;
} shard;

struct ratelimiter {
    /*
     * The global bucket (RL_GLOBAL, id 0) is taken by every call: it is one atomic TAT updated by
     * compare-and-swap rather than a shard, so callers never queue on a mutex. A CAS that loses
     * recomputes from the TAT that won, so decisions are those of some serial order, as under a
     * lock. Its own cache line keeps the shards' traffic off it.
     */
    alignas(64) _Atomic int64_t global_tat;
    alignas(64) shard shards[NSHARDS];
};

static const char *const scope_names[RL_SCOPE_COUNT] = {"global", "account", "credential", "auth_failure"};

const char *rl_scope_name(rl_scope s)
{
    return s < RL_SCOPE_COUNT ? scope_names[s] : "unknown";
}

/* One 64-bit key per (scope, id), never 0. A splitmix finaliser spreads ids over shards and slots. */
static uint64_t mix(rl_scope scope, uint64_t id)
{
    uint64_t z = id * 4 + (uint64_t)scope + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z ? z : 1;
}

ratelimiter *ratelimiter_new(void)
{
    /* The struct asks for cache-line alignment, which malloc does not promise. */
    ratelimiter *rl = aligned_alloc(alignof(ratelimiter), sizeof *rl);
    if (rl == NULL)
        abort();
    memset(rl, 0, sizeof *rl);
    atomic_init(&rl->global_tat, 0);
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_init(&rl->shards[i].mu, NULL);
        rl->shards[i].cap = 16;
        rl->shards[i].slots = xcalloc(16, sizeof(slot));
    }
    return rl;
}

void ratelimiter_free(ratelimiter *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_destroy(&rl->shards[i].mu);
        free(rl->shards[i].slots);
    }
    free(rl);
}

static void insert_raw(slot *slots, size_t cap, uint64_t key, int64_t tat)
{
    size_t i = (key >> 6) & (cap - 1);
    while (slots[i].key != 0)
        i = (i + 1) & (cap - 1);
    slots[i].key = key;
    slots[i].tat = tat;
}

/* Rebuilds the shard without its idle keys, growing it if the live ones still fill half of it. */
static void compact(shard *sh, int64_t now_ns)
{
    size_t live = 0;
    for (size_t i = 0; i < sh->cap; i++)
        if (sh->slots[i].key != 0 && !gcra_idle(sh->slots[i].tat, now_ns))
            live++;
    size_t cap = 16;
    while (cap < live * 4)
        cap *= 2;
    slot *fresh = xcalloc(cap, sizeof *fresh);
    for (size_t i = 0; i < sh->cap; i++)
        if (sh->slots[i].key != 0 && !gcra_idle(sh->slots[i].tat, now_ns))
            insert_raw(fresh, cap, sh->slots[i].key, sh->slots[i].tat);
    free(sh->slots);
    sh->slots = fresh;
    sh->cap = cap;
    sh->used = live;
}

/* The slot of `key`, created (tat 0) when `create`; NULL when absent and not created. */
static slot *find(shard *sh, uint64_t key, bool create, int64_t now_ns)
{
    size_t i = (key >> 6) & (sh->cap - 1);
    while (sh->slots[i].key != 0) {
        if (sh->slots[i].key == key)
            return &sh->slots[i];
        i = (i + 1) & (sh->cap - 1);
    }
    if (!create)
        return NULL;
    if ((sh->used + 1) * 2 > sh->cap) {
        compact(sh, now_ns);
        return find(sh, key, true, now_ns);
    }
    sh->slots[i].key = key;
    sh->slots[i].tat = 0;
    sh->used++;
    return &sh->slots[i];
}

static bool is_global(rl_scope scope, uint64_t id)
{
    return scope == RL_GLOBAL && id == 0;
}

static gcra_result global_take(ratelimiter *rl, gcra_policy p, int64_t now_ns)
{
    int64_t seen = atomic_load_explicit(&rl->global_tat, memory_order_relaxed);
    for (;;) {
        int64_t tat = seen;
        gcra_result r = gcra_take(&tat, now_ns, p);
        /* Refused leaves the TAT as it was: nothing to publish, and the decision stands for `seen`. */
        if (!r.allowed || atomic_compare_exchange_weak_explicit(&rl->global_tat, &seen, tat, memory_order_relaxed,
                                                                memory_order_relaxed))
            return r;
    }
}

static void global_refund(ratelimiter *rl, gcra_policy p, int64_t now_ns)
{
    int64_t seen = atomic_load_explicit(&rl->global_tat, memory_order_relaxed);
    for (;;) {
        int64_t tat = seen;
        gcra_refund(&tat, now_ns, p);
        if (atomic_compare_exchange_weak_explicit(&rl->global_tat, &seen, tat, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

gcra_result ratelimiter_take(ratelimiter *rl, rl_scope scope, uint64_t id, gcra_policy p, int64_t now_ns)
{
    if (is_global(scope, id))
        return global_take(rl, p, now_ns);
    uint64_t key = mix(scope, id);
    shard *sh = &rl->shards[key % NSHARDS];
    pthread_mutex_lock(&sh->mu);
    gcra_result r = gcra_take(&find(sh, key, true, now_ns)->tat, now_ns, p);
    pthread_mutex_unlock(&sh->mu);
    return r;
}

void ratelimiter_refund(ratelimiter *rl, rl_scope scope, uint64_t id, gcra_policy p, int64_t now_ns)
{
    if (is_global(scope, id)) {
        /* As for a shard: a key never taken has nothing to give back. */
        if (atomic_load_explicit(&rl->global_tat, memory_order_relaxed) != 0)
            global_refund(rl, p, now_ns);
        return;
    }
    uint64_t key = mix(scope, id);
    shard *sh = &rl->shards[key % NSHARDS];
    pthread_mutex_lock(&sh->mu);
    slot *s = find(sh, key, false, now_ns);
    if (s != NULL)
        gcra_refund(&s->tat, now_ns, p);
    pthread_mutex_unlock(&sh->mu);
}

gcra_result ratelimiter_peek(ratelimiter *rl, rl_scope scope, uint64_t id, gcra_policy p, int64_t now_ns)
{
    if (is_global(scope, id)) {
        int64_t tat = atomic_load_explicit(&rl->global_tat, memory_order_relaxed);
        return gcra_take(&tat, now_ns, p);
    }
    uint64_t key = mix(scope, id);
    shard *sh = &rl->shards[key % NSHARDS];
    pthread_mutex_lock(&sh->mu);
    slot *s = find(sh, key, false, now_ns);
    int64_t tat = s ? s->tat : 0;
    pthread_mutex_unlock(&sh->mu);
    return gcra_take(&tat, now_ns, p);
}

size_t ratelimiter_size(ratelimiter *rl)
{
    /* The global bucket counts as a key once taken, as it did when it lived in a shard. */
    size_t n = atomic_load_explicit(&rl->global_tat, memory_order_relaxed) != 0;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&rl->shards[i].mu);
        n += rl->shards[i].used;
        pthread_mutex_unlock(&rl->shards[i].mu);
    }
    return n;
}
