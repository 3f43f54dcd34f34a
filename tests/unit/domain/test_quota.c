/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <string.h>

#include "domain/period.h"
#include "domain/quota.h"
#include "infra/tzdb.h"

static limits lim(opt_i64 day, opt_i64 month, limit_mode mode, opt_i64 cap)
{
    return (limits){.daily_limit = day, .monthly_limit = month, .mode = mode, .overage_cap = cap};
}

#define N opt_none()
#define S(x) opt_some(x)

Test(quota, decisions_over_a_table)
{
    static const struct {
        opt_i64 day, month;
        limit_mode mode;
        opt_i64 cap;
        int64_t day_used, month_used;
        quota_outcome want;
        quota_period period;
    } cases[] = {
        /* block: served up to the limit, refused from limit + 1 */
        {{true, 10}, {false, 0}, LIMIT_BLOCK, {false, 0}, 0, 0, QUOTA_SERVE, QUOTA_DAILY},
        {{true, 10}, {false, 0}, LIMIT_BLOCK, {false, 0}, 9, 9, QUOTA_SERVE, QUOTA_DAILY},
        {{true, 10}, {false, 0}, LIMIT_BLOCK, {false, 0}, 10, 10, QUOTA_BLOCK, QUOTA_DAILY},
        {{true, 0}, {false, 0}, LIMIT_BLOCK, {false, 0}, 0, 0, QUOTA_BLOCK, QUOTA_DAILY},
        /* unlimited never blocks */
        {{false, 0}, {false, 0}, LIMIT_BLOCK, {false, 0}, 1000000, 1000000, QUOTA_SERVE, QUOTA_DAILY},
        /* the tighter decides: the month is full though the day is not */
        {{true, 100}, {true, 50}, LIMIT_BLOCK, {false, 0}, 5, 50, QUOTA_BLOCK, QUOTA_MONTHLY},
        {{true, 10}, {true, 1000}, LIMIT_BLOCK, {false, 0}, 10, 500, QUOTA_BLOCK, QUOTA_DAILY},
        /* overage: served past the limit, marked */
        {{true, 10}, {false, 0}, LIMIT_OVERAGE, {false, 0}, 10, 10, QUOTA_SERVE_OVERAGE, QUOTA_DAILY},
        {{true, 10}, {false, 0}, LIMIT_OVERAGE, {false, 0}, 5000, 5000, QUOTA_SERVE_OVERAGE, QUOTA_DAILY},
        /* overage with a cap: overage n is allowed while n <= cap */
        {{true, 10}, {false, 0}, LIMIT_OVERAGE, {true, 3}, 12, 12, QUOTA_SERVE_OVERAGE, QUOTA_DAILY},
        {{true, 10}, {false, 0}, LIMIT_OVERAGE, {true, 3}, 13, 13, QUOTA_BLOCK, QUOTA_DAILY},
        {{true, 10}, {false, 0}, LIMIT_OVERAGE, {true, 0}, 10, 10, QUOTA_BLOCK, QUOTA_DAILY},
        /* a capped month blocks even while the day is still within its limit */
        {{true, 100}, {true, 20}, LIMIT_OVERAGE, {true, 2}, 3, 22, QUOTA_BLOCK, QUOTA_MONTHLY},
        {{true, 100}, {true, 20}, LIMIT_OVERAGE, {true, 2}, 3, 21, QUOTA_SERVE_OVERAGE, QUOTA_MONTHLY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        limits l = lim(cases[i].day, cases[i].month, cases[i].mode, cases[i].cap);
        quota_decision d = quota_decide(&l, cases[i].day_used, cases[i].month_used);
        cr_assert_eq(d.outcome, cases[i].want, "case %zu: outcome %d", i, d.outcome);
        if (d.outcome != QUOTA_SERVE)
            cr_assert_eq(d.period, cases[i].period, "case %zu: period", i);
    }
}

Test(quota, remaining_arithmetic)
{
    cr_assert_eq(quota_remaining(S(10), 3), 7);
    cr_assert_eq(quota_remaining(S(10), 10), 0);
    cr_assert_eq(quota_remaining(S(10), 15), 0);
    cr_assert_eq(quota_remaining(N, 15), -1);
}

static tzdb *db;

static period_zone zone(const char *name)
{
    period_zone z;
    cr_assert(tzdb_zone(db, name, &z), "%s", name);
    return z;
}

static void fini(void)
{
    tzdb_free(db);
}

static void init(void)
{
    db = tzdb_new();
}

TestSuite(period, .init = init, .fini = fini);

Test(period, utc_day_and_month)
{
    period_zone z = {period_utc_offset, NULL};
    periods p = period_at(z, 1795000000000LL); /* 2026-11-18T11:06:40Z */
    char d[11];
    period_date_format(p.today, d);
    cr_assert_str_eq(d, "2026-11-18");
    cr_assert_eq(p.day_start_ms, 1794960000000LL);
    cr_assert_eq(p.day_end_ms, 1795046400000LL);
    cr_assert_eq(p.month_start_ms, 1793491200000LL); /* 2026-11-01T00:00Z */
    cr_assert_eq(p.month_end_ms, 1796083200000LL);   /* 2026-12-01T00:00Z */
}

Test(period, paris_local_midnight)
{
    period_zone z = zone("Europe/Paris");
    /* 23:30 UTC on the 18th is 00:30 on the 19th in Paris (UTC+1 in November). */
    periods p = period_at(z, 1795044600000LL);
    char d[11];
    period_date_format(p.today, d);
    cr_assert_str_eq(d, "2026-11-19");
    cr_assert_eq(p.day_start_ms, 1795042800000LL, "2026-11-18T23:00:00Z");
    cr_assert_eq(p.day_end_ms - p.day_start_ms, 86400000LL);
    cr_assert_eq(p.month_start_ms, 1793487600000LL, "2026-10-31T23:00:00Z");
}

Test(period, dst_days_have_23_and_25_hours)
{
    period_zone z = zone("Europe/Paris");
    /* 2026-03-29: clocks go forward at 02:00 local. */
    periods spring = period_at(z, 1774785600000LL); /* 2026-03-29T12:00Z */
    cr_assert_eq(spring.day_end_ms - spring.day_start_ms, 23 * 3600000LL);
    cr_assert_eq(spring.day_start_ms, 1774738800000LL, "2026-03-28T23:00:00Z");
    /* 2026-10-25: clocks go back at 03:00 local. */
    periods autumn = period_at(z, 1792929600000LL); /* 2026-10-25T12:00Z */
    cr_assert_eq(autumn.day_end_ms - autumn.day_start_ms, 25 * 3600000LL);
    /* March holds a 23-hour day: 31 * 24 - 1 hours. */
    cr_assert_eq(spring.month_end_ms - spring.month_start_ms, (31 * 24 - 1) * 3600000LL);
}

Test(period, midnight_inside_a_dst_gap)
{
    /* America/Havana springs forward at midnight: 2026-03-08 00:00 does not exist there. */
    period_zone z = zone("America/Havana");
    local_date d = {2026, 3, 8};
    int64_t start = period_local_midnight(z, d);
    local_date back = period_local_date(z, start);
    cr_assert(back.year == 2026 && back.month == 3 && back.day == 8);
    local_date before = period_local_date(z, start - 1000);
    cr_assert_eq(before.day, 7, "the instant before belongs to the previous day");
}

Test(period, dates_parse_and_format)
{
    local_date d;
    cr_assert_eq(period_date_parse("2024-02-29", &d), 0);
    cr_assert_eq(period_date_parse("2026-02-29", &d), -1);
    cr_assert_eq(period_date_parse("2026-1-01", &d), -1);
    cr_assert_eq(period_date_parse("2026-01-01x", &d), -1);
    cr_assert_eq(period_date_days(period_date_from_days(20000)), 20000);
    cr_assert(!tzdb_zone(db, "Mars/Olympus", &(period_zone){0}));
}

/* ---- alert thresholds ---- */

Test(alerts, threshold_calls_round_up_and_never_reach_zero)
{
    cr_assert_eq(quota_threshold_calls(80, opt_some(1000)), 800);
    cr_assert_eq(quota_threshold_calls(100, opt_some(1000)), 1000);
    cr_assert_eq(quota_threshold_calls(80, opt_some(7)), 6); /* 5.6 */
    cr_assert_eq(quota_threshold_calls(1, opt_some(7)), 1);  /* 0.07 */
    cr_assert_eq(quota_threshold_calls(33, opt_some(3)), 1); /* 0.99 */
    cr_assert_eq(quota_threshold_calls(100, opt_some(1)), 1);
    cr_assert_eq(quota_threshold_calls(80, opt_some(0)), -1);
    cr_assert_eq(quota_threshold_calls(80, opt_none()), -1);
    cr_assert_eq(quota_threshold_calls(50, opt_some(INT64_MAX)), INT64_MAX / 2 + 1);
    cr_assert_eq(quota_threshold_calls(100, opt_some(INT64_MAX)), INT64_MAX);
}

Test(alerts, the_call_reaching_a_threshold_finds_it_due_and_once_recorded_it_is_not)
{
    alert_set a = {.n = 3, .pct = {50, 80, 100}};
    uint8_t out[ALERT_THRESHOLDS_MAX], done[ALERT_THRESHOLDS_MAX];
    size_t ndone = 0;
    int reached[101] = {0};
    for (int64_t used = 1; used <= 25; used++) {
        size_t n = quota_thresholds_due(&a, opt_some(10), used, done, ndone, out);
        for (size_t i = 0; i < n; i++) {
            reached[out[i]] += (int)used;
            done[ndone++] = out[i];
        }
    }
    cr_assert_eq(reached[50], 5);
    cr_assert_eq(reached[80], 8);
    cr_assert_eq(reached[100], 10);
    /* Seeded past two thresholds (a restart): both due at the next call, none forgotten. */
    cr_assert_eq(quota_thresholds_due(&a, opt_some(10), 9, done, 1, out), 1);
    cr_assert_eq(out[0], 80);
    cr_assert_eq(quota_thresholds_due(&a, opt_some(10), 12, NULL, 0, out), 3);
    /* Several thresholds on one call when the limit is small. */
    cr_assert_eq(quota_thresholds_due(&a, opt_some(1), 1, NULL, 0, out), 3);
    cr_assert_eq(out[0], 50);
    cr_assert_eq(out[2], 100);
    cr_assert_eq(quota_thresholds_due(&a, opt_some(10), 4, NULL, 0, out), 0);
    alert_set none = {0};
    cr_assert_eq(quota_thresholds_due(&none, opt_some(10), 8, NULL, 0, out), 0);
    cr_assert_eq(quota_thresholds_due(&a, opt_none(), 8, NULL, 0, out), 0);
    cr_assert_eq(quota_thresholds_due(&a, opt_some(0), 8, NULL, 0, out), 0);
}

Test(alerts, text_form_round_trips_and_refuses_everything_else)
{
    alert_set a;
    cr_assert(alert_set_parse("80,100", &a));
    cr_assert_eq(a.n, 2);
    cr_assert_eq(a.pct[1], 100);
    cr_assert(alert_set_parse("", &a));
    cr_assert_eq(a.n, 0);
    cr_assert(alert_set_parse("1,2,3,4,100", &a));
    char text[ALERT_SET_TEXT_MAX];
    alert_set_format(&a, text);
    cr_assert_str_eq(text, "1,2,3,4,100");
    static const char *const bad[] = {"0",     "101",         "080", "80,", ",80",     "80,,100", "100,80",
                                      "80,80", "1,2,3,4,5,6", "+80", "-1",  "80 ,100", "8a",      "1000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(alert_set_parse(bad[i], &a), "%s", bad[i]);
    alert_set def = alert_set_default();
    alert_set_format(&def, text);
    cr_assert_str_eq(text, "80,100");
}
