/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The metering service on its own: decisions, rollovers, refunds, group commit. */
#include <criterion/criterion.h>
#include <string.h>

#include "integration/harness.h"
#include "services/usage.h"

static char dir[256];
static store *st;
static tzdb *tz;
static metrics *m;
static usage *u;
static app_log lg;

static void setup(void)
{
    th_tmpdir(dir);
    char path[300];
    snprintf(path, sizeof path, "%s/u.db", dir);
    app_err err;
    app_err_clear(&err);
    st = store_sqlite_open(path, &err);
    int applied;
    cr_assert_eq(store_migrate(st, &applied, &err), 0);
    tz = tzdb_new();
    m = metrics_new(NULL, 0);
    log_init(&lg, LOG_OFF, 2);
    u = usage_new(st, tz, clock_system(), &lg, m);
}

static void teardown(void)
{
    usage_free(u);
    metrics_free(m);
    tzdb_free(tz);
    store_close(st);
    th_rmdir(dir);
}

TestSuite(usage, .init = setup, .fini = teardown);

static principal who(int64_t day_limit)
{
    principal p = {.account_id = 7, .credential_id = 70, .has_contract = true, .metered = true};
    strcpy(p.key_id, "abcdefghijkl");
    strcpy(p.timezone, "UTC");
    p.limits = (limits){.daily_limit = {true, day_limit}, .mode = LIMIT_BLOCK, .rate_per_second = 1, .burst = 1};
    return p;
}

static int reserve(const principal *p, int64_t now, usage_ticket *t)
{
    usage_view v;
    app_err err;
    app_err_clear(&err);
    int rc = usage_reserve(u, p, now, t, &v, &err);
    free(t->audit); /* not committed in these tests */
    t->audit = NULL;
    return rc;
}

#define DAY 86400000LL
#define D1 1795046400000LL /* 2026-11-19T00:00:00Z */

Test(usage, a_late_call_from_yesterday_does_not_reset_today)
{
    principal p = who(3);
    usage_ticket t;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(reserve(&p, D1 + 1000, &t), 0);
    /* A call that read the clock just before midnight is decided after today's calls. */
    cr_assert_eq(reserve(&p, D1 - 1, &t), APP_B2B_QUOTA_EXCEEDED, "decided as today's, which is full");
    cr_assert_eq(reserve(&p, D1 + 2000, &t), APP_B2B_QUOTA_EXCEEDED, "today's count survived");
    cr_assert_eq(reserve(&p, D1 + DAY, &t), 0, "tomorrow starts afresh");
}

Test(usage, refunds_give_back_only_within_the_period)
{
    principal p = who(1);
    usage_ticket t, t2;
    cr_assert_eq(reserve(&p, D1 + 5, &t), 0);
    usage_refund(u, &t);
    cr_assert_eq(reserve(&p, D1 + 6, &t2), 0, "the refunded call freed its place");
    cr_assert_eq(reserve(&p, D1 + DAY + 1, &t), 0);
    usage_refund(u, &t2); /* yesterday's reservation: nothing to give back today */
    usage_ticket t3;
    cr_assert_eq(reserve(&p, D1 + DAY + 2, &t3), APP_B2B_QUOTA_EXCEEDED);
}

static int commits;
static void on_done(void *arg, int rc)
{
    (void)arg;
    cr_assert_eq(rc, 0);
    __atomic_fetch_add(&commits, 1, __ATOMIC_SEQ_CST);
}

Test(usage, group_commit_writes_every_call_once)
{
    /* Rows need their account and credential (foreign keys). */
    app_err err;
    app_err_clear(&err);
    account a = {.name = "A", .created_at = 1};
    cr_assert_eq(store_account_create(st, &a, NULL, &err), 0);
    credential c = {.account_id = a.id, .created_at = 1};
    strcpy(c.key_id, "abcdefghijkl");
    cr_assert_eq(store_credential_create(st, &c, NULL, &err), 0);
    principal p = who(1000);
    p.account_id = a.id;
    p.credential_id = c.id;
    for (int i = 0; i < 500; i++) {
        usage_ticket t;
        usage_view v;
        cr_assert_eq(usage_reserve(u, &p, D1 + i, &t, &v, &err), 0);
        usage_commit(u, &t, NULL, on_done, NULL);
    }
    usage_flush(u);
    cr_assert_eq(__atomic_load_n(&commits, __ATOMIC_SEQ_CST), 500);
    usage_totals tot;
    cr_assert_eq(store_usage_sum(st, a.id, -1, "2026-11-19", "2026-11-19", &tot, &err), 0);
    cr_assert_eq(tot.requests, 500);
}
