/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_DOMAIN_WEBHOOK_H
#define STARMETER_DOMAIN_WEBHOOK_H

/*
 * Webhooks, the Standard Webhooks way: an account's endpoints, the outbox of deliveries (one per
 * endpoint and event) and the attempts made at each. Plain values, and the rules a reader must
 * trust: which event types exist, which URLs and addresses an endpoint may have, and when a failed
 * attempt is retried. Pure: no I/O, no clock, no randomness (the caller draws it).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/model.h"

#define WEBHOOK_URL_MAX 2048
/* "whsec_" and the base64 of 32 bytes (44 characters); secrets of 24 to 48 bytes fit. */
#define WEBHOOK_SECRET_MAX 80
/* The event types of an endpoint, comma-separated ("usage.threshold"). */
#define WEBHOOK_EVENTS_MAX 256
#define WEBHOOK_EVENT_TYPE_MAX 64
#define WEBHOOK_MSG_ID_MAX 64
#define WEBHOOK_ERROR_MAX 200
/* The largest event body the outbox takes, in bytes. */
#define WEBHOOK_BODY_MAX 65536
/* Endpoints one account may have: each event is written once per endpoint (the store enforces it). */
#define WEBHOOKS_PER_ACCOUNT_MAX 20
/* How long a rotated-out secret keeps signing, beside the new one. */
#define WEBHOOK_ROTATION_GRACE_MS (24LL * 3600 * 1000)
/* How long a delivery is retried, from its creation (or its resend), before it is failed. */
#define WEBHOOK_RETRY_WINDOW_MS (24LL * 3600 * 1000)

typedef enum webhook_status { WEBHOOK_ACTIVE = 0, WEBHOOK_DISABLED = 1 } webhook_status;
typedef enum delivery_status { DELIVERY_PENDING = 0, DELIVERY_DELIVERED = 1, DELIVERY_FAILED = 2 } delivery_status;

/* An endpoint. `secret` and `prev_secret` sign; they are shown once and never logged. */
typedef struct webhook {
    int64_t id;
    int64_t account_id;
    char url[WEBHOOK_URL_MAX + 1];
    char events[WEBHOOK_EVENTS_MAX + 1];
    char secret[WEBHOOK_SECRET_MAX + 1];      /* whsec_... */
    char prev_secret[WEBHOOK_SECRET_MAX + 1]; /* the secret before the last rotation, or "" */
    opt_i64 prev_secret_expires_at;           /* until when prev_secret still signs (Unix ms) */
    webhook_status status;
    int64_t created_at;
    int64_t updated_at;
} webhook;

/* One event for one endpoint: a row of the outbox. */
typedef struct webhook_delivery {
    int64_t id;
    int64_t webhook_id;
    int64_t account_id;
    char msg_id[WEBHOOK_MSG_ID_MAX + 1]; /* webhook-id: the same on every attempt */
    char event_type[WEBHOOK_EVENT_TYPE_MAX + 1];
    char *body; /* the bytes signed and sent; malloc'd by the store and owned by the caller, or NULL */
    size_t body_len;
    delivery_status status;
    int64_t attempts;
    int64_t attempts_before; /* of them, those made before it was last sent again by hand (the due and
                                pending listings fill it) */
    int64_t next_attempt_at;
    int64_t scheduled_at; /* created, or last resent: retries stop WEBHOOK_RETRY_WINDOW_MS after it */
    int64_t created_at;
} webhook_delivery;

/* One POST of a delivery. */
typedef struct webhook_attempt {
    int64_t id;
    int64_t delivery_id;
    int64_t at;
    int http_status; /* 0 when no response came (connection refused, timeout) */
    int64_t latency_ms;
    char error[WEBHOOK_ERROR_MAX + 1]; /* "" on success; curl's message or "HTTP 500" */
} webhook_attempt;

/* A due delivery with what its sender needs of its endpoint. */
typedef struct webhook_due {
    webhook_delivery d;
    char url[WEBHOOK_URL_MAX + 1];
    char secret[WEBHOOK_SECRET_MAX + 1];
    char prev_secret[WEBHOOK_SECRET_MAX + 1];
    opt_i64 prev_secret_expires_at;
} webhook_due;

const char *webhook_status_name(webhook_status s);
const char *delivery_status_name(delivery_status s);

/* The event types an endpoint may subscribe to, NULL-terminated. */
extern const char *const webhook_event_types[];
/* Whether `len` bytes at `name` are a known event type. */
bool webhook_event_known(const char *name, size_t len);
/* Whether the comma-separated `events` holds `type`. */
bool webhook_events_include(const char *events, const char *type);

/*
 * Whether `id` may be a message id (the webhook-id header): 1 to WEBHOOK_MSG_ID_MAX of letters,
 * digits, '_', '-' and '.', nothing a header could be split on.
 */
bool webhook_msg_id_valid(const char *id);

/* An endpoint URL taken apart. */
typedef struct webhook_url {
    bool https;
    char host[256]; /* a name, an IPv4 literal, or an IPv6 literal without its brackets */
    uint16_t port;  /* explicit, or 80 / 443 */
} webhook_url;

/*
 * Checks an endpoint URL: http or https (any case), a host, an optional port from 1 to 65535, at
 * most WEBHOOK_URL_MAX bytes, only printable ASCII without spaces, no user information (a password
 * in a URL would be stored and shown), no fragment. Returns true with *out filled, or false with
 * the reason, a sentence, in why[160].
 */
bool webhook_url_parse(const char *url, size_t len, webhook_url *out, char why[160]);

/*
 * Whether an address may receive webhooks: false for loopback, private (RFC 1918, fc00::/7),
 * link-local (169.254/16, fe80::/10), unspecified, CGNAT (100.64/10), multicast, broadcast and
 * the other reserved IPv4 ranges (0/8, 240/4), and for IPv4-mapped or NAT64-embedded forms of
 * those. `addr` holds 4 bytes (IPv4) or 16 (IPv6), in network order; when refused, `why` names
 * the range.
 */
bool webhook_addr_is_public(const uint8_t *addr, size_t len, const char **why);

/* The retry policy of the delivery thread. */
typedef struct webhook_retry_policy {
    int64_t base_ms;   /* the first retry waits up to this */
    int64_t max_ms;    /* no wait is longer */
    int64_t window_ms; /* no retry after scheduled_at + window_ms */
} webhook_retry_policy;

/*
 * When to try again after failed attempt number `attempts` (1 for the first): exponential backoff
 * with full jitter, a wait drawn uniformly in [0, min(max, base * 2^(attempts-1))] from `random`
 * (any 32 random bits), but never sooner than 1 ms. Returns the time of the next attempt, or -1 when
 * that would fall past scheduled_at + window: the delivery has failed.
 */
int64_t webhook_retry_at(const webhook_retry_policy *p, int64_t attempts, int64_t scheduled_at, int64_t now,
                         uint32_t random);

#endif
