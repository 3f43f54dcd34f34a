/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_SERVICES_H
#define STARMETER_SERVICES_SERVICES_H

/*
 * The services both entry points use: the HTTP admin API and the `starmeter admin` CLI call the
 * same functions with the same JSON documents, so validation, audit and output cannot differ.
 * Inputs are request documents (borrowed); outputs are new references the caller owns.
 * Every change is stored together with its audit event, then applied to the key cache.
 */
#include <jansson.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "infra/store.h"
#include "services/keycache.h"

typedef struct services {
    store *store;           /* borrowed */
    keycache *keys;         /* borrowed */
    const app_clock *clock; /* borrowed */
    const app_log *log;     /* borrowed */
    uint8_t pepper[PEPPER_LEN];
    bool webhooks_allow_private;     /* endpoints may be on non-public addresses (--webhooks-allow-private) */
    struct webhook_sender *webhooks; /* borrowed: woken when a delivery is due now; NULL: none (the CLI) */
} services;

/* Who asks for a change: "admin" (HTTP, bearer token) or "cli", and the request id if any. */
typedef struct actor {
    const char *name;
    const char *request_id;
} actor;

#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 200

/* A page request: `cursor` is the opaque next_cursor of the previous page, or NULL. */
typedef struct page_req {
    const char *cursor;
    int64_t limit;
} page_req;

int admin_account_create(services *s, const actor *a, json_t *body, json_t **out, app_err *err);
int admin_account_get(services *s, int64_t id, json_t **out, app_err *err);
/* status: NULL, "active" or "suspended". */
int admin_account_list(services *s, const char *status, const page_req *page, json_t **out, app_err *err);
int admin_account_patch(services *s, const actor *a, int64_t id, json_t *body, json_t **out, app_err *err);

int admin_plan_create(services *s, const actor *a, json_t *body, json_t **out, app_err *err);
int admin_plan_get(services *s, const char *code, json_t **out, app_err *err);
int admin_plan_list(services *s, const page_req *page, json_t **out, app_err *err);
int admin_plan_patch(services *s, const actor *a, const char *code, json_t *body, json_t **out, app_err *err);

int admin_contract_put(services *s, const actor *a, int64_t account_id, json_t *body, json_t **out, app_err *err);
int admin_contract_get(services *s, int64_t account_id, json_t **out, app_err *err);

/* The only answers that hold a full API key: issue and rotate. */
int admin_credential_issue(services *s, const actor *a, int64_t account_id, json_t *body, json_t **out, app_err *err);
int admin_credential_list(services *s, int64_t account_id, json_t **out, app_err *err);
int admin_credential_rotate(services *s, const actor *a, const char *key_id, json_t *body, json_t **out, app_err *err);
int admin_credential_revoke(services *s, const actor *a, const char *key_id, json_t **out, app_err *err);

int admin_audit_list(services *s, const audit_filter *f, const page_req *page, json_t **out, app_err *err);
/* The whole chain recomputed: {valid, checked, first_broken_seq, reason} (the last two null when valid). */
int admin_audit_verify(services *s, json_t **out, app_err *err);

/*
 * Recomputes the whole audit chain. Returns 0 with *broken_seq = 0 when intact, or with the
 * first event whose link does not hold (and a reason in `why`, 160 bytes).
 */
int audit_verify(store *st, int64_t *checked, int64_t *broken_seq, char why[160], app_err *err);

/* The caller's own view (GET /v1/b2b/me). */
int b2b_me(services *s, const principal *p, json_t **out, app_err *err);

/*
 * Creates, once, the demo plan, account and key; writes the key to `key_path` (mode 0600) only
 * when it creates it (*created is then true). Running again with the demo present changes nothing.
 */
int services_seed_demo(services *s, const char *key_path, bool *created, app_err *err);

/* Unix ms as an RFC 3339 JSON string ("2026-11-24T08:39:00Z"); a new reference. */
json_t *services_json_time(int64_t ms);

/* A geographic IANA time zone name (tzdb_name_is_geographic) that the system's tz database holds. */
bool timezone_is_valid(const char *tz);

#endif
