/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The failed-authentication table stays bounded: past its size, failures count under "other". */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "integration/harness.h"
#include "services/authaudit.h"

Test(authaudit, ten_thousand_targets_keep_the_table_bounded_and_every_failure_counted)
{
    char dir[256], db[300];
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/a.db", dir);
    app_err err;
    app_err_clear(&err);
    store *st = store_sqlite_open(db, &err);
    cr_assert_not_null(st, "%s", err.message);
    int applied;
    cr_assert_eq(store_migrate(st, &applied, &err), 0, "%s", err.message);
    app_clock clock;
    clock_test_init(&clock, 1795000000000LL);
    app_log log;
    log_init(&log, LOG_ERROR, 2);
    metrics *m = metrics_new(NULL, 0);
    authaudit_opts o = {.store = st, .clock = &clock, .log = &log, .metrics = m};
    authaudit *a = authaudit_new(&o);

    char addr[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(addr, sizeof addr, "10.0.%d.%d", i / 250, i % 250);
        authaudit_record(a, i % 2 ? AUTHAUDIT_INVALID_API_KEY : AUTHAUDIT_ADMIN_AUTH_REQUIRED, NULL, 0, addr);
        cr_assert_leq(authaudit_size(a), AUTHAUDIT_MAX_TARGETS);
    }
    cr_assert_eq(authaudit_size(a), AUTHAUDIT_MAX_TARGETS);
    /* The minute is still open: nothing is written yet. */
    cr_assert_eq(authaudit_flush(a, false, &err), 0, "%s", err.message);
    cr_assert_eq(authaudit_size(a), AUTHAUDIT_MAX_TARGETS);
    clock_test_advance(&clock, 60 * 1000);
    cr_assert_eq(authaudit_flush(a, false, &err), 0, "%s", err.message);
    cr_assert_eq(authaudit_size(a), 0);

    /* One event per target, two "other" events (one per reason), 10,000 failures in all. */
    audit_filter f = {.action = "auth.failure"};
    audit_event *evs = calloc(256, sizeof *evs);
    int64_t after = 0, total = 0, events = 0, others = 0;
    for (;;) {
        size_t n = 0;
        cr_assert_eq(store_audit_list(st, &f, after, evs, 256, &n, &err), 0, "%s", err.message);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            json_t *d = json_loads(evs[i].details, 0, NULL);
            cr_assert_not_null(d);
            total += json_integer_value(json_object_get(d, "count"));
            json_decref(d);
            others += strcmp(evs[i].target, "other") == 0;
            events++;
        }
        after = evs[n - 1].seq;
    }
    free(evs);
    cr_assert_eq(events, AUTHAUDIT_MAX_TARGETS + 2);
    cr_assert_eq(others, 2);
    cr_assert_eq(total, 10000);

    authaudit_free(a);
    metrics_free(m);
    store_close(st);
    th_rmdir(dir);
}
