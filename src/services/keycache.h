/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_KEYCACHE_H
#define STARMETER_SERVICES_KEYCACHE_H

/*
 * The in-memory view of credentials and account statuses that authenticates every B2B call
 * without SQL (the seed's require_authenticated_b2b_client). Admin changes made through this
 * process update it before they answer, so a revoke or a suspension applies to the very next
 * request; changes made by another process (the CLI) arrive through keycache_reload. Safe for
 * concurrent use: lookups share a read lock, changes take the write lock.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/str.h"
#include "domain/model.h"
#include "infra/store.h"

typedef struct keycache keycache;

/* Who is calling, once authenticated. */
typedef struct principal {
    int64_t account_id;
    int64_t credential_id;
    char key_id[KEY_ID_LEN + 1];
    bool has_contract; /* false: the defaults below apply and metered calls are refused */
    limits limits;     /* the contract's effective limits */
    bool metered;
    char timezone[TIMEZONE_MAX_LEN + 1];
} principal;

/* The limits of an account without a contract (the plan defaults). */
limits keycache_default_limits(void);

keycache *keycache_new(void);
void keycache_free(keycache *kc);

/* Replaces the whole view with what the store holds, keeping newer last-used times. */
int keycache_reload(keycache *kc, store *st, app_err *err);

/* Adds or replaces one credential (after an admin change has been stored). */
void keycache_put_credential(keycache *kc, const credential *c);
/* Records an account's status (after an admin change has been stored). */
void keycache_put_account(keycache *kc, int64_t account_id, account_status status);
/* Records an account's effective contract (after a contract change has been stored). */
void keycache_put_contract(keycache *kc, int64_t account_id, const limits *l, bool metered, const char *timezone);

/*
 * Authenticates the X-API-Key value `key` at `now_ms`: missing_api_key (key.ptr NULL),
 * invalid_api_key (malformed, unknown, wrong secret), revoked_api_key, expired_api_key,
 * account_suspended. The secret is checked first, in constant time, so a key id alone reveals
 * nothing. On success fills `out` and marks the credential used at now_ms. On failure, out->key_id
 * and out->account_id name the credential when its key id is known here (a wrong secret, a revoked
 * or expired key, a suspended account), and are "" and 0 otherwise.
 */
int keycache_authenticate(keycache *kc, const uint8_t pepper[PEPPER_LEN], slice key, int64_t now_ms, principal *out,
                          app_err *err);

/* The last-used time of a credential as known here (may be newer than the store's). */
opt_i64 keycache_last_used(keycache *kc, const char *key_id);

/*
 * Moves up to `cap` pending last-used times into ids/at (credential id, Unix ms) and returns how
 * many; they are written in one batch rather than one write per request.
 */
size_t keycache_take_touched(keycache *kc, int64_t *ids, int64_t *at, size_t cap);

#endif
