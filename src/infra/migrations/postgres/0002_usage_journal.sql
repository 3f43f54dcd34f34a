-- SPDX-License-Identifier: AGPL-3.0-or-later
-- How far each usage journal segment (a file of counts written by an event loop before its
-- answers left) is folded into enterprise_daily_usages. Written in the same transaction as the
-- folded counts, so a replay after a crash starts exactly where the ledger stops.
CREATE TABLE usage_journal_marks (
    segment TEXT PRIMARY KEY,
    folded_bytes BIGINT NOT NULL CHECK (folded_bytes >= 0)
);
