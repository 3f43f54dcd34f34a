-- SPDX-License-Identifier: AGPL-3.0-or-later
-- Webhooks (Standard Webhooks): an account's endpoints, the outbox of deliveries (one row per
-- endpoint and event, the body kept as the bytes signed) and every attempt made at each. The
-- outbox is written in the same transaction as what raised the event; a delivery thread posts
-- what is due. Deleting an endpoint deletes its deliveries and their attempts.

CREATE TABLE webhook_endpoints (
    id                      INTEGER PRIMARY KEY,
    account_id              INTEGER NOT NULL REFERENCES accounts(id),
    url                     TEXT    NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    events                  TEXT    NOT NULL,
    secret                  TEXT    NOT NULL,
    prev_secret             TEXT,
    prev_secret_expires_at  INTEGER,
    status                  TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints(account_id, id);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    webhook_id       INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    account_id       INTEGER NOT NULL,
    msg_id           TEXT    NOT NULL,
    event_type       TEXT    NOT NULL,
    body             BLOB    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    attempts_before  INTEGER NOT NULL DEFAULT 0, -- attempts made before the last resend: backoff starts over
    next_attempt_at  INTEGER NOT NULL,
    scheduled_at     INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    UNIQUE (webhook_id, msg_id)
);
-- What the delivery thread asks, every second: the pending rows that are due.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    http_status  INTEGER NOT NULL,
    latency_ms   INTEGER NOT NULL,
    error        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);
