/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Several nodes, one set of limits: two servers on one PostgreSQL database and one Redis. A block
 * limit holds exactly across them, however many connections hit both at once, and every call
 * served is counted once in the shared ledger.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integration/harness.h"

#define WEEKLY "/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2026-W47"

static th_server nodes[2];
static char dir[256];
static char counters_uri[512];

static void setup(void)
{
    const char *redis = getenv("STARMETER_TEST_REDIS");
    cr_assert(redis != NULL && redis[0] != '\0',
              "STARMETER_TEST_REDIS is not set: run `make test`, or scripts/test-c.sh BUILD_DIR, which start Redis");
    char pg[512], pepper[300], flush[700];
    th_pg_new_database(pg, sizeof pg);
    /* Redis database 2 of the private server is this suite's own (others use 0): start it empty. */
    const char *slash = strrchr(redis, '/');
    cr_assert_not_null(slash);
    snprintf(counters_uri, sizeof counters_uri, "%.*s/2", (int)(slash - redis), redis);
    snprintf(flush, sizeof flush, "redis-cli -u '%s' FLUSHDB >/dev/null", counters_uri);
    cr_assert_eq(system(flush), 0, "%s", flush);
    th_tmpdir(dir);
    snprintf(pepper, sizeof pepper, "%s/pepper", dir);
    for (int i = 0; i < 2; i++) {
        th_opts o = {.store_uri = pg, .counters = counters_uri, .pepper = pepper};
        th_start(&nodes[i], &o);
    }
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++)
        th_stop(&nodes[i]);
    th_rmdir(dir);
}

TestSuite(cluster, .init = setup, .fini = teardown, .timeout = 120);

static const char *hammer_key;
static atomic_int served, refused, other;

static void *hammer(void *arg)
{
    th_server *node = arg;
    for (int i = 0; i < 12; i++) {
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

Test(cluster, two_nodes_serve_exactly_the_block_limit_between_them)
{
    th_response r;
    cr_assert_eq(th_admin(&nodes[0], "POST", "/v1/admin/plans",
                          "{\"code\":\"c\",\"name\":\"C\",\"daily_limit\":100,\"rate_per_second\":100000,\"burst\":"
                          "100000,\"credential_rate_per_second\":100000,\"credential_burst\":100000}",
                          &r),
                 201, "%s", r.body);
    th_response_free(&r);
    th_admin(&nodes[0], "POST", "/v1/admin/accounts", "{\"name\":\"Two Nodes\"}", &r);
    long long id = json_integer_value(json_object_get(th_data(&r), "id"));
    th_response_free(&r);
    char path[96];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", id);
    cr_assert_eq(th_admin(&nodes[0], "PUT", path, "{\"plan_code\":\"c\"}", &r), 200, "%s", r.body);
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", id);
    th_admin(&nodes[0], "POST", path, "{\"label\":\"k\"}", &r);
    char key[80];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    th_response_free(&r);
    hammer_key = key;
    /* Node B learns the key through PostgreSQL's notification; and both warm the week. */
    for (int n = 0; n < 2; n++) {
        long st = 0;
        for (int i = 0; i < 300 && st != 200; i++) {
            st = th_keyed(&nodes[n], "/v1/b2b/me", key, &r);
            th_response_free(&r);
            if (st != 200)
                usleep(10000);
        }
        cr_assert_eq(st, 200, "node %d never accepted the key", n);
    }
    cr_assert_eq(th_keyed(&nodes[0], WEEKLY, key, &r), 200, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(th_keyed(&nodes[1], WEEKLY, key, &r), 200, "%s", r.body);
    th_response_free(&r);
    atomic_store(&served, 2);
    atomic_store(&refused, 0);
    atomic_store(&other, 0);

    enum { CONNS = 64 };
    pthread_t t[CONNS];
    for (int i = 0; i < CONNS; i++)
        pthread_create(&t[i], NULL, hammer, &nodes[i % 2]);
    for (int i = 0; i < CONNS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&other), 0);
    cr_assert_eq(atomic_load(&served), 100, "exactly the limit across both nodes");
    cr_assert_eq(atomic_load(&refused), CONNS * 12 + 2 - 100);

    /* The shared ledger has each call once: the summary on either node says so. */
    json_int_t used = 0;
    for (int i = 0; i < 300 && used != 100; i++) {
        cr_assert_eq(th_keyed(&nodes[1], "/v1/b2b/usage/summary", key, &r), 200, "%s", r.body);
        used = json_integer_value(json_object_get(json_object_get(th_data(&r), "daily"), "used"));
        th_response_free(&r);
        if (used != 100)
            usleep(10000);
    }
    cr_assert_eq(used, 100);
}
