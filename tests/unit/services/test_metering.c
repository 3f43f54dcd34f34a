/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The metering service on its own, over a real SQLite ledger and the local counters, with a host
 * that parks calls in a list the test resumes by hand: counted once, refused and recorded,
 * refunded on a failed commit, replayed for an Idempotency-Key, handed over once per iteration.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integration/harness.h"
#include "infra/journal.h"
#include "services/metering.h"

#define T0 1795000000000LL /* 2026-11-18T11:06:40Z */

static char dir[256];
static store *st;
static tzdb *tz;
static metrics *mx;
static counters *ctr;
static metering *m;
static app_log lg;
static app_clock tclock;
static int64_t account_id, credential_id;

/* ---- a host whose loop is the test itself ---- */

enum { MAX_ALLOCS = 4096, MAX_TOKENS = 256 };
static void *allocs[MAX_ALLOCS];
static size_t nallocs;
static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tcv = PTHREAD_COND_INITIALIZER;
static metering_call *resumed[MAX_TOKENS];
static size_t nresumed, resume_calls;

static void *host_alloc(void *caller, size_t n)
{
    (void)caller;
    cr_assert_lt(nallocs, MAX_ALLOCS);
    return allocs[nallocs++] = calloc(1, n);
}

static void *host_park(void *caller, metering_call *call)
{
    (void)caller;
    return call;
}

static void host_resume(void *const *tokens, size_t n)
{
    pthread_mutex_lock(&tmu);
    for (size_t i = 0; i < n; i++)
        resumed[nresumed++] = tokens[i];
    resume_calls++;
    pthread_cond_broadcast(&tcv);
    pthread_mutex_unlock(&tmu);
}

static const metering_host host = {.alloc = host_alloc, .park = host_park, .resume = host_resume};

/* Waits for `n` parked calls to come back from the writer and continues them, as a loop would. */
static void drive(size_t n)
{
    metering_call *batch[MAX_TOKENS];
    pthread_mutex_lock(&tmu);
    while (nresumed < n)
        pthread_cond_wait(&tcv, &tmu);
    memcpy(batch, resumed, n * sizeof *batch);
    memmove(resumed, resumed + n, (nresumed - n) * sizeof *resumed);
    nresumed -= n;
    pthread_mutex_unlock(&tmu);
    for (size_t i = 0; i < n; i++)
        metering_continue(batch[i]);
}

/* ---- what the caller renders and receives ---- */

typedef struct outcome {
    bool done;
    int status;
    app_code code;
    char body[256];
    bool replayed, overage;
} outcome;

static int fail_render; /* an error code render returns, or 0 */

static int render(const metering_request *req, const metering_view *view, slices *body, const char **why)
{
    (void)req;
    if (fail_render) {
        *why = "render failed on purpose";
        return fail_render;
    }
    /* In pieces, as the envelope is: a stored answer is joined, byte for byte. */
    char *b = host_alloc(NULL, 32);
    snprintf(b, 32, "%lld", (long long)view->day_used);
    *body = (slices){.part = {SLICE_LIT("{\"day_used\":"), slice_make(b, strlen(b)), SLICE_LIT("}")}, .n = 3};
    return 0;
}

static void on_done(const metering_request *req, const metering_result *res)
{
    outcome *o = req->state;
    cr_assert_not(o->done, "done is called once");
    o->done = true;
    o->status = res->status;
    o->code = res->err ? res->err->code : APP_OK;
    o->replayed = res->replayed;
    o->overage = res->view.overage;
    if (res->status) {
        cr_assert_leq(slices_len(&res->body), sizeof o->body - 1);
        slices_join(&res->body, o->body);
        o->body[slices_len(&res->body)] = '\0';
    }
}

static principal who;

static void start(const principal *p, const char *idem_key, const uint8_t fp[32], outcome *o)
{
    memset(o, 0, sizeof *o);
    metering_request req = {.caller = NULL, .state = o, .who = p, .render = render, .done = on_done};
    if (idem_key != NULL) {
        req.has_idem = true;
        snprintf(req.idem_key, sizeof req.idem_key, "%s", idem_key);
        memcpy(req.fingerprint, fp, 32);
    }
    metering_run(m, &req);
}

/* One call from start to answer. */
static void call(const principal *p, const char *idem_key, const uint8_t fp[32], outcome *o)
{
    start(p, idem_key, fp, o);
    while (!o->done) /* an idempotent call parks twice: the lookup, then the commit */
        drive(1);
}

static int64_t ledger(const char *column)
{
    app_err err;
    app_err_clear(&err);
    usage_totals t;
    cr_assert_eq(store_usage_sum(st, account_id, -1, "2026-11-18", "2026-11-18", &t, &err), 0);
    return strcmp(column, "requests") == 0 ? t.requests : strcmp(column, "blocked") == 0 ? t.blocked : t.overage;
}

static void setup(void)
{
    th_tmpdir(dir);
    char path[300];
    snprintf(path, sizeof path, "%s/m.db", dir);
    app_err err;
    app_err_clear(&err);
    st = store_faulty_new(store_sqlite_open(path, &err), -1);
    int applied;
    cr_assert_eq(store_migrate(st, &applied, &err), 0);
    account a = {.name = "Acme", .created_at = T0};
    cr_assert_eq(store_account_create(st, &a, NULL, &err), 0);
    credential c = {.account_id = a.id, .created_at = T0};
    strcpy(c.key_id, "abcdefghijkl");
    cr_assert_eq(store_credential_create(st, &c, NULL, &err), 0);
    account_id = a.id;
    credential_id = c.id;
    /* A contract, so the counters are seeded from the ledger at start like a served account's. */
    plan pl = {.limits = {.daily_limit = {true, 3},
                          .monthly_limit = {true, 100},
                          .rate_per_second = 1,
                          .burst = 1,
                          .credential_rate_per_second = 1,
                          .credential_burst = 1},
               .metered = true,
               .created_at = T0};
    strcpy(pl.code, "p3");
    strcpy(pl.name, "P3");
    cr_assert_eq(store_plan_create(st, &pl, NULL, &err), 0, "%s", err.message);
    contract ct = {.account_id = a.id, .plan_id = pl.id, .starts_at = T0, .updated_at = T0};
    strcpy(ct.timezone, "UTC");
    cr_assert_eq(store_contract_put(st, &ct, NULL, &err), 0, "%s", err.message);
    who = (principal){.account_id = a.id, .credential_id = c.id, .has_contract = true, .metered = true};
    strcpy(who.key_id, "abcdefghijkl");
    strcpy(who.timezone, "UTC");
    who.limits = (limits){.daily_limit = opt_some(3), .monthly_limit = opt_some(100), .mode = LIMIT_BLOCK};

    clock_test_init(&tclock, T0);
    tz = tzdb_new();
    mx = metrics_new(NULL, 0);
    log_init(&lg, LOG_OFF, 2);
    ctr = counters_local_new(&tclock);
    fail_render = 0;
    nresumed = resume_calls = 0;
    m = NULL;
}

/* The service as `serve` runs it (a journal, process durability) unless a test asks otherwise. */
static void open_metering(metering_durability durability, bool with_journal)
{
    char jdir[300];
    snprintf(jdir, sizeof jdir, "%s/m.db-usage", dir);
    metering_opts o = {.store = st,
                       .counters = ctr,
                       .tz = tz,
                       .clock = &tclock,
                       .log = &lg,
                       .metrics = mx,
                       .host = &host,
                       .durability = durability,
                       .journal_dir = with_journal ? jdir : NULL};
    app_err err;
    app_err_clear(&err);
    m = metering_new(&o, &err);
    cr_assert_not_null(m, "%s", err.message);
    cr_assert_eq(metering_start(m, &err), 0, "%s", err.message);
}

static void teardown(void)
{
    metering_free(m);
    counters_free(ctr);
    metrics_free(mx);
    tzdb_free(tz);
    store_close(st);
    th_rmdir(dir);
    for (size_t i = 0; i < nallocs; i++)
        free(allocs[i]);
    nallocs = 0;
}

TestSuite(metering, .init = setup, .fini = teardown, .timeout = 60);

static int64_t ledger_settled(const char *column)
{
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(metering_settle(m, &err), 0, "%s", err.message);
    return ledger(column);
}

Test(metering, a_served_call_is_journaled_answered_at_once_and_folded_into_the_ledger)
{
    open_metering(METERING_DURABLE_PROCESS, true);
    outcome o;
    start(&who, NULL, NULL, &o);
    cr_assert(o.done, "no hand-off: the journal write is the count");
    cr_assert_eq(o.status, 200);
    cr_assert_str_eq(o.body, "{\"day_used\":1}");
    cr_assert_eq(ledger_settled("requests"), 1);
    counters_usage u;
    counters_read(ctr, account_id, (period_zone){period_utc_offset, NULL}, &u, NULL);
    cr_assert_eq(u.day_used, 1);
    cr_assert_eq(u.inflight, 0, "committed");
}

Test(metering, with_fsync_durability_the_answer_waits_for_the_journal_s_fsync)
{
    open_metering(METERING_DURABLE_FSYNC, true);
    outcome o;
    start(&who, NULL, NULL, &o);
    cr_assert_not(o.done, "parked until the writer has fsynced");
    drive(1);
    cr_assert_eq(o.status, 200);
    cr_assert_eq(ledger_settled("requests"), 1);
}

Test(metering, without_a_journal_the_answer_waits_for_the_ledger_commit)
{
    open_metering(METERING_DURABLE_PROCESS, false);
    outcome o;
    start(&who, NULL, NULL, &o);
    cr_assert_not(o.done);
    drive(1);
    cr_assert_eq(o.status, 200);
    cr_assert_eq(ledger("requests"), 1, "in the ledger before the answer");
}

Test(metering, a_refusal_is_recorded_as_blocked_and_audited_once)
{
    open_metering(METERING_DURABLE_PROCESS, true);
    outcome o;
    for (int i = 0; i < 3; i++) {
        call(&who, NULL, NULL, &o);
        cr_assert_eq(o.status, 200);
    }
    call(&who, NULL, NULL, &o); /* the first refusal: committed with its audit event */
    cr_assert_eq(o.status, 0);
    cr_assert_eq(o.code, APP_B2B_QUOTA_EXCEEDED);
    call(&who, NULL, NULL, &o); /* the next: journaled */
    cr_assert_eq(o.code, APP_B2B_QUOTA_EXCEEDED);
    cr_assert_eq(ledger_settled("requests"), 3);
    cr_assert_eq(ledger("blocked"), 2);
    audit_event ev[8];
    size_t n;
    app_err err;
    app_err_clear(&err);
    audit_filter f = {.action = "quota.block"};
    cr_assert_eq(store_audit_list(st, &f, 0, ev, 8, &n, &err), 0);
    cr_assert_eq(n, 1, "the first refusal of the day only");
    cr_assert(strstr(ev[0].details, "\"period\":\"daily\"") && strstr(ev[0].details, "\"limit\":3"), "%s",
              ev[0].details);
}

Test(metering, a_failed_commit_is_refunded_and_answered_503)
{
    open_metering(METERING_DURABLE_PROCESS, true);
    uint8_t fp[32] = {7};
    outcome o;
    /* The lookup of the key works, the commit of the answer fails. As a loop, this thread holds
     * what it parks until it flushes, so the store breaks exactly between the two. */
    metering_loop_flush(m);
    start(&who, "k1", fp, &o);
    metering_loop_flush(m);
    drive(1); /* the lookup; the commit is parked, not handed over yet */
    store_faulty_break(st, true);
    metering_loop_flush(m);
    drive(1);
    cr_assert_eq(o.status, 0);
    cr_assert_eq(o.code, APP_STORE_UNAVAILABLE);
    store_faulty_break(st, false);
    counters_usage u;
    counters_read(ctr, account_id, (period_zone){period_utc_offset, NULL}, &u, NULL);
    cr_assert_eq(u.day_used, 0, "given back");
    cr_assert_eq(u.inflight, 0);
    for (int i = 0; i < 3; i++) {
        call(&who, NULL, NULL, &o);
        cr_assert_eq(o.status, 200, "the refunded place is free again");
    }
    cr_assert_eq(ledger_settled("requests"), 3);
}

/*
 * The ledger keeps up while an fsync of it takes long (a slow disk), when the store's sync does not
 * hold its commits back (PostgreSQL's has a connection of its own; this store sleeps before its
 * inner sync): calls answered meanwhile are folded into it, as a node that seeds counters Redis
 * lost reads it.
 */
Test(metering, a_slow_sync_does_not_hold_the_fold_back)
{
    open_metering(METERING_DURABLE_PROCESS, true);
    store_faulty_slow_sync(st, 3000);
    outcome o;
    call(&who, NULL, NULL, &o); /* folded, then a sync of the ledger that takes 3 s */
    cr_assert_eq(o.status, 200);
    for (int i = 0; i < 300 && store_faulty_syncing(st) == 0; i++)
        usleep(10000);
    cr_assert_eq(store_faulty_syncing(st), 1, "a sync of the ledger is under way");
    call(&who, NULL, NULL, &o);
    cr_assert_eq(o.status, 200);
    for (int i = 0; i < 100 && ledger("requests") < 2; i++)
        usleep(10000);
    cr_assert_eq(ledger("requests"), 2, "folded while the sync lasts");
    cr_assert_eq(store_faulty_syncing(st), 1, "still under way");
    store_faulty_slow_sync(st, 0);
}

Test(metering, a_fold_that_fails_is_retried_and_loses_nothing)
{
    open_metering(METERING_DURABLE_PROCESS, true);
    outcome o;
    store_faulty_break(st, true);
    for (int i = 0; i < 3; i++) {
        call(&who, NULL, NULL, &o);
        cr_assert_eq(o.status, 200, "counted in the journal");
    }
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(metering_settle(m, &err), APP_STORE_UNAVAILABLE, "a fold that fails: a report would be short");
    store_faulty_break(st, false);
    cr_assert_eq(ledger_settled("requests"), 3);
}

Test(metering, a_fold_whose_commit_answer_was_lost_is_not_counted_twice)
{
    open_metering(METERING_DURABLE_PROCESS, true);
    store_faulty_lose_commits(st, 1); /* whichever fold takes these calls commits, and is told it failed */
    outcome o;
    for (int i = 0; i < 2; i++) {
        call(&who, NULL, NULL, &o);
        cr_assert_eq(o.status, 200);
    }
    app_err err;
    for (int i = 0; i < 200 && store_faulty_commits_to_lose(st) > 0; i++) {
        app_err_clear(&err);
        metering_settle(m, &err); /* a fold (the lost one fails it) */
    }
    cr_assert_eq(store_faulty_commits_to_lose(st), 0, "the fold was made");
    cr_assert_eq(ledger("requests"), 2);
    call(&who, NULL, NULL, &o); /* the third of the day's three */
    cr_assert_eq(o.status, 200);
    cr_assert_eq(ledger_settled("requests"), 3, "the two folded once, then the third");
}

Test(metering, a_dead_process_s_journal_is_replayed_from_the_ledger_s_mark)
{
    /* What a process killed after folding two of its five calls leaves behind. */
    char jdir[300];
    snprintf(jdir, sizeof jdir, "%s/m.db-usage", dir);
    app_err err;
    app_err_clear(&err);
    journal *dead = journal_open(jdir, &err);
    cr_assert_not_null(dead);
    journal_segment *seg = NULL;
    journal_entry e[5];
    for (int i = 0; i < 5; i++)
        e[i] = (journal_entry){.account_id = account_id,
                               .credential_id = credential_id,
                               .day = period_at((period_zone){period_utc_offset, NULL}, T0).day_key,
                               .requests = 1};
    cr_assert_eq(journal_append(dead, &seg, e, 5, &err), 0);
    usage_delta two = {.account_id = account_id, .credential_id = credential_id, .date = "2026-11-18", .requests = 2};
    journal_mark mark = {.offset = 2 * 48};
    snprintf(mark.segment, sizeof mark.segment, "%s", seg->name);
    cr_assert_eq(store_usage_apply(st, &(usage_batch){.deltas = &two, .ndeltas = 1, .marks = &mark, .nmarks = 1}, &err),
                 0);
    journal_close(dead); /* the kill: its lock goes with it */

    open_metering(METERING_DURABLE_PROCESS, true);
    cr_assert_eq(ledger("requests"), 5, "two folded before, three replayed");
    counters_usage u;
    counters_read(ctr, account_id, (period_zone){period_utc_offset, NULL}, &u, NULL);
    cr_assert_eq(u.day_used, 5, "the counters start from the replayed ledger");
    outcome o;
    call(&who, NULL, NULL, &o);
    cr_assert_eq(o.code, APP_B2B_QUOTA_EXCEEDED, "the limit of 3 holds across the crash");
}

Test(metering, a_failed_render_is_refunded)
{
    open_metering(METERING_DURABLE_PROCESS, true);
    outcome o;
    fail_render = APP_INTERNAL_ERROR;
    call(&who, NULL, NULL, &o);
    cr_assert_eq(o.code, APP_INTERNAL_ERROR);
    fail_render = 0;
    counters_usage u;
    counters_read(ctr, account_id, (period_zone){period_utc_offset, NULL}, &u, NULL);
    cr_assert_eq(u.day_used, 0);
    cr_assert_eq(ledger_settled("requests"), 0);
}

Test(metering, an_idempotent_retry_is_replayed_and_counted_once)
{
    open_metering(METERING_DURABLE_PROCESS, true);
    uint8_t fp[32] = {1}, other[32] = {2};
    outcome first, again, conflict;
    call(&who, "retry-1", fp, &first);
    cr_assert_eq(first.status, 200);
    call(&who, "retry-1", fp, &again);
    cr_assert_eq(again.status, 200);
    cr_assert(again.replayed);
    cr_assert_str_eq(again.body, first.body, "byte for byte");
    call(&who, "retry-1", other, &conflict);
    cr_assert_eq(conflict.code, APP_IDEMPOTENCY_CONFLICT, "same key, another request");
    cr_assert_eq(ledger_settled("requests"), 1);
}

Test(metering, the_same_key_in_flight_twice_is_a_conflict)
{
    open_metering(METERING_DURABLE_PROCESS, true);
    uint8_t fp[32] = {1};
    outcome a, b;
    start(&who, "k", fp, &a);
    start(&who, "k", fp, &b);
    cr_assert(b.done);
    cr_assert_eq(b.code, APP_IDEMPOTENCY_CONFLICT);
    while (!a.done)
        drive(1);
    cr_assert_eq(a.status, 200);
}

Test(metering, no_contract_is_forbidden_and_an_internal_plan_is_not_counted)
{
    open_metering(METERING_DURABLE_PROCESS, true);
    outcome o;
    principal none = who;
    none.has_contract = false;
    call(&none, NULL, NULL, &o);
    cr_assert_eq(o.code, APP_FORBIDDEN);
    principal internal = who;
    internal.metered = false;
    call(&internal, NULL, NULL, &o);
    cr_assert_eq(o.status, 200);
    cr_assert_eq(ledger_settled("requests"), 0);
}

Test(metering, an_event_loop_hands_its_parked_calls_over_once_per_iteration)
{
    open_metering(METERING_DURABLE_PROCESS, true);
    metering_loop_flush(m); /* this thread is a loop from now on */
    outcome o[5];
    uint8_t fp[32] = {3};
    char key[8];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "k%d", i);
        start(&who, key, fp, &o[i]); /* each parks for its lookup */
    }
    metering_flush(m);
    pthread_mutex_lock(&tmu);
    size_t before = nresumed;
    pthread_mutex_unlock(&tmu);
    cr_assert_eq(before, 0, "nothing reaches the writer before the iteration ends");
    metering_loop_flush(m); /* the end of the iteration */
    drive(5);
    pthread_mutex_lock(&tmu);
    size_t calls = resume_calls;
    pthread_mutex_unlock(&tmu);
    cr_assert_eq(calls, 1, "one batch, one resume for all five");
    metering_loop_flush(m);
    for (int i = 0; i < 5; i++)
        while (!o[i].done) {
            metering_loop_flush(m);
            drive(1);
        }
    int ok = 0, refused = 0;
    for (int i = 0; i < 5; i++) {
        ok += o[i].status == 200;
        refused += o[i].code == APP_B2B_QUOTA_EXCEEDED;
    }
    cr_assert_eq(ok, 3);
    cr_assert_eq(refused, 2);
    cr_assert_eq(ledger_settled("requests"), 3);
    cr_assert_eq(ledger("blocked"), 2);
}
