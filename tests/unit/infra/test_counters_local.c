/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The in-process counters on their own, with a test clock: what only they do (time never runs
 * backwards for an account, calls in flight, a growing table, threads). What every implementation
 * does is in test_counters_contract.c.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "infra/counters.h"

/* 2026-11-18T11:06:40Z, a Wednesday. */
#define T0 1795000000000LL
#define DAY_MS 86400000LL

static app_clock tclock;
static counters *c;

static void setup(void)
{
    clock_test_init(&tclock, T0);
    c = counters_local_new(&tclock);
}

static void teardown(void)
{
    counters_free(c);
}

TestSuite(counters_local, .init = setup, .fini = teardown);

static limits block_limits(int64_t day, int64_t month)
{
    return (limits){.daily_limit = opt_some(day), .monthly_limit = opt_some(month), .mode = LIMIT_BLOCK};
}

static void on_decided(void *arg, const counters_decision *dec)
{
    *(counters_decision *)arg = *dec;
}

static counters_decision reserve(int64_t account_id, const limits *l, period_zone z)
{
    counters_decision dec;
    memset(&dec, 0xff, sizeof dec); /* the callback must fill it */
    counters_req req = {.account_id = account_id, .limits = l, .zone = z};
    counters_reserve(c, &req, on_decided, &dec);
    cr_assert_eq(dec.rc, 0);
    return dec;
}

static const period_zone utc = {period_utc_offset, NULL};

Test(counters_local, time_never_runs_backwards_for_an_account)
{
    limits l = block_limits(10, 100);
    clock_test_set(&tclock, T0 + DAY_MS);
    counters_decision late = reserve(1, &l, utc);
    clock_test_set(&tclock, T0); /* a caller that read the clock earlier arrives later */
    counters_decision early = reserve(1, &l, utc);
    cr_assert_eq(early.now_ms, late.now_ms, "decided at the later instant");
    cr_assert_eq(early.p.day_key, late.p.day_key);
    cr_assert_eq(early.day_used, 2, "the new day's count is not reset by an older instant");
}

/* A fixed zone eight hours west of UTC (no daylight saving: enough for the test). */
static int32_t west8(const void *zone, int64_t unix_s)
{
    (void)zone;
    (void)unix_s;
    return -8 * 3600;
}

/*
 * A contract whose zone moves west goes back to the local date before: that day's calls count
 * again, as the ledger's rows (dated by local date) say, and the later day keeps its own.
 */
Test(counters_local, a_zone_moved_west_goes_back_to_the_day_before_and_its_count)
{
    limits l = block_limits(100, 1000);
    const period_zone west = {west8, NULL};
    int64_t d1_2300 = T0 - T0 % DAY_MS + 23 * 3600000LL; /* 23:00 UTC, day D */
    clock_test_set(&tclock, d1_2300);
    for (int i = 0; i < 2; i++)
        reserve(1, &l, utc);
    clock_test_set(&tclock, d1_2300 + 3 * 3600000LL); /* 02:00 UTC, day D+1 */
    counters_decision next = {0};
    for (int i = 0; i < 3; i++)
        next = reserve(1, &l, utc);
    cr_assert_eq(next.day_used, 3, "D+1 in UTC");
    counters_decision back = reserve(1, &l, west); /* 18:00 on day D, eight hours west */
    cr_assert_lt(back.p.day_key, next.p.day_key);
    cr_assert_eq(back.day_used, 3, "D's two calls, then this one");
    cr_assert_eq(back.month_used, 6, "the month holds them all");
    counters_usage u;
    counters_read(c, 1, west, &u, NULL);
    cr_assert_eq(u.day_used, 3);
    clock_test_set(&tclock, d1_2300 + 10 * 3600000LL); /* 09:00 UTC: 01:00 on D+1 in the west */
    counters_decision later = reserve(1, &l, west);
    cr_assert_eq(later.p.day_key, next.p.day_key);
    cr_assert_eq(later.day_used, 4, "D+1 kept its three");
}

/* The local counters know what is reserved and neither committed nor refunded yet. */
Test(counters_local, a_reservation_is_in_flight_until_committed_or_refunded)
{
    limits l = block_limits(5, 100);
    counters_decision d1 = reserve(1, &l, utc);
    counters_decision d2 = reserve(1, &l, utc);
    counters_usage u;
    counters_read(c, 1, utc, &u, NULL);
    cr_assert_eq(u.inflight, 2);
    counters_refund(c, 1, &d2);
    counters_read(c, 1, utc, &u, NULL);
    cr_assert_eq(u.inflight, 1, "d1 is still reserved");
    counters_commit(c, 1, &d1);
    counters_read(c, 1, utc, &u, NULL);
    cr_assert_eq(u.inflight, 0);
    cr_assert_eq(u.day_used, 1);
}

Test(counters_local, many_accounts_grow_the_table_and_keep_their_counts)
{
    limits l = block_limits(1000, 100000);
    for (int round = 1; round <= 3; round++)
        for (int64_t a = 1; a <= 5000; a++)
            cr_assert_eq(reserve(a, &l, utc).day_used, round);
    counters_usage u;
    counters_read(c, 4999, utc, &u, NULL);
    cr_assert_eq(u.day_used, 3);
    counters_read(c, 123456, utc, &u, NULL);
    cr_assert_eq(u.day_used, 0, "an unknown account reads as zero");
}

/* ---- exact under threads ---- */

static atomic_int served, refused;

static void *hammer(void *arg)
{
    const limits *l = arg;
    for (int i = 0; i < 2000; i++) {
        counters_decision d = reserve(42, l, utc);
        if (d.d.outcome == QUOTA_BLOCK)
            atomic_fetch_add(&refused, 1);
        else
            atomic_fetch_add(&served, 1);
    }
    return NULL;
}

Test(counters_local, eight_threads_get_exactly_the_limit)
{
    limits l = block_limits(1000, 100000);
    atomic_store(&served, 0);
    atomic_store(&refused, 0);
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, hammer, &l);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&served), 1000);
    cr_assert_eq(atomic_load(&refused), 8 * 2000 - 1000);
}
