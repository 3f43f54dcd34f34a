/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * What every counters implementation promises (infra/counters.h), run against each: the in-process
 * counters, and the Redis counters on a private Redis (STARMETER_TEST_REDIS, set by `make test`).
 * Here: the contract's decisions (block, overage and its cap, the zone's day and the month,
 * refunds, firsts, seeds) and the rate limits decided with a reservation (all or none, before the
 * quota) and alone. What only one implementation does stays in its own file.
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
#define DAY_MS 86400000LL

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

static limits block_limits(int64_t day, int64_t month)
{
    return (limits){.daily_limit = opt_some(day), .monthly_limit = opt_some(month), .mode = LIMIT_BLOCK};
}

/* A fixed offset east of UTC, in seconds, as a zone. */
static int32_t fixed_offset(const void *zone, int64_t unix_s)
{
    (void)unix_s;
    return *(const int32_t *)zone;
}

/* A call of `account_id` under limits `l` alone, in zone `z`. */
static counters_decision reserve(int64_t account_id, const limits *l, period_zone z)
{
    counters_req req = {.account_id = account_id, .limits = l, .zone = z};
    return reserve_on(c, &req);
}

static counters_usage usage_in(int64_t account_id, period_zone z)
{
    counters_usage u;
    app_err err;
    cr_assert_eq(counters_read(c, account_id, z, &u, &err), 0);
    return u;
}

/* Runs `body` as a test of each implementation. */
#define CONTRACT(name, body)                                                                                           \
    Test(counters_local_contract, name)                                                                                \
    {                                                                                                                  \
        body();                                                                                                        \
    }                                                                                                                  \
    Test(counters_redis_contract, name)                                                                                \
    {                                                                                                                  \
        body();                                                                                                        \
    }

static void block_then_refuse(void)
{
    limits l = block_limits(3, 100);
    for (int i = 1; i <= 3; i++) {
        counters_decision d = reserve(1, &l, utc);
        cr_assert_eq(d.d.outcome, QUOTA_SERVE);
        cr_assert(d.reserved);
        cr_assert_eq(d.day_used, i);
        cr_assert_eq(d.month_used, i);
        cr_assert_eq(d.first, COUNTERS_FIRST_NONE);
        cr_assert_eq(d.now_ms, T0);
        counters_commit(c, 1, &d);
    }
    counters_decision d = reserve(1, &l, utc);
    cr_assert_eq(d.d.outcome, QUOTA_BLOCK);
    cr_assert_eq(d.d.period, QUOTA_DAILY);
    cr_assert_eq(d.d.limit, 3);
    cr_assert_eq(d.d.used, 3);
    cr_assert_not(d.reserved);
    cr_assert_eq(d.first, COUNTERS_FIRST_DAY_BLOCK, "the first refusal of the day is marked");
    cr_assert_eq(d.day_used, 3, "a refusal counts nothing");
    cr_assert_eq(reserve(1, &l, utc).first, COUNTERS_FIRST_NONE, "only the first");
    /* Another account is untouched. */
    cr_assert_eq(reserve(2, &l, utc).day_used, 1);
}
CONTRACT(block_mode_serves_the_limit_then_refuses, block_then_refuse)

static void day_rolls_over(void)
{
    int32_t paris = 3600;
    period_zone z = {fixed_offset, &paris};
    limits l = block_limits(2, 100);
    clock_test_set(&tclock, 1795042799000LL); /* 2026-11-18T22:59:59Z = 23:59:59 at UTC+1 */
    reserve(1, &l, z);
    reserve(1, &l, z);
    cr_assert_eq(reserve(1, &l, z).d.outcome, QUOTA_BLOCK);
    clock_test_advance(&tclock, 1000); /* local midnight */
    counters_decision d = reserve(1, &l, z);
    cr_assert_eq(d.d.outcome, QUOTA_SERVE);
    cr_assert_eq(d.day_used, 1);
    cr_assert_eq(d.month_used, 3, "the month keeps counting");
    cr_assert_eq(d.p.today.day, 19);
    counters_usage u = usage_in(1, z);
    cr_assert_eq(u.day_used, 1);
    cr_assert_eq(u.month_used, 3);
}
CONTRACT(the_day_rolls_over_at_the_zone_s_midnight_and_the_month_goes_on, day_rolls_over)

static void refund_in_its_periods(void)
{
    limits l = block_limits(5, 100);
    counters_decision d1 = reserve(1, &l, utc);
    counters_decision d2 = reserve(1, &l, utc);
    counters_refund(c, 1, &d2); /* made before the read, so applied before it */
    cr_assert_eq(usage_in(1, utc).day_used, 1);
    counters_commit(c, 1, &d1);
    cr_assert_eq(usage_in(1, utc).day_used, 1, "a commit changes no count");
    /* Yesterday's reservation refunded today: nothing to give back today, the month still. */
    counters_decision old = reserve(1, &l, utc);
    clock_test_advance(&tclock, DAY_MS);
    reserve(1, &l, utc);
    counters_refund(c, 1, &old);
    counters_usage u = usage_in(1, utc);
    cr_assert_eq(u.day_used, 1);
    cr_assert_eq(u.month_used, 2);
}
CONTRACT(a_refund_gives_back_only_in_the_periods_reserved, refund_in_its_periods)

static void overage_until_the_cap(void)
{
    limits l = {.daily_limit = opt_some(2), .mode = LIMIT_OVERAGE, .overage_cap = opt_some(1)};
    reserve(1, &l, utc);
    reserve(1, &l, utc);
    counters_decision over = reserve(1, &l, utc);
    cr_assert_eq(over.d.outcome, QUOTA_SERVE_OVERAGE);
    cr_assert(over.reserved);
    cr_assert_eq(over.first, COUNTERS_FIRST_DAY_OVERAGE);
    cr_assert_eq(over.day_used, 3);
    counters_decision capped = reserve(1, &l, utc);
    cr_assert_eq(capped.d.outcome, QUOTA_BLOCK, "the overage cap blocks");
    cr_assert_eq(capped.first, COUNTERS_FIRST_DAY_BLOCK);
    cr_assert_eq(capped.day_used, 3);
    cr_assert_eq(reserve(1, &l, utc).first, COUNTERS_FIRST_NONE);
}
CONTRACT(overage_is_served_and_its_first_is_marked_until_the_cap_blocks, overage_until_the_cap)

static void unrecorded_first_is_first_again(void)
{
    limits l = block_limits(1, 100);
    reserve(1, &l, utc);
    counters_decision b = reserve(1, &l, utc);
    cr_assert_eq(b.first, COUNTERS_FIRST_DAY_BLOCK);
    counters_refund(c, 1, &b); /* its audit event could not be written */
    cr_assert_eq(reserve(1, &l, utc).first, COUNTERS_FIRST_DAY_BLOCK);
    cr_assert_eq(reserve(1, &l, utc).first, COUNTERS_FIRST_NONE);
    cr_assert_eq(usage_in(1, utc).day_used, 1, "refunding a refusal gives no call back");
}
CONTRACT(a_first_that_was_not_recorded_is_first_again, unrecorded_first_is_first_again)

static void seeded_counts_decide(void)
{
    limits l = block_limits(10, 20);
    counters_seed_row row = {
        .account_id = 9, .p = period_at(utc, T0), .day_used = 10, .month_used = 15, .day_blocked = true};
    counters_seed(c, &row);
    counters_decision d = reserve(9, &l, utc);
    cr_assert_eq(d.d.outcome, QUOTA_BLOCK);
    cr_assert_eq(d.first, COUNTERS_FIRST_NONE, "the ledger already has this day's refusal");
    clock_test_advance(&tclock, DAY_MS);
    d = reserve(9, &l, utc);
    cr_assert_eq(d.d.outcome, QUOTA_SERVE);
    cr_assert_eq(d.day_used, 1);
    cr_assert_eq(d.month_used, 16);
}
CONTRACT(seeded_counts_decide_and_seeded_firsts_are_not_repeated, seeded_counts_decide)

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

CONTRACT(a_rate_limit_admits_its_burst_refuses_then_refills, burst_then_refusal_then_refill)

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

CONTRACT(a_call_one_rate_limit_refuses_takes_nothing_and_counts_nothing, refusal_takes_nothing)

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

CONTRACT(rate_limits_alone_count_nothing_and_a_quota_alone_takes_no_rate, rate_only_counts_nothing)

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
