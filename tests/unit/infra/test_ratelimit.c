/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "infra/ratelimit.h"

#define S 1000000000LL
#define THREADS 4
#define BURST 20000

typedef struct race {
    ratelimiter *rl;
    rl_scope scope;
    uint64_t id;
    gcra_policy p;
    int64_t now;
    int tries;
    _Atomic int allowed;
    _Atomic unsigned char *seen; /* seen[remaining] counts the allowed calls that reported it */
} race;

static void *take_many(void *arg)
{
    race *r = arg;
    for (int i = 0; i < r->tries; i++) {
        gcra_result g = ratelimiter_take(r->rl, r->scope, r->id, r->p, r->now);
        if (g.allowed) {
            atomic_fetch_add(&r->allowed, 1);
            cr_assert(g.remaining >= 0 && g.remaining < r->p.burst);
            atomic_fetch_add(&r->seen[g.remaining], 1);
        }
    }
    return NULL;
}

/*
 * Threads race for one bucket at one instant: exactly `burst` calls pass, and each reports a
 * different `remaining`, as if they had been taken one after the other.
 */
static void check_exact_under_threads(rl_scope scope, uint64_t id)
{
    race r = {.rl = ratelimiter_new(),
              .scope = scope,
              .id = id,
              .p = {.rate_per_second = 1, .burst = BURST},
              .now = 100 * S,
              .tries = BURST};
    r.seen = calloc(BURST, sizeof *r.seen);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, take_many, &r), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&r.allowed), BURST);
    for (int i = 0; i < BURST; i++)
        cr_assert_eq(atomic_load(&r.seen[i]), 1, "remaining %d reported %d times", i, (int)atomic_load(&r.seen[i]));
    cr_assert(!ratelimiter_peek(r.rl, scope, id, r.p, r.now).allowed);
    free(r.seen);
    ratelimiter_free(r.rl);
}

Test(ratelimiter, global_bucket_is_exact_under_threads)
{
    check_exact_under_threads(RL_GLOBAL, 0);
}

Test(ratelimiter, sharded_bucket_is_exact_under_threads)
{
    check_exact_under_threads(RL_ACCOUNT, 42);
}

/* The global bucket decides as a shard does: the same answers for the same sequence. */
Test(ratelimiter, global_bucket_decides_like_a_shard)
{
    ratelimiter *rl = ratelimiter_new();
    gcra_policy p = {.rate_per_second = 7, .burst = 3};
    uint64_t state = 88172645463325252ull;
    int64_t now = 5 * S;
    cr_assert_eq(ratelimiter_size(rl), 0);
    ratelimiter_refund(rl, RL_GLOBAL, 0, p, now); /* nothing taken: nothing to give back */
    cr_assert_eq(ratelimiter_size(rl), 0);
    for (int i = 0; i < 20000; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        now += (int64_t)(state % (S / 5));
        int op = (int)(state >> 60) % 4;
        if (op == 3) {
            ratelimiter_refund(rl, RL_GLOBAL, 0, p, now);
            ratelimiter_refund(rl, RL_CREDENTIAL, 0, p, now);
            continue;
        }
        gcra_result g =
            op == 2 ? ratelimiter_peek(rl, RL_GLOBAL, 0, p, now) : ratelimiter_take(rl, RL_GLOBAL, 0, p, now);
        gcra_result c =
            op == 2 ? ratelimiter_peek(rl, RL_CREDENTIAL, 0, p, now) : ratelimiter_take(rl, RL_CREDENTIAL, 0, p, now);
        cr_assert_eq(g.allowed, c.allowed, "step %d", i);
        cr_assert_eq(g.remaining, c.remaining, "step %d", i);
        cr_assert_eq(g.reset_ns, c.reset_ns, "step %d", i);
        cr_assert_eq(g.retry_after_ns, c.retry_after_ns, "step %d", i);
    }
    cr_assert_eq(ratelimiter_size(rl), 2);
    ratelimiter_free(rl);
}

typedef struct refund_race {
    ratelimiter *rl;
    gcra_policy p;
    int64_t now;
    _Atomic int net; /* allowed minus refunded */
} refund_race;

static void *take_and_refund(void *arg)
{
    refund_race *r = arg;
    for (int i = 0; i < 20000; i++) {
        if (ratelimiter_take(r->rl, RL_GLOBAL, 0, r->p, r->now).allowed) {
            if (i % 3 == 0) {
                ratelimiter_refund(r->rl, RL_GLOBAL, 0, r->p, r->now);
                continue;
            }
            atomic_fetch_add(&r->net, 1);
        }
    }
    return NULL;
}

/* Refunds racing with takes lose nothing and create nothing: the bucket ends exactly empty. */
Test(ratelimiter, global_refunds_race_takes_exactly)
{
    refund_race r = {.rl = ratelimiter_new(), .p = {.rate_per_second = 1, .burst = 5000}, .now = 9 * S};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, take_and_refund, &r), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&r.net), 5000);
    cr_assert(!ratelimiter_peek(r.rl, RL_GLOBAL, 0, r.p, r.now).allowed);
    ratelimiter_free(r.rl);
}
