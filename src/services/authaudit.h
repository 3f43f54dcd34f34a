/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_AUTHAUDIT_H
#define STARMETER_SERVICES_AUTHAUDIT_H

/*
 * Failed authentications as audit events. The event loops count each failure in a small table in
 * memory, keyed by (reason, target, minute of the wall clock), and never wait on the store; a
 * thread of its own writes one `auth.failure` event per closed minute and target, with the count,
 * the first and the last time. The table holds at most AUTHAUDIT_MAX_TARGETS targets: once full,
 * failures are counted in one "other" target per reason, so a flood of distinct addresses or key
 * ids costs a bounded amount of memory and a bounded number of audit rows per minute.
 *
 * The target is `key:<key_id>` when the key id is known to the key cache (a wrong secret, a
 * revoked or expired key), `address:<ip>` otherwise (no key, a malformed or unknown key, the admin
 * token). The key id is public; a secret or a whole presented key is never recorded. A wrong
 * secret and an unknown key id share the reason invalid_api_key; their targets differ, which the
 * audit may show because only an admin reads it, while the caller gets the same 401 for both.
 */
#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/log.h"
#include "infra/metrics.h"
#include "infra/store.h"

/* Distinct (reason, target, minute) entries held at once; beyond this, the "other" targets count. */
#define AUTHAUDIT_MAX_TARGETS 2048
/* How often the thread looks for closed minutes to write. */
#define AUTHAUDIT_FLUSH_MS 1000

typedef enum authaudit_reason {
    AUTHAUDIT_MISSING_API_KEY = 0,
    AUTHAUDIT_INVALID_API_KEY,
    AUTHAUDIT_REVOKED_API_KEY,
    AUTHAUDIT_EXPIRED_API_KEY,
    AUTHAUDIT_ADMIN_AUTH_REQUIRED,
    AUTHAUDIT_REASONS
} authaudit_reason;

typedef struct authaudit authaudit;

typedef struct authaudit_opts {
    store *store;           /* borrowed */
    const app_clock *clock; /* borrowed */
    const app_log *log;     /* borrowed */
    metrics *metrics;       /* borrowed; b2b_auth_failures_total{reason} is registered on it */
} authaudit_opts;

/* The caller owns the result (authaudit_free). The thread starts with authaudit_start. */
authaudit *authaudit_new(const authaudit_opts *opts);
/* Starts the writing thread: 0, or APP_INTERNAL_ERROR with `err` set. */
int authaudit_start(authaudit *a, app_err *err);
/* Stops the thread, writes every minute still counted (closed or not), and frees. NULL: nothing. */
void authaudit_free(authaudit *a);

/* The reason of an error code from the table, or false when `code` is not an authentication failure. */
bool authaudit_reason_of(app_code code, authaudit_reason *out);
/* The reason's wire name ("invalid_api_key", ...). */
const char *authaudit_reason_name(authaudit_reason r);

/*
 * Counts one failure: in b2b_auth_failures_total{reason} and in the table. `key_id` (borrowed) is
 * the public id of a credential the key cache knows, or NULL; `account_id` its account (0: none);
 * `address` (borrowed) the peer's IP text. Safe from any thread; never waits on the store.
 */
void authaudit_record(authaudit *a, authaudit_reason reason, const char *key_id, int64_t account_id,
                      const char *address);

/*
 * Writes the counted minutes that are closed at the clock's time (all of them when `all`) as
 * audit events; what the store refuses stays pending for the next call. Called by the thread;
 * callable directly (tests, shutdown). Returns 0 or the store's error code.
 */
int authaudit_flush(authaudit *a, bool all, app_err *err);

/* Entries held in the table now (at most AUTHAUDIT_MAX_TARGETS). */
size_t authaudit_size(authaudit *a);

#endif
