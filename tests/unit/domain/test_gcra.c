/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>

#include "domain/gcra.h"
#include "infra/ratelimit.h"

#define S 1000000000LL

Test(gcra, exactly_burst_then_refused)
{
    gcra_policy p = {.rate_per_second = 10, .burst = 5};
    int64_t tat = 0, now = 1000 * S;
    for (int i = 0; i < 5; i++) {
        gcra_result r = gcra_take(&tat, now, p);
        cr_assert(r.allowed, "call %d", i);
        cr_assert_eq(r.remaining, 4 - i);
    }
    gcra_result r = gcra_take(&tat, now, p);
    cr_assert(!r.allowed);
    cr_assert_eq(r.remaining, 0);
    cr_assert_eq(r.retry_after_ns, S / 10, "one interval until the next call");
}

Test(gcra, tokens_come_back_at_the_rate)
{
    gcra_policy p = {.rate_per_second = 4, .burst = 2};
    int64_t tat = 0, now = 50 * S;
    gcra_take(&tat, now, p);
    gcra_take(&tat, now, p);
    cr_assert(!gcra_take(&tat, now, p).allowed);
    cr_assert(!gcra_take(&tat, now + S / 4 - 1, p).allowed, "just before the interval");
    cr_assert(gcra_take(&tat, now + S / 4, p).allowed, "after one interval");
    cr_assert(!gcra_take(&tat, now + S / 4, p).allowed);
    /* Long idle: full again, never more than the burst. */
    int passed = 0;
    for (int i = 0; i < 10; i++)
        passed += gcra_take(&tat, now + 100 * S, p).allowed;
    cr_assert_eq(passed, 2);
}

Test(gcra, retry_after_is_the_true_wait)
{
    gcra_policy p = {.rate_per_second = 1, .burst = 3};
    int64_t tat = 0, now = 7 * S;
    for (int i = 0; i < 3; i++)
        gcra_take(&tat, now, p);
    gcra_result r = gcra_take(&tat, now + S / 3, p);
    cr_assert(!r.allowed);
    cr_assert_eq(r.retry_after_ns, S - S / 3);
    cr_assert(gcra_take(&tat, now + S / 3 + r.retry_after_ns, p).allowed, "waiting exactly that long works");
    cr_assert_eq(gcra_window_seconds(p), 3);
    cr_assert_eq(gcra_window_seconds((gcra_policy){50, 40}), 1);
}

Test(gcra, refund_gives_one_call_back)
{
    gcra_policy p = {.rate_per_second = 1, .burst = 1};
    int64_t tat = 0, now = 3 * S;
    cr_assert(gcra_take(&tat, now, p).allowed);
    cr_assert(!gcra_take(&tat, now, p).allowed);
    gcra_refund(&tat, now, p);
    cr_assert(gcra_take(&tat, now, p).allowed);
    cr_assert(gcra_idle(now, now) && !gcra_idle(tat, now));
}

Test(ratelimiter, idle_keys_are_evicted)
{
    ratelimiter *rl = ratelimiter_new();
    gcra_policy p = {.rate_per_second = 100, .burst = 10};
    int64_t now = 10 * S;
    for (uint64_t id = 1; id <= 20000; id++)
        ratelimiter_take(rl, RL_CREDENTIAL, id, p, now);
    cr_assert_eq(ratelimiter_size(rl), 20000, "all live within their window");
    /* A second later every bucket is full again: new keys push the idle ones out. */
    for (uint64_t id = 100001; id <= 100000 + 20000; id++)
        ratelimiter_take(rl, RL_CREDENTIAL, id, p, now + S);
    cr_assert_lt(ratelimiter_size(rl), 25000, "size %zu", ratelimiter_size(rl));
    /* Evicting an idle key changes nothing: it comes back with a full bucket. */
    gcra_result r = ratelimiter_take(rl, RL_CREDENTIAL, 1, p, now + 2 * S);
    cr_assert(r.allowed);
    cr_assert_eq(r.remaining, 9);
    ratelimiter_free(rl);
}

Test(ratelimiter, scopes_and_ids_are_separate)
{
    ratelimiter *rl = ratelimiter_new();
    gcra_policy p = {.rate_per_second = 1, .burst = 1};
    cr_assert(ratelimiter_take(rl, RL_ACCOUNT, 7, p, S).allowed);
    cr_assert(ratelimiter_take(rl, RL_CREDENTIAL, 7, p, S).allowed);
    cr_assert(ratelimiter_take(rl, RL_ACCOUNT, 8, p, S).allowed);
    cr_assert(!ratelimiter_take(rl, RL_ACCOUNT, 7, p, S).allowed);
    cr_assert(!ratelimiter_peek(rl, RL_ACCOUNT, 7, p, S).allowed);
    cr_assert(ratelimiter_peek(rl, RL_ACCOUNT, 9, p, S).allowed);
    ratelimiter_free(rl);
}
