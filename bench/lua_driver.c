/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench/lua.sh's load: RUNS batches of N reservations through the Redis counters (counters.h) at
 * URI, each batch one RESERVE_LUA run, one batch at a time. The reservations are the common case:
 * one account, one credential, its three rate limits (far above the load), a daily and a monthly
 * limit (far above it too), every call served. A batch is made as an event loop makes one: N
 * reservations held by this thread, then handed over at once (counters_hand_over), so the
 * connection thread formats them into one run; the next batch goes once all N are decided.
 *
 * Usage: lua_driver URI N RUNS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "infra/counters.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long decided, failed;

static void on_decided(void *arg, const counters_decision *dec)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    decided++;
    failed += dec->rc != 0 || dec->rate_limited || dec->d.outcome != QUOTA_SERVE;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: lua_driver URI N RUNS\n");
        return 2;
    }
    long n = strtol(argv[2], NULL, 10), runs = strtol(argv[3], NULL, 10);
    if (n < 1 || n > 128 || runs < 1) {
        fprintf(stderr, "lua_driver: N is 1 to 128, RUNS at least 1\n");
        return 2;
    }
    app_err err;
    app_err_clear(&err);
    counters *c = counters_redis_new(argv[1], clock_system(), false, &err);
    if (c == NULL) {
        fprintf(stderr, "lua_driver: %s\n", err.message);
        return 1;
    }
    const period_zone utc = {period_utc_offset, NULL};
    limits l = {.daily_limit = opt_some(1000000000), .monthly_limit = opt_some(1000000000), .mode = LIMIT_BLOCK};
    counters_rate rate = {
        .policy = {{1000000, 10000000}, {1000000, 10000000}, {1000000, 10000000}},
        .id = {0, 7, 70},
    };
    counters_req req = {.account_id = 7, .rate = &rate, .limits = &l, .zone = utc};
    counters_hand_over(c); /* this thread hands over from now on */
    for (long r = 0; r < runs; r++) {
        for (long i = 0; i < n; i++)
            counters_reserve(c, &req, on_decided, NULL);
        counters_hand_over(c);
        pthread_mutex_lock(&mu);
        while (decided < (r + 1) * n)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
    }
    counters_free(c);
    if (failed != 0) {
        fprintf(stderr, "lua_driver: %ld of %ld reservations were not served\n", failed, decided);
        return 1;
    }
    return 0;
}
