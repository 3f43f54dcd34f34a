-- SPDX-License-Identifier: AGPL-3.0-or-later
-- The data model of DESIGN.md section 3. Times are Unix milliseconds (INTEGER, UTC); dates of usage
-- rows are the contract's local calendar date as 'YYYY-MM-DD'.

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status      TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  INTEGER NOT NULL
);

CREATE TABLE plans (
    id                          INTEGER PRIMARY KEY,
    code                        TEXT    NOT NULL UNIQUE,
    name                        TEXT    NOT NULL,
    daily_limit                 INTEGER CHECK (daily_limit IS NULL OR daily_limit >= 0),
    monthly_limit               INTEGER CHECK (monthly_limit IS NULL OR monthly_limit >= 0),
    limit_mode                  TEXT    NOT NULL DEFAULT 'block' CHECK (limit_mode IN ('block', 'overage')),
    overage_cap                 INTEGER CHECK (overage_cap IS NULL OR overage_cap >= 0),
    rate_per_second             INTEGER NOT NULL DEFAULT 50 CHECK (rate_per_second > 0),
    burst                       INTEGER NOT NULL DEFAULT 100 CHECK (burst > 0),
    credential_rate_per_second  INTEGER NOT NULL DEFAULT 20 CHECK (credential_rate_per_second > 0),
    credential_burst            INTEGER NOT NULL DEFAULT 40 CHECK (credential_burst > 0),
    metered                     INTEGER NOT NULL DEFAULT 1 CHECK (metered IN (0, 1)),
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL
);

CREATE TABLE contracts (
    account_id                  INTEGER PRIMARY KEY REFERENCES accounts(id),
    plan_id                     INTEGER NOT NULL REFERENCES plans(id),
    -- Per-account overrides; NULL means "as the plan says".
    daily_limit                 INTEGER,
    daily_limit_set             INTEGER NOT NULL DEFAULT 0,
    monthly_limit               INTEGER,
    monthly_limit_set           INTEGER NOT NULL DEFAULT 0,
    limit_mode                  TEXT CHECK (limit_mode IS NULL OR limit_mode IN ('block', 'overage')),
    overage_cap                 INTEGER,
    overage_cap_set             INTEGER NOT NULL DEFAULT 0,
    rate_per_second             INTEGER,
    burst                       INTEGER,
    credential_rate_per_second  INTEGER,
    credential_burst            INTEGER,
    timezone                    TEXT    NOT NULL DEFAULT 'UTC',
    starts_at                   INTEGER NOT NULL,
    ends_at                     INTEGER,
    updated_at                  INTEGER NOT NULL
);

CREATE TABLE credentials (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    key_id        TEXT    NOT NULL UNIQUE,
    secret_hash   BLOB    NOT NULL,
    label         TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    last_used_at  INTEGER
);
CREATE INDEX credentials_account ON credentials(account_id);

CREATE TABLE enterprise_daily_usages (
    account_id     INTEGER NOT NULL REFERENCES accounts(id),
    credential_id  INTEGER NOT NULL REFERENCES credentials(id),
    usage_date     TEXT    NOT NULL,
    requests       INTEGER NOT NULL DEFAULT 0 CHECK (requests >= 0),
    overage        INTEGER NOT NULL DEFAULT 0 CHECK (overage >= 0),
    blocked        INTEGER NOT NULL DEFAULT 0 CHECK (blocked >= 0),
    PRIMARY KEY (account_id, credential_id, usage_date)
);
CREATE INDEX enterprise_daily_usages_date ON enterprise_daily_usages(account_id, usage_date);

CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    account_id  INTEGER,
    details     TEXT    NOT NULL DEFAULT '{}',
    request_id  TEXT,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL
);
CREATE INDEX audit_events_account ON audit_events(account_id, seq);

CREATE TABLE idempotency (
    account_id           INTEGER NOT NULL REFERENCES accounts(id),
    key                  TEXT    NOT NULL,
    request_fingerprint  BLOB    NOT NULL,
    status               INTEGER NOT NULL,
    body                 BLOB    NOT NULL,
    expires_at           INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_expiry ON idempotency(expires_at);
