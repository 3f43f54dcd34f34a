/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Several nodes, one set of limits: two servers on one PostgreSQL database and one Redis. A block
 * limit holds exactly across them, however many connections hit both at once, and every call
 * served is counted once in the shared ledger.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "integration/harness.h"

#define WEEKLY "/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2026-W47"

static th_server nodes[2];
static char dir[256];
static char counters_uri[512];
static char pg[512], pepper[300];

static void setup(void)
{
    const char *redis = getenv("STARMETER_TEST_REDIS");
    cr_assert(redis != NULL && redis[0] != '\0',
              "STARMETER_TEST_REDIS is not set: run `make test`, or scripts/test-c.sh BUILD_DIR, which start Redis");
    char flush[700];
    th_pg_new_database(pg, sizeof pg);
    /* The tests of this suite run side by side, each on a fresh database whose account ids start
     * at 1: each gets a Redis database of its own (16 and up, by name; the counters' unit tests use
     * 4 to 15). */
    static const char *const tests[] = {"two_nodes_serve_exactly_the_block_limit_between_them",
                                        "an_overage_cap_holds_across_nodes_and_its_first_overage_is_audited_once",
                                        "an_idempotent_retry_sent_to_the_other_node_is_counted_once",
                                        "counters_redis_lost_are_seeded_from_the_ledger_and_the_limit_holds",
                                        "the_account_rate_limit_holds_across_nodes",
                                        "the_global_rate_limit_holds_across_nodes",
                                        "concurrent_duplicates_on_two_nodes_are_served_once",
                                        "closed_nodes_answer_503_and_count_nothing_while_redis_is_down",
                                        "open_nodes_decide_alone_within_the_bound_then_converge",
                                        "a_redis_restart_under_load_stays_within_the_bound",
                                        "the_loops_decide_on_one_loop_s_connection_and_survive_losing_it",
                                        "an_open_node_starts_while_redis_is_down_and_converges",
                                        "a_node_stopped_under_load_answers_every_call_it_took"};
    int db = -1;
    for (int i = 0; i < (int)(sizeof tests / sizeof tests[0]); i++)
        if (strcmp(criterion_current_test->name, tests[i]) == 0)
            db = 16 + i;
    cr_assert_geq(db, 0, "give %s a Redis database of its own", criterion_current_test->name);
    const char *slash = strrchr(redis, '/');
    cr_assert_not_null(slash);
    snprintf(counters_uri, sizeof counters_uri, "%.*s/%d", (int)(slash - redis), redis, db);
    snprintf(flush, sizeof flush, "redis-cli -u '%s' FLUSHDB >/dev/null", counters_uri);
    cr_assert_eq(system(flush), 0, "%s", flush);
    th_tmpdir(dir);
    snprintf(pepper, sizeof pepper, "%s/pepper", dir);
    for (int i = 0; i < 2; i++) {
        th_opts o = {.store_uri = pg, .counters = counters_uri, .pepper = pepper};
        th_start(&nodes[i], &o);
    }
}

static void own_redis_stop(void);
static int own_port;
static char own_dir[256];

static void teardown(void)
{
    for (int i = 0; i < 2; i++)
        th_stop(&nodes[i]);
    if (own_port != 0) {
        own_redis_stop(); /* also after a failed assertion: no server outlives its test */
        th_rmdir(own_dir);
    }
    th_rmdir(dir);
}

TestSuite(cluster, .init = setup, .fini = teardown, .timeout = 120);

static const char *hammer_key;
static atomic_int served, refused, other;
static int hammer_calls; /* per connection */

static void *hammer(void *arg);

/*
 * Both nodes warm the week (when `warm`), then `conns` connections split between them send
 * `calls` calls each of `key`; `served` starts at `already`. No answer other than 200 or 429 is
 * allowed.
 */
static void race(const char *key, int conns, int calls, bool warm, int already)
{
    th_response r;
    hammer_key = key;
    hammer_calls = calls;
    for (int n = 0; warm && n < 2; n++) {
        cr_assert_eq(th_keyed(&nodes[n], WEEKLY, key, &r), 200, "%s", r.body);
        th_response_free(&r);
    }
    atomic_store(&served, already + (warm ? 2 : 0));
    atomic_store(&refused, 0);
    atomic_store(&other, 0);
    pthread_t t[64];
    cr_assert_leq(conns, 64);
    for (int i = 0; i < conns; i++)
        pthread_create(&t[i], NULL, hammer, &nodes[i % 2]);
    for (int i = 0; i < conns; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&other), 0);
}

static void *hammer(void *arg)
{
    th_server *node = arg;
    for (int i = 0; i < hammer_calls; i++) {
        th_response r;
        long st = th_keyed(node, WEEKLY, hammer_key, &r);
        if (st == 200)
            atomic_fetch_add(&served, 1);
        else if (st == 429)
            atomic_fetch_add(&refused, 1);
        else
            atomic_fetch_add(&other, 1);
        th_response_free(&r);
    }
    return NULL;
}

/* A plan (body), an account on it and a key, through node A; returns once both nodes accept it. */
static void account_with_key(const char *plan_body, const char *code, char key[80])
{
    th_response r;
    cr_assert_eq(th_admin(&nodes[0], "POST", "/v1/admin/plans", plan_body, &r), 201, "%s", r.body);
    th_response_free(&r);
    th_admin(&nodes[0], "POST", "/v1/admin/accounts", "{\"name\":\"Two Nodes\"}", &r);
    long long id = json_integer_value(json_object_get(th_data(&r), "id"));
    th_response_free(&r);
    char path[96], body[96];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", id);
    snprintf(body, sizeof body, "{\"plan_code\":\"%s\"}", code);
    cr_assert_eq(th_admin(&nodes[0], "PUT", path, body, &r), 200, "%s", r.body);
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", id);
    th_admin(&nodes[0], "POST", path, "{\"label\":\"k\"}", &r);
    snprintf(key, 80, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    th_response_free(&r);
    /* Node B learns the key through PostgreSQL's notification. */
    long st = 0;
    for (int i = 0; i < 300 && st != 200; i++) {
        st = th_keyed(&nodes[1], "/v1/b2b/me", key, &r);
        th_response_free(&r);
        if (st != 200)
            usleep(10000);
    }
    cr_assert_eq(st, 200, "node B never accepted the key");
}

/* The daily `used` of the summary on node B once it reaches `want` (other nodes fold within ms). */
static json_int_t used_on_b(const char *key, json_int_t want)
{
    th_response r;
    json_int_t used = -1;
    for (int i = 0; i < 300 && used != want; i++) {
        cr_assert_eq(th_keyed(&nodes[1], "/v1/b2b/usage/summary", key, &r), 200, "%s", r.body);
        used = json_integer_value(json_object_get(json_object_get(th_data(&r), "daily"), "used"));
        th_response_free(&r);
        if (used != want)
            usleep(10000);
    }
    return used;
}

/* A gauge's value in a node's /metrics (-1 when absent). */
static long long gauge(th_server *node, const char *name)
{
    th_response r;
    cr_assert_eq(th_admin(node, "GET", "/metrics", NULL, &r), 200);
    char pat[96];
    snprintf(pat, sizeof pat, "\n%s ", name);
    const char *g = strstr(r.body, pat);
    long long v = g != NULL ? strtoll(g + strlen(pat), NULL, 10) : -1;
    th_response_free(&r);
    return v;
}

/* `n` calls of `key`, alternating between the nodes, each answered 200. */
static void serve_ok(const char *key, int n)
{
    th_response r;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(th_keyed(&nodes[i % 2], WEEKLY, key, &r), 200, "%s", r.body);
        th_response_free(&r);
    }
}

/* The Redis key of account 1's day counter. */
static void day_counter_key(char out[96])
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "redis-cli -u '%s' --scan --pattern 'sm:{1}:d:*' | grep -E '^sm:\\{1\\}:d:[0-9]+$'",
             counters_uri);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    out[0] = '\0';
    cr_assert_not_null(fgets(out, 96, f), "%s", cmd);
    pclose(f);
    out[strcspn(out, "\n")] = '\0';
}

/* Redis's value of `key` once it reaches `want` (polled for up to 30 s), or the last one read. */
static long long redis_value_reaching(const char *key, long long want)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "redis-cli -u '%s' GET '%s'", counters_uri, key);
    long long v = 0;
    for (int i = 0; i < 300; i++) {
        FILE *f = popen(cmd, "r");
        cr_assert_not_null(f);
        char line[64] = "";
        if (fgets(line, sizeof line, f) != NULL)
            v = strtoll(line, NULL, 10);
        pclose(f);
        if (v >= want)
            break;
        usleep(100000);
    }
    return v;
}

Test(cluster, two_nodes_serve_exactly_the_block_limit_between_them)
{
    char key[80];
    account_with_key("{\"code\":\"c\",\"name\":\"C\",\"daily_limit\":1000,\"rate_per_second\":100000,\"burst\":"
                     "100000,\"credential_rate_per_second\":100000,\"credential_burst\":100000}",
                     "c", key);
    enum { CONNS = 64, CALLS = 20 };
    race(key, CONNS, CALLS, true, 0);
    cr_assert_eq(atomic_load(&served), 1000, "exactly the limit across both nodes");
    cr_assert_eq(atomic_load(&refused), CONNS * CALLS + 2 - 1000);

    /* The shared ledger has each call once: the summary on either node says so. */
    cr_assert_eq(used_on_b(key, 1000), 1000);
}

Test(cluster, an_overage_cap_holds_across_nodes_and_its_first_overage_is_audited_once)
{
    th_response r;
    char key[80];
    account_with_key("{\"code\":\"o\",\"name\":\"O\",\"daily_limit\":800,\"limit_mode\":\"overage\",\"overage_"
                     "cap\":200,\"rate_per_second\":100000,\"burst\":100000,\"credential_rate_per_second\":100000,"
                     "\"credential_burst\":100000}",
                     "o", key);
    race(key, 64, 20, true, 0);
    cr_assert_eq(atomic_load(&served), 1000, "the limit and the cap, across both nodes");
    cr_assert_eq(used_on_b(key, 1000), 1000);
    th_admin(&nodes[1], "GET", "/v1/admin/audit?action=quota.overage", NULL, &r);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 1, "%s", r.body);
    th_response_free(&r);
    th_admin(&nodes[1], "GET", "/v1/admin/audit?action=quota.block", NULL, &r);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 1, "%s", r.body);
    th_response_free(&r);
}

Test(cluster, an_idempotent_retry_sent_to_the_other_node_is_counted_once)
{
    th_response r;
    char key[80], hk[128];
    account_with_key("{\"code\":\"i\",\"name\":\"I\",\"daily_limit\":10}", "i", key);
    snprintf(hk, sizeof hk, "X-API-Key: %s", key);
    const char *h[] = {hk, "Idempotency-Key: retry-across-nodes", NULL};
    th_request(&nodes[0], "GET", WEEKLY, h, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *first = strdup(r.body);
    th_response_free(&r);
    th_request(&nodes[1], "GET", WEEKLY, h, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char replayed[16];
    cr_assert(th_header(&r, "idempotent-replayed", replayed, sizeof replayed), "answered from the stored answer");
    cr_assert_str_eq(r.body, first, "byte for byte");
    th_response_free(&r);
    free(first);
    cr_assert_eq(used_on_b(key, 1), 1, "counted once");
}

/*
 * Redis loses every counter (FLUSHDB) after 60 calls of a block limit of 100: the first call on
 * each node finds its counters missing and seeds them from the ledger before deciding, so the
 * limit holds across the loss.
 *
 * The bound. A seed is the ledger's sum when the seeder reads it; what Redis had counted and the
 * ledger did not hold yet at that instant is counted again, once: on every node, the calls
 * journaled but not folded yet (at most METERING_SYNC_DELAY_MS of its traffic) and the calls
 * reserved and not yet journaled or committed (at most its connections in flight). So a flush
 * under load may serve up to 100 + that sum. Here both nodes have folded all 60 calls before the
 * flush (the summary shows the ledger at 60) and nothing is in flight, so the bound is 0: exactly
 * 100 are served in total, and the ledger holds 100.
 */
Test(cluster, counters_redis_lost_are_seeded_from_the_ledger_and_the_limit_holds)
{
    th_response r;
    char key[80], flush[700];
    account_with_key("{\"code\":\"f\",\"name\":\"F\",\"daily_limit\":100,\"rate_per_second\":100000,\"burst\":"
                     "100000,\"credential_rate_per_second\":100000,\"credential_burst\":100000}",
                     "f", key);
    serve_ok(key, 60);
    cr_assert_eq(used_on_b(key, 60), 60, "both nodes folded their calls into the ledger");

    snprintf(flush, sizeof flush, "redis-cli -u '%s' FLUSHDB >/dev/null", counters_uri);
    cr_assert_eq(system(flush), 0, "%s", flush);

    enum { CONNS = 16 };
    race(key, CONNS, 12, false, 60);
    cr_assert_eq(atomic_load(&served), 100, "the limit holds across the loss of every counter");
    cr_assert_eq(atomic_load(&refused), CONNS * 12 - 40);
    cr_assert_eq(used_on_b(key, 100), 100, "the ledger holds what was served");

    /* Counts lost with the counters still there (say Redis came back from an old snapshot): a
     * call passes that should not, and the reconciliation raises Redis to the ledger within
     * METERING_RECONCILE_MS, logs it, and exports the drift it saw. */
    char cmd[800], day_key[96];
    day_counter_key(day_key);
    snprintf(cmd, sizeof cmd, "redis-cli -u '%s' SET '%s' 90 KEEPTTL >/dev/null", counters_uri, day_key);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    cr_assert_eq(th_keyed(&nodes[0], WEEKLY, key, &r), 200, "Redis says 90: the lost counts let one more through");
    th_response_free(&r);
    cr_assert_eq(redis_value_reaching(day_key, 101), 101, "raised to the ledger's 101 (100 and the call let through)");
    cr_assert_eq(th_keyed(&nodes[1], WEEKLY, key, &r), 429, "%s", r.body);
    th_response_free(&r);
    /* Either node may have raised it (both had the account active in the round): one of them
     * logged the correction, and its last round saw a drift above 0. */
    bool logged = false, drifted = false;
    for (int i = 0; i < 2; i++) {
        size_t len;
        char *log = th_read_file(nodes[i].log_path, &len);
        logged |= log != NULL && strstr(log, "counters raised to the ledger") != NULL;
        free(log);
        drifted |= gauge(&nodes[i], "b2b_counter_drift") > 0;
    }
    cr_assert(logged, "the correction is logged");
    cr_assert(drifted, "the drift of the round that corrected it is exported");
}

/* Both sides of a rate-limit race: answers per status, and how long it took. */
static atomic_int ok_calls, limited_calls, other_calls;

static void *rate_hammer(void *arg)
{
    th_server *node = arg;
    for (int i = 0; i < 10; i++) {
        th_response r;
        long st = th_keyed(node, "/v1/b2b/me", hammer_key, &r);
        atomic_fetch_add(st == 200 ? &ok_calls : st == 429 ? &limited_calls : &other_calls, 1);
        th_response_free(&r);
    }
    return NULL;
}

/* 16 connections split between the nodes send 10 calls each; returns the seconds it took. */
static double rate_race(const char *key)
{
    hammer_key = key;
    atomic_store(&ok_calls, 0);
    atomic_store(&limited_calls, 0);
    atomic_store(&other_calls, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t t[16];
    for (int i = 0; i < 16; i++)
        pthread_create(&t[i], NULL, rate_hammer, &nodes[i % 2]);
    for (int i = 0; i < 16; i++)
        pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(atomic_load(&other_calls), 0);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/*
 * An account's rate limit of 2 calls per second with a burst of 20, hit by 160 calls on two
 * nodes: one node with the same limit would admit at most 20 + 2 per second elapsed (GCRA's
 * tolerance), and so do both together. Nodes deciding alone would admit about twice that.
 */
Test(cluster, the_account_rate_limit_holds_across_nodes)
{
    char key[80];
    account_with_key("{\"code\":\"r\",\"name\":\"R\",\"daily_limit\":100000,\"rate_per_second\":2,\"burst\":20,"
                     "\"credential_rate_per_second\":100000,\"credential_burst\":100000}",
                     "r", key);
    double secs = rate_race(key);
    int ok = atomic_load(&ok_calls);
    /* account_with_key's own check on node B took one call of the bucket. */
    cr_assert_leq(ok + 1, 20 + (int)(2 * secs) + 1, "%d admitted in %.2f s", ok, secs);
    cr_assert_geq(ok + 1, 20, "the burst is admitted");
    cr_assert_eq(ok + atomic_load(&limited_calls), 160);

    th_response r;
    cr_assert_eq(th_keyed(&nodes[0], "/v1/b2b/me", key, &r), 429);
    json_t *d = json_object_get(json_object_get(r.json, "error"), "details");
    cr_assert_str_eq(json_string_value(json_object_get(d, "scope")), "account", "%s", r.body);
    char retry[16];
    cr_assert(th_header(&r, "retry-after", retry, sizeof retry));
    th_response_free(&r);
}

/* The same for the global rate limit, which every call of every account takes. */
Test(cluster, the_global_rate_limit_holds_across_nodes)
{
    for (int i = 0; i < 2; i++) {
        th_stop(&nodes[i]);
        th_opts o = {.store_uri = pg, .counters = counters_uri, .pepper = pepper, .global_burst = 30};
        th_start(&nodes[i], &o);
    }
    char key[80];
    account_with_key("{\"code\":\"g\",\"name\":\"G\",\"daily_limit\":100000,\"rate_per_second\":100000,\"burst\":"
                     "100000,\"credential_rate_per_second\":100000,\"credential_burst\":100000}",
                     "g", key);
    double secs = rate_race(key);
    int ok = atomic_load(&ok_calls);
    cr_assert_leq(ok + 1, 30 + (int)(1 * secs) + 1, "%d admitted in %.2f s", ok, secs);
    cr_assert_geq(ok + 1, 30 - 1 - (int)secs, "about the burst is admitted");

    th_response r;
    cr_assert_eq(th_keyed(&nodes[1], "/v1/b2b/me", key, &r), 429);
    json_t *d = json_object_get(json_object_get(r.json, "error"), "details");
    cr_assert_str_eq(json_string_value(json_object_get(d, "scope")), "global", "%s", r.body);
    th_response_free(&r);
}

/* Duplicates of one Idempotency-Key sent at once, half to each node. */
static const char *dup_headers[3];
static atomic_int dup_ok, dup_conflict, dup_other;
static pthread_barrier_t dup_start;

static void *dup_sender(void *arg)
{
    th_server *node = arg;
    th_response r;
    pthread_barrier_wait(&dup_start);
    th_request(node, "GET", WEEKLY, dup_headers, NULL, &r);
    atomic_fetch_add(r.status == 200 ? &dup_ok : r.status == 409 ? &dup_conflict : &dup_other, 1);
    th_response_free(&r);
    return NULL;
}

/*
 * Eight requests with the same Idempotency-Key reach both nodes at the same moment: one is
 * served and counted; the others are answered from its stored answer, or 409 while it is being
 * served (the claim is shared in Redis, so the node that did not serve it knows). Five keys in a
 * row, and the ledger holds five calls.
 */
Test(cluster, concurrent_duplicates_on_two_nodes_are_served_once)
{
    char key[80], hk[128], ik[64];
    account_with_key("{\"code\":\"d\",\"name\":\"D\",\"daily_limit\":1000,\"rate_per_second\":100000,\"burst\":100000,"
                     "\"credential_rate_per_second\":100000,\"credential_burst\":100000}",
                     "d", key);
    snprintf(hk, sizeof hk, "X-API-Key: %s", key);
    for (int k = 0; k < 5; k++) {
        snprintf(ik, sizeof ik, "Idempotency-Key: same-%d", k);
        dup_headers[0] = hk;
        dup_headers[1] = ik;
        dup_headers[2] = NULL;
        atomic_store(&dup_ok, 0);
        atomic_store(&dup_conflict, 0);
        atomic_store(&dup_other, 0);
        pthread_barrier_init(&dup_start, NULL, 8);
        pthread_t t[8];
        for (int i = 0; i < 8; i++)
            pthread_create(&t[i], NULL, dup_sender, &nodes[i % 2]);
        for (int i = 0; i < 8; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&dup_start);
        cr_assert_eq(atomic_load(&dup_other), 0);
        cr_assert_geq(atomic_load(&dup_ok), 1);
        cr_assert_eq(atomic_load(&dup_ok) + atomic_load(&dup_conflict), 8);
    }
    cr_assert_eq(used_on_b(key, 5), 5, "each key counted once across both nodes");
}

/* ---- a Redis of the test's own, to stop and start again on the same port ---- */

static void own_redis_start(void)
{
    if (own_port == 0) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        cr_assert(bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&a, &len) == 0);
        own_port = ntohs(a.sin_port);
        close(s);
        th_tmpdir(own_dir);
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --dir %s "
             "--pidfile %s/redis.pid --logfile %s/redis.log >/dev/null",
             own_port, own_dir, own_dir, own_dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "redis-cli -p %d ping >/dev/null 2>&1", own_port);
    for (int i = 0; i < 200 && system(cmd) != 0; i++)
        usleep(25000);
    cr_assert_eq(system(cmd), 0, "the test's Redis did not start");
    snprintf(counters_uri, sizeof counters_uri, "redis://127.0.0.1:%d/0", own_port);
}

static void own_redis_stop(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "redis-cli -p %d shutdown nosave >/dev/null 2>&1", own_port);
    system(cmd);
    snprintf(cmd, sizeof cmd, "redis-cli -p %d ping >/dev/null 2>&1", own_port);
    for (int i = 0; i < 200 && system(cmd) == 0; i++)
        usleep(25000);
}

/* Both nodes again, on the test's own Redis (open: --counters-unavailable open). */
static void nodes_on_own_redis(bool open)
{
    own_redis_start();
    for (int i = 0; i < 2; i++) {
        th_stop(&nodes[i]);
        th_opts o = {.store_uri = pg, .counters = counters_uri, .pepper = pepper, .counters_open = open};
        th_start(&nodes[i], &o);
    }
}

static size_t audit_count(th_server *node, const char *action)
{
    th_response r;
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/audit?action=%s", action);
    cr_assert_eq(th_admin(node, "GET", path, NULL, &r), 200);
    size_t n = json_array_size(json_object_get(th_data(&r), "items"));
    th_response_free(&r);
    return n;
}

#define GENEROUS_RATES                                                                                                 \
    "\"rate_per_second\":100000,\"burst\":100000,\"credential_rate_per_second\":100000,\"credential_burst\":100000"

/* Closed (the default): while Redis is down a metered call is 503 counters_unavailable, uncounted. */
Test(cluster, closed_nodes_answer_503_and_count_nothing_while_redis_is_down)
{
    nodes_on_own_redis(false);
    char key[80];
    account_with_key("{\"code\":\"k\",\"name\":\"K\",\"daily_limit\":100," GENEROUS_RATES "}", "k", key);
    th_response r;
    serve_ok(key, 4);
    cr_assert_eq(used_on_b(key, 4), 4);
    own_redis_stop();
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(th_keyed(&nodes[i % 2], WEEKLY, key, &r), 503, "%s", r.body);
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
                         "counters_unavailable");
        th_response_free(&r);
    }
    cr_assert_eq(gauge(&nodes[0], "b2b_counters_degraded"), 0, "closed nodes never decide alone");
    own_redis_start(); /* empty: the counters are seeded from the ledger */
    long st = 0;
    for (int i = 0; i < 200 && st != 200; i++) {
        st = th_keyed(&nodes[1], WEEKLY, key, &r);
        th_response_free(&r);
        if (st != 200)
            usleep(25000);
    }
    cr_assert_eq(st, 200, "served again once Redis is back");
    cr_assert_eq(used_on_b(key, 5), 5, "the 503s counted nothing");
    own_redis_stop();
}

/*
 * Open: while Redis is down each node decides alone, from the ledger's count when it first
 * decides the account (U) and its own calls since. With N nodes and a limit L, the calls served
 * are at most L + (N - 1) * (L - U), plus the calls other nodes had counted in Redis but not yet
 * in the ledger when a node read it (none here: the ledger holds all 20 before Redis stops).
 * Here N = 2, L = 100, U = 20: at most 180 (less when a node first reads the ledger after the
 * other folded some of its own calls into it).
 * Every call served is in the ledger; b2b_counters_degraded is 1 and each node audits the
 * outage. When Redis comes back (empty), its counters are seeded from the ledger and raised to
 * what the nodes counted: the limit holds again on both, and the outage's end is audited.
 */
Test(cluster, open_nodes_decide_alone_within_the_bound_then_converge)
{
    nodes_on_own_redis(true);
    char key[80];
    account_with_key("{\"code\":\"n\",\"name\":\"N\",\"daily_limit\":100," GENEROUS_RATES "}", "n", key);
    th_response r;
    serve_ok(key, 20);
    cr_assert_eq(used_on_b(key, 20), 20);
    own_redis_stop();

    race(key, 16, 12, false, 20);
    int served_total = atomic_load(&served);
    cr_assert_leq(served_total, 100 + (2 - 1) * (100 - 20), "the documented bound");
    cr_assert_geq(served_total, 100, "both nodes kept serving: %d served, %d refused", served_total,
                  atomic_load(&refused));
    cr_assert_eq(used_on_b(key, served_total), served_total, "every call served is in the ledger");
    for (int i = 0; i < 2; i++)
        cr_assert_eq(gauge(&nodes[i], "b2b_counters_degraded"), 1, "node %d", i);
    size_t degraded = 0;
    for (int i = 0; i < 100 && degraded < 2; i++) {
        degraded = audit_count(&nodes[0], "counters.degraded");
        if (degraded < 2)
            usleep(20000);
    }
    cr_assert_eq(degraded, 2, "each node audits its outage");

    own_redis_start();
    /* Each node notices within its reconnection backoff (2 s at most), or at its next call. */
    for (int n = 0; n < 2; n++) {
        long long g = 1;
        for (int i = 0; i < 300 && g != 0; i++) {
            long st = th_keyed(&nodes[n], WEEKLY, key, &r);
            cr_assert(st == 429 || st == 200, "%ld %s", st, r.body);
            th_response_free(&r);
            g = gauge(&nodes[n], "b2b_counters_degraded");
            if (g != 0)
                usleep(20000);
        }
        cr_assert_eq(g, 0, "node %d decides across nodes again", n);
    }
    for (int n = 0; n < 2; n++) {
        cr_assert_eq(th_keyed(&nodes[n], WEEKLY, key, &r), 429, "%s", r.body);
        th_response_free(&r);
    }
    cr_assert_eq(audit_count(&nodes[1], "counters.restored"), 2);
    own_redis_stop();
}

/* Load until told to stop, tallying every answer. */
static atomic_int load_ok, load_429, load_503, load_other;
static atomic_bool load_stop;

static void *steady_load(void *arg)
{
    th_server *node = arg;
    while (!atomic_load(&load_stop)) {
        th_response r;
        long st = th_keyed(node, WEEKLY, hammer_key, &r);
        atomic_fetch_add(st == 200 ? &load_ok : st == 429 ? &load_429 : st == 503 ? &load_503 : &load_other, 1);
        th_response_free(&r);
    }
    return NULL;
}

/* `n` connections calling `key` on both nodes in turn, until load_stop, the tallies from 0. */
static void start_steady_load(const char *key, pthread_t *t, int n)
{
    hammer_key = key;
    atomic_store(&load_ok, 0);
    atomic_store(&load_429, 0);
    atomic_store(&load_503, 0);
    atomic_store(&load_other, 0);
    atomic_store(&load_stop, false);
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, steady_load, &nodes[i % 2]);
}

/*
 * Redis loses everything twice while 16 connections keep calling both nodes, on a block limit of
 * 300: a FLUSHALL after 100 calls, then a restart without persistence after 200. While it is down,
 * calls are 503 (closed); each time the counters are missing, each node seeds them from the ledger. The bound over the
 * limit: what was counted in Redis and not yet in the ledger when a node read it, at most each node's calls in flight
 * (16 connections in all) and those journaled but not folded yet (METERING_SYNC_DELAY_MS of traffic). The ledger holds
 * exactly what was served, and the reconciliation brings Redis up to it.
 */
Test(cluster, a_redis_restart_under_load_stays_within_the_bound)
{
    nodes_on_own_redis(false);
    char key[80];
    account_with_key("{\"code\":\"z\",\"name\":\"Z\",\"daily_limit\":300," GENEROUS_RATES "}", "z", key);
    enum { CONNS = 16 };
    pthread_t t[CONNS];
    start_steady_load(key, t, CONNS);
    for (int i = 0; i < 1000 && atomic_load(&load_ok) < 100; i++)
        usleep(5000);
    char flush[128];
    snprintf(flush, sizeof flush, "redis-cli -p %d FLUSHALL >/dev/null", own_port);
    cr_assert_eq(system(flush), 0);
    for (int i = 0; i < 1000 && atomic_load(&load_ok) < 200; i++)
        usleep(5000);
    own_redis_stop();
    usleep(100000);
    own_redis_start();
    for (int i = 0; i < 2000 && atomic_load(&load_429) < 100; i++)
        usleep(5000);
    atomic_store(&load_stop, true);
    for (int i = 0; i < CONNS; i++)
        pthread_join(t[i], NULL);
    int ok = atomic_load(&load_ok);
    cr_log_info("restart under load: %d served, %d answered 503, %d refused", ok, atomic_load(&load_503),
                atomic_load(&load_429));
    cr_assert_eq(atomic_load(&load_other), 0);
    cr_assert_geq(atomic_load(&load_429), 100, "the limit was reached");
    cr_assert_leq(ok, 300 + CONNS + 2 * 16, "within the bound: %d served, %d answered 503", ok, atomic_load(&load_503));
    json_int_t stored = used_on_b(key, ok);
    cr_assert_eq(stored, ok, "the ledger holds what was served: %lld stored, %d served", (long long)stored, ok);

    /* Within a reconciliation round or two, Redis's day counter is at least the ledger's. */
    char day_key[96];
    day_counter_key(day_key);
    cr_assert_geq(redis_value_reaching(day_key, ok), ok, "Redis is brought up to the ledger");
    /* And once traffic has stopped, a reconciliation round on each node finds nothing apart. */
    for (int n = 0; n < 2; n++) {
        long long drift = -1;
        for (int i = 0; i < 250 && drift != 0; i++) {
            drift = gauge(&nodes[n], "b2b_counter_drift");
            if (drift != 0)
                usleep(100000);
        }
        cr_assert_eq(drift, 0, "node %d: the drift is back to 0", n);
    }
    own_redis_stop();
}

/* The clients of the test's Redis database whose `CLIENT LIST` line holds `what` (e.g. "cmd=evalsha"). */
static int redis_clients(const char *what)
{
    const char *slash = strrchr(counters_uri, '/');
    char cmd[800];
    snprintf(cmd, sizeof cmd, "redis-cli -u '%s' CLIENT LIST | grep ' db=%s ' | grep -c -- '%s'", counters_uri,
             slash + 1, what);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    char line[32] = "";
    char *got = fgets(line, sizeof line, f);
    pclose(f);
    return got != NULL ? atoi(line) : 0;
}

/* Sends `cmd` to the test's Redis (a redis-cli command line's arguments). */
static void redis_do(const char *cmd)
{
    char line[900];
    snprintf(line, sizeof line, "redis-cli -u '%s' %s >/dev/null", counters_uri, cmd);
    cr_assert_eq(system(line), 0, "%s", line);
}

/* Until `n` more calls are answered 200 (at most 10 s). */
static void load_until_served(int n)
{
    int want = atomic_load(&load_ok) + n;
    for (int i = 0; i < 2000 && atomic_load(&load_ok) < want; i++)
        usleep(5000);
    cr_assert_geq(atomic_load(&load_ok), want, "served again: %d served, %d answered 503", atomic_load(&load_ok),
                  atomic_load(&load_503));
}

static void two_loops(app_config *cfg)
{
    cfg->threads = 2;
}

/*
 * The event loops send their reservations to Redis on one loop's connection and are answered
 * there, with no thread between: each node holds its connection thread's connection and its
 * carrying loop's, which runs the reservation script for both loops. Under load on both nodes,
 * every client connection is killed, and then Redis stalls for longer than the one-second
 * deadline: calls whose replies were lost are answered 503 (closed mode), never served uncounted;
 * the carrying loop connects again by itself and serves; the ledger holds exactly what was
 * served, and Redis at least as much.
 */
Test(cluster, the_loops_decide_on_one_loop_s_connection_and_survive_losing_it)
{
    own_redis_start(); /* its connections are killed, and it stalls: no other test may share it */
    for (int i = 0; i < 2; i++) {
        th_stop(&nodes[i]);
        th_opts o = {.store_uri = pg, .counters = counters_uri, .pepper = pepper, .tune = two_loops};
        th_start(&nodes[i], &o);
    }
    char key[80];
    account_with_key("{\"code\":\"l\",\"name\":\"L\",\"daily_limit\":1000000," GENEROUS_RATES "}", "l", key);
    enum { CONNS = 16 };
    pthread_t t[CONNS];
    start_steady_load(key, t, CONNS);
    load_until_served(300);
    int clients = redis_clients(" db="), scripted = redis_clients("cmd=evalsha");
    cr_assert_geq(clients, 2 * (1 + 1), "each node: its connection thread's and its carrying loop's (%d)", clients);
    cr_assert_geq(scripted, 2, "the carrying loops run the reservation script on their connections (%d)", scripted);

    redis_do("CLIENT KILL TYPE normal SKIPME yes");
    load_until_served(300);
    redis_do("CLIENT PAUSE 1500 ALL");
    usleep(1600000);
    load_until_served(300);
    cr_assert_geq(redis_clients("cmd=evalsha"), 2, "the carrying loops have their connections again");

    atomic_store(&load_stop, true);
    for (int i = 0; i < CONNS; i++)
        pthread_join(t[i], NULL);
    int ok = atomic_load(&load_ok);
    cr_log_info("connections lost under load: %d served, %d answered 503", ok, atomic_load(&load_503));
    cr_assert_eq(atomic_load(&load_other), 0);
    cr_assert_eq(atomic_load(&load_429), 0);
    cr_assert_gt(atomic_load(&load_503), 0, "the stall was noticed: calls waiting on it were answered 503");
    json_int_t stored = used_on_b(key, ok);
    cr_assert_eq(stored, ok, "the ledger holds exactly what was served: %lld stored, %d served", (long long)stored, ok);
    char day_key[96];
    day_counter_key(day_key);
    cr_assert_geq(redis_value_reaching(day_key, ok), ok, "Redis counted at least every call served");
    own_redis_stop();
}

/*
 * A node stops under load: the loop whose connection carries the other loop's calls goes on until
 * they are answered before it lets its connection go. No call is answered 503, and the ledger holds
 * exactly what was served: none counted and not answered.
 */
static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static atomic_int load_refused;

/* Keep-alive calls of hammer_key to nodes[0] until load_stop; a call that finds it gone (the
 * connection refused) counts in load_refused, any other failure in load_other (the harness's
 * client would fail the test). */
static void *load_until_gone(void *arg)
{
    (void)arg;
    char url[160], hdr[128];
    snprintf(url, sizeof url, "%s%s", nodes[0].base_url, WEEKLY);
    snprintf(hdr, sizeof hdr, "X-API-Key: %s", hammer_key);
    CURL *h = curl_easy_init();
    struct curl_slist *list = curl_slist_append(NULL, hdr);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
    while (!atomic_load(&load_stop)) {
        long st = 0;
        CURLcode rc = curl_easy_perform(h);
        if (rc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        if (rc == CURLE_COULDNT_CONNECT) {
            atomic_fetch_add(&load_refused, 1);
            usleep(10000);
            continue;
        }
        atomic_fetch_add(st == 200 ? &load_ok : st == 429 ? &load_429 : st == 503 ? &load_503 : &load_other, 1);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    return NULL;
}

Test(cluster, a_node_stopped_under_load_answers_every_call_it_took)
{
    char key[80];
    account_with_key("{\"code\":\"g\",\"name\":\"G\",\"daily_limit\":1000000," GENEROUS_RATES "}", "g", key);
    enum { CONNS = 16 };
    pthread_t t[CONNS];
    start_steady_load(key, t, 0); /* the tallies from 0 */
    for (int i = 0; i < CONNS; i++)
        pthread_create(&t[i], NULL, load_until_gone, NULL);
    load_until_served(300);
    th_stop(&nodes[0]); /* the calls on their way are answered, then it is gone */
    atomic_store(&load_stop, true);
    for (int i = 0; i < CONNS; i++)
        pthread_join(t[i], NULL);
    int ok = atomic_load(&load_ok);
    /* A call sent on a kept-alive connection as the node closes it fails without an answer (HTTP's
     * race, which a client retries): it was not counted either, as the ledger shows. */
    cr_log_info("stopped under load: %d served, %d found it gone, %d lost with their connection", ok,
                atomic_load(&load_refused), atomic_load(&load_other));
    cr_assert_eq(atomic_load(&load_503), 0, "no call answered 503 while the node stopped");
    cr_assert_eq(atomic_load(&load_429), 0);
    cr_assert_eq(used_on_b(key, ok), ok, "the ledger holds exactly what was served");
    th_opts o = {.store_uri = pg, .counters = counters_uri, .pepper = pepper};
    th_start(&nodes[0], &o); /* for the teardown */
}

/*
 * Open mode promises service while Redis is away, also to a node that starts then: it decides
 * alone from the ledger, serves, says so (b2b_counters_degraded), and converges once Redis is
 * back. (Closed mode still refuses to start without Redis: the counters' unit tests.)
 */
Test(cluster, an_open_node_starts_while_redis_is_down_and_converges)
{
    nodes_on_own_redis(true);
    char key[80];
    account_with_key("{\"code\":\"s\",\"name\":\"S\",\"daily_limit\":100," GENEROUS_RATES "}", "s", key);
    serve_ok(key, 20);
    cr_assert_eq(used_on_b(key, 20), 20);
    own_redis_stop();
    th_stop(&nodes[0]);
    th_opts o = {.store_uri = pg, .counters = counters_uri, .pepper = pepper, .counters_open = true};
    th_start(&nodes[0], &o);
    th_response r;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(th_keyed(&nodes[0], WEEKLY, key, &r), 200, "%s", r.body);
        th_response_free(&r);
    }
    cr_assert_eq(gauge(&nodes[0], "b2b_counters_degraded"), 1, "it decides alone");
    cr_assert_eq(used_on_b(key, 25), 25, "and records what it serves");

    own_redis_start();
    long long g = 1;
    for (int i = 0; i < 300 && g != 0; i++) {
        cr_assert_eq(th_keyed(&nodes[0], WEEKLY, key, &r), 200, "%s", r.body);
        th_response_free(&r);
        g = gauge(&nodes[0], "b2b_counters_degraded");
        if (g != 0)
            usleep(20000);
    }
    cr_assert_eq(g, 0, "it decides across nodes once Redis is back");
    own_redis_stop();
}
