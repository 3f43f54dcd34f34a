/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Usage exports over HTTP against a real server: CSV and NDJSON lines, quoting and formula
 * neutralisation, sums equal to the summary and the history, the history's 422s, isolation, the
 * admin's month, and the promise of streaming: 10,000 accounts exported with the server's RSS
 * growing by less than 8 MiB for a body much larger than that, and a client gone mid-export.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "integration/harness.h"

/*
 * The RSS test measures what the server keeps. ASan's quarantine holds every freed block (256 MiB
 * by default) before reuse, so RSS would grow with all the bytes ever allocated, not with what is
 * alive: a small one makes RSS follow live memory again. Options from ASAN_OPTIONS still apply.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=1:thread_local_quarantine_size_kb=64";
}

static th_server srv;
static app_clock test_clock;

static void setup(void)
{
    clock_test_init(&test_clock, 1795000000000LL); /* 2026-11-18T11:06:40Z */
    th_opts o = {.clock = &test_clock};
    th_start(&srv, &o);
}

static void teardown(void)
{
    th_stop(&srv);
}

TestSuite(export, .init = setup, .fini = teardown, .timeout = 240);

/* ---- fixtures through the admin API ---- */

static void admin_ok(const char *method, const char *path, const char *body, long want, th_response *r)
{
    cr_assert_eq(th_admin(&srv, method, path, body, r), want, "%s %s: %s", method, path, r->body);
}

static int64_t create_account(const char *name)
{
    json_t *b = json_pack("{s:s}", "name", name);
    char *body = json_dumps(b, 0);
    th_response r;
    admin_ok("POST", "/v1/admin/accounts", body, 201, &r);
    int64_t id = json_integer_value(json_object_get(th_data(&r), "id"));
    th_response_free(&r);
    free(body);
    json_decref(b);
    return id;
}

static void put_contract(int64_t account_id, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", (long long)account_id);
    th_response r;
    admin_ok("PUT", path, body, 200, &r);
    th_response_free(&r);
}

/* Issues a key labelled `label`; the full key into key[80], its id into kid[16]. */
static void issue_key(int64_t account_id, const char *label, char key[80], char kid[16])
{
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", (long long)account_id);
    json_t *b = json_pack("{s:s}", "label", label);
    char *body = json_dumps(b, 0);
    th_response r;
    admin_ok("POST", path, body, 201, &r);
    snprintf(key, 80, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    snprintf(kid, 16, "%s", json_string_value(json_object_get(th_data(&r), "key_id")));
    th_response_free(&r);
    free(body);
    json_decref(b);
}

static void make_plans(void)
{
    th_response r;
    admin_ok(
        "POST", "/v1/admin/plans",
        "{\"code\":\"pro\",\"name\":\"Pro\",\"daily_limit\":1000,\"monthly_limit\":20000,\"limit_mode\":\"block\"}",
        201, &r);
    th_response_free(&r);
}

/* Adds usage rows straight to the store the server reads: (key, date, requests, overage, blocked). */
typedef struct row {
    const char *kid, *date;
    int64_t req, over, blocked;
} row;

static void seed(const row *rows, size_t n)
{
    store *st = th_store_open(&srv);
    app_err err;
    app_err_clear(&err);
    usage_delta *d = calloc(n, sizeof *d);
    for (size_t i = 0; i < n; i++) {
        credential c;
        cr_assert_eq(store_credential_get(st, rows[i].kid, &c, &err), 0, "%s", err.message);
        d[i] = (usage_delta){.account_id = c.account_id,
                             .credential_id = c.id,
                             .requests = rows[i].req,
                             .overage = rows[i].over,
                             .blocked = rows[i].blocked};
        snprintf(d[i].date, sizeof d[i].date, "%s", rows[i].date);
    }
    usage_batch b = {.deltas = d, .ndeltas = n, .durable = true};
    cr_assert_eq(store_usage_apply(st, &b, &err), 0, "%s", err.message);
    free(d);
    store_close(st);
}

/* Sets a key's label in the store, as data copied from elsewhere may hold (the API refuses controls). */
static void set_label(const char *kid, const char *label)
{
    store *st = th_store_open(&srv);
    app_err err;
    app_err_clear(&err);
    credential c;
    cr_assert_eq(store_credential_get(st, kid, &c, &err), 0, "%s", err.message);
    snprintf(c.label, sizeof c.label, "%s", label);
    cr_assert_eq(store_credential_update(st, &c, NULL, &err), 0, "%s", err.message);
    store_close(st);
}

/* ---- reading exports ---- */

/* Sums of the numeric columns of a CSV or NDJSON export (requests, overage, blocked) and its lines. */
typedef struct sums {
    int64_t requests, overage, blocked;
    size_t lines;
} sums;

/* The last three numeric fields (never quoted) of each CSV record after the header, before the admin listing's
 * account_status; CRLF inside quotes is data. */
static sums csv_sums(const char *body)
{
    sums s = {0};
    const char *rec = strstr(body, "\r\n");
    cr_assert_not_null(rec);
    rec += 2;
    bool quoted = false;
    for (const char *p = rec; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        if (quoted || p[0] != '\r' || p[1] != '\n')
            continue;
        int64_t v[3];
        const char *end = p;
        const char *last = end;
        while (last > rec && last[-1] != ',')
            last--;
        if (last < end && *last >= 'a' && *last <= 'z') /* the admin listing's account_status */
            end = last - 1;
        for (int k = 2; k >= 0; k--) {
            const char *start = end;
            while (start > rec && start[-1] != ',')
                start--;
            v[k] = strtoll(start, NULL, 10);
            end = start - 1;
        }
        s.requests += v[0];
        s.overage += v[1];
        s.blocked += v[2];
        s.lines++;
        rec = ++p + 1;
    }
    cr_assert(!quoted && *rec == '\0', "every record ends with CRLF");
    return s;
}

static sums ndjson_sums(const char *body)
{
    sums s = {0};
    for (const char *line = body; *line; s.lines++) {
        const char *eol = strchr(line, '\n');
        cr_assert_not_null(eol);
        json_t *j = json_loadb(line, (size_t)(eol - line), 0, NULL);
        cr_assert_not_null(j, "a JSON object per line: %.*s", (int)(eol - line), line);
        s.requests += json_integer_value(json_object_get(j, "requests"));
        s.overage += json_integer_value(json_object_get(j, "overage"));
        s.blocked += json_integer_value(json_object_get(j, "blocked"));
        json_decref(j);
        line = eol + 1;
    }
    return s;
}

static json_t *get_json(const char *path, const char *key)
{
    th_response r;
    cr_assert_eq(th_keyed(&srv, path, key, &r), 200, "%s: %s", path, r.body);
    json_t *d = json_incref(th_data(&r));
    th_response_free(&r);
    return d;
}

static int64_t jint(json_t *o, const char *a, const char *b)
{
    return json_integer_value(json_object_get(b ? json_object_get(o, a) : o, b ? b : a));
}

/* ---- content ---- */

static char kid_comma[16], kid_quote[16], kid_nl[16], kid_eq[16], kid_plain[16], key_a[80];

/* Account "Acme" with five keys whose labels need quoting or neutralising, and usage on two days. */
static int64_t acme(void)
{
    make_plans();
    int64_t a = create_account("Acme");
    put_contract(a, "{\"plan_code\":\"pro\",\"timezone\":\"UTC\"}");
    char k[80];
    issue_key(a, "plain", key_a, kid_plain);
    issue_key(a, "Comma, Inc", k, kid_comma);
    issue_key(a, "He said \"hi\"", k, kid_quote);
    issue_key(a, "line", k, kid_nl);
    issue_key(a, "=HYPERLINK(\"http://x\")", k, kid_eq);
    set_label(kid_nl, "two\r\nlines");
    row rows[] = {
        {kid_plain, "2026-11-17", 5, 0, 1}, {kid_comma, "2026-11-17", 7, 2, 0}, {kid_quote, "2026-11-17", 1, 0, 0},
        {kid_nl, "2026-11-18", 2, 0, 0},    {kid_eq, "2026-11-18", 3, 0, 4},
    };
    seed(rows, sizeof rows / sizeof rows[0]);
    return a;
}

/* The lines of the export in (date, key_id) order, as the server must write them. */
static char *expected_csv(void)
{
    struct {
        const char *date, *kid, *field;
        int req, over, blocked;
    } lines[] = {
        {"2026-11-17", kid_plain, "plain", 5, 0, 1},
        {"2026-11-17", kid_comma, "\"Comma, Inc\"", 7, 2, 0},
        {"2026-11-17", kid_quote, "\"He said \"\"hi\"\"\"", 1, 0, 0},
        {"2026-11-18", kid_nl, "\"two\r\nlines\"", 2, 0, 0},
        {"2026-11-18", kid_eq, "\"'=HYPERLINK(\"\"http://x\"\")\"", 3, 0, 4},
    };
    size_t n = sizeof lines / sizeof lines[0];
    /* Sorted by date, then key id bytewise, as the export orders them. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i;
             j > 0 && (strcmp(lines[j - 1].date, lines[j].date) > 0 ||
                       (strcmp(lines[j - 1].date, lines[j].date) == 0 && strcmp(lines[j - 1].kid, lines[j].kid) > 0));
             j--) {
            __typeof__(lines[0]) t = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = t;
        }
    buf b;
    buf_init(&b, 1 << 16);
    buf_appends(&b, "date,key_id,label,requests,overage,blocked\r\n");
    for (size_t i = 0; i < n; i++)
        buf_appendf(&b, "%s,%s,%s,%d,%d,%d\r\n", lines[i].date, lines[i].kid, lines[i].field, lines[i].req,
                    lines[i].over, lines[i].blocked);
    buf_append(&b, "", 0);
    return b.data;
}

Test(export, csv_is_rfc4180_with_formulas_neutralised_and_a_file_name)
{
    acme();
    th_response r;
    cr_assert_eq(th_keyed(&srv, "/v1/b2b/usage/export?from=2026-11-01&to=2026-11-18", key_a, &r), 200, "%s", r.body);
    char *want = expected_csv();
    cr_assert_str_eq(r.body, want);
    free(want);
    char h[256];
    cr_assert(th_header(&r, "content-type", h, sizeof h));
    cr_assert_str_eq(h, "text/csv; charset=utf-8");
    cr_assert(th_header(&r, "content-disposition", h, sizeof h));
    cr_assert_str_eq(h, "attachment; filename=\"starmeter-usage-2026-11-01-2026-11-18.csv\"");
    cr_assert(th_header(&r, "transfer-encoding", h, sizeof h));
    cr_assert_str_eq(h, "chunked");
    cr_assert(th_header(&r, "x-request-id", h, sizeof h));
    th_response_free(&r);

    /* Every leading character a spreadsheet reads as a formula. */
    const char *risky[] = {"+1 555", "-5 off", "@home", "\tTab", "\rCR"};
    for (size_t i = 0; i < sizeof risky / sizeof risky[0]; i++) {
        set_label(kid_plain, risky[i]);
        th_keyed(&srv, "/v1/b2b/usage/export?from=2026-11-17&to=2026-11-17", key_a, &r);
        char field[64];
        snprintf(field, sizeof field, ",%s,\"'%s\",5,0,1\r\n", kid_plain, risky[i]);
        cr_assert(strstr(r.body, field) != NULL, "%s not in %s", field, r.body);
        th_response_free(&r);
    }

    /* The default range is the history's: the 30 days to today. */
    th_keyed(&srv, "/v1/b2b/usage/export", key_a, &r);
    cr_assert(th_header(&r, "content-disposition", h, sizeof h));
    cr_assert_str_eq(h, "attachment; filename=\"starmeter-usage-2026-10-20-2026-11-18.csv\"");
    th_response_free(&r);

    /* HEAD: the same head, no body. */
    char hdr[128];
    snprintf(hdr, sizeof hdr, "X-API-Key: %s", key_a);
    const char *hs[] = {hdr, NULL};
    th_request(&srv, "HEAD", "/v1/b2b/usage/export", hs, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 0);
    cr_assert(th_header(&r, "content-disposition", h, sizeof h));
    th_response_free(&r);
}

Test(export, ndjson_is_one_json_object_per_line_with_labels_as_they_are)
{
    acme();
    th_response r;
    cr_assert_eq(th_keyed(&srv, "/v1/b2b/usage/export?from=2026-11-17&to=2026-11-18&format=ndjson", key_a, &r), 200,
                 "%s", r.body);
    char h[256];
    cr_assert(th_header(&r, "content-type", h, sizeof h));
    cr_assert_str_eq(h, "application/x-ndjson");
    cr_assert(th_header(&r, "content-disposition", h, sizeof h));
    cr_assert_str_eq(h, "attachment; filename=\"starmeter-usage-2026-11-17-2026-11-18.ndjson\"");
    sums s = ndjson_sums(r.body);
    cr_assert_eq(s.lines, 5);
    cr_assert_eq(s.requests, 18);
    cr_assert_eq(s.overage, 2);
    cr_assert_eq(s.blocked, 5);
    bool seen_nl = false, seen_eq = false;
    for (const char *line = r.body; *line;) {
        const char *eol = strchr(line, '\n');
        json_t *j = json_loadb(line, (size_t)(eol - line), 0, NULL);
        cr_assert_eq(json_object_size(j), 6, "%.*s", (int)(eol - line), line);
        const char *kid = json_string_value(json_object_get(j, "key_id"));
        const char *label = json_string_value(json_object_get(j, "label"));
        if (strcmp(kid, kid_nl) == 0) {
            cr_assert_str_eq(label, "two\r\nlines");
            cr_assert_str_eq(json_string_value(json_object_get(j, "date")), "2026-11-18");
            seen_nl = true;
        }
        if (strcmp(kid, kid_eq) == 0) {
            cr_assert_str_eq(label, "=HYPERLINK(\"http://x\")", "NDJSON is not for spreadsheets: text as it is");
            seen_eq = true;
        }
        json_decref(j);
        line = eol + 1;
    }
    cr_assert(seen_nl && seen_eq);
    th_response_free(&r);
}

Test(export, sums_equal_the_summary_and_the_history)
{
    make_plans();
    int64_t a = create_account("Sums");
    put_contract(a, "{\"plan_code\":\"pro\",\"timezone\":\"UTC\"}");
    char key[80], k1[16], k2[16], k[80];
    issue_key(a, "one", key, k1);
    issue_key(a, "two", k, k2);
    row rows[] = {
        {k1, "2026-09-30", 1000, 0, 0}, {k1, "2026-10-15", 40, 1, 2}, {k2, "2026-10-31", 9, 0, 0},
        {k1, "2026-11-01", 11, 0, 3},   {k2, "2026-11-01", 13, 5, 0}, {k2, "2026-11-17", 17, 0, 1},
        {k1, "2026-11-18", 19, 2, 0},   {k2, "2026-11-18", 23, 0, 7}, {k1, "2026-11-19", 500, 0, 0},
    };
    seed(rows, sizeof rows / sizeof rows[0]);

    json_t *summary = get_json("/v1/b2b/usage/summary", key);
    th_response r;
    /* The month to date, in both formats, against the summary's month. */
    th_keyed(&srv, "/v1/b2b/usage/export?from=2026-11-01&to=2026-11-18", key, &r);
    sums csv = csv_sums(r.body);
    th_response_free(&r);
    th_keyed(&srv, "/v1/b2b/usage/export?from=2026-11-01&to=2026-11-18&format=ndjson", key, &r);
    sums nd = ndjson_sums(r.body);
    th_response_free(&r);
    cr_assert_eq(csv.lines, 5);
    cr_assert_eq(nd.lines, 5);
    cr_assert_eq(csv.requests, jint(summary, "monthly", "used"));
    cr_assert_eq(csv.blocked, jint(summary, "monthly", "blocked"));
    cr_assert_eq(nd.requests, csv.requests);
    cr_assert_eq(nd.overage, csv.overage);
    cr_assert_eq(nd.blocked, csv.blocked);
    /* Today, against the summary's day. */
    th_keyed(&srv, "/v1/b2b/usage/export?from=2026-11-18&to=2026-11-18", key, &r);
    sums day = csv_sums(r.body);
    th_response_free(&r);
    cr_assert_eq(day.requests, jint(summary, "daily", "used"));
    cr_assert_eq(day.overage, jint(summary, "daily", "overage"));
    cr_assert_eq(day.blocked, jint(summary, "daily", "blocked"));
    /* Everything the contract has seen, against the cumulative figures. */
    th_keyed(&srv, "/v1/b2b/usage/export?from=2026-09-01&to=2026-11-30", key, &r);
    sums all = csv_sums(r.body);
    th_response_free(&r);
    cr_assert_eq(all.requests, jint(summary, "cumulative", "used"));
    cr_assert_eq(all.overage, jint(summary, "cumulative", "overage"));
    cr_assert_eq(all.blocked, jint(summary, "cumulative", "blocked"));
    json_decref(summary);

    /* Any range, default included, against the history's totals. */
    const char *ranges[] = {"", "?from=2026-10-01&to=2026-11-18", "?from=2026-10-15&to=2026-10-31", "?to=2026-11-01",
                            "?from=2025-11-19&to=2026-11-19"};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "/v1/b2b/usage/history%s", ranges[i]);
        json_t *h = get_json(path, key);
        snprintf(path, sizeof path, "/v1/b2b/usage/export%s", ranges[i]);
        th_keyed(&srv, path, key, &r);
        sums e = csv_sums(r.body);
        th_response_free(&r);
        cr_assert_eq(e.requests, jint(h, "totals", "requests"), "%s", ranges[i]);
        cr_assert_eq(e.overage, jint(h, "totals", "overage"), "%s", ranges[i]);
        cr_assert_eq(e.blocked, jint(h, "totals", "blocked"), "%s", ranges[i]);
        json_decref(h);
    }
}

/* The export's 422s are the history's, field for field. */
Test(export, bad_ranges_and_formats_are_the_historys_422s)
{
    acme();
    const char *bad[] = {"?from=2026-11-18&to=2026-11-01",
                         "?from=2025-01-01&to=2026-11-18",
                         "?from=11/01/2026",
                         "?to=2026-02-30",
                         "?from=",
                         "?to=2026-11-18T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[160];
        th_response h, e;
        snprintf(path, sizeof path, "/v1/b2b/usage/history%s", bad[i]);
        th_keyed(&srv, path, key_a, &h);
        snprintf(path, sizeof path, "/v1/b2b/usage/export%s", bad[i]);
        th_keyed(&srv, path, key_a, &e);
        th_assert_error(&h, 422, "validation_error");
        th_assert_error(&e, 422, "validation_error");
        json_t *hf = json_object_get(json_object_get(json_object_get(h.json, "error"), "details"), "fields");
        json_t *ef = json_object_get(json_object_get(json_object_get(e.json, "error"), "details"), "fields");
        cr_assert(json_equal(hf, ef), "%s: %s vs %s", bad[i], h.body, e.body);
        th_response_free(&h);
        th_response_free(&e);
    }
    th_response r;
    th_keyed(&srv, "/v1/b2b/usage/export?format=xlsx", key_a, &r);
    th_assert_error(&r, 422, "validation_error");
    cr_assert(strstr(r.body, "\"field\":\"format\"") != NULL, "%s", r.body);
    th_response_free(&r);
    th_keyed(&srv, "/v1/b2b/usage/export", "sm_live_nope", &r);
    th_assert_error(&r, 401, "invalid_api_key");
    th_response_free(&r);
    th_request(&srv, "GET", "/v1/b2b/usage/export", NULL, NULL, &r);
    th_assert_error(&r, 401, "missing_api_key");
    th_response_free(&r);
}

Test(export, another_accounts_rows_never_appear)
{
    acme();
    int64_t b = create_account("Other");
    put_contract(b, "{\"plan_code\":\"pro\",\"timezone\":\"UTC\"}");
    char key_b[80], kid_b[16];
    issue_key(b, "theirs", key_b, kid_b);
    row rows[] = {{kid_b, "2026-11-17", 1000, 0, 0}, {kid_b, "2026-11-18", 2000, 0, 0}};
    seed(rows, 2);
    th_response r;
    th_keyed(&srv, "/v1/b2b/usage/export?from=2026-11-01&to=2026-11-18", key_a, &r);
    cr_assert(strstr(r.body, kid_b) == NULL && strstr(r.body, "theirs") == NULL, "%s", r.body);
    cr_assert_eq(csv_sums(r.body).requests, 18);
    th_response_free(&r);
    th_keyed(&srv, "/v1/b2b/usage/export?from=2026-11-01&to=2026-11-18&format=ndjson", key_b, &r);
    sums s = ndjson_sums(r.body);
    cr_assert_eq(s.lines, 2);
    cr_assert_eq(s.requests, 3000);
    cr_assert(strstr(r.body, kid_plain) == NULL);
    th_response_free(&r);
}

Test(export, the_admin_month_lists_every_contracted_account_per_key_with_its_limits)
{
    int64_t a = acme();
    int64_t quiet = create_account("=Quiet Co"); /* a contract, no usage in November */
    put_contract(quiet, "{\"plan_code\":\"pro\",\"timezone\":\"UTC\",\"overrides\":{\"daily_limit\":null,"
                        "\"limit_mode\":\"overage\",\"overage_cap\":150}}");
    create_account("No contract"); /* never listed */
    char k[80], kid_q[16];
    issue_key(quiet, "q", k, kid_q);
    char quiet_path[64];
    snprintf(quiet_path, sizeof quiet_path, "/v1/admin/accounts/%lld", (long long)quiet);
    th_response r;
    admin_ok("PATCH", quiet_path, "{\"status\":\"suspended\"}", 200, &r); /* listed still, as suspended */
    th_response_free(&r);
    row rows[] = {{kid_q, "2026-10-31", 99, 0, 0}, {kid_plain, "2026-12-01", 1000, 0, 0}};
    seed(rows, 2);

    admin_ok("GET", "/v1/admin/usage/export?month=2026-11", NULL, 200, &r);
    char h[256];
    cr_assert(th_header(&r, "content-disposition", h, sizeof h));
    cr_assert_str_eq(h, "attachment; filename=\"starmeter-usage-2026-11.csv\"");
    const char *header =
        "month,account_id,account_name,plan,mode,daily_limit,monthly_limit,overage_cap,key_id,label,requests,overage,"
        "blocked,account_status\r\n";
    cr_assert(strncmp(r.body, header, strlen(header)) == 0, "%s", r.body);
    sums s = csv_sums(r.body);
    cr_assert_eq(s.lines, 6, "five keys with usage, one quiet account: %s", r.body);
    cr_assert_eq(s.requests, 18);
    char line[256];
    snprintf(line, sizeof line, "2026-11,%lld,Acme,pro,block,1000,20000,,%s,plain,5,0,1,active\r\n", (long long)a,
             kid_plain);
    cr_assert(strstr(r.body, line) != NULL, "%s not in %s", line, r.body);
    snprintf(line, sizeof line, "\r\n2026-11,%lld,\"'=Quiet Co\",pro,overage,,20000,150,,,0,0,0,suspended\r\n",
             (long long)quiet);
    cr_assert(strstr(r.body, line) != NULL, "%s not in %s", line, r.body);
    cr_assert(strstr(r.body, "No contract") == NULL);
    th_response_free(&r);

    admin_ok("GET", "/v1/admin/usage/export?month=2026-11&format=ndjson", NULL, 200, &r);
    cr_assert_eq(ndjson_sums(r.body).lines, 6);
    const char *last = r.body + r.body_len - 1;
    while (last > r.body && last[-1] != '\n')
        last--;
    json_t *j = json_loads(last, 0, NULL);
    cr_assert_not_null(j, "%s", last);
    cr_assert_eq(json_integer_value(json_object_get(j, "account_id")), quiet);
    cr_assert_str_eq(json_string_value(json_object_get(j, "account_name")), "=Quiet Co");
    cr_assert(json_is_null(json_object_get(j, "key_id")) && json_is_null(json_object_get(j, "label")));
    cr_assert(json_is_null(json_object_get(j, "daily_limit")));
    cr_assert_eq(json_integer_value(json_object_get(j, "monthly_limit")), 20000);
    cr_assert_eq(json_integer_value(json_object_get(j, "overage_cap")), 150);
    cr_assert_str_eq(json_string_value(json_object_get(j, "mode")), "overage");
    cr_assert_str_eq(json_string_value(json_object_get(j, "month")), "2026-11");
    cr_assert_str_eq(json_string_value(json_object_get(j, "account_status")), "suspended");
    json_decref(j);
    th_response_free(&r);

    const char *bad[] = {"", "?month=2026-13", "?month=2026-1", "?month=11-2026", "?month=2026-11&format=pdf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[96];
        snprintf(path, sizeof path, "/v1/admin/usage/export%s", bad[i]);
        th_admin(&srv, "GET", path, NULL, &r);
        th_assert_error(&r, 422, "validation_error");
        th_response_free(&r);
    }
    th_request(&srv, "GET", "/v1/admin/usage/export?month=2026-11", NULL, NULL, &r);
    th_assert_error(&r, 401, "admin_auth_required");
    th_response_free(&r);
    th_keyed(&srv, "/v1/admin/usage/export?month=2026-11", key_a, &r);
    th_assert_error(&r, 401, "admin_auth_required");
    th_response_free(&r);
}

/* ---- streaming ---- */

static long vm_rss_kib(void)
{
    char *status = th_read_file("/proc/self/status", NULL);
    cr_assert_not_null(status);
    const char *p = strstr(status, "VmRSS:");
    cr_assert_not_null(p);
    long kib = strtol(p + 6, NULL, 10);
    free(status);
    return kib;
}

/* Reads a response without keeping it: counts bytes and lines, sums column 10 (requests). */
typedef struct reader {
    long long bytes, lines, requests, malformed;
    char line[4096];
    size_t len;
    long rss_peak_kib;
    long long next_sample;
} reader;

static size_t on_stream(char *p, size_t size, size_t n, void *arg)
{
    reader *rd = arg;
    size_t total = size * n;
    for (size_t i = 0; i < total; i++) {
        if (rd->len < sizeof rd->line - 1)
            rd->line[rd->len++] = p[i];
        if (p[i] != '\n')
            continue;
        rd->line[rd->len] = '\0';
        if (rd->lines++ > 0) { /* after the header: month,id,name,plan,mode,daily,monthly,cap,key,label,REQUESTS */
            const char *f = rd->line;
            for (int k = 0; k < 10 && f; k++) {
                f = strchr(f, ',');
                f = f ? f + 1 : NULL;
            }
            if (f == NULL) /* counted, not asserted here: Criterion records every assertion, in memory */
                rd->malformed++;
            else
                rd->requests += strtoll(f, NULL, 10);
        }
        rd->len = 0;
    }
    rd->bytes += (long long)total;
    if (rd->bytes >= rd->next_sample) {
        long rss = vm_rss_kib();
        if (rss > rd->rss_peak_kib)
            rd->rss_peak_kib = rss;
        rd->next_sample = rd->bytes + 256 * 1024;
    }
    return total;
}

#define BIG_ACCOUNTS 10000
#define BIG_KEYS 4
#define BIG_LABEL 400

/* The streaming suite's store: the server's own, behind a wrapper that can fail every call. */
static store *big_store;

/* 10,000 accounts with a contract, four keys each with a long label, one usage row per key. */
static long long seed_big(void)
{
    store *st = big_store;
    app_err err;
    app_err_clear(&err);
    plan p = {.id = 1, .metered = true, .created_at = 1, .updated_at = 1};
    snprintf(p.code, sizeof p.code, "bulk");
    snprintf(p.name, sizeof p.name, "Bulk");
    p.limits = (limits){.daily_limit = opt_some(100000),
                        .monthly_limit = opt_none(),
                        .mode = LIMIT_OVERAGE,
                        .rate_per_second = 50,
                        .burst = 100,
                        .credential_rate_per_second = 20,
                        .credential_burst = 40};
    store_import first = {.plans = &p, .nplans = 1};
    cr_assert_eq(store_import_rows(st, &first, &err), 0, "%s", err.message);
    enum { BATCH = 500 };
    account *accs = calloc(BATCH, sizeof *accs);
    contract *cons = calloc(BATCH, sizeof *cons);
    credential *creds = calloc(BATCH * BIG_KEYS, sizeof *creds);
    usage_delta *use = calloc(BATCH * BIG_KEYS, sizeof *use);
    long long total = 0;
    for (int base = 0; base < BIG_ACCOUNTS; base += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            int64_t id = base + i + 1;
            accs[i] = (account){.id = id, .status = ACCOUNT_ACTIVE, .created_at = 1};
            snprintf(accs[i].name, sizeof accs[i].name, "Customer %06lld", (long long)id);
            cons[i] = (contract){.account_id = id, .plan_id = 1, .starts_at = 1, .updated_at = 1};
            snprintf(cons[i].timezone, sizeof cons[i].timezone, "UTC");
            for (int k = 0; k < BIG_KEYS; k++) {
                credential *c = &creds[i * BIG_KEYS + k];
                int64_t cid = (id - 1) * BIG_KEYS + k + 1;
                *c = (credential){.id = cid, .account_id = id, .status = CREDENTIAL_ACTIVE, .created_at = 1};
                snprintf(c->key_id, sizeof c->key_id, "b%011lld", (long long)cid);
                memset(c->label, 'a' + k, BIG_LABEL);
                c->label[BIG_LABEL] = '\0';
                usage_delta *u = &use[i * BIG_KEYS + k];
                *u = (usage_delta){.account_id = id, .credential_id = cid, .requests = k + 1, .overage = 0};
                snprintf(u->date, sizeof u->date, "2026-11-%02d", 1 + (int)(cid % 18));
                total += k + 1;
            }
        }
        store_import b = {.accounts = accs,
                          .naccounts = BATCH,
                          .contracts = cons,
                          .ncontracts = BATCH,
                          .credentials = creds,
                          .ncredentials = BATCH * BIG_KEYS,
                          .usage = use,
                          .nusage = BATCH * BIG_KEYS};
        cr_assert_eq(store_import_rows(st, &b, &err), 0, "%s", err.message);
    }
    free(accs);
    free(cons);
    free(creds);
    free(use);
    return total;
}

/*
 * The server of the streaming tests never reloads its key cache while they run: a reload (on a
 * change by another connection or process, and every 60 sync intervals) allocates in proportion to
 * the number of keys, 40,000 here, which has nothing to do with an export and would land in the
 * measured window. The data is seeded before the server starts (its keys are loaded once, at the
 * start), and the longest sync interval puts the periodic reload past the tests' end.
 */
static char big_dir[256];
static long long big_seeded; /* the requests of every usage row seed_big wrote */

static void no_resync(app_config *cfg)
{
    cfg->sync_interval_ms = 60000;
}

static void setup_big(void)
{
    clock_test_init(&test_clock, 1795000000000LL);
    app_err err;
    app_err_clear(&err);
    store *inner;
    if (th_store_is_postgres()) {
        char uri[512];
        th_pg_new_database(uri, sizeof uri);
        inner = store_pg_open(uri, 4, &err);
    } else {
        th_tmpdir(big_dir);
        char path[300];
        snprintf(path, sizeof path, "%s/big.db", big_dir);
        inner = store_sqlite_open(path, &err);
    }
    cr_assert_not_null(inner, "%s", err.message);
    int applied;
    cr_assert_eq(store_migrate(inner, &applied, &err), 0, "%s", err.message);
    big_store = store_faulty_new(inner, -1); /* the server owns it, and closes it at its stop */
    /* Seeded before the server starts: it loads the keys once, at its start, and never again. */
    big_seeded = seed_big();
    th_opts o = {.clock = &test_clock, .tune = no_resync, .store = big_store};
    th_start(&srv, &o);
}

static void teardown_big(void)
{
    th_stop(&srv);
    if (big_dir[0] != '\0')
        th_rmdir(big_dir);
}

TestSuite(export_stream, .init = setup_big, .fini = teardown_big, .timeout = 280);

Test(export_stream, ten_thousand_accounts_stream_with_rss_growth_under_8_mib)
{
    long long seeded = big_seeded;
    /*
     * The store's own caches (SQLite's page cache, a few MiB under ASan) fill on the first read of
     * these tables, whatever the export. A month without usage warms them: every account is read,
     * and its body (a line per account, under 1 MiB) is too small to leave behind memory that a
     * whole-body export of the measured month (many times the bound) could reuse.
     */
    th_response warm;
    admin_ok("GET", "/v1/admin/usage/export?month=2026-10", NULL, 200, &warm);
    cr_assert_lt(warm.body_len, 1024 * 1024);
    th_response_free(&warm);
    char url[128];
    snprintf(url, sizeof url, "%s/v1/admin/usage/export?month=2026-11", srv.base_url);
    struct curl_slist *h = curl_slist_append(NULL, TH_ADMIN_AUTH);
    reader *rd = calloc(1, sizeof *rd);
    long before = vm_rss_kib();
    rd->rss_peak_kib = before;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, rd);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 500L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    long after = vm_rss_kib();
    if (after > rd->rss_peak_kib)
        rd->rss_peak_kib = after;
    long growth_kib = rd->rss_peak_kib - before;
    cr_log_info("export: %lld bytes, %lld lines; RSS %ld KiB before, peak %ld KiB: growth %ld KiB", rd->bytes,
                rd->lines, before, rd->rss_peak_kib, growth_kib);
    fprintf(stderr, "export: %lld bytes, %lld lines; RSS growth %ld KiB (before %ld KiB, peak %ld KiB)\n", rd->bytes,
            rd->lines, growth_kib, before, rd->rss_peak_kib);
    cr_assert_eq(rc, CURLE_OK, "%s", curl_easy_strerror(rc));
    cr_assert_eq(status, 200);
    cr_assert_eq(rd->lines, 1 + BIG_ACCOUNTS * BIG_KEYS, "a header and one line per account and key");
    cr_assert_eq(rd->malformed, 0);
    cr_assert_eq(rd->requests, seeded, "the stream is whole");
    /* Built whole in memory, the body alone would pass the bound twice over. */
    cr_assert_gt(rd->bytes, 2LL * 8 * 1024 * 1024, "the body (%lld bytes) must dwarf the bound", rd->bytes);
    cr_assert_lt(growth_kib, 8 * 1024, "RSS grew by %ld KiB while streaming %lld bytes", growth_kib, rd->bytes);
    free(rd);
}

/* A client that goes away mid-export: the server frees the stream (ASan checks) and serves on. */
Test(export_stream, a_client_gone_mid_export_leaves_the_server_serving)
{
    for (int round = 0; round < 3; round++) {
        int fd = th_dial(&srv, 4096);
        const char *req = round == 2 ? "GET /v1/admin/usage/export?month=2026-11&format=ndjson HTTP/1.1\r\n"
                                       "Host: x\r\n" TH_ADMIN_AUTH "\r\n\r\n"
                                     : "GET /v1/admin/usage/export?month=2026-11 HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH
                                       "\r\n\r\n";
        cr_assert_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
        char chunk[8192];
        size_t got = 0;
        while (got < (size_t)(round + 1) * 100000) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            cr_assert_gt(poll(&p, 1, 10000), 0);
            ssize_t n = recv(fd, chunk, sizeof chunk, 0);
            cr_assert_gt(n, 0);
            got += (size_t)n;
        }
        if (round == 1) {
            struct linger lin = {1, 0}; /* a reset */
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
        }
        close(fd);
    }
    th_response r;
    th_request(&srv, "GET", "/healthz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
    admin_ok("GET", "/v1/admin/usage/export?month=2026-10", NULL, 200, &r);
    cr_assert_eq(csv_sums(r.body).lines, BIG_ACCOUNTS, "every account once, no usage in October");
    th_response_free(&r);
}

/* Counts what arrives; breaks the store once the first bytes are in, so later pages fail. */
typedef struct breaker {
    long long bytes;
    bool broken;
    char tail[8];
} breaker;

static size_t on_break(char *unused, size_t size, size_t n, void *arg)
{
    (void)unused;
    breaker *b = arg;
    size_t total = size * n;
    b->bytes += (long long)total;
    if (!b->broken && b->bytes > 100000) {
        store_faulty_break(big_store, true);
        b->broken = true;
    }
    return total;
}

static int small_rcvbuf(void *unused, curl_socket_t fd, curlsocktype purpose)
{
    (void)unused;
    (void)purpose;
    int small = 16384;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    return CURL_SOCKOPT_OK;
}

/* The store fails after the head is sent: the client sees a broken body, never a short complete one. */
Test(export_stream, a_store_failure_mid_export_ends_the_body_visibly)
{
    char url[128];
    snprintf(url, sizeof url, "%s/v1/admin/usage/export?month=2026-11", srv.base_url);
    struct curl_slist *h = curl_slist_append(NULL, TH_ADMIN_AUTH);
    breaker b = {0};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_break);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 16384L);
    curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, small_rcvbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    store_faulty_break(big_store, false);
    cr_assert(b.broken);
    cr_assert_eq(status, 200, "the head had left");
    cr_assert_neq(rc, CURLE_OK, "a complete-looking body of %lld bytes", b.bytes);
    cr_assert_lt(b.bytes, 18000000);
    /* The log is written by its own thread: the lines may follow the bytes by a moment. */
    bool logged = false;
    for (int i = 0; i < 100 && !logged; i++) {
        char *log = th_read_file(srv.log_path, NULL);
        logged = log != NULL && strstr(log, "stream failed") != NULL && strstr(log, "\"outcome\":\"failed\"") != NULL;
        free(log);
        if (!logged)
            usleep(50000);
    }
    cr_assert(logged, "the failed stream is logged");
    /* The store is back: so are exports, whole. */
    th_response r;
    admin_ok("GET", "/v1/admin/usage/export?month=2026-10", NULL, 200, &r);
    cr_assert_eq(csv_sums(r.body).lines, BIG_ACCOUNTS);
    th_response_free(&r);
}
