/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_WEBHOOKS_H
#define STARMETER_SERVICES_WEBHOOKS_H

/*
 * Webhooks: the admin operations on an account's endpoints (services/webhooks.c), and the sender,
 * a thread that posts the outbox's due deliveries, signed the Standard Webhooks way, and records
 * each attempt (services/webhook_sender.c). Events are written to the outbox by whoever raises
 * them (store_webhook_enqueue, or its _tx form inside usage_apply); the sender finds them within a
 * second, or at once after webhooks_kick.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "domain/webhook.h"
#include "infra/metrics.h"
#include "infra/store.h"
#include "services/services.h"

/*
 * POST /v1/admin/accounts/{id}/webhooks {"url", "events"}: the endpoint and its signing secret
 * (the only answers that hold it: this one and rotate). The URL's host is resolved and each of its
 * addresses checked (see services.webhooks_allow_private).
 */
int admin_webhook_create(services *s, const actor *a, int64_t account_id, json_t *body, json_t **out, app_err *err);
int admin_webhook_list(services *s, int64_t account_id, const page_req *page, json_t **out, app_err *err);
int admin_webhook_get(services *s, int64_t id, json_t **out, app_err *err);
/* {"status": "active"|"disabled"}. */
int admin_webhook_patch(services *s, const actor *a, int64_t id, json_t *body, json_t **out, app_err *err);
/* Deletes the endpoint with its deliveries; *out is the endpoint as it was. */
int admin_webhook_delete(services *s, const actor *a, int64_t id, json_t **out, app_err *err);
/* A new secret, shown once; the old one keeps signing beside it for WEBHOOK_ROTATION_GRACE_MS. */
int admin_webhook_rotate(services *s, const actor *a, int64_t id, json_t **out, app_err *err);
/* The endpoint's deliveries, newest first, each with its attempts; the cursor pages back in time. */
int admin_webhook_deliveries(services *s, int64_t id, const page_req *page, json_t **out, app_err *err);
/* Sends a failed delivery again, now, with a new retry window. */
int admin_webhook_resend(services *s, const actor *a, int64_t id, int64_t delivery_id, json_t **out, app_err *err);

/* ---- the sender ---- */

typedef struct webhook_sender webhook_sender;

typedef struct webhook_sender_opts {
    store *store;               /* borrowed */
    const app_clock *clock;     /* borrowed: due times, timestamps and backoff follow it (tests move it) */
    const app_log *log;         /* borrowed */
    metrics *metrics;           /* borrowed; b2b_webhook_deliveries_total{outcome} is registered on it */
    bool allow_private;         /* connect to non-public addresses too */
    webhook_retry_policy retry; /* zero members: 5 s, 1 h, WEBHOOK_RETRY_WINDOW_MS */
    int64_t timeout_ms;         /* one attempt; 0: 5000 */
    size_t batch;               /* deliveries posted at once; 0: 32 */
} webhook_sender_opts;

/* The caller owns the result (webhook_sender_free). The thread starts with webhook_sender_start. */
webhook_sender *webhook_sender_new(const webhook_sender_opts *opts);
/* Starts the thread: 0, or APP_INTERNAL_ERROR with `err` set. */
int webhook_sender_start(webhook_sender *w, app_err *err);
/*
 * Wakes the thread to look for due deliveries now rather than within the second: call it after
 * writing events to the outbox. Cheap, never waits on the network or the store; safe from any
 * thread, an event loop included. NULL does nothing.
 */
void webhooks_kick(webhook_sender *w);
/*
 * One round, on the caller's thread: claims what is due, posts it, records the attempts. *sent
 * counts the attempts made. For the thread, and for tests that drive the sender step by step.
 */
int webhook_sender_run_once(webhook_sender *w, size_t *sent, app_err *err);
/* Stops the thread (an attempt in flight is abandoned within 100 ms) and frees. NULL: nothing. */
void webhook_sender_free(webhook_sender *w);

#endif
