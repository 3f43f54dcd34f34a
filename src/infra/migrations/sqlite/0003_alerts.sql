-- SPDX-License-Identifier: AGPL-3.0-or-later
-- Usage alerts: the percentages of a period's limit at which an alert is raised, on plans (80 and
-- 100 by default) and as a contract's override (NULL: as the plan says; '' turns alerts off), and
-- the alerts raised, at most one per account, period and threshold (the primary key makes it so),
-- each written in the same transaction as the count that reached it.
ALTER TABLE plans ADD COLUMN alert_thresholds TEXT NOT NULL DEFAULT '80,100'
    CHECK (alert_thresholds NOT GLOB '*[^0-9,]*' AND length(alert_thresholds) <= 24);
ALTER TABLE contracts ADD COLUMN alert_thresholds TEXT
    CHECK (alert_thresholds IS NULL OR (alert_thresholds NOT GLOB '*[^0-9,]*' AND length(alert_thresholds) <= 24));

CREATE TABLE usage_alerts (
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    period       TEXT    NOT NULL CHECK (period IN ('day', 'month')),
    period_start TEXT    NOT NULL, -- YYYY-MM-DD in the contract's time zone: the day, or the month's first day
    threshold    INTEGER NOT NULL CHECK (threshold BETWEEN 1 AND 100),
    used         INTEGER NOT NULL CHECK (used >= 0),
    limit_value  INTEGER NOT NULL CHECK (limit_value >= 0),
    at           INTEGER NOT NULL, -- Unix ms
    PRIMARY KEY (account_id, period, period_start, threshold)
) WITHOUT ROWID;
