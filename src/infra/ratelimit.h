/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_RATELIMIT_H
#define STARMETER_INFRA_RATELIMIT_H

/*
 * Rate-limit state for every live key (a scope and an id): one GCRA number each, in shards with a
 * mutex apiece, so a decision is exact under concurrency (two threads never both take the last
 * call) and threads rarely meet. No timers: a shard that fills up first drops its idle keys
 * (buckets full again), so memory follows the number of keys active in the last window.
 * The global bucket (RL_GLOBAL, id 0), which every call takes, is a single atomic number updated by
 * compare-and-swap instead: just as exact, without a lock for every thread to meet on.
 */
#include <stddef.h>
#include <stdint.h>

#include "domain/gcra.h"

typedef enum rl_scope { RL_GLOBAL = 0, RL_ACCOUNT, RL_CREDENTIAL, RL_AUTH_FAILURE, RL_SCOPE_COUNT } rl_scope;

typedef struct ratelimiter ratelimiter;

ratelimiter *ratelimiter_new(void);
void ratelimiter_free(ratelimiter *rl);

/* Takes one call for (scope, id) under policy `p` at now_ns. */
gcra_result ratelimiter_take(ratelimiter *rl, rl_scope scope, uint64_t id, gcra_policy p, int64_t now_ns);
/* Gives it back (a later scope refused the request). */
void ratelimiter_refund(ratelimiter *rl, rl_scope scope, uint64_t id, gcra_policy p, int64_t now_ns);
/* Would a call pass now? Takes nothing. */
gcra_result ratelimiter_peek(ratelimiter *rl, rl_scope scope, uint64_t id, gcra_policy p, int64_t now_ns);

/* Keys currently held (for tests and metrics). */
size_t ratelimiter_size(ratelimiter *rl);

const char *rl_scope_name(rl_scope s);

#endif
