/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "services/report.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"
#include "domain/civil.h"
#include "domain/quota.h"

static json_t *json_limit(opt_i64 v)
{
    return v.present ? json_integer(v.v) : json_null();
}

static json_t *period_json(int64_t start_ms, int64_t end_ms, const usage_totals *t, opt_i64 limit)
{
    int64_t remaining = quota_remaining(limit, t->requests);
    /* A period's overage is the calls served as overage in it, the rows' sum: what the invoice
     * bills for it, and the sum of its credentials' and its days' as every other figure is. It is
     * max(used - limit, 0) under one limit; not when the day's and the month's both apply (a month
     * within its limit holds the calls its days served past theirs), nor after a limit changed
     * within the period (a block contract lowered below its use served none as overage). */
    return json_pack("{s:o, s:o, s:I, s:o, s:o, s:I, s:I, s:o}", "period_start", services_json_time(start_ms),
                     "period_end", services_json_time(end_ms), "used", (json_int_t)t->requests, "limit",
                     json_limit(limit), "remaining", remaining < 0 ? json_null() : json_integer(remaining), "overage",
                     (json_int_t)t->overage, "blocked", (json_int_t)t->blocked, "resets_at",
                     services_json_time(end_ms));
}

static json_t *totals_json(const usage_totals *t)
{
    return json_pack("{s:I, s:I, s:I}", "used", (json_int_t)t->requests, "overage", (json_int_t)t->overage, "blocked",
                     (json_int_t)t->blocked);
}

/* The account, its contract and plan; forbidden-free: the caller already owns the account. */
static int load_contract(services *s, int64_t account_id, account *acc, contract *c, plan *p, app_err *err)
{
    int rc = store_account_get(s->store, account_id, acc, err);
    if (rc == 0 && (rc = store_contract_get(s->store, account_id, c, err)) == APP_NOT_FOUND)
        return app_err_set(err, APP_NOT_FOUND, "account %lld has no contract", (long long)account_id);
    if (rc == 0)
        rc = store_plan_get(s->store, c->plan_id, p, err);
    return rc;
}

int report_summary(services *s, metering *meter, int64_t account_id, int64_t now_ms, json_t **out, app_err *err)
{
    account acc;
    contract c;
    plan p;
    int rc = load_contract(s, account_id, &acc, &c, &p, err);
    if (rc != 0)
        return rc;
    limits l = contract_effective_limits(&p, &c);
    if ((rc = metering_settle(meter, err)) != 0) /* every call answered so far is in the rows read below */
        return rc;
    periods per = metering_periods(meter, c.timezone, now_ms);
    char today[11], first[11], since[11];
    period_date_format(per.today, today);
    period_date_format((local_date){per.today.year, per.today.month, 1}, first);
    local_date start = metering_periods(meter, c.timezone, c.starts_at).today;
    period_date_format(start, since);

    usage_totals day, month, all;
    if ((rc = store_usage_sum(s->store, account_id, -1, today, today, &day, err)) != 0 ||
        (rc = store_usage_sum(s->store, account_id, -1, first, today, &month, err)) != 0 ||
        (rc = store_usage_sum(s->store, account_id, -1, "0000-00-00", "9999-99-99", &all, err)) != 0)
        return rc;

    /* Per credential: every credential of the account (however many: a key rotated daily for
     * years), with zeros where it made no call. The rows come one per credential that called,
     * ordered by credential as the list is, so each is matched in one pass. */
    credential *creds = NULL;
    size_t nc = 0, cap = 0, n;
    do {
        if (nc == cap)
            creds = xrealloc(creds, (cap = cap ? 2 * cap : 256) * sizeof *creds);
        rc = store_credential_list(s->store, account_id, nc ? creds[nc - 1].id : 0, creds + nc, cap - nc, &n, err);
        nc += rc == 0 ? n : 0;
    } while (rc == 0 && nc == cap);
    size_t rcap = nc ? nc : 1, nd = 0, nm = 0;
    usage_row *drows = xmalloc(rcap * sizeof *drows), *mrows = xmalloc(rcap * sizeof *mrows);
    json_t *list = json_array();
    if (rc == 0 && (rc = store_usage_rows(s->store, account_id, -1, today, today, true, drows, rcap, &nd, err)) == 0)
        rc = store_usage_rows(s->store, account_id, -1, first, today, true, mrows, rcap, &nm, err);
    for (size_t i = 0, kd = 0, km = 0; rc == 0 && i < nc; i++) {
        usage_totals d = {0}, m = {0};
        while (kd < nd && drows[kd].credential_id < creds[i].id)
            kd++;
        if (kd < nd && drows[kd].credential_id == creds[i].id)
            d = drows[kd].t;
        while (km < nm && mrows[km].credential_id < creds[i].id)
            km++;
        if (km < nm && mrows[km].credential_id == creds[i].id)
            m = mrows[km].t;
        opt_i64 lu = keycache_last_used(s->keys, creds[i].key_id);
        if (!lu.present || (creds[i].last_used_at.present && creds[i].last_used_at.v > lu.v))
            lu = creds[i].last_used_at;
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "key_id", creds[i].key_id, "label",
                                              creds[i].label, "status",
                                              creds[i].status == CREDENTIAL_REVOKED ? "revoked" : "active",
                                              "last_used_at", lu.present ? services_json_time(lu.v) : json_null(),
                                              "daily", totals_json(&d), "monthly", totals_json(&m)));
    }
    free(creds);
    free(drows);
    free(mrows);
    if (rc != 0) {
        json_decref(list);
        return rc;
    }
    json_t *cumulative = totals_json(&all);
    json_object_set_new(cumulative, "since", json_string(since));
    *out = json_pack("{s:{s:I, s:s}, s:{s:s, s:s}, s:s, s:s, s:b, s:o, s:o, s:o, s:o}", "account", "id",
                     (json_int_t)acc.id, "name", acc.name, "plan", "code", p.code, "name", p.name, "mode",
                     l.mode == LIMIT_OVERAGE ? "overage" : "block", "timezone", c.timezone, "metered", p.metered,
                     "daily", period_json(per.day_start_ms, per.day_end_ms, &day, l.daily_limit), "monthly",
                     period_json(per.month_start_ms, per.month_end_ms, &month, l.monthly_limit), "cumulative",
                     cumulative, "credentials", list);
    if (l.mode == LIMIT_OVERAGE)
        json_object_set_new(*out, "overage_cap", json_limit(l.overage_cap));
    return 0;
}

int report_range_resolve(services *s, metering *m, int64_t account_id, const char *from, const char *to, int64_t now_ms,
                         report_range *out, app_err *err)
{
    account acc;
    contract c;
    plan p;
    int rc = load_contract(s, account_id, &acc, &c, &p, err);
    if (rc != 0)
        return rc;
    if ((rc = metering_settle(m, err)) != 0) /* every call answered so far is in the rows read after */
        return rc;
    local_date today = metering_periods(m, c.timezone, now_ms).today;
    local_date f = today, t = today;
    if (to != NULL && period_date_parse(to, &t) != 0)
        return app_err_field(err, "to", "must be a date YYYY-MM-DD");
    if (from == NULL)
        f = period_date_from_days(period_date_days(to ? t : today) - 29);
    else if (period_date_parse(from, &f) != 0)
        app_err_field(err, "from", "must be a date YYYY-MM-DD");
    if (err->code != APP_OK)
        return err->code;
    int64_t days = period_date_days(t) - period_date_days(f) + 1;
    if (days < 1)
        return app_err_field(err, "from", "must not be after to");
    if (days > HISTORY_MAX_DAYS)
        return app_err_field(err, "to", "the range is %lld days; at most %d are allowed", (long long)days,
                             HISTORY_MAX_DAYS);
    period_date_format(f, out->from);
    period_date_format(t, out->to);
    out->first = f;
    out->last = t;
    str_copy(out->timezone, sizeof out->timezone, c.timezone);
    return 0;
}

int report_history(services *s, metering *m, int64_t account_id, const char *from, const char *to, const char *key_id,
                   int64_t now_ms, json_t **out, app_err *err)
{
    report_range range;
    int rc = report_range_resolve(s, m, account_id, from, to, now_ms, &range, err);
    if (rc != 0)
        return rc;
    local_date f = range.first, t = range.last;
    int64_t cred_id = -1;
    if (key_id != NULL) {
        credential cr;
        if ((rc = store_credential_get(s->store, key_id, &cr, err)) != 0)
            return rc;
        if (cr.account_id != account_id)
            return app_err_set(err, APP_FORBIDDEN, NULL);
        cred_id = cr.id;
    }
    const char *from_s = range.from, *to_s = range.to;
    usage_row *rows = xmalloc(HISTORY_MAX_DAYS * sizeof *rows);
    size_t n;
    if ((rc = store_usage_rows(s->store, account_id, cred_id, from_s, to_s, false, rows, HISTORY_MAX_DAYS, &n, err)) !=
        0) {
        free(rows);
        return rc;
    }
    json_t *list = json_array();
    usage_totals total = {0};
    size_t k = 0;
    for (int64_t d = period_date_days(f); d <= period_date_days(t); d++) {
        char date[11];
        period_date_format(period_date_from_days(d), date);
        usage_totals v = {0};
        if (k < n && strcmp(rows[k].date, date) == 0)
            v = rows[k++].t;
        total.requests += v.requests;
        total.overage += v.overage;
        total.blocked += v.blocked;
        json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:I}", "date", date, "requests", (json_int_t)v.requests,
                                              "overage", (json_int_t)v.overage, "blocked", (json_int_t)v.blocked));
    }
    free(rows);
    *out =
        json_pack("{s:s, s:s, s:s, s:s?, s:o, s:{s:I, s:I, s:I}}", "from", from_s, "to", to_s, "timezone",
                  range.timezone, "credential", key_id, "days", list, "totals", "requests", (json_int_t)total.requests,
                  "overage", (json_int_t)total.overage, "blocked", (json_int_t)total.blocked);
    return 0;
}

int report_alerts(services *s, metering *meter, int64_t account_id, int64_t now_ms, json_t **out, app_err *err)
{
    account acc;
    contract c;
    plan p;
    int rc = load_contract(s, account_id, &acc, &c, &p, err);
    if (rc != 0)
        return rc;
    limits l = contract_effective_limits(&p, &c);
    /* An alert is written with the count that reached it, before that call is answered: nothing
     * to settle. */
    periods per = metering_periods(meter, c.timezone, now_ms);
    local_date first = {per.today.year, per.today.month, 1};
    local_date yesterday = metering_periods(meter, c.timezone, per.day_start_ms - 1).today;
    local_date last_month = metering_periods(meter, c.timezone, per.month_start_ms - 1).today;
    last_month.day = 1;
    char today_s[11], first_s[11], yesterday_s[11], last_month_s[11];
    period_date_format(per.today, today_s);
    period_date_format(first, first_s);
    period_date_format(yesterday, yesterday_s);
    period_date_format(last_month, last_month_s);
    /* Four periods of at most 100 thresholds each (a contract's list may change within a period). */
    enum { CAP = 4 * 100 };
    usage_alert *got = xmalloc(CAP * sizeof *got);
    size_t n = 0;
    if ((rc = store_alert_list(s->store, account_id, yesterday_s, last_month_s, got, CAP, &n, err)) != 0) {
        free(got);
        return rc;
    }
    json_t *thresholds = json_array(), *alerts = json_array();
    for (uint8_t i = 0; i < l.alerts.n; i++)
        json_array_append_new(thresholds, json_integer(l.alerts.pct[i]));
    for (size_t i = 0; i < n; i++) {
        const usage_alert *a = &got[i];
        bool current = strcmp(a->period_start, a->monthly ? first_s : today_s) == 0;
        json_array_append_new(
            alerts, json_pack("{s:s, s:s, s:b, s:i, s:I, s:I, s:o}", "period", a->monthly ? "month" : "day",
                              "period_start", a->period_start, "current", current, "threshold", a->threshold, "used",
                              (json_int_t)a->used, "limit", (json_int_t)a->limit, "at", services_json_time(a->at)));
    }
    free(got);
    *out = json_pack("{s:o, s:o}", "thresholds", thresholds, "alerts", alerts);
    return 0;
}
