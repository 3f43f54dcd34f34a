/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * What every counters implementation promises (infra/counters.h), run against each: the in-process
 * counters, and the Redis counters on a private Redis (STARMETER_TEST_REDIS, set by `make test`).
 * Here: the rate limits decided with a reservation (all or none, before the quota) and alone.
 *
 * The Redis suite uses database 15, emptied when a test starts; tests that share it wait for each
 * other (an flock held until the test's process ends), as in test_counters_redis.c.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "infra/counters.h"

/* 2026-11-18T11:06:40Z, a Wednesday. */
#define T0 1795000000000LL
#define REDIS_DB 15
#define NS_PER_S 1000000000LL

static app_clock tclock;
static counters *c, *c2; /* c2: a second node on the same Redis, or NULL */
static int db_lock = -1;

static void teardown(void)
{
    counters_free(c);
    counters_free(c2);
    c = c2 = NULL;
    if (db_lock >= 0)
        close(db_lock);
    db_lock = -1;
}

static void local_setup(void)
{
    clock_test_init(&tclock, T0);
    c = counters_local_new(&tclock);
}

static void redis_setup(void)
{
    const char *env = getenv("STARMETER_TEST_REDIS");
    cr_assert(env != NULL && *env != '\0',
              "STARMETER_TEST_REDIS is not set: run these tests with `make test`, which starts a private Redis");
    char host[256], uri[300];
    int port;
    cr_assert_eq(sscanf(env, "redis://%255[^:]:%d", host, &port), 2, "STARMETER_TEST_REDIS=%s", env);
    snprintf(uri, sizeof uri, "redis://%s:%d/%d", host, port, REDIS_DB);
    char lock[128];
    snprintf(lock, sizeof lock, "/tmp/starmeter-test-redis-db%d.lock", REDIS_DB);
    db_lock = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert(db_lock >= 0 && flock(db_lock, LOCK_EX) == 0, "cannot lock %s", lock);
    redisContext *admin = redisConnect(host, port);
    cr_assert(admin != NULL && !admin->err, "cannot reach the test Redis at %s", env);
    redisReply *r = redisCommand(admin, "SELECT %d", REDIS_DB);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(admin, "FLUSHDB");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(admin);
    clock_test_init(&tclock, T0);
    app_err err;
    app_err_clear(&err);
    c = counters_redis_new(uri, &tclock, false, &err);
    cr_assert_not_null(c, "%s", err.message);
    c2 = counters_redis_new(uri, &tclock, false, &err);
    cr_assert_not_null(c2, "%s", err.message);
}

TestSuite(counters_local_contract, .init = local_setup, .fini = teardown);
TestSuite(counters_redis_contract, .init = redis_setup, .fini = teardown);

/* A decision, waited for whichever thread it arrives on. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    counters_decision dec;
} waiter;

static void on_decided(void *arg, const counters_decision *dec)
{
    waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->dec = *dec;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static counters_decision reserve_on(counters *cc, const counters_req *req)
{
    waiter w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    counters_reserve(cc, req, on_decided, &w);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    cr_assert_eq(w.dec.rc, 0);
    return w.dec;
}

static const period_zone utc = {period_utc_offset, NULL};

/* Account 1's rate limits: a wide global bucket, the account's and the credential's as given. */
static counters_rate rates(int64_t cred_id, gcra_policy acct, gcra_policy cred)
{
    return (counters_rate){.policy = {{1000, 1000}, acct, cred}, .id = {0, 1, cred_id}};
}

static counters_decision take(counters *cc, const counters_rate *r, const limits *l)
{
    counters_req req = {.account_id = 1, .rate = r, .limits = l, .zone = utc};
    return reserve_on(cc, &req);
}

static counters_usage usage(void)
{
    counters_usage u;
    app_err err;
    cr_assert_eq(counters_read(c, 1, utc, &u, &err), 0);
    return u;
}

static void burst_then_refusal_then_refill(void)
{
    counters_rate r = rates(7, (gcra_policy){1, 5}, (gcra_policy){100, 100});
    for (int i = 0; i < 5; i++) {
        counters_decision d = take(c, &r, NULL);
        cr_assert(!d.rate_limited, "call %d", i + 1);
        cr_assert_eq(d.rate[COUNTERS_RATE_ACCOUNT].remaining, 4 - i);
        cr_assert(d.rate[COUNTERS_RATE_ACCOUNT].allowed);
        cr_assert_gt(d.rate[COUNTERS_RATE_ACCOUNT].reset_ns, 0);
        cr_assert(!d.reserved, "rate limits alone reserve nothing");
    }
    counters_decision d = take(c, &r, NULL);
    cr_assert(d.rate_limited);
    cr_assert_eq(d.rate_scope, COUNTERS_RATE_ACCOUNT);
    cr_assert_eq(d.rate[COUNTERS_RATE_ACCOUNT].retry_after_ns, NS_PER_S, "one call refills in 1 s");
    cr_assert_eq(d.rate[COUNTERS_RATE_ACCOUNT].reset_ns, 5 * NS_PER_S);
    clock_test_advance(&tclock, 999);
    cr_assert(take(c, &r, NULL).rate_limited, "not yet");
    clock_test_advance(&tclock, 1);
    d = take(c, &r, NULL);
    cr_assert(!d.rate_limited);
    cr_assert_eq(d.rate[COUNTERS_RATE_ACCOUNT].remaining, 0);
}

Test(counters_local_contract, a_rate_limit_admits_its_burst_refuses_then_refills)
{
    burst_then_refusal_then_refill();
}
Test(counters_redis_contract, a_rate_limit_admits_its_burst_refuses_then_refills)
{
    burst_then_refusal_then_refill();
}

static void refusal_takes_nothing(void)
{
    gcra_policy acct = {1, 10}, cred = {1, 2};
    counters_rate a = rates(7, acct, cred), b = rates(8, acct, cred);
    limits l = {.daily_limit = opt_some(100), .monthly_limit = opt_some(1000), .mode = LIMIT_BLOCK};
    cr_assert(!take(c, &a, &l).rate_limited);
    cr_assert(!take(c, &a, &l).rate_limited);
    counters_decision d = take(c, &a, &l);
    cr_assert(d.rate_limited);
    cr_assert_eq(d.rate_scope, COUNTERS_RATE_CREDENTIAL);
    cr_assert(!d.reserved);
    cr_assert_eq(usage().day_used, 2, "a call a rate limit refused is not counted against the quota");
    /* The refused call took nothing from the account's bucket: 10 - 2 taken, 1 now. */
    d = take(c, &b, &l);
    cr_assert(!d.rate_limited);
    cr_assert_eq(d.rate[COUNTERS_RATE_ACCOUNT].remaining, 7);
    cr_assert(d.reserved);
    cr_assert_eq(d.day_used, 3);
}

Test(counters_local_contract, a_call_one_rate_limit_refuses_takes_nothing_and_counts_nothing)
{
    refusal_takes_nothing();
}
Test(counters_redis_contract, a_call_one_rate_limit_refuses_takes_nothing_and_counts_nothing)
{
    refusal_takes_nothing();
}

static void rate_only_counts_nothing(void)
{
    counters_rate r = rates(7, (gcra_policy){10, 10}, (gcra_policy){10, 10});
    for (int i = 0; i < 3; i++)
        cr_assert(!take(c, &r, NULL).rate_limited);
    counters_usage u = usage();
    cr_assert_eq(u.day_used, 0);
    cr_assert_eq(u.month_used, 0);
    /* And a reservation without rate limits decides the quota alone. */
    limits l = {.daily_limit = opt_some(1), .mode = LIMIT_BLOCK};
    cr_assert(take(c, NULL, &l).reserved);
    counters_decision d = take(c, NULL, &l);
    cr_assert(!d.rate_limited);
    cr_assert_eq(d.d.outcome, QUOTA_BLOCK);
}

Test(counters_local_contract, rate_limits_alone_count_nothing_and_a_quota_alone_takes_no_rate)
{
    rate_only_counts_nothing();
}
Test(counters_redis_contract, rate_limits_alone_count_nothing_and_a_quota_alone_takes_no_rate)
{
    rate_only_counts_nothing();
}

/* Two nodes, eight threads each, one account bucket of 50 at a rate too slow to refill. */
static atomic_int admitted;

static void *hammer(void *arg)
{
    counters *cc = arg;
    counters_rate r = rates(7, (gcra_policy){1, 50}, (gcra_policy){1000, 1000});
    for (int i = 0; i < 10; i++)
        if (!take(cc, &r, NULL).rate_limited)
            atomic_fetch_add(&admitted, 1);
    return NULL;
}

Test(counters_redis_contract, two_nodes_share_one_bucket_exactly)
{
    atomic_store(&admitted, 0);
    pthread_t t[16];
    for (int i = 0; i < 16; i++)
        pthread_create(&t[i], NULL, hammer, i % 2 ? c2 : c);
    for (int i = 0; i < 16; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&admitted), 50, "160 calls on two nodes, a burst of 50: exactly 50 admitted");
}

/* The ledger's figures for account 1: 7 calls today, 9 this month. */
static int seed_seven(void *arg, counters_seed_row *row)
{
    (void)arg;
    row->day_used = 7;
    row->month_used = 9;
    return 0;
}

/* A reservation whose counters are missing is seeded from the ledger, rate limits and all. */
Test(counters_redis_contract, a_seeded_reservation_takes_its_rate_limits_once)
{
    cr_assert(counters_set_seeder(c, seed_seven, NULL));
    counters_rate r = rates(7, (gcra_policy){1, 5}, (gcra_policy){100, 100});
    limits l = {.daily_limit = opt_some(100), .monthly_limit = opt_some(1000), .mode = LIMIT_BLOCK};
    counters_decision d = take(c, &r, &l);
    cr_assert(!d.rate_limited);
    cr_assert(d.reserved);
    cr_assert_eq(d.day_used, 8, "seeded at 7, then this call");
    cr_assert_eq(d.month_used, 10);
    cr_assert_eq(d.rate[COUNTERS_RATE_ACCOUNT].remaining, 4, "the retry after seeding took the bucket once");
}
