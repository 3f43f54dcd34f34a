/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_USAGE_H
#define STARMETER_SERVICES_USAGE_H

/*
 * Metering. The limit decision is made in memory: per account, the calls served today and this
 * month (in the contract's time zone), checked and incremented under one lock, so in block mode
 * exactly `limit` calls pass however many threads ask. The durable count goes to a writer thread
 * that commits whole batches in one transaction (group commit) and then tells each request it
 * may answer: a 2xx leaves only after its call is in the store. Counters are rebuilt from the
 * store at start.
 */
#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "domain/period.h"
#include "domain/quota.h"
#include "infra/metrics.h"
#include "infra/store.h"
#include "infra/tzdb.h"
#include "services/keycache.h"

typedef struct usage usage;

/* A reserved call, to be committed (served) or refunded (not served). */
typedef struct usage_ticket {
    bool counted;              /* false for unmetered plans and refusals: nothing to refund */
    bool blocked;              /* refused by a limit: usage_commit records it as blocked */
    struct audit_event *audit; /* the first block or overage of a period; owned, handed to usage_commit */
    unsigned audit_flag;       /* which first it was, to be forgotten if the audit is dropped */
    int64_t account_id, credential_id;
    int64_t day_key, month_key;
    char date[11];
    bool overage;
} usage_ticket;

/* Where the caller stands after the reservation, for meta.usage and the RateLimit headers. */
typedef struct usage_view {
    bool metered;
    limits limits;
    int64_t day_used, month_used; /* including this call */
    int64_t day_reset_ms, month_reset_ms;
} usage_view;

usage *usage_new(store *st, tzdb *tz, const app_clock *clock, const app_log *log, metrics *m);
/* Commits what is queued, stops the writer and frees everything. */
void usage_free(usage *u);

/* Loads today's and this month's counts of every account with a contract from the store. */
int usage_rebuild(usage *u, app_err *err);

/*
 * Decides and reserves the call of `p` at now_ms. Refusals: forbidden (no contract),
 * b2b_quota_exceeded (details period, limit, used, remaining, resets_at, mode; the ticket is then
 * `blocked`: pass it to usage_commit to record the refusal). On success the caller must end the
 * ticket with usage_commit or usage_refund.
 */
int usage_reserve(usage *u, const principal *p, int64_t now_ms, usage_ticket *t, usage_view *view, app_err *err);
void usage_refund(usage *u, usage_ticket *t);

/*
 * Queues the served call (and, when `idem` is given, the answer to store for its Idempotency-Key;
 * copied) for the next group commit; `done(arg, rc)` is then called on the writer thread with 0
 * or the store's error (the call is then not counted: refund it and answer 503).
 */
typedef void (*usage_done_fn)(void *arg, int rc);
void usage_commit(usage *u, usage_ticket *t, const idem_record *idem, usage_done_fn done, void *arg);

/* Waits until everything queued so far is committed (tests, shutdown). */
void usage_flush(usage *u);

/*
 * Idempotency keys in flight: claim returns false when the same (account, key) is already being
 * served; release it once answered.
 */
bool usage_idem_claim(usage *u, int64_t account_id, const char *key);
void usage_idem_release(usage *u, int64_t account_id, const char *key);

/* The periods of an account's contract zone at now_ms (UTC when the zone is unknown). */
periods usage_periods(usage *u, const char *timezone, int64_t now_ms);

#endif
