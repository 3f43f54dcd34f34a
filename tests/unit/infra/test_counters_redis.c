/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The Redis counters against a private Redis (STARMETER_TEST_REDIS, set by `make test`): the same
 * decisions as the local counters, the contract rule in Lua equal to quota_decide, exactness across
 * two instances (two nodes) under threads, and Redis going away and coming back.
 *
 * Criterion runs tests in parallel processes, so each test works alone on one database (4 to 15),
 * emptied when it starts: tests that share a database wait for each other (an flock held until the
 * test's process ends). Databases 0 to 3 of the URI are left to the cluster tests.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "infra/counters.h"

/* 2026-11-18T11:06:40Z, a Wednesday. */
#define T0 1795000000000LL
#define DAY_MS 86400000LL

static app_clock tclock;
static counters *c;
static redisContext *admin; /* the test's own connection, on the test's database */
static char host[256];
static int port;
static char uri[300];
static int db_lock = -1; /* the flock on the test's database */

static void teardown(void)
{
    counters_free(c);
    c = NULL;
    if (admin != NULL)
        redisFree(admin);
    admin = NULL;
    if (db_lock >= 0)
        close(db_lock);
    db_lock = -1;
}

TestSuite(counters_redis, .fini = teardown);

/* Connects to the test Redis, empties database `db` and opens counters `c` on it. */
static void start(int db)
{
    const char *env = getenv("STARMETER_TEST_REDIS");
    if (env == NULL || *env == '\0')
        cr_assert_fail(
            "STARMETER_TEST_REDIS is not set: run these tests with `make test`, which starts a private "
            "Redis and sets it (or: scripts/redis.sh start DIR, then export STARMETER_TEST_REDIS=<its URI>)");
    cr_assert_eq(sscanf(env, "redis://%255[^:]:%d", host, &port), 2,
                 "STARMETER_TEST_REDIS=%s is not redis://host:port/db", env);
    cr_assert(db >= 4 && db <= 15, "the counters' tests use databases 4 to 15");
    snprintf(uri, sizeof uri, "redis://%s:%d/%d", host, port, db);
    char lock[128];
    snprintf(lock, sizeof lock, "/tmp/starmeter-test-redis-db%d.lock", db); /* twelve files at most, ever */
    db_lock = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert(db_lock >= 0 && flock(db_lock, LOCK_EX) == 0, "cannot lock %s", lock);
    admin = redisConnect(host, port);
    cr_assert(admin != NULL && !admin->err, "cannot reach the test Redis at %s", env);
    redisReply *r = redisCommand(admin, "SELECT %d", db);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(admin, "FLUSHDB");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    clock_test_init(&tclock, T0);
    app_err err;
    app_err_clear(&err);
    c = counters_redis_new(uri, &tclock, false, &err);
    cr_assert_not_null(c, "counters_redis_new(%s): %s", uri, err.message);
    cr_assert(c->ops->async);
}

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

/* A decision that arrives on the counters' thread, waited for. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    counters_decision dec;
} waiter;

static void on_decided(void *arg, const counters_decision *dec)
{
    waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->dec = *dec;
    w->calls++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static counters_decision reserve_req_on(counters *cc, const counters_req *req)
{
    waiter w = {.calls = 0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    memset(&w.dec, 0xff, sizeof w.dec); /* the callback must fill it */
    counters_reserve(cc, req, on_decided, &w);
    pthread_mutex_lock(&w.mu);
    while (w.calls == 0)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return w.dec;
}

static counters_decision reserve_on(counters *cc, int64_t account_id, const limits *l, period_zone z)
{
    counters_req req = {.account_id = account_id, .limits = l, .zone = z};
    return reserve_req_on(cc, &req);
}

static counters_decision reserve(int64_t account_id, const limits *l, period_zone z)
{
    counters_decision dec = reserve_on(c, account_id, l, z);
    cr_assert_eq(dec.rc, 0);
    return dec;
}

static counters_usage usage(int64_t account_id, period_zone z)
{
    counters_usage u;
    app_err err;
    cr_assert_eq(counters_read(c, account_id, z, &u, &err), 0);
    return u;
}

static const period_zone utc = {period_utc_offset, NULL};

/* The key's time to live is `want` ms, less the few ms the test took since (or -2: no key). */
static void assert_ttl(char period, int64_t period_key, const char *suffix, long long want)
{
    char key[80];
    snprintf(key, sizeof key, "sm:{1}:%c:%lld%s", period, (long long)period_key, suffix);
    redisReply *r = redisCommand(admin, "PTTL %s", key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    long long got = r->integer;
    freeReplyObject(r);
    if (want < 0)
        cr_assert_eq(got, want, "%s", key);
    else
        cr_assert(got <= want && got > want - 10000, "%s: ttl %lld, want %lld", key, got, want);
}

/* Every key expires, two days past its period's end (relative to the counters' clock). */
Test(counters_redis, every_key_expires_two_days_past_its_period_s_end)
{
    start(4);
    limits l = block_limits(3, 100);
    for (int i = 1; i <= 4; i++)
        reserve(1, &l, utc);
    periods p = period_at(utc, T0);
    assert_ttl('d', p.day_key, "", p.day_end_ms + 2 * DAY_MS - T0);
    assert_ttl('d', p.day_key, ":block", p.day_end_ms + 2 * DAY_MS - T0);
    assert_ttl('m', p.month_key, "", p.month_end_ms + 2 * DAY_MS - T0);
    assert_ttl('m', p.month_key, ":block", -2); /* no monthly refusal yet: no key */
}

/* A refund never takes a count below zero, and Redis does not track calls in flight. */
Test(counters_redis, a_refund_never_goes_below_zero_and_nothing_is_in_flight)
{
    start(5);
    limits l = block_limits(5, 100);
    counters_decision served = reserve(7, &l, utc);
    cr_assert_eq(usage(7, utc).inflight, 0, "not tracked by Redis");
    counters_refund(c, 7, &served);
    counters_refund(c, 7, &served);
    cr_assert_eq(usage(7, utc).day_used, 0);
}

/* A seed never overwrites what Redis holds: nodes seeding at once keep the first seed. */
Test(counters_redis, a_seed_never_overwrites_what_redis_holds)
{
    start(8);
    counters_seed_row row = {.account_id = 9, .p = period_at(utc, T0), .day_used = 10, .month_used = 15};
    counters_seed(c, &row);
    row.day_used = 0;
    counters_seed(c, &row);
    cr_assert_eq(usage(9, utc).day_used, 10);
}

/* Many requests in flight at once: every callback arrives, in the order asked. */
typedef struct collector {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, want;
    int64_t *day_used; /* by account - 1 */
} collector;

typedef struct pending {
    collector *col;
    int64_t account_id;
} pending;

static void on_collected(void *arg, const counters_decision *dec)
{
    pending *p = arg;
    collector *col = p->col;
    pthread_mutex_lock(&col->mu);
    col->day_used[p->account_id - 1] = dec->rc == 0 ? dec->day_used : -1;
    if (++col->n == col->want)
        pthread_cond_signal(&col->cv);
    pthread_mutex_unlock(&col->mu);
}

Test(counters_redis, many_accounts_in_flight_keep_their_counts)
{
    start(9);
    enum { N = 3000 };
    limits l = block_limits(1000, 100000);
    static pending pend[N];
    static int64_t day_used[N];
    collector col = {.want = N, .day_used = day_used};
    pthread_mutex_init(&col.mu, NULL);
    pthread_cond_init(&col.cv, NULL);
    for (int round = 1; round <= 3; round++) {
        col.n = 0;
        for (int64_t a = 1; a <= N; a++) {
            pend[a - 1] = (pending){&col, a};
            counters_req req = {.account_id = a, .limits = &l, .zone = utc};
            counters_reserve(c, &req, on_collected, &pend[a - 1]);
        }
        pthread_mutex_lock(&col.mu);
        while (col.n < N)
            pthread_cond_wait(&col.cv, &col.mu);
        pthread_mutex_unlock(&col.mu);
        for (int a = 0; a < N; a++)
            cr_assert_eq(day_used[a], round, "account %d", a + 1);
    }
    pthread_cond_destroy(&col.cv);
    pthread_mutex_destroy(&col.mu);
    cr_assert_eq(usage(2999, utc).day_used, 3);
    cr_assert_eq(usage(123456, utc).day_used, 0, "an unknown account reads as zero");
}

/* ---- the contract rule in Lua is quota_decide ---- */

Test(counters_redis, the_lua_rule_decides_as_quota_decide)
{
    start(10);
    const opt_i64 dailies[] = {opt_none(), opt_some(0), opt_some(1), opt_some(5)};
    const opt_i64 monthlies[] = {opt_none(), opt_some(0), opt_some(3), opt_some(5)};
    const opt_i64 caps[] = {opt_none(), opt_some(0), opt_some(2)};
    const int64_t day_used[] = {0, 1, 2, 4, 5, 6, 8};
    const int64_t month_used[] = {0, 2, 3, 5, 6, 8};
    periods p = period_at(utc, T0);
    int64_t acct = 0;
    int cases = 0;
    for (size_t di = 0; di < sizeof dailies / sizeof *dailies; di++)
        for (size_t mi = 0; mi < sizeof monthlies / sizeof *monthlies; mi++)
            for (int mode = LIMIT_BLOCK; mode <= LIMIT_OVERAGE; mode++)
                for (size_t ci = 0; ci < sizeof caps / sizeof *caps; ci++)
                    for (size_t du = 0; du < sizeof day_used / sizeof *day_used; du++)
                        for (size_t mu = 0; mu < sizeof month_used / sizeof *month_used; mu++) {
                            limits l = {.daily_limit = dailies[di],
                                        .monthly_limit = monthlies[mi],
                                        .mode = (limit_mode)mode,
                                        .overage_cap = caps[ci]};
                            counters_seed_row row = {
                                .account_id = ++acct, .p = p, .day_used = day_used[du], .month_used = month_used[mu]};
                            counters_seed(c, &row);
                            quota_decision want = quota_decide(&l, day_used[du], month_used[mu]);
                            counters_decision got = reserve(acct, &l, utc);
                            cr_assert(got.d.outcome == want.outcome && got.d.period == want.period &&
                                          got.d.limit == want.limit && got.d.used == want.used,
                                      "case %lld (daily %s%lld, monthly %s%lld, mode %d, cap %s%lld, used %lld/%lld): "
                                      "lua %d/%d/%lld/%lld, quota_decide %d/%d/%lld/%lld",
                                      (long long)acct, l.daily_limit.present ? "" : "none ", (long long)l.daily_limit.v,
                                      l.monthly_limit.present ? "" : "none ", (long long)l.monthly_limit.v, mode,
                                      l.overage_cap.present ? "" : "none ", (long long)l.overage_cap.v,
                                      (long long)day_used[du], (long long)month_used[mu], got.d.outcome, got.d.period,
                                      (long long)got.d.limit, (long long)got.d.used, want.outcome, want.period,
                                      (long long)want.limit, (long long)want.used);
                            bool served = want.outcome != QUOTA_BLOCK;
                            cr_assert_eq(got.reserved, served);
                            cr_assert_eq(got.day_used, day_used[du] + served);
                            cr_assert_eq(got.month_used, month_used[mu] + served);
                            cases++;
                        }
    cr_assert_eq(cases, 4 * 4 * 2 * 3 * 7 * 6);
}

/* ---- exact across nodes: two instances, sixteen threads ---- */

typedef struct hammer_arg {
    counters *cc;
    const limits *l;
    int calls;
} hammer_arg;

static atomic_int served, overage, refused, failed, firsts_block, firsts_overage;

static void *hammer(void *arg)
{
    hammer_arg *h = arg;
    for (int i = 0; i < h->calls; i++) {
        counters_decision d = reserve_on(h->cc, 42, h->l, utc);
        if (d.rc != 0)
            atomic_fetch_add(&failed, 1);
        else if (d.d.outcome == QUOTA_BLOCK)
            atomic_fetch_add(&refused, 1);
        else if (d.d.outcome == QUOTA_SERVE_OVERAGE)
            atomic_fetch_add(&overage, 1);
        else
            atomic_fetch_add(&served, 1);
        if (d.rc == 0 && (d.first == COUNTERS_FIRST_DAY_BLOCK || d.first == COUNTERS_FIRST_MONTH_BLOCK))
            atomic_fetch_add(&firsts_block, 1);
        if (d.rc == 0 && (d.first == COUNTERS_FIRST_DAY_OVERAGE || d.first == COUNTERS_FIRST_MONTH_OVERAGE))
            atomic_fetch_add(&firsts_overage, 1);
    }
    return NULL;
}

/* 8 threads on each of two counters on the same Redis, `calls` each. */
static void hammer_two_nodes(const limits *l, int calls)
{
    app_err err;
    counters *other = counters_redis_new(uri, &tclock, false, &err);
    cr_assert_not_null(other, "%s", err.message);
    atomic_store(&served, 0);
    atomic_store(&overage, 0);
    atomic_store(&refused, 0);
    atomic_store(&failed, 0);
    atomic_store(&firsts_block, 0);
    atomic_store(&firsts_overage, 0);
    pthread_t t[16];
    hammer_arg args[16];
    for (int i = 0; i < 16; i++) {
        args[i] = (hammer_arg){i % 2 ? other : c, l, calls};
        pthread_create(&t[i], NULL, hammer, &args[i]);
    }
    for (int i = 0; i < 16; i++)
        pthread_join(t[i], NULL);
    counters_free(other);
    cr_assert_eq(atomic_load(&failed), 0);
}

Test(counters_redis, two_nodes_and_sixteen_threads_serve_exactly_the_limit)
{
    start(11);
    limits l = block_limits(1000, 100000);
    hammer_two_nodes(&l, 500);
    cr_assert_eq(atomic_load(&served), 1000);
    cr_assert_eq(atomic_load(&overage), 0);
    cr_assert_eq(atomic_load(&refused), 16 * 500 - 1000);
    cr_assert_eq(atomic_load(&firsts_block), 1, "one first refusal across both nodes");
    counters_usage u = usage(42, utc);
    cr_assert_eq(u.day_used, 1000);
    cr_assert_eq(u.month_used, 1000);
}

Test(counters_redis, two_nodes_and_sixteen_threads_stop_exactly_at_the_overage_cap)
{
    start(12);
    limits l = {.daily_limit = opt_some(600), .mode = LIMIT_OVERAGE, .overage_cap = opt_some(250)};
    hammer_two_nodes(&l, 300);
    cr_assert_eq(atomic_load(&served), 600);
    cr_assert_eq(atomic_load(&overage), 250);
    cr_assert_eq(atomic_load(&refused), 16 * 300 - 850);
    cr_assert_eq(atomic_load(&firsts_overage), 1);
    cr_assert_eq(atomic_load(&firsts_block), 1);
    cr_assert_eq(usage(42, utc).day_used, 850);
}

/* ---- Redis going away ---- */

/* Closes every connection on the test's database but the test's own (CLIENT LIST has no db filter). */
static int kill_counters_connections(int db)
{
    redisReply *me = redisCommand(admin, "CLIENT ID");
    cr_assert(me != NULL && me->type == REDIS_REPLY_INTEGER);
    long long my_id = me->integer;
    freeReplyObject(me);
    redisReply *list = redisCommand(admin, "CLIENT LIST TYPE normal");
    cr_assert(list != NULL && (list->type == REDIS_REPLY_STRING));
    char want[16];
    snprintf(want, sizeof want, " db=%d ", db);
    int killed = 0;
    for (char *line = list->str; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        long long id;
        if (strstr(line, want) != NULL && sscanf(line, "id=%lld", &id) == 1 && id != my_id) {
            redisReply *r = redisCommand(admin, "CLIENT KILL ID %lld", id);
            cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
            killed += (int)r->integer;
            freeReplyObject(r);
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    freeReplyObject(list);
    return killed;
}

Test(counters_redis, a_lost_connection_answers_unavailable_then_recovers)
{
    start(13);
    limits l = block_limits(100, 1000);
    reserve(1, &l, utc);
    cr_assert_eq(kill_counters_connections(13), 1);
    counters_decision d = reserve_on(c, 1, &l, utc);
    cr_assert_eq(d.rc, APP_COUNTERS_UNAVAILABLE, "the request in flight when the connection broke fails");
    cr_assert_not(d.reserved);
    int64_t deadline = (int64_t)(clock_mono_ns() / 1000000u) + 5000;
    for (;;) {
        d = reserve_on(c, 1, &l, utc);
        if (d.rc == 0 || (int64_t)(clock_mono_ns() / 1000000u) > deadline)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(d.rc, 0, "the counters reconnect by themselves");
    cr_assert_eq(d.day_used, 2, "nothing was counted while unavailable");
}

Test(counters_redis, a_flushed_script_cache_is_reloaded)
{
    start(14);
    limits l = block_limits(100, 1000);
    reserve(1, &l, utc);
    redisReply *r = redisCommand(admin, "SCRIPT FLUSH");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    cr_assert_eq(reserve(1, &l, utc).day_used, 2);
}

static void on_counted(void *arg, const counters_decision *dec)
{
    (void)dec;
    atomic_fetch_add((atomic_int *)arg, 1);
}

Test(counters_redis, free_answers_every_pending_request)
{
    start(15);
    limits l = block_limits(100000, 1000000);
    atomic_int calls = 0;
    for (int i = 0; i < 2000; i++) {
        counters_req req = {.account_id = 1 + i % 7, .limits = &l, .zone = utc};
        counters_reserve(c, &req, on_counted, &calls);
    }
    counters_free(c);
    c = NULL;
    cr_assert_eq(atomic_load(&calls), 2000, "each callback exactly once, served or failed");
}

Test(counters_redis, an_unreachable_or_malformed_uri_is_refused)
{
    app_err err;
    app_err_clear(&err);
    clock_test_init(&tclock, T0);
    cr_assert_null(counters_redis_new("redis://127.0.0.1:1/0", &tclock, false, &err));
    cr_assert_eq(err.code, APP_COUNTERS_UNAVAILABLE);
    app_err_clear(&err);
    cr_assert_null(counters_redis_new("http://127.0.0.1:6379/0", &tclock, false, &err));
    cr_assert_eq(err.code, APP_VALIDATION_ERROR);
    app_err_clear(&err);
    cr_assert_null(counters_redis_new("redis://127.0.0.1:70000/0", &tclock, false, &err));
    cr_assert_eq(err.code, APP_VALIDATION_ERROR);
}

/* ---- seeding from the ledger ---- */

/* A fake ledger: what it says, how often it was asked, and an optional rendezvous of seeders. */
typedef struct fake_ledger {
    int64_t day_used, month_used;
    bool day_blocked;
    int64_t day_key; /* the day it has counts for; other days have none (the month still counts) */
    atomic_int asked;
    pthread_barrier_t *together; /* when set, each seeder waits for the other before answering */
} fake_ledger;

static int fake_seeder(void *arg, counters_seed_row *row)
{
    fake_ledger *f = arg;
    atomic_fetch_add(&f->asked, 1);
    if (f->together != NULL)
        pthread_barrier_wait(f->together);
    bool today = row->p.day_key == f->day_key;
    row->day_used = today ? f->day_used : 0;
    row->month_used = f->month_used;
    row->day_blocked = today && f->day_blocked;
    return 0;
}

typedef struct burst {
    atomic_int decided, served;
} burst;

static void on_burst(void *arg, const counters_decision *dec)
{
    burst *b = arg;
    if (dec->rc == 0 && dec->reserved)
        atomic_fetch_add(&b->served, 1);
    atomic_fetch_add(&b->decided, 1);
}

static void flushdb(void)
{
    redisReply *r = redisCommand(admin, "FLUSHDB");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

Test(counters_redis, missing_counters_are_seeded_from_the_ledger_after_a_flush)
{
    start(5);
    fake_ledger f = {.day_used = 7, .month_used = 30, .day_key = period_at(utc, T0).day_key};
    cr_assert(counters_set_seeder(c, fake_seeder, &f));
    limits l = block_limits(10, 100);
    counters_decision d = reserve(1, &l, utc);
    cr_assert_eq(atomic_load(&f.asked), 1, "the first call of the period asks the ledger");
    cr_assert_eq(d.day_used, 8);
    cr_assert_eq(d.month_used, 31);
    cr_assert_eq(reserve(1, &l, utc).day_used, 9);
    cr_assert_eq(atomic_load(&f.asked), 1, "counters Redis holds are not seeded again");
    assert_ttl('d', d.p.day_key, "", d.p.day_end_ms + 2 * DAY_MS - T0);

    /* Redis loses everything: the ledger (now at 9, say) seeds the counters again, and the
     * limit holds from there rather than from 0. */
    flushdb();
    f.day_used = 9;
    f.month_used = 32;
    d = reserve(1, &l, utc);
    cr_assert_eq(atomic_load(&f.asked), 2);
    cr_assert_eq(d.d.outcome, QUOTA_SERVE);
    cr_assert_eq(d.day_used, 10);
    d = reserve(1, &l, utc);
    cr_assert_eq(d.d.outcome, QUOTA_BLOCK);
    cr_assert_eq(d.first, COUNTERS_FIRST_DAY_BLOCK);

    /* A refusal the ledger already holds is not first again after a flush. */
    flushdb();
    f.day_used = 10;
    f.day_blocked = true;
    d = reserve(1, &l, utc);
    cr_assert_eq(d.d.outcome, QUOTA_BLOCK);
    cr_assert_eq(d.first, COUNTERS_FIRST_NONE);
    cr_assert_eq(usage(1, utc).day_used, 10);

    /* A new day is missing too: the ledger has none of it, the month goes on from Redis. */
    clock_test_advance(&tclock, DAY_MS);
    d = reserve(1, &l, utc);
    cr_assert_eq(atomic_load(&f.asked), 4);
    cr_assert_eq(d.d.outcome, QUOTA_SERVE);
    cr_assert_eq(d.day_used, 1);
    cr_assert_eq(d.month_used, 33, "the month key was there: Redis's 32, not the ledger's seed");

    /* Many calls find the counters missing at once: one ledger read seeds them all. */
    flushdb();
    f.day_key = d.p.day_key;
    f.day_used = 4;
    f.day_blocked = false;
    burst b = {.decided = 0};
    for (int i = 0; i < 200; i++) {
        counters_req req = {.account_id = 1, .limits = &l, .zone = utc};
        counters_reserve(c, &req, on_burst, &b);
    }
    while (atomic_load(&b.decided) < 200)
        usleep(1000);
    cr_assert_eq(atomic_load(&f.asked), 5);
    cr_assert_eq(atomic_load(&b.served), 6, "the limit of 10 from the ledger's 4");
}

Test(counters_redis, two_instances_seeding_at_once_agree)
{
    start(6);
    pthread_barrier_t together;
    pthread_barrier_init(&together, NULL, 2);
    int64_t day = period_at(utc, T0).day_key;
    /* The two nodes read the ledger at different instants: 40 and 45 (45 folded in between). */
    fake_ledger fa = {.day_used = 40, .month_used = 40, .day_key = day, .together = &together};
    fake_ledger fb = {.day_used = 45, .month_used = 45, .day_key = day, .together = &together};
    app_err err;
    counters *other = counters_redis_new(uri, &tclock, false, &err);
    cr_assert_not_null(other, "%s", err.message);
    cr_assert(counters_set_seeder(c, fake_seeder, &fa));
    cr_assert(counters_set_seeder(other, fake_seeder, &fb));
    limits l = block_limits(1000, 10000);
    waiter w[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (waiter){.calls = 0};
        pthread_mutex_init(&w[i].mu, NULL);
        pthread_cond_init(&w[i].cv, NULL);
        counters_req req = {.account_id = 5, .limits = &l, .zone = utc};
        counters_reserve(i ? other : c, &req, on_decided, &w[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_mutex_lock(&w[i].mu);
        while (w[i].calls == 0)
            pthread_cond_wait(&w[i].cv, &w[i].mu);
        pthread_mutex_unlock(&w[i].mu);
        pthread_cond_destroy(&w[i].cv);
        pthread_mutex_destroy(&w[i].mu);
        cr_assert_eq(w[i].dec.rc, 0);
    }
    counters_free(other);
    pthread_barrier_destroy(&together);
    cr_assert_eq(atomic_load(&fa.asked) + atomic_load(&fb.asked), 2, "both seeded at once");
    /* One seed won (SET NX) and both decided from it: two calls on top of the same figure. */
    int64_t lo = w[0].dec.day_used < w[1].dec.day_used ? w[0].dec.day_used : w[1].dec.day_used;
    int64_t hi = w[0].dec.day_used ^ w[1].dec.day_used ^ lo;
    cr_assert(lo == 41 || lo == 46, "seeded from one ledger read: %lld", (long long)lo);
    cr_assert_eq(hi, lo + 1);
    cr_assert_eq(usage(5, utc).day_used, hi);
    cr_assert_eq(usage(5, utc).month_used, hi);
}

Test(counters_redis, reconciliation_raises_lost_counts_and_never_lowers)
{
    start(7);
    limits l = block_limits(1000, 10000);
    for (int i = 0; i < 5; i++)
        reserve(1, &l, utc);
    counters_seed_row row = {.account_id = 1, .p = period_at(utc, T0), .day_used = 3, .month_used = 3};
    counters_usage before;
    app_err err;
    cr_assert_eq(counters_raise(c, &row, &before, &err), 0);
    cr_assert_eq(before.day_used, 5);
    cr_assert_eq(usage(1, utc).day_used, 5, "ahead of the ledger (calls not folded yet): kept");
    row.day_used = 8;
    row.month_used = 9;
    cr_assert_eq(counters_raise(c, &row, &before, &err), 0);
    cr_assert_eq(before.day_used, 5);
    cr_assert_eq(before.month_used, 5);
    cr_assert_eq(usage(1, utc).day_used, 8, "below the ledger (lost counts): raised");
    cr_assert_eq(usage(1, utc).month_used, 9);
    assert_ttl('d', row.p.day_key, "", row.p.day_end_ms + 2 * DAY_MS - T0);
    flushdb();
    cr_assert_eq(counters_raise(c, &row, &before, &err), 0);
    cr_assert_eq(before.day_used, -1, "missing");
    cr_assert_eq(usage(1, utc).day_used, 8);
    /* The local counters have no seeder: they never lose their counts. */
    counters *local = counters_local_new(&tclock);
    cr_assert_not(counters_set_seeder(local, NULL, NULL));
    counters_free(local);
}

/* ---- an event loop's own connection (attach_loop) ---- */

/*
 * A minimal event loop for core/evloop.h, driven by the test's thread: one stream at most, read
 * with poll, written with blocking retries, its deadline checked after each wait.
 */
typedef struct tstream {
    ev_stream super;
    struct tloop *loop;
    int fd;
    const ev_stream_cbs *cbs;
    void *arg;
    uint32_t deadline_ms;
    int64_t due_ms; /* 0: disarmed */
} tstream;

typedef struct tloop {
    ev_loop super;
    tstream *s;
    bool swallow;        /* the next bytes read are lost with the connection (Redis ran the batch) */
    bool drop_writes;    /* what is written is kept here instead of sent (Redis never sees it) */
    char dropped[65536]; /* (the first such write) */
    size_t dropped_len;
    bool poll_now;    /* the hand-over kept a batch back: the next iteration does not wait */
    int writes;       /* how many writes the counters made on the stream */
    atomic_int woken; /* how many times the counters woke the loop (from any thread) */
} tloop;

static int64_t now_ms(void)
{
    return (int64_t)(clock_mono_ns() / 1000000u);
}

static void t_close(ev_stream *self)
{
    tstream *s = (tstream *)self;
    close(s->fd);
    s->loop->s = NULL;
    free(s);
}

static void t_write(ev_stream *self, const char *data, size_t len)
{
    tstream *s = (tstream *)self;
    s->loop->writes++;
    if (s->loop->drop_writes) {
        if (s->loop->dropped_len == 0 && len <= sizeof s->loop->dropped) {
            memcpy(s->loop->dropped, data, len);
            s->loop->dropped_len = len;
        }
        return;
    }
    while (len > 0) {
        ssize_t k = write(s->fd, data, len);
        if (k < 0) {
            struct pollfd p = {.fd = s->fd, .events = POLLOUT};
            cr_assert(errno == EAGAIN && poll(&p, 1, 1000) == 1, "the test loop cannot write");
            continue;
        }
        data += k;
        len -= (size_t)k;
    }
}

static void t_arm(ev_stream *self, int armed)
{
    tstream *s = (tstream *)self;
    s->due_ms = armed ? now_ms() + s->deadline_ms : 0;
}

static ev_stream *t_adopt(ev_loop *loop, int fd, const ev_stream_cbs *cbs, void *arg, uint32_t deadline_ms);

static void t_wake(ev_loop *loop)
{
    atomic_fetch_add(&((tloop *)loop)->woken, 1); /* the test's loop iterates without waiting long */
}

static const struct ev_loop_ops t_ops = {
    .adopt = t_adopt, .write = t_write, .arm = t_arm, .close = t_close, .wake = t_wake};

static ev_stream *t_adopt(ev_loop *loop, int fd, const ev_stream_cbs *cbs, void *arg, uint32_t deadline_ms)
{
    tloop *l = (tloop *)loop;
    cr_assert_null(l->s, "one stream per loop");
    tstream *s = calloc(1, sizeof *s);
    s->super.ops = &t_ops;
    s->loop = l;
    s->fd = fd;
    s->cbs = cbs;
    s->arg = arg;
    s->deadline_ms = deadline_ms;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    l->s = s;
    return &s->super;
}

/* One iteration: waits up to `ms` for the stream's bytes and delivers them, then the deadline,
 * then the hand-over that ends every iteration. */
static void t_iterate(tloop *l, int ms)
{
    if (l->poll_now)
        ms = 0;
    tstream *s = l->s;
    if (s != NULL) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, ms) == 1) {
            char buf[16384];
            ssize_t k = read(s->fd, buf, sizeof buf);
            const char *why = k == 0 ? "closed by the peer" : k < 0 && errno != EAGAIN ? "read failed" : NULL;
            if (k > 0 && l->swallow) {
                l->swallow = false;
                why = "closed by the peer";
            }
            if (why == NULL && k > 0 && s->cbs->on_data(s->arg, buf, (size_t)k) != 0)
                why = "malformed data";
            if (why != NULL) {
                s->cbs->on_error(s->arg, why);
                t_close(&s->super);
                s = NULL;
            }
        }
        if (s != NULL && s->due_ms != 0 && now_ms() >= s->due_ms) {
            s->cbs->on_error(s->arg, "no reply before the deadline");
            t_close(&s->super);
        }
    } else {
        usleep((useconds_t)ms * 1000);
    }
    l->poll_now = counters_hand_over(c);
}

/*
 * Iterates until the loop has its own connection (the connection thread makes it) and may send on
 * it: the barrier the connection thread lets go, waking the loop, once what was queued there
 * before went to Redis (at once here; it may have passed before the loop adopted the connection,
 * hence no assertion on the wake-up).
 */
static void t_wait_connected(tloop *l)
{
    for (int i = 0; i < 300 && l->s == NULL; i++)
        t_iterate(l, 10);
    cr_assert_not_null(l->s, "the loop got its own connection");
    int woken = atomic_load(&l->woken);
    for (int i = 0; i < 200 && atomic_load(&l->woken) == woken; i++)
        t_iterate(l, 10);
    t_iterate(l, 0);
}

typedef struct on_loop {
    atomic_int decided;
    atomic_int on_this_thread, served, blocked, unavailable, firsts;
    pthread_t loop_thread;
    counters_decision last; /* the last decision */
} on_loop;

static void on_loop_decided(void *arg, const counters_decision *dec)
{
    on_loop *o = arg;
    if (pthread_equal(pthread_self(), o->loop_thread))
        atomic_fetch_add(&o->on_this_thread, 1);
    if (dec->rc != 0)
        atomic_fetch_add(&o->unavailable, 1);
    else if (dec->reserved)
        atomic_fetch_add(&o->served, 1);
    else
        atomic_fetch_add(&o->blocked, 1);
    if (dec->rc == 0 && dec->first != COUNTERS_FIRST_NONE)
        atomic_fetch_add(&o->firsts, 1);
    o->last = *dec;
    atomic_fetch_add(&o->decided, 1);
}

/* `n` reservations of `account_id`, handed over at the end of an iteration, then iterations until
 * each is decided (5 s at most). */
static void loop_reserve(tloop *l, on_loop *o, int64_t account_id, const limits *lim, int n)
{
    int want = atomic_load(&o->decided) + n;
    for (int i = 0; i < n; i++) {
        counters_req req = {.account_id = account_id, .limits = lim, .zone = utc};
        counters_reserve(c, &req, on_loop_decided, o);
    }
    for (int i = 0; i < 500 && atomic_load(&o->decided) < want; i++)
        t_iterate(l, 10);
    cr_assert_eq(atomic_load(&o->decided), want, "every reservation was decided");
}

/* The Redis clients of database `db` (CLIENT LIST). */
static int clients_on(int db)
{
    redisReply *list = redisCommand(admin, "CLIENT LIST TYPE normal");
    cr_assert(list != NULL && list->type == REDIS_REPLY_STRING);
    char want[16];
    snprintf(want, sizeof want, " db=%d ", db);
    int n = 0;
    for (const char *p = list->str; (p = strstr(p, want)) != NULL; p++)
        n++;
    freeReplyObject(list);
    return n;
}

Test(counters_redis, the_carrying_loop_decides_on_its_own_connection_and_falls_back_when_it_breaks)
{
    start(14);
    tloop l = {.super.ops = &t_ops};
    on_loop o = {.loop_thread = pthread_self()};
    counters_attach_loop(c, &l.super);
    t_wait_connected(&l);
    cr_assert_eq(clients_on(14), 3, "the test's, the connection thread's and the loop's");

    /* Decided on the loop, in one script run, exactly at the limit. */
    limits five = block_limits(5, 100);
    loop_reserve(&l, &o, 1, &five, 8);
    cr_assert_eq(atomic_load(&o.on_this_thread), 8, "decided on the loop's own thread");
    cr_assert_eq(atomic_load(&o.served), 5);
    cr_assert_eq(atomic_load(&o.blocked), 3);
    cr_assert_eq(usage(1, utc).day_used, 5);

    /* No reply comes before the deadline (the batch is lost on its way here, as it would be in a
     * stalled Redis; pausing the shared Redis would stall the other tests): the loop drops its
     * connection and the batch fails on the connection thread, never sent again. */
    l.drop_writes = true;
    limits many = block_limits(1000, 10000);
    loop_reserve(&l, &o, 2, &many, 3);
    l.drop_writes = false;
    cr_assert_eq(atomic_load(&o.unavailable), 3, "a stalled reply fails its calls");
    cr_assert_eq(atomic_load(&o.on_this_thread), 8, "failed on the connection thread, not the loop");
    cr_assert_null(l.s, "the loop dropped its connection");

    /* Until the loop connects again, its reservations go through the connection thread. */
    loop_reserve(&l, &o, 1, &five, 1);
    cr_assert_eq(atomic_load(&o.blocked), 4);
    t_wait_connected(&l);
    loop_reserve(&l, &o, 1, &five, 1);
    cr_assert_eq(atomic_load(&o.blocked), 5);
    cr_assert_eq(atomic_load(&o.on_this_thread), 9, "back on the loop's own connection");

    counters_detach_loop(c);
    cr_assert_null(l.s, "the loop's connection is closed when it detaches");
    cr_assert_eq(clients_on(14), 2);

    /* Counters with a ledger behind them, after Redis lost everything: the calls that find their
     * counter missing are seeded on the connection thread (the ledger may block), not the loop;
     * once seeded, the loop decides again. */
    counters_free(c);
    flushdb();
    app_err err;
    c = counters_redis_new(uri, &tclock, false, &err);
    cr_assert_not_null(c, "%s", err.message);
    fake_ledger f = {.day_used = 2, .month_used = 2, .day_key = period_at(utc, T0).day_key};
    cr_assert(counters_set_seeder(c, fake_seeder, &f));
    on_loop s = {.loop_thread = pthread_self()};
    counters_attach_loop(c, &l.super);
    t_wait_connected(&l);
    loop_reserve(&l, &s, 1, &five, 4);
    cr_assert_eq(atomic_load(&f.asked), 1, "the ledger was asked once");
    cr_assert_eq(atomic_load(&s.served), 3, "the limit of 5 from the ledger's 2");
    cr_assert_eq(atomic_load(&s.blocked), 1);
    cr_assert_eq(atomic_load(&s.on_this_thread), 0, "seeded on the connection thread");
    loop_reserve(&l, &s, 1, &five, 1);
    cr_assert_eq(atomic_load(&s.on_this_thread), 1, "then decided on the loop again");
    cr_assert_eq(usage(1, utc).day_used, 5);
    counters_detach_loop(c);
}

/* A second event loop, on a thread of its own: what it does, step by step (loop_follows). */
typedef struct follower {
    tloop l;
    on_loop o;
    limits one;
    atomic_bool done;
    bool pause;      /* it stops after handing its refund over, until step 2 */
    atomic_int step; /* how far it went (1: refund handed over), and the first loop (2) */
} follower;

static void follower_wait(follower *f, int decided)
{
    for (int i = 0; i < 1000 && atomic_load(&f->o.decided) < decided; i++)
        usleep(5000);
}

static void step_wait(follower *f, int step)
{
    for (int i = 0; i < 1000 && atomic_load(&f->step) < step; i++)
        usleep(5000);
    cr_assert_geq(atomic_load(&f->step), step);
}

/* The second loop: a reservation of a limit of 1, its refund, and one more reservation. */
static void *follower_main(void *arg)
{
    follower *f = arg;
    counters_attach_loop(c, &f->l.super);
    counters_req req = {.account_id = 1, .limits = &f->one, .zone = utc};
    counters_reserve(c, &req, on_loop_decided, &f->o);
    counters_hand_over(c); /* the end of its iteration */
    follower_wait(f, 1);
    counters_decision first = f->o.last;
    counters_refund(c, 1, &first); /* its commit failed: given back before its next reservation */
    if (f->pause) {
        counters_hand_over(c); /* handed to the first loop, which does not take it yet */
        atomic_store(&f->step, 1);
        step_wait(f, 2);
    }
    counters_reserve(c, &req, on_loop_decided, &f->o);
    counters_hand_over(c);
    follower_wait(f, 2);
    counters_detach_loop(c);
    atomic_store(&f->done, true);
    return NULL;
}

/* The first loop on `db`, connected, and the second on its thread. */
static void start_loops(int db, tloop *l, follower *f, bool pause, pthread_t *t)
{
    start(db);
    *l = (tloop){.super.ops = &t_ops};
    counters_attach_loop(c, &l->super);
    t_wait_connected(l);
    *f = (follower){.l = {.super.ops = &t_ops}, .o = {.loop_thread = pthread_self()}, .one = block_limits(1, 100)};
    f->pause = pause;
    cr_assert_eq(pthread_create(t, NULL, follower_main, f), 0);
}

/*
 * One loop's connection carries every loop's requests: a second loop makes no connection, hands
 * what it holds to the first at the end of its iterations, in the order it made them (its refund
 * before its next reservation, which it lets through), and its calls are decided on the first.
 */
Test(counters_redis, a_second_loop_s_requests_go_in_order_on_the_first_loop_s_connection)
{
    tloop l;
    follower f;
    pthread_t t;
    start_loops(12, &l, &f, false, &t);
    int clients = clients_on(12);
    for (int i = 0; i < 1000 && !atomic_load(&f.done); i++)
        t_iterate(&l, 5);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&f.o.decided), 2);
    cr_assert_eq(atomic_load(&f.o.served), 2, "the refund reached Redis before the next reservation");
    cr_assert_eq(atomic_load(&f.o.on_this_thread), 2, "both decided on the first loop");
    cr_assert_null(f.l.s, "the second loop made no connection");
    cr_assert_eq(clients_on(12), clients, "no connection more");
    cr_assert_eq(usage(1, utc).day_used, 1);
    counters_detach_loop(c);
}

/*
 * The carrying loop's connection breaks while it holds a refund another loop handed it: the refund
 * goes to the connection thread before that loop's next reservation, which it lets through.
 */
Test(counters_redis, a_refund_handed_to_a_loop_whose_connection_broke_still_goes_first)
{
    tloop l;
    follower f;
    pthread_t t;
    start_loops(10, &l, &f, true, &t);
    for (int i = 0; i < 1000 && atomic_load(&f.step) < 1; i++)
        t_iterate(&l, 5);
    cr_assert_eq(atomic_load(&f.step), 1);
    cr_assert_not_null(l.s);
    l.s->cbs->on_error(l.s->arg, "closed by the test");
    t_close(&l.s->super);
    atomic_store(&f.step, 2);
    for (int i = 0; i < 1000 && !atomic_load(&f.done); i++)
        t_iterate(&l, 5);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&f.o.decided), 2);
    cr_assert_eq(atomic_load(&f.o.served), 2, "the refund reached Redis before the next reservation");
    cr_assert_eq(usage(1, utc).day_used, 1);
    t_wait_connected(&l);
    counters_detach_loop(c);
}

typedef struct claim_answer {
    atomic_int answered, granted;
} claim_answer;

static void on_claim(void *arg, int rc, bool claimed)
{
    claim_answer *a = arg;
    if (rc == 0 && claimed)
        atomic_fetch_add(&a->granted, 1);
    atomic_fetch_add(&a->answered, 1);
}

/*
 * A release and a new claim of the same key, made together right after Redis lost its scripts:
 * both are answered NOSCRIPT and sent again in order, so the claim finds the key released (a
 * claim sent as a plain SET ran between and found it held: a spurious 409).
 */
Test(counters_redis, a_claim_after_a_release_is_granted_when_redis_lost_its_scripts_between)
{
    start(9);
    tloop l = {.super.ops = &t_ops};
    counters_attach_loop(c, &l.super);
    t_wait_connected(&l);
    claim_answer first = {0}, again = {0};
    counters_claim(c, 1, "key-1", on_claim, &first);
    for (int i = 0; i < 500 && atomic_load(&first.answered) == 0; i++)
        t_iterate(&l, 10);
    cr_assert_eq(atomic_load(&first.granted), 1);
    redisReply *r = redisCommand(admin, "SCRIPT FLUSH");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    counters_release(c, 1, "key-1");
    counters_claim(c, 1, "key-1", on_claim, &again);
    for (int i = 0; i < 500 && atomic_load(&again.answered) == 0; i++)
        t_iterate(&l, 10);
    cr_assert_eq(atomic_load(&again.answered), 1);
    cr_assert_eq(atomic_load(&again.granted), 1, "the release went first");
    counters_detach_loop(c);
}

/*
 * A loop's batch of a few reservations waits for one more iteration, which does not wait, and
 * goes with what that iteration adds, in one run; a batch of 16 goes at once.
 */
Test(counters_redis, a_loop_s_small_batch_waits_one_iteration_for_more_and_a_big_one_goes_at_once)
{
    start(13);
    tloop l = {.super.ops = &t_ops};
    on_loop o = {.loop_thread = pthread_self()};
    counters_attach_loop(c, &l.super);
    t_wait_connected(&l);
    limits lim = block_limits(1000, 100000);
    counters_req req = {.account_id = 1, .limits = &lim, .zone = utc};
    int before = l.writes;
    counters_reserve(c, &req, on_loop_decided, &o);
    cr_assert(counters_hand_over(c), "one reservation waits for another iteration");
    cr_assert_eq(l.writes, before, "nothing sent yet");
    counters_reserve(c, &req, on_loop_decided, &o);
    counters_reserve(c, &req, on_loop_decided, &o);
    cr_assert_not(counters_hand_over(c), "then it goes, whatever it holds");
    cr_assert_eq(l.writes, before + 1, "the three in one run");
    for (int i = 0; i < 500 && atomic_load(&o.decided) < 3; i++)
        t_iterate(&l, 10);
    cr_assert_eq(atomic_load(&o.served), 3);
    before = l.writes;
    for (int i = 0; i < 16; i++)
        counters_reserve(c, &req, on_loop_decided, &o);
    cr_assert_not(counters_hand_over(c), "sixteen go at once");
    cr_assert_eq(l.writes, before + 1, "in one run");
    for (int i = 0; i < 500 && atomic_load(&o.decided) < 19; i++)
        t_iterate(&l, 10);
    cr_assert_eq(atomic_load(&o.served), 19);
    cr_assert_eq(atomic_load(&o.on_this_thread), 19, "all decided on the loop");
    cr_assert_eq(usage(1, utc).day_used, 19);
    counters_detach_loop(c);
}

/*
 * A refund a loop makes reaches Redis before that loop's next reservations, which it lets through;
 * also when Redis lost its scripts in between.
 */
Test(counters_redis, a_loop_s_refund_goes_before_its_next_reservations)
{
    start(11);
    tloop l = {.super.ops = &t_ops};
    on_loop o = {.loop_thread = pthread_self()};
    counters_attach_loop(c, &l.super);
    t_wait_connected(&l);
    limits one = block_limits(1, 100);
    for (int round = 0; round < 20; round++) {
        loop_reserve(&l, &o, 1, &one, 1);
        cr_assert_eq(atomic_load(&o.served), 2 * round + 1, "round %d (%d blocked, %d unavailable, %s)", round,
                     atomic_load(&o.blocked), atomic_load(&o.unavailable), l.s != NULL ? "connected" : "not connected");
        counters_decision first = o.last;
        /* Its commit failed: given back, and the next call of the same iteration takes its place. */
        counters_refund(c, 1, &first);
        counters_req req = {.account_id = 1, .limits = &one, .zone = utc};
        counters_reserve(c, &req, on_loop_decided, &o);
        l.poll_now = counters_hand_over(c); /* the iteration ends at once */
        int want = atomic_load(&o.decided) + 1;
        for (int i = 0; i < 500 && atomic_load(&o.decided) < want; i++)
            t_iterate(&l, 10);
        cr_assert_eq(atomic_load(&o.served), 2 * round + 2, "round %d: the refund went first", round);
        if (round == 10) { /* Redis loses its scripts: loaded again on the loop, nothing reordered */
            redisReply *r = redisCommand(admin, "SCRIPT FLUSH");
            cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
            freeReplyObject(r);
        }
        counters_refund(c, 1, &o.last); /* and this one too, for the next round */
        t_iterate(&l, 10);
    }
    cr_assert_eq(atomic_load(&o.blocked), 0);
    cr_assert_eq(atomic_load(&o.on_this_thread), 40, "all decided on the loop");
    for (int i = 0; i < 100 && usage(1, utc).day_used != 0; i++)
        t_iterate(&l, 10);
    cr_assert_eq(usage(1, utc).day_used, 0, "every refund reached Redis");
    counters_detach_loop(c);
}

/* ---- a batch decides as its reservations one at a time ---- */

/* The ledger's standing of accounts 1 to 4 today and this month. */
static int mixed_seeder(void *arg, counters_seed_row *row)
{
    (void)arg;
    static const struct {
        int64_t day, month;
        bool day_blocked, month_overage;
    } ledger[] = {{3, 40, false, false}, {0, 0, false, false}, {1, 9, false, true}, {6, 6, true, false}};
    if (row->account_id < 1 || row->account_id > 4)
        return APP_COUNTERS_UNAVAILABLE;
    row->day_used = ledger[row->account_id - 1].day;
    row->month_used = ledger[row->account_id - 1].month;
    row->day_blocked = ledger[row->account_id - 1].day_blocked;
    row->month_overage = ledger[row->account_id - 1].month_overage;
    return 0;
}

enum { MIXED = 60 };

/* Reservation i of the mixed list: four accounts, their credentials, contracts and zones. */
static void mixed_req(int i, counters_req *req, counters_rate *rate, limits *l)
{
    static const int32_t plus14 = 14 * 3600; /* another day than UTC's at T0, the same month */
    int64_t acct = 1 + (i * 7 + i / 5) % 4;
    *rate = (counters_rate){
        .policy = {{1000000, 1000000}, {10, 6 + acct}, {10, 3}},
        .id = {0, acct, acct * 10 + i % 3},
    };
    switch (acct) {
    case 1: *l = block_limits(12, 1000); break; /* missing, then seeded */
    case 2: *l = block_limits(8, 100); break;
    case 3: /* overage with a cap, the month over from the ledger */
        *l = (limits){.daily_limit = opt_some(3),
                      .monthly_limit = opt_some(9),
                      .mode = LIMIT_OVERAGE,
                      .overage_cap = opt_some(4)};
        break;
    default: *l = (limits){.daily_limit = opt_some(6), .mode = LIMIT_BLOCK}; break; /* blocked, seeded so */
    }
    bool far = acct == 3 && i % 2 == 0;
    *req = (counters_req){
        .account_id = acct,
        .rate = (acct == 2 || acct == 3) && i % 4 != 3 ? rate : NULL, /* see decide_mixed */
        .limits = acct == 2 && i % 6 == 5 ? NULL : l,
        .zone = far ? (period_zone){fixed_offset, &plus14} : utc,
    };
    if (req->rate == NULL && req->limits == NULL)
        req->limits = l;
}

typedef void req_fn(int i, counters_req *req, counters_rate *rate, limits *l);

/* Decides reservations 0 .. n - 1 of a list (n <= MIXED): one at a time, or all as one batch. */
static void decide_list(counters_decision *out, int n, req_fn *req_of, bool one_batch)
{
    static counters_rate rates[MIXED];
    static limits ls[MIXED];
    static waiter ws[MIXED];
    if (one_batch)
        counters_hand_over(c); /* this thread hands over from now on: what follows is held */
    for (int i = 0; i < n; i++) {
        counters_req req;
        req_of(i, &req, &rates[i], &ls[i]);
        if (!one_batch) {
            out[i] = reserve_req_on(c, &req);
            continue;
        }
        ws[i] = (waiter){.calls = 0};
        pthread_mutex_init(&ws[i].mu, NULL);
        pthread_cond_init(&ws[i].cv, NULL);
        counters_reserve(c, &req, on_decided, &ws[i]);
    }
    if (!one_batch)
        return;
    counters_hand_over(c);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&ws[i].mu);
        while (ws[i].calls == 0)
            pthread_cond_wait(&ws[i].cv, &ws[i].mu);
        pthread_mutex_unlock(&ws[i].mu);
        out[i] = ws[i].dec;
    }
}

/* What kinds of decision a list holds. */
typedef struct decided_kinds {
    int limited, overages, blocked, firsts;
} decided_kinds;

/* Asserts the lists decided one at a time (`alone`) and as one batch decide every call alike. */
static decided_kinds assert_decided_alike(const counters_decision *alone, const counters_decision *batched, int n)
{
    decided_kinds k = {0};
    for (int i = 0; i < n; i++) {
        const counters_decision *a = &alone[i], *b = &batched[i];
        cr_assert_eq(a->rc, 0, "reservation %d", i);
        cr_assert_eq(b->rc, 0, "reservation %d", i);
        cr_assert(a->rate_limited == b->rate_limited && a->rate_scope == b->rate_scope, "reservation %d", i);
        for (int q = 0; q < COUNTERS_RATES; q++)
            cr_assert(a->rate[q].allowed == b->rate[q].allowed && a->rate[q].remaining == b->rate[q].remaining &&
                          a->rate[q].reset_ns == b->rate[q].reset_ns &&
                          a->rate[q].retry_after_ns == b->rate[q].retry_after_ns,
                      "reservation %d, rate limit %d", i, q);
        cr_assert(a->d.outcome == b->d.outcome && a->d.period == b->d.period && a->d.limit == b->d.limit &&
                      a->d.used == b->d.used,
                  "reservation %d: %d/%d/%lld/%lld alone, %d/%d/%lld/%lld batched", i, a->d.outcome, a->d.period,
                  (long long)a->d.limit, (long long)a->d.used, b->d.outcome, b->d.period, (long long)b->d.limit,
                  (long long)b->d.used);
        cr_assert(a->reserved == b->reserved && a->first == b->first, "reservation %d", i);
        cr_assert(a->day_used == b->day_used && a->month_used == b->month_used,
                  "reservation %d: %lld/%lld alone, %lld/%lld batched", i, (long long)a->day_used,
                  (long long)a->month_used, (long long)b->day_used, (long long)b->month_used);
        k.limited += a->rate_limited;
        k.overages += !a->rate_limited && a->d.outcome == QUOTA_SERVE_OVERAGE;
        k.blocked += !a->rate_limited && a->d.outcome == QUOTA_BLOCK;
        k.firsts += a->first != COUNTERS_FIRST_NONE;
    }
    return k;
}

/*
 * Decides the mixed list on an empty database after a call of accounts 2 and 3 in each of their
 * zones (so their counters are in Redis and those of 1 and 4 are missing): one at a time, or all
 * as one batch. A batch sends the reservations that found their counters missing again, seeded,
 * after the rest: they take no rate limits, so that the order changes nothing.
 */
static void decide_mixed(counters_decision *out, bool one_batch)
{
    flushdb();
    limits l2 = block_limits(8, 100);
    reserve(2, &l2, utc);
    limits l3 = {
        .daily_limit = opt_some(3), .monthly_limit = opt_some(9), .mode = LIMIT_OVERAGE, .overage_cap = opt_some(4)};
    reserve(3, &l3, utc);
    static const int32_t plus14 = 14 * 3600;
    reserve(3, &l3, (period_zone){fixed_offset, &plus14});
    decide_list(out, MIXED, mixed_req, one_batch);
}

Test(counters_redis, a_batch_of_many_accounts_and_missing_counters_decides_as_one_at_a_time)
{
    start(8);
    cr_assert(counters_set_seeder(c, mixed_seeder, NULL));
    static counters_decision alone[MIXED], batched[MIXED];
    decide_mixed(alone, false);
    decide_mixed(batched, true);
    decided_kinds k = assert_decided_alike(alone, batched, MIXED);
    cr_assert(k.limited > 0 && k.overages > 0 && k.blocked > 0 && k.firsts > 0,
              "the list decides every kind: %d rate limited, %d overage, %d blocked, %d firsts", k.limited, k.overages,
              k.blocked, k.firsts);
}

/*
 * The series list: reservations one after another by one credential at one instant. Some are
 * served whole (decided at once in a batch), ending below a limit or exactly on it; others exceed
 * one on the way (decided call by call): account 11 with rate limits (a credential's burst of 3,
 * the account's of 10) and a daily block at 7; account 12 in overage (daily 3, cap 2) without rate
 * limits; account 13 with rate limits only; account 14 with a monthly block at 5 only.
 */
static const struct series_spec {
    int64_t account, credential;
    int calls;
} series[] = {{11, 1, 3}, {12, 0, 2}, {13, 5, 3}, {14, 0, 3}, {11, 2, 2}, {13, 5, 2}, {12, 0, 4},
              {11, 3, 3}, {14, 0, 2}, {13, 6, 4}, {11, 4, 2}, {13, 7, 2}, {11, 1, 1}};
#define NSERIES (sizeof series / sizeof *series)

/* The index in the list of the first call of series `s`. */
static int series_first(size_t s)
{
    int i = 0;
    for (size_t k = 0; k < s; k++)
        i += series[k].calls;
    return i;
}

static void series_req(int i, counters_req *req, counters_rate *rate, limits *l)
{
    const struct series_spec *s = series;
    for (int left = i; left >= s->calls; s++)
        left -= s->calls;
    *rate = (counters_rate){
        .policy = {{1000000, 1000000}, {10, 10}, {10, 3}},
        .id = {0, s->account, s->credential},
    };
    switch (s->account) {
    case 11: *l = block_limits(7, 1000); break;
    case 12: *l = (limits){.daily_limit = opt_some(3), .mode = LIMIT_OVERAGE, .overage_cap = opt_some(2)}; break;
    case 14: *l = (limits){.monthly_limit = opt_some(5), .mode = LIMIT_BLOCK}; break;
    default: *l = (limits){0}; break;
    }
    *req = (counters_req){
        .account_id = s->account,
        .rate = s->account == 11 || s->account == 13 ? rate : NULL,
        .limits = s->account == 13 ? NULL : l,
        .zone = utc,
    };
}

/* A seeder that never has to seed: the list's counters are in Redis before it is decided. */
static int no_seed(void *arg, counters_seed_row *row)
{
    (void)arg;
    (void)row;
    return APP_COUNTERS_UNAVAILABLE;
}

/*
 * What Redis holds before the list is decided: the day and month counters of the accounts with a
 * contract (12 one call in, 14 two calls in the month), and account 11's bucket half an interval
 * ahead of now, with a short time to live that the list's calls must renew.
 */
static void series_preset(int64_t now_ms)
{
    flushdb();
    periods p = period_at(utc, now_ms);
    static const struct {
        int64_t account, day, month;
    } used[] = {{11, 0, 0}, {12, 1, 1}, {14, 0, 2}};
    for (size_t i = 0; i < sizeof used / sizeof *used; i++) {
        redisReply *r = redisCommand(admin, "SET sm:{%lld}:d:%lld %lld PX 3600000", (long long)used[i].account,
                                     (long long)p.day_key, (long long)used[i].day);
        cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
        r = redisCommand(admin, "SET sm:{%lld}:m:%lld %lld PX 3600000", (long long)used[i].account,
                         (long long)p.month_key, (long long)used[i].month);
        cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
    redisReply *r = redisCommand(admin, "SET sm:{11}:rl:a %lld PX 5000", (long long)(now_ms * 1000 + 50000));
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

/* One key in Redis: its value and its time to live. */
typedef struct key_state {
    char key[96], value[48];
    long long pttl;
} key_state;

static int compare_replies(const void *a, const void *b)
{
    return strcmp((*(redisReply *const *)a)->str, (*(redisReply *const *)b)->str);
}

/* Every key of the counters in Redis (the batches' markers aside), by name, into out; how many. */
static size_t counters_state(key_state *out, size_t cap)
{
    redisReply *keys = redisCommand(admin, "KEYS sm:*");
    cr_assert(keys != NULL && keys->type == REDIS_REPLY_ARRAY);
    qsort(keys->element, keys->elements, sizeof *keys->element, compare_replies);
    size_t n = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        const char *name = keys->element[i]->str;
        if (strncmp(name, "sm:bt:", 6) == 0)
            continue;
        redisReply *v = redisCommand(admin, "GET %s", name);
        redisReply *ttl = redisCommand(admin, "PTTL %s", name);
        cr_assert(v != NULL && v->type == REDIS_REPLY_STRING && ttl != NULL && ttl->type == REDIS_REPLY_INTEGER);
        cr_assert_lt(n, cap);
        cr_assert(strlen(name) < sizeof out[n].key && v->len < sizeof out[n].value);
        strcpy(out[n].key, name);
        strcpy(out[n].value, v->str);
        out[n++].pttl = ttl->integer;
        freeReplyObject(v);
        freeReplyObject(ttl);
    }
    freeReplyObject(keys);
    return n;
}

Test(counters_redis, a_series_of_one_credential_s_calls_decides_and_counts_as_one_at_a_time)
{
    start(8);
    cr_assert(counters_set_seeder(c, no_seed, NULL)); /* a counter found missing would fail the call */
    /* 13.5 intervals of 100 ms past a multiple of 16: account 11's bucket, half an interval ahead,
     * reaches a multiple of 16 intervals at the list's second call, which renews its time to live */
    int64_t now_ms = T0 + 1350;
    clock_test_set(&tclock, now_ms);
    int n = series_first(NSERIES);
    cr_assert_leq(n, MIXED);
    static counters_decision alone[MIXED], batched[MIXED];
    static key_state state_alone[64], state_batched[64];
    series_preset(now_ms);
    decide_list(alone, n, series_req, false);
    size_t keys_alone = counters_state(state_alone, 64);
    series_preset(now_ms);
    decide_list(batched, n, series_req, true);
    size_t keys_batched = counters_state(state_batched, 64);
    redisReply *marks = redisCommand(admin, "KEYS sm:bt:*"); /* the batch went as one run of the script */
    cr_assert(marks != NULL && marks->type == REDIS_REPLY_ARRAY && marks->elements == 1);
    redisReply *codes = redisCommand(admin, "GET %s", marks->element[0]->str);
    cr_assert(codes != NULL && codes->type == REDIS_REPLY_STRING && codes->len == (size_t)n, "a byte per call");
    /* The series served whole were decided at once (their calls' marker bytes say so), the others
     * call by call: the first five series and the one of account 13's credential 7. */
    for (size_t s = 0; s < NSERIES; s++)
        for (int i = series_first(s); i < series_first(s + 1); i++)
            cr_assert_eq((unsigned char)codes->str[i] >= 32, s < 5 || s == 11, "call %d (series %zu)", i, s);
    freeReplyObject(codes);
    freeReplyObject(marks);

    decided_kinds k = assert_decided_alike(alone, batched, n);
    cr_assert(k.limited > 0 && k.overages > 0 && k.blocked > 0 && k.firsts > 0,
              "the list decides every kind: %d rate limited, %d overage, %d blocked, %d firsts", k.limited, k.overages,
              k.blocked, k.firsts);
    cr_assert_eq(keys_batched, keys_alone);
    for (size_t i = 0; i < keys_alone; i++) {
        const key_state *a = &state_alone[i], *b = &state_batched[i];
        cr_assert_str_eq(b->key, a->key);
        cr_assert_str_eq(b->value, a->value, "%s", a->key);
        cr_assert(b->pttl > 0 && llabs(b->pttl - a->pttl) < 2000, "%s expires in %lld ms, %lld ms one at a time",
                  a->key, b->pttl, a->pttl);
    }
    /* what the contracts say, whatever the path */
    const counters_decision *d = &batched[series_first(1) + 1]; /* 12: the daily limit reached exactly */
    cr_assert(d->d.outcome == QUOTA_SERVE && d->day_used == 3);
    d = &batched[series_first(3) + 2]; /* 14: the monthly limit reached exactly */
    cr_assert(d->d.outcome == QUOTA_SERVE && d->month_used == 5);
    d = &batched[series_first(8)]; /* 14: one past it */
    cr_assert(d->d.outcome == QUOTA_BLOCK && d->d.period == QUOTA_MONTHLY);
    d = &batched[series_first(2) + 2]; /* 13: a credential's burst of 3, all taken */
    cr_assert(!d->rate_limited && d->rate[COUNTERS_RATE_CREDENTIAL].remaining == 0);
    d = &batched[series_first(7)]; /* 11: 6th and 7th served, the 8th blocked by the day */
    cr_assert(d[0].d.outcome == QUOTA_SERVE && d[1].d.outcome == QUOTA_SERVE && d[1].day_used == 7);
    cr_assert(d[2].d.outcome == QUOTA_BLOCK && d[2].first == COUNTERS_FIRST_DAY_BLOCK);
    bool renewed = false; /* account 11's bucket: its short time to live renewed by the list's second call */
    for (size_t i = 0; i < keys_batched; i++)
        renewed |= strcmp(state_batched[i].key, "sm:{11}:rl:a") == 0 && state_batched[i].pttl > 5000;
    cr_assert(renewed);
}

/* The markers of lost batches that were looked up (their value is "x"). */
static int markers_taken(void)
{
    redisReply *keys = redisCommand(admin, "KEYS sm:bt:*");
    cr_assert(keys != NULL && keys->type == REDIS_REPLY_ARRAY);
    int n = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *v = redisCommand(admin, "GET %s", keys->element[i]->str);
        cr_assert_not_null(v);
        n += v->type == REDIS_REPLY_STRING && strcmp(v->str, "x") == 0;
        freeReplyObject(v);
    }
    freeReplyObject(keys);
    return n;
}

/* Until `n` markers were looked up, or 3 s. */
static void wait_markers_taken(int n)
{
    for (int i = 0; i < 300 && markers_taken() < n; i++)
        usleep(10000);
    cr_assert_eq(markers_taken(), n, "the lost batches were looked up");
}

/*
 * Closed mode: calls whose batch's reply was lost are answered unavailable, and what Redis counted
 * of them is given back once the batch is found to have run; a batch that never reached Redis is
 * found not to have run, and is then refused if it arrives late.
 */
Test(counters_redis, a_lost_batch_that_ran_is_refunded_and_one_that_did_not_never_will)
{
    start(12);
    tloop l = {.super.ops = &t_ops};
    on_loop o = {.loop_thread = pthread_self()};
    counters_attach_loop(c, &l.super);
    t_wait_connected(&l);
    limits five = block_limits(5, 100);
    loop_reserve(&l, &o, 1, &five, 2);
    cr_assert_eq(atomic_load(&o.served), 2);

    /* Redis runs the batch (three served, the first refusal) and the reply is lost. */
    l.swallow = true;
    loop_reserve(&l, &o, 1, &five, 4);
    cr_assert_eq(atomic_load(&o.unavailable), 4, "answered unavailable: not served");
    wait_markers_taken(1);
    for (int i = 0; i < 300 && usage(1, utc).day_used != 2; i++)
        usleep(10000);
    cr_assert_eq(usage(1, utc).day_used, 2, "what the lost batch reserved was given back");
    t_wait_connected(&l);
    loop_reserve(&l, &o, 1, &five, 4);
    cr_assert_eq(atomic_load(&o.served), 5, "the limit of 5 holds");
    cr_assert_eq(atomic_load(&o.blocked), 1);
    cr_assert_eq(atomic_load(&o.firsts), 1, "the lost first refusal is the first again");

    /* A lost batch whose calls were decided at once, as one series: given back all the same. */
    limits many = block_limits(1000, 10000);
    loop_reserve(&l, &o, 3, &many, 1);
    l.swallow = true;
    loop_reserve(&l, &o, 3, &many, 3);
    cr_assert_eq(atomic_load(&o.unavailable), 7);
    wait_markers_taken(2);
    for (int i = 0; i < 300 && usage(3, utc).day_used != 1; i++)
        usleep(10000);
    cr_assert_eq(usage(3, utc).day_used, 1, "the series the lost batch decided at once was given back");
    t_wait_connected(&l);

    /* A batch that never reached Redis: the deadline fails it, and it is found not to have run. */
    l.drop_writes = true;
    loop_reserve(&l, &o, 2, &many, 2);
    cr_assert_eq(atomic_load(&o.unavailable), 9);
    cr_assert_gt(l.dropped_len, 0);
    wait_markers_taken(3);
    /* It arrives after all (a stalled connection): it decides nothing. */
    cr_assert_eq(redisAppendFormattedCommand(admin, l.dropped, l.dropped_len), REDIS_OK);
    void *rv = NULL;
    cr_assert_eq(redisGetReply(admin, &rv), REDIS_OK);
    redisReply *r = rv;
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_INTEGER &&
                  r->element[0]->integer == -3,
              "the late batch is refused");
    freeReplyObject(r);
    cr_assert_eq(usage(2, utc).day_used, 0, "nothing counted");
    l.drop_writes = false;
    counters_detach_loop(c);
}
