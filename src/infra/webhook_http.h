/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_WEBHOOK_HTTP_H
#define STARMETER_INFRA_WEBHOOK_HTTP_H

/*
 * The outbound side of webhooks: name resolution with the address rules of domain/webhook.h, and
 * the POSTs, through libcurl (the only file that includes it). Never called on an event loop: both
 * wait on the network.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/webhook.h"

/* Initialises libcurl once per process (before any thread posts); safe to call again. */
void webhook_http_global_init(void);

/*
 * Resolves `u`'s host and checks every address it has: validation_error on field "url" when it
 * does not resolve, or when an address is not public (webhook_addr_is_public) and `allow_private`
 * is false. Waits on DNS.
 */
int webhook_http_check_host(const webhook_url *u, bool allow_private, app_err *err);

/* One POST: what to send (borrowed) and, after webhook_http_post_all, what came back. */
typedef struct webhook_request {
    const char *url;
    const char *msg_id;
    int64_t timestamp;      /* webhook-timestamp, Unix seconds */
    const char *signatures; /* webhook-signature: "v1,<b64>" or several, space-separated */
    const char *body;
    size_t body_len;
    int http_status;                   /* out: 0 when no response came */
    int64_t latency_ms;                /* out */
    char error[WEBHOOK_ERROR_MAX + 1]; /* out: "" for a 2xx, else curl's message or "HTTP <status>" */
    bool completed;                    /* out: the attempt ran to its end; false when a stop cut it off */
} webhook_request;

/*
 * POSTs every request at once (Content-Type: application/json and the three Standard Webhooks
 * headers), each within `timeout_ms` in all, following no redirect, over http or https only, with
 * no proxy. Each connection is made only to an address that webhook_addr_is_public accepts (unless
 * `allow_private`), checked on the very address connected to, so that a name that resolves
 * differently now than when the endpoint was created (DNS rebinding) gains nothing. Response bodies
 * are read and discarded, at most 64 KiB of each. Returns when all are done, or early (the rest
 * failed with "stopped") once *stop is set.
 */
void webhook_http_post_all(webhook_request *reqs, size_t n, int64_t timeout_ms, bool allow_private,
                           const atomic_bool *stop);

#endif
