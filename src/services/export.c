/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "services/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"
#include "domain/period.h"
#include "services/report.h"

struct export_job {
    store *store; /* borrowed */
    export_format format;
    bool accounts; /* the invoicing export (usage_accounts_page), else one account's (usage_key_days) */
    int64_t account_id;
    char from[11], to[11], month[8];
    char filename[64];
    bool header_done;
    size_t pages; /* read so far: the cursor is the last row of the previous page when > 0 */
    union {       /* one page, allocated once */
        usage_key_day *days;
        usage_account_row *rows;
    } page;
};

int export_format_parse(const char *s, export_format *out, app_err *err)
{
    if (s == NULL || strcmp(s, "csv") == 0)
        *out = EXPORT_CSV;
    else if (strcmp(s, "ndjson") == 0)
        *out = EXPORT_NDJSON;
    else
        return app_err_field(err, "format", "must be csv or ndjson");
    return 0;
}

static const char *ext(export_format f)
{
    return f == EXPORT_NDJSON ? "ndjson" : "csv";
}

int export_account_open(services *s, metering *m, int64_t account_id, const char *from, const char *to,
                        export_format format, int64_t now_ms, export_job **out, app_err *err)
{
    report_range range;
    int rc = report_range_resolve(s, m, account_id, from, to, now_ms, &range, err);
    if (rc != 0)
        return rc;
    export_job *j = xcalloc(1, sizeof *j);
    j->store = s->store;
    j->format = format;
    j->account_id = account_id;
    memcpy(j->from, range.from, sizeof j->from);
    memcpy(j->to, range.to, sizeof j->to);
    snprintf(j->filename, sizeof j->filename, "starmeter-usage-%s-%s.%s", j->from, j->to, ext(format));
    j->page.days = xmalloc(EXPORT_PAGE_ROWS * sizeof *j->page.days);
    *out = j;
    return 0;
}

int export_month_open(services *s, metering *m, const char *month, export_format format, export_job **out, app_err *err)
{
    /* The month's first day, parsed by the same rules as every date of the API. */
    char first[16];
    local_date d;
    if (month == NULL || strlen(month) != 7 || snprintf(first, sizeof first, "%s-01", month) != 10 ||
        period_date_parse(first, &d) != 0)
        return app_err_field(err, "month", "must be a month YYYY-MM");
    local_date next = d.month == 12 ? (local_date){d.year + 1, 1, 1} : (local_date){d.year, d.month + 1, 1};
    /* Every call answered so far is in the rows read below, as for the summary: an invoice run
     * just after the month ends must not miss the calls still in the journal. */
    int rc = metering_settle(m, err);
    if (rc != 0)
        return rc;
    export_job *j = xcalloc(1, sizeof *j);
    j->store = s->store;
    j->format = format;
    j->accounts = true;
    period_date_format(d, j->from);
    period_date_format(period_date_from_days(period_date_days(next) - 1), j->to);
    memcpy(j->month, month, 7);
    snprintf(j->filename, sizeof j->filename, "starmeter-usage-%s.%s", j->month, ext(format));
    j->page.rows = xmalloc(EXPORT_PAGE_ROWS * sizeof *j->page.rows);
    *out = j;
    return 0;
}

const char *export_filename(const export_job *j)
{
    return j->filename;
}

void export_free(export_job *j)
{
    if (j == NULL)
        return;
    free(j->accounts ? (void *)j->page.rows : (void *)j->page.days);
    free(j);
}

/* ---- CSV (RFC 4180) ---- */

/*
 * A text field: quoted when it holds a comma, a quote, CR or LF, quotes doubled. A field a
 * spreadsheet would read as a formula (first character = + - @ tab or CR) is prefixed with ' and
 * quoted, so that opening an export never runs what a customer typed into a label.
 */
static void csv_text(buf *b, const char *s)
{
    bool formula = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
    if (!formula && strpbrk(s, ",\"\r\n") == NULL) {
        buf_appends(b, s);
        return;
    }
    buf_append(b, formula ? "\"'" : "\"", formula ? 2 : 1);
    for (const char *q; (q = strchr(s, '"')) != NULL; s = q + 1) {
        buf_append(b, s, (size_t)(q - s));
        buf_append(b, "\"\"", 2);
    }
    buf_appends(b, s);
    buf_append(b, "\"", 1);
}

static void csv_limit(buf *b, opt_i64 v)
{
    if (v.present)
        buf_appendf(b, "%lld", (long long)v.v);
}

static void csv_totals(buf *b, const usage_totals *t)
{
    buf_appendf(b, ",%lld,%lld,%lld", (long long)t->requests, (long long)t->overage, (long long)t->blocked);
}

static const char *status_name(account_status s)
{
    return s == ACCOUNT_SUSPENDED ? "suspended" : "active";
}

static void csv_day(buf *b, const usage_key_day *r)
{
    buf_appends(b, r->date);
    buf_append(b, ",", 1);
    buf_appends(b, r->key_id);
    buf_append(b, ",", 1);
    csv_text(b, r->label);
    csv_totals(b, &r->t);
    buf_append(b, "\r\n", 2);
}

static const char *mode_name(limit_mode m)
{
    return m == LIMIT_OVERAGE ? "overage" : "block";
}

/* The overage cap where it applies (overage mode); none in block mode, where no call is overage. */
static opt_i64 overage_cap_of(const limits *l)
{
    return l->mode == LIMIT_OVERAGE ? l->overage_cap : opt_none();
}

static void csv_account(buf *b, const char *month, const usage_account_row *r)
{
    buf_appendf(b, "%s,%lld,", month, (long long)r->account_id);
    csv_text(b, r->account_name);
    buf_append(b, ",", 1);
    csv_text(b, r->plan_code);
    buf_appendf(b, ",%s,", mode_name(r->limits.mode));
    csv_limit(b, r->limits.daily_limit);
    buf_append(b, ",", 1);
    csv_limit(b, r->limits.monthly_limit);
    buf_append(b, ",", 1);
    csv_limit(b, overage_cap_of(&r->limits));
    buf_append(b, ",", 1);
    buf_appends(b, r->key_id);
    buf_append(b, ",", 1);
    csv_text(b, r->label);
    csv_totals(b, &r->t);
    buf_appendf(b, ",%s\r\n", status_name(r->status));
}

/* ---- NDJSON ---- */

static int on_json_bytes(const char *p, size_t n, void *arg)
{
    buf_append(arg, p, n);
    return 0;
}

static json_t *json_limit(opt_i64 v)
{
    return v.present ? json_integer(v.v) : json_null();
}

/* Appends `line` (stolen) and a newline; internal_error when jansson could not build it. */
static int ndjson_line(buf *b, json_t *line, app_err *err)
{
    if (line == NULL)
        return app_err_set(err, APP_INTERNAL_ERROR, "an export row could not be encoded as JSON");
    int rc = json_dump_callback(line, on_json_bytes, b, JSON_COMPACT);
    json_decref(line);
    if (rc != 0)
        return app_err_set(err, APP_INTERNAL_ERROR, "an export row could not be encoded as JSON");
    buf_append(b, "\n", 1);
    return 0;
}

static json_t *ndjson_day(const usage_key_day *r)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "date", r->date, "key_id", r->key_id, "label", r->label,
                     "requests", (json_int_t)r->t.requests, "overage", (json_int_t)r->t.overage, "blocked",
                     (json_int_t)r->t.blocked);
}

static json_t *ndjson_account(const char *month, const usage_account_row *r)
{
    bool key = r->credential_id != 0;
    return json_pack("{s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:s}", "month", month,
                     "account_id", (json_int_t)r->account_id, "account_name", r->account_name, "plan", r->plan_code,
                     "mode", mode_name(r->limits.mode), "daily_limit", json_limit(r->limits.daily_limit),
                     "monthly_limit", json_limit(r->limits.monthly_limit), "overage_cap",
                     json_limit(overage_cap_of(&r->limits)), "key_id", key ? json_string(r->key_id) : json_null(),
                     "label", key ? json_string(r->label) : json_null(), "requests", (json_int_t)r->t.requests,
                     "overage", (json_int_t)r->t.overage, "blocked", (json_int_t)r->t.blocked, "account_status",
                     status_name(r->status));
}

/* ---- chunks ---- */

static const char CSV_DAYS_HEADER[] = "date,key_id,label,requests,overage,blocked\r\n";
static const char CSV_ACCOUNTS_HEADER[] =
    "month,account_id,account_name,plan,mode,daily_limit,monthly_limit,overage_cap,key_id,label,requests,overage,"
    "blocked,account_status\r\n";

int export_next(export_job *j, buf *out, bool *last, app_err *err)
{
    if (!j->header_done && j->format == EXPORT_CSV)
        buf_appends(out, j->accounts ? CSV_ACCOUNTS_HEADER : CSV_DAYS_HEADER);
    j->header_done = true;
    size_t n = 0;
    int rc;
    if (j->accounts) {
        const usage_account_row *after = j->pages ? &j->page.rows[EXPORT_PAGE_ROWS - 1] : NULL;
        usage_account_row cursor;
        if (after != NULL) { /* the page is overwritten by the read: the cursor is copied out first */
            cursor = *after;
            after = &cursor;
        }
        rc = store_usage_accounts_page(j->store, j->from, j->to, after, j->page.rows, EXPORT_PAGE_ROWS, &n, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (j->format == EXPORT_CSV)
                csv_account(out, j->month, &j->page.rows[i]);
            else
                rc = ndjson_line(out, ndjson_account(j->month, &j->page.rows[i]), err);
        }
    } else {
        const usage_key_day *after = j->pages ? &j->page.days[EXPORT_PAGE_ROWS - 1] : NULL;
        usage_key_day cursor;
        if (after != NULL) {
            cursor = *after;
            after = &cursor;
        }
        rc = store_usage_key_days(j->store, j->account_id, j->from, j->to, after, j->page.days, EXPORT_PAGE_ROWS, &n,
                                  err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (j->format == EXPORT_CSV)
                csv_day(out, &j->page.days[i]);
            else
                rc = ndjson_line(out, ndjson_day(&j->page.days[i]), err);
        }
    }
    if (rc != 0)
        return rc;
    j->pages++;
    *last = n < EXPORT_PAGE_ROWS; /* a short page is the store's last */
    return 0;
}
