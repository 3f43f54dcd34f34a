/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The in-process counters on their own, with a test clock: decisions, periods, refunds, firsts. */
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

/* A fixed offset east of UTC, in seconds, as a zone. */
static int32_t fixed_offset(const void *zone, int64_t unix_s)
{
    (void)unix_s;
    return *(const int32_t *)zone;
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

Test(counters_local, block_mode_serves_the_limit_then_refuses)
{
    limits l = block_limits(3, 100);
    for (int i = 1; i <= 3; i++) {
        counters_decision d = reserve(1, &l, utc);
        cr_assert_eq(d.d.outcome, QUOTA_SERVE);
        cr_assert(d.reserved);
        cr_assert_eq(d.day_used, i);
        cr_assert_eq(d.month_used, i);
        cr_assert_eq(d.first, COUNTERS_FIRST_NONE);
        counters_commit(c, 1, &d);
    }
    counters_decision d = reserve(1, &l, utc);
    cr_assert_eq(d.d.outcome, QUOTA_BLOCK);
    cr_assert_eq(d.d.period, QUOTA_DAILY);
    cr_assert_eq(d.d.used, 3);
    cr_assert_not(d.reserved);
    cr_assert_eq(d.first, COUNTERS_FIRST_DAY_BLOCK, "the first refusal of the day is marked");
    cr_assert_eq(d.day_used, 3, "a refusal counts nothing");
    cr_assert_eq(reserve(1, &l, utc).first, COUNTERS_FIRST_NONE, "only the first");
    /* Another account is untouched. */
    cr_assert_eq(reserve(2, &l, utc).day_used, 1);
}

Test(counters_local, the_day_rolls_over_at_the_zone_s_midnight_and_the_month_goes_on)
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
    counters_usage u;
    cr_assert_eq(counters_read(c, 1, z, &u, NULL), 0);
    cr_assert_eq(u.day_used, 1);
    cr_assert_eq(u.month_used, 3);
}

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

Test(counters_local, a_refund_gives_back_only_in_the_periods_reserved)
{
    limits l = block_limits(5, 100);
    counters_decision d1 = reserve(1, &l, utc);
    counters_decision d2 = reserve(1, &l, utc);
    counters_refund(c, 1, &d2);
    counters_usage u;
    counters_read(c, 1, utc, &u, NULL);
    cr_assert_eq(u.day_used, 1);
    cr_assert_eq(u.inflight, 1, "d1 is still reserved");
    counters_commit(c, 1, &d1);
    counters_read(c, 1, utc, &u, NULL);
    cr_assert_eq(u.inflight, 0);
    /* Yesterday's reservation refunded today: nothing to give back today, the month still. */
    counters_decision old = reserve(1, &l, utc);
    clock_test_advance(&tclock, DAY_MS);
    reserve(1, &l, utc);
    counters_refund(c, 1, &old);
    counters_read(c, 1, utc, &u, NULL);
    cr_assert_eq(u.day_used, 1);
    cr_assert_eq(u.month_used, 2);
}

Test(counters_local, overage_is_served_and_its_first_is_marked_until_the_cap_blocks)
{
    limits l = {.daily_limit = opt_some(2), .mode = LIMIT_OVERAGE, .overage_cap = opt_some(1)};
    reserve(1, &l, utc);
    reserve(1, &l, utc);
    counters_decision over = reserve(1, &l, utc);
    cr_assert_eq(over.d.outcome, QUOTA_SERVE_OVERAGE);
    cr_assert(over.reserved);
    cr_assert_eq(over.first, COUNTERS_FIRST_DAY_OVERAGE);
    counters_decision capped = reserve(1, &l, utc);
    cr_assert_eq(capped.d.outcome, QUOTA_BLOCK, "the overage cap blocks");
    cr_assert_eq(capped.first, COUNTERS_FIRST_DAY_BLOCK);
}

Test(counters_local, a_first_that_was_not_recorded_is_first_again)
{
    limits l = block_limits(1, 100);
    reserve(1, &l, utc);
    counters_decision b = reserve(1, &l, utc);
    cr_assert_eq(b.first, COUNTERS_FIRST_DAY_BLOCK);
    counters_refund(c, 1, &b); /* its audit event could not be written */
    cr_assert_eq(reserve(1, &l, utc).first, COUNTERS_FIRST_DAY_BLOCK);
}

Test(counters_local, seeded_counts_decide_and_seeded_firsts_are_not_repeated)
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
    cr_assert_eq(d.month_used, 16);
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
