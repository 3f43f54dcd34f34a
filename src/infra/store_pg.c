/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <assert.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/embedded.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/str.h"
#include "infra/store.h"

/*
 * The store on PostgreSQL, the same contract as store_sqlite.c (the reference: same ordering,
 * cursors, caps, error mapping and audit chain). A small pool of connections, each used by one
 * thread at a time; statements are prepared lazily per connection, all with bound parameters.
 * Results are read in text format (bytea decoded with PQunescapeBytea), so that a column's exact
 * integer width never matters to the reader.
 */

/* Advisory lock keys ("stmmig", "stmaud" in ASCII): one for migrators, one for the audit chain. */
#define LOCK_MIGRATE INT64_C(0x73746d6d6967)
#define LOCK_AUDIT INT64_C(0x73746d617564)
/* A default for conninfo strings that set none: an unreachable server fails fast, not after minutes. */
#define CONNECT_TIMEOUT_S "5"
#define DEFAULT_CONNECTIONS 4
/* Bound on the text arrays of one usage batch (the deltas' columns). */
#define ARRAY_MAX_BYTES (64u * 1024 * 1024)

enum stmt_id {
    Q_PING,
    Q_LOCK,
    Q_MIG_EXISTS,
    Q_MIG_VERSION,
    Q_MIG_INSERT,
    Q_ACCOUNT_INSERT,
    Q_ACCOUNT_GET,
    Q_ACCOUNT_LIST,
    Q_ACCOUNT_STATUS,
    Q_PLAN_INSERT,
    Q_PLAN_UPDATE,
    Q_PLAN_GET,
    Q_PLAN_GET_CODE,
    Q_PLAN_LIST,
    Q_CONTRACT_PUT,
    Q_CONTRACT_GET,
    Q_CONTRACT_LIST,
    Q_CRED_INSERT,
    Q_CRED_GET,
    Q_CRED_LIST,
    Q_CRED_UPDATE,
    Q_CRED_LOCK,
    Q_CRED_TOUCH,
    Q_AUDIT_LAST,
    Q_AUDIT_INSERT,
    Q_AUDIT_LIST,
    Q_USAGE_UPSERT,
    Q_IDEM_INSERT,
    Q_IDEM_GET,
    Q_IDEM_PURGE,
    Q_USAGE_SUM,
    Q_USAGE_BY_DATE,
    Q_USAGE_BY_CRED,
    Q_MARK_PUT,
    Q_ALERT_INSERT,
    Q_ALERT_LIST,
    Q_ALERT_LIST_ALL,
    Q_ALERT_IMPORT,
    Q_MARK_GET,
    Q_MARK_DELETE,
    Q_TOKEN_GET,
    Q_TOKEN_BUMP,
    Q_DB_SIZE,
    Q_TXID,
    Q_USAGE_LIST,
    Q_IDEM_LIST,
    Q_ACCOUNT_IMPORT,
    Q_PLAN_IMPORT,
    Q_CRED_IMPORT,
    Q_SEQ_RESTART,
    Q_WEBHOOK_INSERT,
    Q_ACCOUNT_LOCK,
    Q_WEBHOOK_GET,
    Q_WEBHOOK_LIST,
    Q_WEBHOOK_UPDATE,
    Q_WEBHOOK_DELETE,
    Q_WEBHOOK_ENQUEUE,
    Q_WEBHOOK_DUE,
    Q_WEBHOOK_OUTCOME,
    Q_DELIVERY_LIST,
    Q_ATTEMPT_LIST,
    Q_DELIVERY_RESEND,
    Q_WEBHOOK_LIST_ALL,
    Q_DELIVERY_PENDING_ALL,
    Q_WEBHOOK_IMPORT,
    Q_DELIVERY_IMPORT,
    Q_USAGE_KEY_DAYS,
    Q_USAGE_ACCOUNTS,
    Q_COUNT
};

#define PLAN_COLS                                                                                                      \
    "id, code, name, daily_limit, monthly_limit, limit_mode, overage_cap, rate_per_second, burst, "                    \
    "credential_rate_per_second, credential_burst, metered, created_at, updated_at, alert_thresholds"
#define CONTRACT_COLS                                                                                                  \
    "account_id, plan_id, daily_limit, daily_limit_set, monthly_limit, monthly_limit_set, limit_mode, "                \
    "overage_cap, overage_cap_set, rate_per_second, burst, credential_rate_per_second, credential_burst, timezone, "   \
    "starts_at, ends_at, updated_at, alert_thresholds"
/* The columns of PLAN_COLS and CONTRACT_COLS, qualified, for a query that joins both tables. */
#define PLAN_COLS_P                                                                                                    \
    "p.id, p.code, p.name, p.daily_limit, p.monthly_limit, p.limit_mode, p.overage_cap, p.rate_per_second, p.burst, "  \
    "p.credential_rate_per_second, p.credential_burst, p.metered, p.created_at, p.updated_at, p.alert_thresholds"
#define CONTRACT_COLS_K                                                                                                \
    "k.account_id, k.plan_id, k.daily_limit, k.daily_limit_set, k.monthly_limit, k.monthly_limit_set, k.limit_mode, "  \
    "k.overage_cap, k.overage_cap_set, k.rate_per_second, k.burst, k.credential_rate_per_second, k.credential_burst, " \
    "k.timezone, k.starts_at, k.ends_at, k.updated_at, k.alert_thresholds"
#define CRED_COLS "id, account_id, key_id, secret_hash, label, status, created_at, expires_at, revoked_at, last_used_at"
#define WEBHOOK_COLS                                                                                                   \
    "id, account_id, url, events, secret, prev_secret, prev_secret_expires_at, status, created_at, updated_at"
#define DELIVERY_COLS                                                                                                  \
    "d.id, d.webhook_id, d.account_id, d.msg_id, d.event_type, d.status, d.attempts, d.next_attempt_at, "              \
    "d.scheduled_at, d.created_at"
#define USAGE_FILTER                                                                                                   \
    "FROM enterprise_daily_usages WHERE account_id = $1 AND ($2::bigint < 0 OR credential_id = $2) "                   \
    "AND usage_date >= $3 AND usage_date <= $4 "

static const char *const SQL[Q_COUNT] = {
    [Q_PING] = "SELECT 1",
    [Q_LOCK] = "SELECT pg_advisory_xact_lock($1::bigint)",
    [Q_MIG_EXISTS] = "SELECT to_regclass('schema_migrations') IS NOT NULL",
    [Q_MIG_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_migrations",
    [Q_MIG_INSERT] = "INSERT INTO schema_migrations(version, name, applied_at) VALUES ($1, $2, $3)",
    [Q_ACCOUNT_INSERT] = "INSERT INTO accounts(name, status, created_at) VALUES ($1, $2, $3) RETURNING id",
    [Q_ACCOUNT_GET] = "SELECT id, name, status, created_at FROM accounts WHERE id = $1",
    [Q_ACCOUNT_LIST] = "SELECT id, name, status, created_at FROM accounts WHERE id > $1 AND ($2::int < 0 OR "
                       "status = CASE $2::int WHEN 1 THEN 'suspended' ELSE 'active' END) ORDER BY id LIMIT $3",
    [Q_ACCOUNT_STATUS] = "UPDATE accounts SET status = $1 WHERE id = $2",
    [Q_PLAN_INSERT] =
        "INSERT INTO plans(code, name, daily_limit, monthly_limit, limit_mode, overage_cap, rate_per_second, burst, "
        "credential_rate_per_second, credential_burst, metered, created_at, updated_at, alert_thresholds) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    [Q_PLAN_UPDATE] =
        "UPDATE plans SET name = $1, daily_limit = $2, monthly_limit = $3, limit_mode = $4, overage_cap = $5, "
        "rate_per_second = $6, burst = $7, credential_rate_per_second = $8, credential_burst = $9, metered = $10, "
        "updated_at = $11, alert_thresholds = $13 WHERE id = $12",
    [Q_PLAN_GET] = "SELECT " PLAN_COLS " FROM plans WHERE id = $1",
    [Q_PLAN_GET_CODE] = "SELECT " PLAN_COLS " FROM plans WHERE code = $1",
    [Q_PLAN_LIST] = "SELECT " PLAN_COLS " FROM plans WHERE id > $1 ORDER BY id LIMIT $2",
    [Q_CONTRACT_PUT] =
        "INSERT INTO contracts(account_id, plan_id, daily_limit, daily_limit_set, monthly_limit, monthly_limit_set, "
        "limit_mode, overage_cap, overage_cap_set, rate_per_second, burst, credential_rate_per_second, "
        "credential_burst, timezone, starts_at, ends_at, updated_at, alert_thresholds) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) "
        "ON CONFLICT (account_id) DO UPDATE SET plan_id = excluded.plan_id, daily_limit = excluded.daily_limit, "
        "daily_limit_set = excluded.daily_limit_set, monthly_limit = excluded.monthly_limit, "
        "monthly_limit_set = excluded.monthly_limit_set, limit_mode = excluded.limit_mode, "
        "overage_cap = excluded.overage_cap, overage_cap_set = excluded.overage_cap_set, "
        "rate_per_second = excluded.rate_per_second, burst = excluded.burst, "
        "credential_rate_per_second = excluded.credential_rate_per_second, "
        "credential_burst = excluded.credential_burst, timezone = excluded.timezone, "
        "ends_at = excluded.ends_at, updated_at = excluded.updated_at, "
        "alert_thresholds = excluded.alert_thresholds",
    [Q_CONTRACT_GET] = "SELECT " CONTRACT_COLS " FROM contracts WHERE account_id = $1",
    [Q_CONTRACT_LIST] = "SELECT " CONTRACT_COLS " FROM contracts WHERE account_id > $1 ORDER BY account_id LIMIT $2",
    [Q_CRED_INSERT] = "INSERT INTO credentials(account_id, key_id, secret_hash, label, status, created_at, expires_at) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    [Q_CRED_GET] = "SELECT " CRED_COLS " FROM credentials WHERE key_id = $1",
    [Q_CRED_LIST] = "SELECT " CRED_COLS " FROM credentials WHERE id > $1 AND ($2::bigint < 0 OR account_id = $2) "
                    "ORDER BY id LIMIT $3",
    /* Only an active credential changes, and its expiry never moves later (store.h, credential_update). */
    [Q_CRED_UPDATE] =
        "UPDATE credentials SET status = $1, label = $2, "
        "expires_at = CASE WHEN expires_at IS NULL OR ($3::bigint IS NOT NULL AND $3::bigint < expires_at) "
        "THEN $3::bigint ELSE expires_at END, revoked_at = $4 WHERE id = $5 AND status = 'active'",
    /*
     * Rows locked in id order first: two nodes touching the same keys never deadlock. NO KEY
     * UPDATE is what the UPDATE takes anyway; unlike FOR UPDATE it lets usage upserts (whose
     * foreign key takes KEY SHARE on the credential) proceed meanwhile.
     */
    [Q_CRED_LOCK] = "SELECT id FROM credentials WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE",
    /* Grouped, so that an id given twice raises last_used_at to the larger time, as the loop of SQLite does. */
    [Q_CRED_TOUCH] = "UPDATE credentials c SET last_used_at = greatest(coalesce(c.last_used_at, 0), t.at) "
                     "FROM (SELECT id, max(at) AS at FROM unnest($1::bigint[], $2::bigint[]) AS u(id, at) "
                     "GROUP BY id) AS t WHERE c.id = t.id",
    [Q_AUDIT_LAST] = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_INSERT] = "INSERT INTO audit_events(seq, at, actor, action, target, account_id, details, request_id, "
                       "prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    [Q_AUDIT_LIST] = "SELECT seq, at, actor, action, target, account_id, details, request_id, prev_hash, hash "
                     "FROM audit_events WHERE seq > $1 AND ($2::bigint IS NULL OR account_id = $2) "
                     "AND ($3::text IS NULL OR action = $3) AND ($4::bigint IS NULL OR at >= $4) "
                     "AND ($5::bigint IS NULL OR at < $5) ORDER BY seq LIMIT $6",
    /*
     * The batch's deltas in one statement. Grouped, because ON CONFLICT DO UPDATE may not touch a
     * row twice in one statement (the same row given twice in a batch); ordered, so that batches
     * of several processes lock shared rows in the same order and cannot deadlock.
     */
    [Q_USAGE_UPSERT] =
        "INSERT INTO enterprise_daily_usages(account_id, credential_id, usage_date, requests, overage, blocked) "
        "SELECT a, c, d, sum(r)::bigint, sum(o)::bigint, sum(b)::bigint "
        "FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[]) "
        "AS t(a, c, d, r, o, b) GROUP BY a, c, d ORDER BY a, c, d "
        "ON CONFLICT (account_id, credential_id, usage_date) DO UPDATE SET "
        "requests = enterprise_daily_usages.requests + excluded.requests, "
        "overage = enterprise_daily_usages.overage + excluded.overage, "
        "blocked = enterprise_daily_usages.blocked + excluded.blocked",
    [Q_IDEM_INSERT] = "INSERT INTO idempotency(account_id, key, request_fingerprint, status, body, expires_at) "
                      "VALUES ($1, $2, $3, $4, $5, $6) "
                      "ON CONFLICT (account_id, key) DO UPDATE SET request_fingerprint = excluded.request_fingerprint, "
                      "status = excluded.status, body = excluded.body, expires_at = excluded.expires_at",
    [Q_IDEM_GET] = "SELECT request_fingerprint, status, body, expires_at FROM idempotency "
                   "WHERE account_id = $1 AND key = $2 AND expires_at > $3",
    [Q_IDEM_PURGE] = "DELETE FROM idempotency WHERE expires_at <= $1",
    [Q_USAGE_SUM] = "SELECT coalesce(sum(requests), 0)::bigint, coalesce(sum(overage), 0)::bigint, "
                    "coalesce(sum(blocked), 0)::bigint " USAGE_FILTER,
    [Q_USAGE_BY_DATE] =
        "SELECT usage_date, 0, sum(requests)::bigint, sum(overage)::bigint, sum(blocked)::bigint " USAGE_FILTER
        "GROUP BY usage_date ORDER BY usage_date LIMIT $5",
    [Q_USAGE_BY_CRED] =
        "SELECT '', credential_id, sum(requests)::bigint, sum(overage)::bigint, sum(blocked)::bigint " USAGE_FILTER
        "GROUP BY credential_id ORDER BY credential_id LIMIT $5",
    [Q_ALERT_INSERT] = "INSERT INTO usage_alerts(account_id, period, period_start, threshold, used, limit_value, at) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING 1",
    [Q_ALERT_LIST] =
        "SELECT account_id, period, period_start, threshold, used, limit_value, at FROM usage_alerts "
        "WHERE account_id = $1 AND ((period = 'day' AND period_start >= $2) OR "
        "(period = 'month' AND period_start >= $3)) ORDER BY at DESC, threshold DESC, period DESC LIMIT $4",
    [Q_ALERT_LIST_ALL] = "SELECT account_id, period, period_start, threshold, used, limit_value, at FROM usage_alerts "
                         "WHERE (account_id, period, period_start, threshold) > ($1, $2, $3, $4) "
                         "ORDER BY account_id, period, period_start, threshold LIMIT $5",
    [Q_ALERT_IMPORT] = "INSERT INTO usage_alerts(account_id, period, period_start, threshold, used, limit_value, at) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7)",
    /* Moves a mark only from where the batch read it ($3); otherwise no row comes back and the
     * division by zero (evaluated per row, not at planning) fails the transaction. */
    [Q_MARK_PUT] = "WITH m AS (INSERT INTO usage_journal_marks(segment, folded_bytes) VALUES ($1, $2) "
                   "ON CONFLICT (segment) DO UPDATE SET folded_bytes = excluded.folded_bytes "
                   "WHERE usage_journal_marks.folded_bytes = $3 RETURNING 1) "
                   "SELECT 1 / count(*)::int FROM m",
    [Q_MARK_GET] = "SELECT folded_bytes FROM usage_journal_marks WHERE segment = $1",
    [Q_MARK_DELETE] = "DELETE FROM usage_journal_marks WHERE segment = $1",
    [Q_TOKEN_GET] = "SELECT v FROM change_token WHERE id = 1",
    /* Transactional, like the change: also announced to listeners at commit (LISTEN starmeter_change). */
    [Q_TOKEN_BUMP] = "WITH t AS (UPDATE change_token SET v = v + 1 WHERE id = 1 RETURNING v) "
                     "SELECT pg_notify('starmeter_change', v::text) FROM t",
    [Q_DB_SIZE] = "SELECT pg_database_size(current_database())",
    [Q_TXID] = "SELECT pg_catalog.txid_current()",
    [Q_USAGE_LIST] = "SELECT account_id, credential_id, usage_date, requests, overage, blocked "
                     "FROM enterprise_daily_usages WHERE (account_id, credential_id, usage_date) > ($1, $2, $3) "
                     "ORDER BY account_id, credential_id, usage_date LIMIT $4",
    [Q_IDEM_LIST] = "SELECT account_id, key, request_fingerprint, status, body, expires_at FROM idempotency "
                    "WHERE expires_at > $1 AND (account_id, key) > ($2, $3) ORDER BY account_id, key LIMIT $4",
    [Q_ACCOUNT_IMPORT] = "INSERT INTO accounts(id, name, status, created_at) VALUES ($1, $2, $3, $4)",
    [Q_PLAN_IMPORT] = "INSERT INTO plans(" PLAN_COLS ") "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    [Q_CRED_IMPORT] = "INSERT INTO credentials(" CRED_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    /*
     * Rows inserted with their ids leave the identity sequences where they were: each is set so
     * that its next value is the largest id plus one (1 on an empty table).
     */
    [Q_SEQ_RESTART] =
        "SELECT setval(pg_get_serial_sequence('accounts', 'id'), "
        "coalesce((SELECT max(id) FROM accounts), 0) + 1, false), "
        "setval(pg_get_serial_sequence('plans', 'id'), coalesce((SELECT max(id) FROM plans), 0) + 1, false), "
        "setval(pg_get_serial_sequence('credentials', 'id'), "
        "coalesce((SELECT max(id) FROM credentials), 0) + 1, false), "
        "setval(pg_get_serial_sequence('webhook_endpoints', 'id'), "
        "coalesce((SELECT max(id) FROM webhook_endpoints), 0) + 1, false), "
        "setval(pg_get_serial_sequence('webhook_deliveries', 'id'), "
        "coalesce((SELECT max(id) FROM webhook_deliveries), 0) + 1, false)",
    [Q_WEBHOOK_LIST_ALL] = "SELECT " WEBHOOK_COLS " FROM webhook_endpoints WHERE id > $1 ORDER BY id LIMIT $2",
    [Q_DELIVERY_PENDING_ALL] = "SELECT " DELIVERY_COLS ", d.body, d.attempts_before FROM webhook_deliveries d "
                               "WHERE d.status = 'pending' AND d.id > $1 ORDER BY d.id LIMIT $2",
    [Q_WEBHOOK_IMPORT] =
        "INSERT INTO webhook_endpoints(" WEBHOOK_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    /* A new id: the source's history (delivered, failed) stays behind, and its ids with it. */
    [Q_DELIVERY_IMPORT] = "INSERT INTO webhook_deliveries(webhook_id, account_id, msg_id, event_type, status, "
                          "attempts, attempts_before, next_attempt_at, scheduled_at, created_at, body) "
                          "VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10)",
    /* After Q_ACCOUNT_LOCK in the same transaction: concurrent creates for one account count in turn. */
    [Q_WEBHOOK_INSERT] =
        "INSERT INTO webhook_endpoints(account_id, url, events, secret, prev_secret, prev_secret_expires_at, status, "
        "created_at, updated_at) SELECT $1::bigint, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::text, "
        "$8::bigint, $9::bigint WHERE (SELECT count(*) FROM webhook_endpoints WHERE account_id = $1) < $10 "
        "RETURNING id",
    [Q_ACCOUNT_LOCK] = "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
    [Q_WEBHOOK_GET] = "SELECT " WEBHOOK_COLS " FROM webhook_endpoints WHERE id = $1",
    [Q_WEBHOOK_LIST] =
        "SELECT " WEBHOOK_COLS " FROM webhook_endpoints WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    [Q_WEBHOOK_UPDATE] = "UPDATE webhook_endpoints SET status = $1, secret = $2, prev_secret = $3, "
                         "prev_secret_expires_at = $4, updated_at = $5 WHERE id = $6",
    [Q_WEBHOOK_DELETE] = "DELETE FROM webhook_endpoints WHERE id = $1",
    [Q_WEBHOOK_ENQUEUE] =
        "INSERT INTO webhook_deliveries(webhook_id, account_id, msg_id, event_type, body, status, attempts, "
        "next_attempt_at, scheduled_at, created_at) "
        "SELECT id, account_id, $3::text, $2::text, $4::bytea, 'pending', 0, $5::bigint, $5::bigint, $5::bigint "
        "FROM webhook_endpoints WHERE account_id = $1 AND status = 'active' "
        "AND position(',' || $2::text || ',' in ',' || events || ',') > 0 "
        "ORDER BY id ON CONFLICT (webhook_id, msg_id) DO NOTHING",
    /*
     * Claims the due rows as it reads them: SKIP LOCKED lets the senders of several processes take
     * disjoint rows at the same time, and the lease (next_attempt_at moved to $2) keeps them apart
     * afterwards, until the attempt is recorded or the lease is over.
     */
    [Q_WEBHOOK_DUE] =
        "UPDATE webhook_deliveries d SET next_attempt_at = $2 FROM ("
        "SELECT d2.id FROM webhook_deliveries d2 JOIN webhook_endpoints e2 ON e2.id = d2.webhook_id "
        "WHERE d2.status = 'pending' AND d2.next_attempt_at <= $1 AND e2.status = 'active' "
        "ORDER BY d2.next_attempt_at, d2.id LIMIT $3 FOR UPDATE OF d2 SKIP LOCKED) t, webhook_endpoints e "
        "WHERE d.id = t.id AND e.id = d.webhook_id "
        "RETURNING " DELIVERY_COLS ", d.body, e.url, e.secret, e.prev_secret, e.prev_secret_expires_at, "
        "d.attempts_before",
    [Q_WEBHOOK_OUTCOME] = "WITH u AS (UPDATE webhook_deliveries SET attempts = attempts + 1, status = $1::text, "
                          "next_attempt_at = $2::bigint "
                          "WHERE id = $3 RETURNING id) "
                          "INSERT INTO webhook_attempts(delivery_id, at, http_status, latency_ms, error) "
                          "SELECT id, $4::bigint, $5::int, $6::bigint, $7::text FROM u",
    [Q_DELIVERY_LIST] = "SELECT " DELIVERY_COLS " FROM webhook_deliveries d "
                        "WHERE d.webhook_id = $1 AND ($2::bigint <= 0 OR d.id < $2) ORDER BY d.id DESC LIMIT $3",
    [Q_ATTEMPT_LIST] = "SELECT id, delivery_id, at, http_status, latency_ms, error FROM webhook_attempts "
                       "WHERE delivery_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    /* The row as it was (the statement's snapshot) and whether the update took it. */
    [Q_DELIVERY_RESEND] =
        "WITH u AS (UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, scheduled_at = $1, "
        "attempts_before = attempts "
        "WHERE id = $2 AND webhook_id = $3 AND status = 'failed' RETURNING id) "
        "SELECT d.status, (SELECT count(*) FROM u) FROM webhook_deliveries d WHERE d.id = $2 AND d.webhook_id = $3",
    [Q_USAGE_KEY_DAYS] =
        "SELECT u.usage_date, u.credential_id, c.key_id, c.label, u.requests, u.overage, u.blocked "
        "FROM enterprise_daily_usages u JOIN credentials c ON c.id = u.credential_id AND c.account_id = u.account_id "
        "WHERE u.account_id = $1 AND u.usage_date >= $2 AND u.usage_date <= $3 "
        "AND (u.usage_date COLLATE \"C\", c.key_id COLLATE \"C\") > ($4::text COLLATE \"C\", $5::text COLLATE \"C\") "
        "ORDER BY u.usage_date COLLATE \"C\", c.key_id COLLATE \"C\" LIMIT $6::bigint",
    /*
     * The page's accounts first (`acc`): those from the cursor's account on, one more than the page
     * holds, so that the rows after the cursor fill a page whenever there are that many; then only
     * their usage rows are summed, through the (account_id, usage_date) index.
     */
    [Q_USAGE_ACCOUNTS] =
        "WITH acc AS (SELECT account_id FROM contracts WHERE account_id >= $3::bigint ORDER BY account_id LIMIT "
        "$5::bigint + 1), "
        "u AS (SELECT account_id, credential_id, sum(requests)::bigint AS r, sum(overage)::bigint AS o, "
        "sum(blocked)::bigint AS b FROM enterprise_daily_usages WHERE account_id IN (SELECT account_id FROM acc) "
        "AND usage_date >= $1 AND usage_date <= $2 GROUP BY account_id, credential_id) "
        "SELECT a.id, a.name, " PLAN_COLS_P ", " CONTRACT_COLS_K ", coalesce(u.credential_id, 0), "
        "coalesce(cr.key_id, ''), coalesce(cr.label, ''), coalesce(u.r, 0), coalesce(u.o, 0), coalesce(u.b, 0), "
        "a.status FROM acc JOIN accounts a ON a.id = acc.account_id JOIN contracts k ON k.account_id = acc.account_id "
        "JOIN plans p ON p.id = k.plan_id LEFT JOIN u ON u.account_id = acc.account_id "
        "LEFT JOIN credentials cr ON cr.id = u.credential_id "
        "WHERE (acc.account_id, coalesce(u.credential_id, 0)) > ($3::bigint, $4::bigint) "
        "ORDER BY acc.account_id, coalesce(u.credential_id, 0) LIMIT $5::bigint",
};

#define PREPARED_WORDS 2
_Static_assert(Q_COUNT <= 64 * PREPARED_WORDS, "the prepared set of a connection is a bit set of PREPARED_WORDS words");

/* One pooled connection: used by one thread at a time (between checkout and checkin). */
typedef struct pg_conn {
    PGconn *conn;                      /* NULL until first used (the first one is connected by open) */
    uint64_t prepared[PREPARED_WORDS]; /* bit i: SQL[i] is prepared on this session as "sm<i>" */
    bool busy;
    /* The last failed statement was a unique violation (for messages that name the value). */
    bool unique_violation;
} pg_conn;

typedef struct pg_store {
    store super;
    char *conninfo;
    char *password; /* from conninfo, to redact it from any library message; NULL if none */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pg_conn *conns;
    unsigned nconns;
    /* A commit made with synchronous_commit=off that no sync has covered yet. */
    atomic_bool unsynced;
    /* The database size last read by stats, answered again when the pool is all busy. */
    _Atomic int64_t db_bytes;
} pg_store;

/* ---- errors ---- */

/*
 * Copies a libpq message for the operator's log: trailing newline dropped, and the password
 * replaced wherever it appears. libpq does not print passwords in its messages today; this keeps
 * it so if a message ever quotes the conninfo.
 */
static void redact(const pg_store *s, const char *msg, char *out, size_t cap)
{
    size_t o = 0, plen = s->password ? strlen(s->password) : 0;
    if (cap == 0)
        return;
    for (const char *p = msg ? msg : ""; *p && o + 1 < cap;) {
        if (plen > 0 && strncmp(p, s->password, plen) == 0) {
            for (const char *r = "***"; *r && o + 1 < cap; r++)
                out[o++] = *r;
            p += plen;
        } else {
            out[o++] = *p++;
        }
    }
    while (o > 0 && (out[o - 1] == '\n' || out[o - 1] == ' '))
        o--;
    out[o] = '\0';
}

/* A unique constraint and the field a caller names for it (SQLite's store names these too). */
static const struct {
    const char *constraint, *field, *what;
} UNIQUE_FIELDS[] = {
    {"plans_code_key", "code", "a plan with this code already exists"},
    {"credentials_key_id_key", "key_id", "a credential with this key_id already exists"},
};

/*
 * Translates a failed result into a table code: integrity violations (SQLSTATE class 23) and bad
 * values (class 22) are the caller's, validation_error; everything else (connection lost, server
 * shutting down, serialization, a missing table) is store_unavailable with a message for the log.
 */
static int map_error(pg_store *s, pg_conn *c, const PGresult *res, const char *what, app_err *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[200];
    redact(s, primary ? primary : PQerrorMessage(c->conn), msg, sizeof msg);
    c->unique_violation = false;
    if (state != NULL && strcmp(state, "23505") == 0) {
        c->unique_violation = true;
        const char *name = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
        for (size_t i = 0; name != NULL && i < sizeof UNIQUE_FIELDS / sizeof UNIQUE_FIELDS[0]; i++)
            if (strcmp(name, UNIQUE_FIELDS[i].constraint) == 0)
                return app_err_field(err, UNIQUE_FIELDS[i].field, "%s", UNIQUE_FIELDS[i].what);
        return app_err_set(err, APP_VALIDATION_ERROR, "%s violates a constraint: %s", what, msg);
    }
    if (state != NULL && strcmp(state, "22012") == 0) /* Q_MARK_PUT's guard (no other statement divides) */
        return app_err_set(err, APP_STORE_UNAVAILABLE, "postgres %s failed: it had moved already", what);
    if (state != NULL && (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0))
        return app_err_set(err, APP_VALIDATION_ERROR, "%s violates a constraint: %s", what, msg);
    return app_err_set(err, APP_STORE_UNAVAILABLE, "postgres %s failed: %s (%s)", what, msg,
                       state ? state : "no sqlstate");
}

/* ---- parameters (text, except bytea in binary) ---- */

#define MAX_PARAMS 20

typedef struct params {
    int n;
    const char *v[MAX_PARAMS];
    int len[MAX_PARAMS];
    int fmt[MAX_PARAMS];
    char num[MAX_PARAMS][24];
} params;

static void p_i64(params *p, int64_t x)
{
    assert(p->n < MAX_PARAMS);
    snprintf(p->num[p->n], sizeof p->num[0], "%lld", (long long)x);
    p->v[p->n] = p->num[p->n];
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

static void p_null(params *p)
{
    assert(p->n < MAX_PARAMS);
    p->v[p->n] = NULL;
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

static void p_opt(params *p, opt_i64 x)
{
    if (x.present)
        p_i64(p, x.v);
    else
        p_null(p);
}

/* Borrows `t` (NUL-terminated; NULL binds SQL NULL) until the statement has run. */
/* Alert thresholds in their text form ("80,100"), kept in the parameter's own room. */
_Static_assert(sizeof(((params *)0)->num[0]) >= ALERT_SET_TEXT_MAX, "room for an alert set's text");
static void p_alerts(params *p, const alert_set *a)
{
    assert(p->n < MAX_PARAMS);
    alert_set_format(a, p->num[p->n]);
    p->v[p->n] = p->num[p->n];
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

static void p_text(params *p, const char *t)
{
    assert(p->n < MAX_PARAMS);
    p->v[p->n] = t;
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

/* Borrows `len` bytes for a bytea parameter, sent in binary (no escaping, no copy). */
static void p_bytes(params *p, const void *bytes, size_t len)
{
    assert(p->n < MAX_PARAMS && len <= INT32_MAX);
    /* A zero-length binary value still needs a non-NULL pointer, or it would be SQL NULL. */
    p->v[p->n] = len ? (const char *)bytes : "";
    p->len[p->n] = (int)len;
    p->fmt[p->n++] = 1;
}

/* ---- result columns ---- */

static int64_t col_i64(const PGresult *r, int row, int col)
{
    const char *t = PQgetvalue(r, row, col);
    int64_t v = 0;
    /* The server's own decimal text: it parses, unless the column was not an integer (then 0). */
    if (!str_to_i64(slice_make(t, strlen(t)), INT64_MIN, INT64_MAX, &v))
        v = 0;
    return v;
}

static opt_i64 col_opt(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? opt_none() : opt_some(col_i64(r, row, col));
}

static void col_text(const PGresult *r, int row, int col, char *out, size_t cap)
{
    str_copy(out, cap, PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

static bool col_is(const PGresult *r, int row, int col, const char *text)
{
    return !PQgetisnull(r, row, col) && strcmp(PQgetvalue(r, row, col), text) == 0;
}

/*
 * Decodes a bytea column (text output, hex or escape format). Returns a buffer the caller frees
 * with PQfreemem, or NULL for SQL NULL or a decoding failure; *len is its size.
 */
static unsigned char *col_bytea(const PGresult *r, int row, int col, size_t *len)
{
    *len = 0;
    if (PQgetisnull(r, row, col))
        return NULL;
    return PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), len);
}

/* Copies a bytea column of exactly `n` bytes into out; leaves out untouched otherwise. */
static void col_fixed(const PGresult *r, int row, int col, uint8_t *out, size_t n)
{
    size_t len;
    unsigned char *b = col_bytea(r, row, col, &len);
    if (b != NULL && len == n)
        memcpy(out, b, n);
    PQfreemem(b);
}

/* ---- connections ---- */

static void on_notice(void *arg, const char *message)
{
    /* Notices ("relation already exists, skipping") are not errors; libpq would print them to stderr. */
    (void)arg;
    (void)message;
}

static PGconn *connect_one(pg_store *s)
{
    /*
     * Processed in order, the last value of a keyword wins: our defaults come first, then the
     * caller's conninfo (expanded from "dbname"), so the caller can override every one of them.
     */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {CONNECT_TIMEOUT_S, "starmeter", s->conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn != NULL)
        PQsetNoticeProcessor(conn, on_notice, NULL);
    return conn;
}

static int conn_fail(pg_store *s, PGconn *conn, const char *what, app_err *err)
{
    char msg[200];
    redact(s, conn ? PQerrorMessage(conn) : "out of memory", msg, sizeof msg);
    return app_err_set(err, APP_STORE_UNAVAILABLE, "postgres %s failed: %s", what, msg);
}

static void checkin(pg_store *s, pg_conn *c)
{
    pthread_mutex_lock(&s->mu);
    c->busy = false;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Takes a free slot of the pool, waiting for one if `wait`; NULL when none is free and !wait. */
static pg_conn *take_slot(pg_store *s, bool wait)
{
    pg_conn *c = NULL;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (unsigned i = 0; i < s->nconns && c == NULL; i++)
            if (!s->conns[i].busy)
                c = &s->conns[i];
        if (c != NULL || !wait)
            break;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    if (c != NULL)
        c->busy = true;
    pthread_mutex_unlock(&s->mu);
    return c;
}

/*
 * Makes a taken slot's connection usable. A connection found broken (the server restarted, a
 * backend was terminated) is reset here, so the store recovers by itself once the server is back:
 * at worst the call that met the broken connection failed. On failure the slot is released and
 * `err` set (store_unavailable).
 */
static int make_ready(pg_store *s, pg_conn *c, app_err *err)
{
    /*
     * A terminated backend sends its farewell and closes the socket while we are idle: reading
     * what is pending (libpq's socket is non-blocking, this never waits) notices it now, before a
     * statement fails on it.
     */
    if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK)
        PQconsumeInput(c->conn);
    if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK) {
        if (c->conn == NULL)
            c->conn = connect_one(s);
        else
            PQreset(c->conn);
        /* A new session has none of the old one's prepared statements. */
        memset(c->prepared, 0, sizeof c->prepared);
        if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK) {
            int rc = conn_fail(s, c->conn, "connect", err);
            checkin(s, c);
            return rc;
        }
    }
    return 0;
}

/* Takes a usable connection, waiting for a free one; NULL with `err` set when it cannot connect. */
static pg_conn *checkout(pg_store *s, app_err *err)
{
    pg_conn *c = take_slot(s, true);
    return make_ready(s, c, err) == 0 ? c : NULL;
}

/* Runs prepared statement `q` with `p` (NULL: none). *out (if not NULL) receives the result. */
static int run(pg_store *s, pg_conn *c, enum stmt_id q, const params *p, PGresult **out, const char *what, app_err *err)
{
    char name[16];
    snprintf(name, sizeof name, "sm%d", (int)q);
    if (out != NULL)
        *out = NULL;
    if (!(c->prepared[q / 64] & (UINT64_C(1) << (q % 64)))) {
        PGresult *r = PQprepare(c->conn, name, SQL[q], 0, NULL);
        /* The mask is cleared only with the session (checkout's reset): no name is prepared twice. */
        int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : map_error(s, c, r, what, err);
        PQclear(r);
        if (rc != 0)
            return rc;
        c->prepared[q / 64] |= UINT64_C(1) << (q % 64);
    }
    PGresult *r = PQexecPrepared(c->conn, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL, p ? p->fmt : NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out != NULL)
            *out = r;
        else
            PQclear(r);
        return 0;
    }
    int rc = map_error(s, c, r, what, err);
    PQclear(r);
    return rc;
}

/* Runs constant SQL without parameters (transaction control, migration files). */
static int exec_simple(pg_store *s, pg_conn *c, const char *sql, const char *what, app_err *err)
{
    PGresult *r = PQexec(c->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : map_error(s, c, r, what, err);
    PQclear(r);
    return rc;
}

/* Number of rows an UPDATE or DELETE changed. */
static long changed_rows(const PGresult *r)
{
    return strtol(PQcmdTuples((PGresult *)r), NULL, 10);
}

static int tx_end(pg_store *s, pg_conn *c, int rc, app_err *err)
{
    if (rc == 0)
        rc = exec_simple(s, c, "COMMIT", "commit", err);
    if (rc != 0) {
        /* On a broken connection this fails too; the server then rolls back by itself. */
        PGresult *r = PQexec(c->conn, "ROLLBACK");
        PQclear(r);
    }
    return rc;
}

static int lock_key(pg_store *s, pg_conn *c, int64_t key, app_err *err)
{
    params p = {0};
    p_i64(&p, key);
    return run(s, c, Q_LOCK, &p, NULL, "take advisory lock", err);
}

/* The outbox of webhooks, written inside a caller's transaction (defined with the webhooks below). */
static int pg_webhook_enqueue_tx(pg_store *s, pg_conn *c, int64_t account_id, const char *event_type,
                                 const char *msg_id, const char *body, int64_t now_ms, size_t *n_enqueued,
                                 app_err *err);

/* ---- audit chain ---- */

/* Binds an event, its seq and hashes as they are, as the parameters of Q_AUDIT_INSERT. */
static void p_audit(params *p, const audit_event *ev)
{
    p_i64(p, ev->seq);
    p_i64(p, ev->at);
    p_text(p, ev->actor);
    p_text(p, ev->action);
    p_text(p, ev->target);
    p_opt(p, ev->account_id);
    p_text(p, ev->details);
    p_text(p, ev->request_id[0] ? ev->request_id : NULL);
    p_bytes(p, ev->prev_hash, HASH_LEN);
    p_bytes(p, ev->hash, HASH_LEN);
}

/*
 * Appends `ev` to the chain inside the caller's transaction. The advisory lock, held until the
 * transaction ends, serialises appenders of every process on the database; it is taken in its own
 * statement before the read, because in READ COMMITTED a statement's snapshot is taken when it
 * starts: a read in the same statement as the lock could miss the row of the writer it waited for.
 */
static int audit_append(pg_store *s, pg_conn *c, audit_event *ev, bool locked, app_err *err)
{
    if (ev == NULL)
        return 0;
    int rc = locked ? 0 : lock_key(s, c, LOCK_AUDIT, err);
    PGresult *r = NULL;
    if (rc != 0 || (rc = run(s, c, Q_AUDIT_LAST, NULL, &r, "read audit chain", err)) != 0)
        return rc;
    memset(ev->prev_hash, 0, sizeof ev->prev_hash);
    ev->seq = 1;
    if (PQntuples(r) > 0) {
        ev->seq = col_i64(r, 0, 0) + 1;
        col_fixed(r, 0, 1, ev->prev_hash, HASH_LEN);
    }
    PQclear(r);
    hash_audit_event(ev, ev->hash);
    params p = {0};
    p_audit(&p, ev);
    return run(s, c, Q_AUDIT_INSERT, &p, NULL, "append audit event", err);
}

/*
 * A write: takes a connection and opens a transaction (write_begin); then appends the change's
 * audit event, raises the change token, commits or rolls back and releases the connection
 * (write_end), so that a change, its audit record and its token are one transaction on every path.
 */
static pg_conn *write_begin(pg_store *s, app_err *err)
{
    pg_conn *c = checkout(s, err);
    if (c != NULL && exec_simple(s, c, "BEGIN", "begin", err) != 0) {
        checkin(s, c);
        c = NULL;
    }
    return c;
}

static int write_end(pg_store *s, pg_conn *c, int rc, audit_event *audit, bool admin, app_err *err)
{
    if (rc == 0)
        rc = audit_append(s, c, audit, false, err);
    if (rc == 0 && admin)
        rc = run(s, c, Q_TOKEN_BUMP, NULL, NULL, "raise change token", err);
    rc = tx_end(s, c, rc, err);
    checkin(s, c);
    return rc;
}

typedef void (*row_fn)(const PGresult *r, int row, void *out);

/* Runs a listing on its own connection, filling up to `cap` elements of `size` bytes with `row`. */
static int list(pg_store *s, enum stmt_id q, const params *p, row_fn row, void *out, size_t size, size_t cap, size_t *n,
                const char *what, app_err *err)
{
    *n = 0;
    pg_conn *c = checkout(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    PGresult *r = NULL;
    int rc = run(s, c, q, p, &r, what, err);
    checkin(s, c);
    if (rc == 0) {
        for (int i = 0; i < PQntuples(r) && *n < cap; i++)
            row(r, i, (char *)out + (*n)++ * size);
    }
    PQclear(r);
    return rc;
}

/*
 * Reads one row on its own connection: fills `out` with `row`, or returns 1 (not an error code,
 * the caller words its own not_found) when there is none.
 */
static int get_one(pg_store *s, enum stmt_id q, const params *p, row_fn row, void *out, const char *what, app_err *err)
{
    pg_conn *c = checkout(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    PGresult *r = NULL;
    int rc = run(s, c, q, p, &r, what, err);
    checkin(s, c);
    if (rc == 0) {
        if (PQntuples(r) > 0)
            row(r, 0, out);
        else
            rc = -1;
    }
    PQclear(r);
    return rc;
}

/* ---- ping, migrations ---- */

static int pg_ping(store *self, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = checkout(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    int rc = run(s, c, Q_PING, NULL, NULL, "ping", err);
    checkin(s, c);
    return rc;
}

/* The applied version on `c` (0 when schema_migrations does not exist yet). */
static int read_version(pg_store *s, pg_conn *c, int *version, app_err *err)
{
    PGresult *r = NULL;
    *version = 0;
    int rc = run(s, c, Q_MIG_EXISTS, NULL, &r, "schema version", err);
    bool exists = rc == 0 && PQntuples(r) > 0 && col_is(r, 0, 0, "t");
    PQclear(r);
    r = NULL;
    if (rc == 0 && exists && (rc = run(s, c, Q_MIG_VERSION, NULL, &r, "schema version", err)) == 0)
        *version = (int)col_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

static int pg_schema_version(store *self, int *version, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = checkout(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    int rc = read_version(s, c, version, err);
    checkin(s, c);
    return rc;
}

/* "0007_usage.sql" -> 7; -1 when the name does not start with a number and an underscore. */
static int migration_number(const char *name)
{
    const char *us = strchr(name, '_');
    int64_t n;
    if (us == NULL || !str_to_i64(slice_make(name, (size_t)(us - name)), 1, 9999, &n))
        return -1;
    return (int)n;
}

/*
 * Applies one migration (or none, m == NULL: creates schema_migrations) in its own transaction,
 * under the migrators' advisory lock so that concurrent migrators apply each file once. *done
 * says whether this call applied it (another process may have, between our read and the lock).
 */
static int apply_one(pg_store *s, pg_conn *c, const embedded_file *m, int number, bool *done, app_err *err)
{
    int version = 0, rc;
    *done = false;
    if ((rc = exec_simple(s, c, "BEGIN", "begin migration", err)) != 0)
        return rc;
    if ((rc = lock_key(s, c, LOCK_MIGRATE, err)) != 0)
        goto out;
    if (m == NULL) {
        rc = exec_simple(s, c,
                         "CREATE TABLE IF NOT EXISTS schema_migrations("
                         " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                         "create schema_migrations", err);
        goto out;
    }
    if ((rc = read_version(s, c, &version, err)) != 0 || version >= number)
        goto out;
    PGresult *r = PQexec(c->conn, m->bytes);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[200];
        const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        redact(s, primary ? primary : PQerrorMessage(c->conn), msg, sizeof msg);
        /* A lost connection is the store's; a statement the server refuses is a bug of the file. */
        rc = PQstatus(c->conn) != CONNECTION_OK
                 ? app_err_set(err, APP_STORE_UNAVAILABLE, "migration %s failed: %s", m->name, msg)
                 : app_err_set(err, APP_INTERNAL_ERROR, "migration %s failed: %s", m->name, msg);
    }
    PQclear(r);
    if (rc != 0)
        goto out;
    params p = {0};
    p_i64(&p, number);
    p_text(&p, m->name);
    p_i64(&p, clock_now_ms(clock_system()));
    if ((rc = run(s, c, Q_MIG_INSERT, &p, NULL, "record migration", err)) == 0)
        *done = true;
out:
    return tx_end(s, c, rc, err);
}

static int pg_migrate(store *self, int *applied, app_err *err)
{
    pg_store *s = (pg_store *)self;
    *applied = 0;
    pg_conn *c = checkout(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    bool done = false;
    int rc = apply_one(s, c, NULL, 0, &done, err);
    for (size_t i = 0; rc == 0 && i < embedded_migrations_postgres_count; i++) {
        const embedded_file *m = &embedded_migrations_postgres[i];
        int number = migration_number(m->name);
        if (number < 0) {
            rc = app_err_set(err, APP_INTERNAL_ERROR, "migration file %s is not numbered", m->name);
            break;
        }
        if ((rc = apply_one(s, c, m, number, &done, err)) == 0 && done)
            (*applied)++;
    }
    checkin(s, c);
    return rc;
}

/* ---- accounts ---- */

static const char *account_status_text(account_status st)
{
    return st == ACCOUNT_SUSPENDED ? "suspended" : "active";
}

static void row_account(const PGresult *r, int i, void *out)
{
    account *a = out;
    a->id = col_i64(r, i, 0);
    col_text(r, i, 1, a->name, sizeof a->name);
    a->status = col_is(r, i, 2, "suspended") ? ACCOUNT_SUSPENDED : ACCOUNT_ACTIVE;
    a->created_at = col_i64(r, i, 3);
}

static int pg_account_create(store *self, account *io, audit_event *audit, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    params p = {0};
    p_text(&p, io->name);
    p_text(&p, account_status_text(io->status));
    p_i64(&p, io->created_at);
    PGresult *r = NULL;
    int rc = run(s, c, Q_ACCOUNT_INSERT, &p, &r, "create account", err);
    if (rc == 0) {
        io->id = col_i64(r, 0, 0);
        if (audit != NULL) {
            audit->account_id = opt_some(io->id);
            snprintf(audit->target, sizeof audit->target, "account:%lld", (long long)io->id);
        }
    }
    PQclear(r);
    return write_end(s, c, rc, audit, true, err);
}

static int pg_account_get(store *self, int64_t id, account *out, app_err *err)
{
    params p = {0};
    p_i64(&p, id);
    int rc = get_one((pg_store *)self, Q_ACCOUNT_GET, &p, row_account, out, "get account", err);
    return rc < 0 ? app_err_set(err, APP_NOT_FOUND, "account %lld not found", (long long)id) : rc;
}

static int pg_account_list(store *self, int status, int64_t after, account *out, size_t cap, size_t *n, app_err *err)
{
    params p = {0};
    p_i64(&p, after);
    p_i64(&p, status);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_ACCOUNT_LIST, &p, row_account, out, sizeof *out, cap, n, "list accounts", err);
}

/* Runs an UPDATE in the caller's transaction; "<kind> <name> not found" when no row changed. */
static int update_one(pg_store *s, pg_conn *c, enum stmt_id q, const params *p, const char *what, app_err *err,
                      const char *kind, const char *name)
{
    PGresult *r = NULL;
    int rc = run(s, c, q, p, &r, what, err);
    if (rc == 0 && changed_rows(r) == 0)
        rc = app_err_set(err, APP_NOT_FOUND, "%s %s not found", kind, name);
    PQclear(r);
    return rc;
}

static int pg_account_set_status(store *self, int64_t id, account_status status, audit_event *audit, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    params p = {0};
    p_text(&p, account_status_text(status));
    p_i64(&p, id);
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", (long long)id);
    int rc = update_one(s, c, Q_ACCOUNT_STATUS, &p, "update account", err, "account", idtext);
    return write_end(s, c, rc, audit, true, err);
}

/* ---- plans ---- */

static const char *mode_text(limit_mode m)
{
    return m == LIMIT_OVERAGE ? "overage" : "block";
}

/* A column of alert thresholds in text form; a value the CHECK should have refused reads as none. */
static alert_set col_alerts(const PGresult *r, int i, int col)
{
    alert_set a = {0};
    if (!PQgetisnull(r, i, col))
        alert_set_parse(PQgetvalue(r, i, col), &a);
    return a;
}

/* Reads a plan from the columns PLAN_COLS names, starting at column `b` of row `i`. */
static void plan_at(const PGresult *r, int i, int b, plan *p)
{
    memset(p, 0, sizeof *p);
    p->id = col_i64(r, i, b + 0);
    col_text(r, i, b + 1, p->code, sizeof p->code);
    col_text(r, i, b + 2, p->name, sizeof p->name);
    p->limits.daily_limit = col_opt(r, i, b + 3);
    p->limits.monthly_limit = col_opt(r, i, b + 4);
    p->limits.mode = col_is(r, i, b + 5, "overage") ? LIMIT_OVERAGE : LIMIT_BLOCK;
    p->limits.overage_cap = col_opt(r, i, b + 6);
    p->limits.rate_per_second = col_i64(r, i, b + 7);
    p->limits.burst = col_i64(r, i, b + 8);
    p->limits.credential_rate_per_second = col_i64(r, i, b + 9);
    p->limits.credential_burst = col_i64(r, i, b + 10);
    p->metered = col_i64(r, i, b + 11) != 0;
    p->created_at = col_i64(r, i, b + 12);
    p->updated_at = col_i64(r, i, b + 13);
    p->limits.alerts = col_alerts(r, i, b + 14);
}

static void row_plan(const PGresult *r, int i, void *out)
{
    plan_at(r, i, 0, out);
}

/* Binds the limits (daily, monthly, mode, cap, rate, burst, crate, cburst, metered) as the next 9 parameters. */
static void p_plan_limits(params *p, const plan *pl)
{
    p_opt(p, pl->limits.daily_limit);
    p_opt(p, pl->limits.monthly_limit);
    p_text(p, mode_text(pl->limits.mode));
    p_opt(p, pl->limits.overage_cap);
    p_i64(p, pl->limits.rate_per_second);
    p_i64(p, pl->limits.burst);
    p_i64(p, pl->limits.credential_rate_per_second);
    p_i64(p, pl->limits.credential_burst);
    p_i64(p, pl->metered ? 1 : 0);
}

static int pg_plan_create(store *self, plan *io, audit_event *audit, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    params p = {0};
    p_text(&p, io->code);
    p_text(&p, io->name);
    p_plan_limits(&p, io);
    p_i64(&p, io->created_at);
    p_i64(&p, io->updated_at);
    p_alerts(&p, &io->limits.alerts);
    PGresult *r = NULL;
    int rc = run(s, c, Q_PLAN_INSERT, &p, &r, "create plan", err);
    if (rc == 0) {
        io->id = col_i64(r, 0, 0);
    } else if (rc == APP_VALIDATION_ERROR && c->unique_violation) {
        /* Worded as SQLite's store words it, with the code. */
        app_err_clear(err);
        rc = app_err_field(err, "code", "a plan with code \"%s\" already exists", io->code);
    }
    PQclear(r);
    return write_end(s, c, rc, audit, true, err);
}

static int pg_plan_get(store *self, int64_t id, plan *out, app_err *err)
{
    params p = {0};
    p_i64(&p, id);
    int rc = get_one((pg_store *)self, Q_PLAN_GET, &p, row_plan, out, "get plan", err);
    return rc < 0 ? app_err_set(err, APP_NOT_FOUND, "plan %lld not found", (long long)id) : rc;
}

static int pg_plan_get_by_code(store *self, const char *code, plan *out, app_err *err)
{
    params p = {0};
    p_text(&p, code);
    int rc = get_one((pg_store *)self, Q_PLAN_GET_CODE, &p, row_plan, out, "get plan", err);
    return rc < 0 ? app_err_set(err, APP_NOT_FOUND, "plan \"%s\" not found", code) : rc;
}

static int pg_plan_list(store *self, int64_t after, plan *out, size_t cap, size_t *n, app_err *err)
{
    params p = {0};
    p_i64(&p, after);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_PLAN_LIST, &p, row_plan, out, sizeof *out, cap, n, "list plans", err);
}

static int pg_plan_update(store *self, const plan *pl, audit_event *audit, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    params p = {0};
    p_text(&p, pl->name);
    p_plan_limits(&p, pl);
    p_i64(&p, pl->updated_at);
    p_i64(&p, pl->id);
    p_alerts(&p, &pl->limits.alerts);
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", (long long)pl->id);
    int rc = update_one(s, c, Q_PLAN_UPDATE, &p, "update plan", err, "plan", idtext);
    return write_end(s, c, rc, audit, true, err);
}

/* ---- contracts ---- */

static void p_opt_if(params *p, bool set, int64_t v)
{
    p_opt(p, set ? opt_some(v) : opt_none());
}

/* Binds every column of Q_CONTRACT_PUT. */
static void p_contract(params *p, const contract *ct)
{
    const limits *o = &ct->overrides;
    p_i64(p, ct->account_id);
    p_i64(p, ct->plan_id);
    p_opt(p, (ct->overridden & OVR_DAILY_LIMIT) ? o->daily_limit : opt_none());
    p_i64(p, (ct->overridden & OVR_DAILY_LIMIT) ? 1 : 0);
    p_opt(p, (ct->overridden & OVR_MONTHLY_LIMIT) ? o->monthly_limit : opt_none());
    p_i64(p, (ct->overridden & OVR_MONTHLY_LIMIT) ? 1 : 0);
    p_text(p, (ct->overridden & OVR_MODE) ? mode_text(o->mode) : NULL);
    p_opt(p, (ct->overridden & OVR_OVERAGE_CAP) ? o->overage_cap : opt_none());
    p_i64(p, (ct->overridden & OVR_OVERAGE_CAP) ? 1 : 0);
    p_opt_if(p, ct->overridden & OVR_RATE, o->rate_per_second);
    p_opt_if(p, ct->overridden & OVR_BURST, o->burst);
    p_opt_if(p, ct->overridden & OVR_CRED_RATE, o->credential_rate_per_second);
    p_opt_if(p, ct->overridden & OVR_CRED_BURST, o->credential_burst);
    p_text(p, ct->timezone);
    p_i64(p, ct->starts_at);
    p_opt(p, ct->ends_at);
    p_i64(p, ct->updated_at);
    if (ct->overridden & OVR_ALERTS)
        p_alerts(p, &o->alerts);
    else
        p_null(p);
}

static int pg_contract_put(store *self, const contract *ct, audit_event *audit, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    params p = {0};
    p_contract(&p, ct);
    int rc = run(s, c, Q_CONTRACT_PUT, &p, NULL, "put contract", err);
    return write_end(s, c, rc, audit, true, err);
}

/* Reads a contract from the columns CONTRACT_COLS names, starting at column `b` of row `i`. */
static void contract_at(const PGresult *r, int i, int b, contract *out)
{
    memset(out, 0, sizeof *out);
    out->account_id = col_i64(r, i, b + 0);
    out->plan_id = col_i64(r, i, b + 1);
    limits *o = &out->overrides;
    if (col_i64(r, i, b + 3)) {
        out->overridden |= OVR_DAILY_LIMIT;
        o->daily_limit = col_opt(r, i, b + 2);
    }
    if (col_i64(r, i, b + 5)) {
        out->overridden |= OVR_MONTHLY_LIMIT;
        o->monthly_limit = col_opt(r, i, b + 4);
    }
    if (!PQgetisnull(r, i, b + 6)) {
        out->overridden |= OVR_MODE;
        o->mode = col_is(r, i, b + 6, "overage") ? LIMIT_OVERAGE : LIMIT_BLOCK;
    }
    if (col_i64(r, i, b + 8)) {
        out->overridden |= OVR_OVERAGE_CAP;
        o->overage_cap = col_opt(r, i, b + 7);
    }
    static const unsigned bits[] = {OVR_RATE, OVR_BURST, OVR_CRED_RATE, OVR_CRED_BURST};
    int64_t *fields[] = {&o->rate_per_second, &o->burst, &o->credential_rate_per_second, &o->credential_burst};
    for (int k = 0; k < 4; k++) {
        if (!PQgetisnull(r, i, b + 9 + k)) {
            out->overridden |= bits[k];
            *fields[k] = col_i64(r, i, b + 9 + k);
        }
    }
    col_text(r, i, b + 13, out->timezone, sizeof out->timezone);
    out->starts_at = col_i64(r, i, b + 14);
    out->ends_at = col_opt(r, i, b + 15);
    out->updated_at = col_i64(r, i, b + 16);
    if (!PQgetisnull(r, i, b + 17)) {
        out->overridden |= OVR_ALERTS;
        o->alerts = col_alerts(r, i, b + 17);
    }
}

static void row_contract(const PGresult *r, int i, void *dst)
{
    contract_at(r, i, 0, dst);
}

static int pg_contract_get(store *self, int64_t account_id, contract *out, app_err *err)
{
    params p = {0};
    p_i64(&p, account_id);
    int rc = get_one((pg_store *)self, Q_CONTRACT_GET, &p, row_contract, out, "get contract", err);
    return rc < 0 ? app_err_set(err, APP_NOT_FOUND, "account %lld has no contract", (long long)account_id) : rc;
}

static int pg_contract_list(store *self, int64_t after, contract *out, size_t cap, size_t *n, app_err *err)
{
    params p = {0};
    p_i64(&p, after);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_CONTRACT_LIST, &p, row_contract, out, sizeof *out, cap, n, "list contracts", err);
}

/* ---- credentials ---- */

static void row_credential(const PGresult *r, int i, void *out)
{
    credential *c = out;
    memset(c, 0, sizeof *c);
    c->id = col_i64(r, i, 0);
    c->account_id = col_i64(r, i, 1);
    col_text(r, i, 2, c->key_id, sizeof c->key_id);
    col_fixed(r, i, 3, c->secret_hash, HASH_LEN);
    col_text(r, i, 4, c->label, sizeof c->label);
    c->status = col_is(r, i, 5, "revoked") ? CREDENTIAL_REVOKED : CREDENTIAL_ACTIVE;
    c->created_at = col_i64(r, i, 6);
    c->expires_at = col_opt(r, i, 7);
    c->revoked_at = col_opt(r, i, 8);
    c->last_used_at = col_opt(r, i, 9);
}

static int insert_credential(pg_store *s, pg_conn *c, credential *io, app_err *err)
{
    params p = {0};
    p_i64(&p, io->account_id);
    p_text(&p, io->key_id);
    p_bytes(&p, io->secret_hash, HASH_LEN);
    p_text(&p, io->label);
    p_text(&p, io->status == CREDENTIAL_REVOKED ? "revoked" : "active");
    p_i64(&p, io->created_at);
    p_opt(&p, io->expires_at);
    PGresult *r = NULL;
    int rc = run(s, c, Q_CRED_INSERT, &p, &r, "create credential", err);
    if (rc == 0)
        io->id = col_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

static int update_credential(pg_store *s, pg_conn *c, const credential *cr, app_err *err)
{
    params p = {0};
    p_text(&p, cr->status == CREDENTIAL_REVOKED ? "revoked" : "active");
    p_text(&p, cr->label);
    p_opt(&p, cr->expires_at);
    p_opt(&p, cr->revoked_at);
    p_i64(&p, cr->id);
    return update_one(s, c, Q_CRED_UPDATE, &p, "update credential", err, "credential (or revoked meanwhile)",
                      cr->key_id);
}

static int pg_credential_create(store *self, credential *io, audit_event *audit, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    int rc = insert_credential(s, c, io, err);
    return write_end(s, c, rc, audit, true, err);
}

static int pg_credential_get(store *self, const char *key_id, credential *out, app_err *err)
{
    params p = {0};
    p_text(&p, key_id);
    int rc = get_one((pg_store *)self, Q_CRED_GET, &p, row_credential, out, "get credential", err);
    return rc < 0 ? app_err_set(err, APP_NOT_FOUND, "credential %s not found", key_id) : rc;
}

static int pg_credential_list(store *self, int64_t account_id, int64_t after, credential *out, size_t cap, size_t *n,
                              app_err *err)
{
    params p = {0};
    p_i64(&p, after);
    p_i64(&p, account_id);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_CRED_LIST, &p, row_credential, out, sizeof *out, cap, n, "list credentials", err);
}

static int pg_credential_update(store *self, const credential *cr, audit_event *audit, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    int rc = update_credential(s, c, cr, err);
    return write_end(s, c, rc, audit, true, err);
}

static int pg_credential_rotate(store *self, const credential *old, credential *fresh, audit_event *audit, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    int rc = update_credential(s, c, old, err);
    if (rc == 0)
        rc = insert_credential(s, c, fresh, err);
    return write_end(s, c, rc, audit, true, err);
}

/* Appends `n` integers as a PostgreSQL array literal ("{1,2,3}"). */
static void array_i64(buf *b, const int64_t *v, size_t n, size_t stride)
{
    buf_appends(b, "{");
    for (size_t i = 0; i < n; i++) {
        const int64_t *x = (const int64_t *)((const char *)v + i * stride);
        buf_appendf(b, i ? ",%lld" : "%lld", (long long)*x);
    }
    buf_appends(b, "}");
}

static int pg_credentials_touch(store *self, const int64_t *ids, const int64_t *at, size_t n, app_err *err)
{
    pg_store *s = (pg_store *)self;
    if (n == 0)
        return 0;
    buf idarr, atarr;
    buf_init(&idarr, ARRAY_MAX_BYTES);
    buf_init(&atarr, ARRAY_MAX_BYTES);
    array_i64(&idarr, ids, n, sizeof ids[0]);
    array_i64(&atarr, at, n, sizeof at[0]);
    int rc = 0;
    if (buf_failed(&idarr) || buf_failed(&atarr)) {
        rc = app_err_set(err, APP_INTERNAL_ERROR, "too many credentials to touch at once (%zu)", n);
        goto out;
    }
    pg_conn *c = write_begin(s, err);
    if (c == NULL) {
        rc = APP_STORE_UNAVAILABLE;
        goto out;
    }
    params p = {0};
    p_text(&p, idarr.data);
    rc = run(s, c, Q_CRED_LOCK, &p, NULL, "lock credentials", err);
    p_text(&p, atarr.data);
    if (rc == 0)
        rc = run(s, c, Q_CRED_TOUCH, &p, NULL, "touch credentials", err);
    /* last_used_at is no cache's business: not an admin change, no token. */
    rc = write_end(s, c, rc, NULL, false, err);
out:
    buf_cleanup(&idarr);
    buf_cleanup(&atarr);
    return rc;
}

/* ---- audit ---- */

static void row_audit(const PGresult *r, int i, void *out)
{
    audit_event *e = out;
    memset(e, 0, sizeof *e);
    e->seq = col_i64(r, i, 0);
    e->at = col_i64(r, i, 1);
    col_text(r, i, 2, e->actor, sizeof e->actor);
    col_text(r, i, 3, e->action, sizeof e->action);
    col_text(r, i, 4, e->target, sizeof e->target);
    e->account_id = col_opt(r, i, 5);
    col_text(r, i, 6, e->details, sizeof e->details);
    col_text(r, i, 7, e->request_id, sizeof e->request_id);
    col_fixed(r, i, 8, e->prev_hash, HASH_LEN);
    col_fixed(r, i, 9, e->hash, HASH_LEN);
}

static int pg_audit_list(store *self, const audit_filter *f, int64_t after, audit_event *out, size_t cap, size_t *n,
                         app_err *err)
{
    params p = {0};
    p_i64(&p, after);
    p_opt(&p, f ? f->account_id : opt_none());
    p_text(&p, f ? f->action : NULL);
    p_opt(&p, f ? f->from_ms : opt_none());
    p_opt(&p, f ? f->to_ms : opt_none());
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_AUDIT_LIST, &p, row_audit, out, sizeof *out, cap, n, "list audit events", err);
}

/*
 * A row of change_token raised in every admin write transaction (migration 0003): it moves
 * exactly when an admin change commits, in any process, and never before the change is visible.
 * Counting audit events instead would miss a change made without an audit event and move on every
 * quota decision; PostgreSQL has no equivalent of SQLite's data_version.
 */
static int pg_change_token(store *self, int64_t *out, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = checkout(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    PGresult *r = NULL;
    int rc = run(s, c, Q_TOKEN_GET, NULL, &r, "read change token", err);
    checkin(s, c);
    if (rc == 0)
        *out = PQntuples(r) > 0 ? col_i64(r, 0, 0) : 0;
    PQclear(r);
    return rc;
}

/* ---- usage ---- */

/* Appends the dates as a text array literal; quoted, with " and \ escaped, whatever they hold. */
static void array_dates(buf *b, const usage_delta *d, size_t n)
{
    buf_appends(b, "{");
    for (size_t i = 0; i < n; i++) {
        buf_appends(b, i ? ",\"" : "\"");
        for (const char *t = d[i].date; t < d[i].date + sizeof d[i].date && *t; t++) {
            if (*t == '"' || *t == '\\')
                buf_append(b, "\\", 1);
            buf_append(b, t, 1);
        }
        buf_appends(b, "\"");
    }
    buf_appends(b, "}");
}

/*
 * A pipeline (libpq pipeline mode): statements sent back to back and their results read after
 * one Sync, so that a batch costs one round trip instead of one per statement. Each item is the
 * prepare of a statement the session lacks, or an execution.
 */
typedef struct pipe_item {
    int prepared_q; /* the statement an item prepares, or -1 for an execution */
    const char *what;
} pipe_item;

typedef struct pg_pipeline {
    pg_store *s;
    pg_conn *c;
    pipe_item *items; /* owned */
    size_t n, cap;
    bool send_failed;
} pg_pipeline;

static bool pipe_begin(pg_pipeline *pp, pg_store *s, pg_conn *c, size_t cap)
{
    *pp = (pg_pipeline){.s = s, .c = c, .items = xmalloc(cap * sizeof pp->items[0]), .cap = cap};
    return PQenterPipelineMode(c->conn) == 1;
}

static void pipe_push(pg_pipeline *pp, int prepared_q, const char *what)
{
    assert(pp->n < pp->cap);
    pp->items[pp->n++] = (pipe_item){prepared_q, what};
}

/* Queues SQL without parameters (transaction control); unnamed, so it needs no prepare. */
static void pipe_sql(pg_pipeline *pp, const char *sql, const char *what)
{
    if (pp->send_failed || !PQsendQueryParams(pp->c->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
        pp->send_failed = true;
    else
        pipe_push(pp, -1, what);
}

/* Queues prepared statement `q`, preparing it first if the session has not. libpq copies `p`. */
static void pipe_run(pg_pipeline *pp, enum stmt_id q, const params *p, const char *what)
{
    pg_conn *c = pp->c;
    char name[16];
    snprintf(name, sizeof name, "sm%d", (int)q);
    if (pp->send_failed)
        return;
    if (!(c->prepared[q / 64] & (UINT64_C(1) << (q % 64)))) {
        if (!PQsendPrepare(c->conn, name, SQL[q], 0, NULL)) {
            pp->send_failed = true;
            return;
        }
        /* Counted as prepared now; pipe_end takes it back if the server refused it. */
        c->prepared[q / 64] |= UINT64_C(1) << (q % 64);
        pipe_push(pp, (int)q, what);
    }
    if (!PQsendQueryPrepared(c->conn, name, p->n, p->v, p->len, p->fmt, 0))
        pp->send_failed = true;
    else
        pipe_push(pp, -1, what);
}

/*
 * Sends the Sync and reads every result: 0, or the code of the first failure (later items are
 * then PIPELINE_ABORTED, skipped by the server). A connection that broke mid-pipeline is dropped
 * (the next checkout connects afresh), as its pipeline state is unknown.
 */
static int pipe_end(pg_pipeline *pp, app_err *err)
{
    pg_store *s = pp->s;
    pg_conn *c = pp->c;
    int rc = 0;
    if (pp->send_failed || PQpipelineSync(c->conn) != 1)
        goto broken;
    for (size_t i = 0; i < pp->n; i++) {
        PGresult *r = PQgetResult(c->conn);
        if (r == NULL)
            goto broken;
        ExecStatusType st = PQresultStatus(r);
        bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        if (!ok && pp->items[i].prepared_q >= 0)
            c->prepared[pp->items[i].prepared_q / 64] &= ~(UINT64_C(1) << (pp->items[i].prepared_q % 64));
        if (!ok && st != PGRES_PIPELINE_ABORTED && rc == 0)
            rc = map_error(s, c, r, pp->items[i].what, err);
        PQclear(r);
        if (PQstatus(c->conn) != CONNECTION_OK)
            goto broken;
        /* Each item's results end with a NULL. */
        if ((r = PQgetResult(c->conn)) != NULL) {
            PQclear(r);
            goto broken;
        }
    }
    PGresult *r = PQgetResult(c->conn);
    bool synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!synced || PQexitPipelineMode(c->conn) != 1)
        goto broken;
    free(pp->items);
    return rc;
broken:
    if (rc == 0)
        rc = conn_fail(s, c->conn, "pipeline", err);
    PQfinish(c->conn);
    c->conn = NULL;
    memset(c->prepared, 0, sizeof c->prepared);
    free(pp->items);
    return rc;
}

/* Binds an idempotent answer as the parameters of Q_IDEM_INSERT. */
static void p_idem(params *p, const idem_record *r)
{
    p_i64(p, r->account_id);
    p_text(p, r->key);
    p_bytes(p, r->fingerprint, sizeof r->fingerprint);
    p_i64(p, r->status);
    p_bytes(p, r->body, r->body_len);
    p_i64(p, r->expires_at);
}

/*
 * A batch without audit events in one round trip: BEGIN, the upsert, the answers, the marks and
 * COMMIT in one pipeline. `arr` holds the deltas' six array literals (NULL: no deltas).
 * durable=false: the commit returns once its WAL is written to the server's kernel (it survives a
 * crash of either process), not flushed; sync() flushes it. durable=true sets synchronous_commit
 * on for the transaction, whatever the server's default: store.h promises stable storage.
 */
static int usage_apply_pipelined(pg_store *s, pg_conn *c, const usage_batch *b, const buf *arr, app_err *err)
{
    pg_pipeline pp;
    if (!pipe_begin(&pp, s, c, 2 * (b->nidem + b->nmarks) + 8)) {
        free(pp.items);
        return conn_fail(s, c->conn, "enter pipeline mode", err);
    }
    pipe_sql(&pp, "BEGIN", "begin");
    pipe_sql(&pp, b->durable ? "SET LOCAL synchronous_commit = on" : "SET LOCAL synchronous_commit = off", "begin");
    if (arr != NULL) {
        params p = {0};
        for (int i = 0; i < 6; i++)
            p_text(&p, arr[i].data);
        pipe_run(&pp, Q_USAGE_UPSERT, &p, "apply usage");
    }
    for (size_t i = 0; i < b->nidem; i++) {
        params p = {0};
        p_idem(&p, &b->idem[i]);
        pipe_run(&pp, Q_IDEM_INSERT, &p, "store idempotent answer");
    }
    for (size_t i = 0; i < b->nmarks; i++) {
        params p = {0};
        p_text(&p, b->marks[i].segment);
        p_i64(&p, b->marks[i].offset);
        p_i64(&p, b->marks[i].from);
        pipe_run(&pp, Q_MARK_PUT, &p, "move the usage journal mark from where it was read");
    }
    /* After a failure the server skips to the Sync: COMMIT does not run, the block stays failed. */
    pipe_sql(&pp, "COMMIT", "commit");
    int rc = pipe_end(&pp, err);
    if (c->conn != NULL && PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->conn, "ROLLBACK");
        PQclear(r);
        if (rc == 0)
            rc = app_err_set(err, APP_STORE_UNAVAILABLE, "postgres usage batch did not commit");
    }
    if (rc == 0 && !b->durable)
        atomic_store(&s->unsynced, true);
    return rc;
}

/* The columns of Q_USAGE_UPSERT's arrays. */
enum { A_ACC, A_CRED, A_DATE, A_REQ, A_OVER, A_BLOCK, A_COUNT };

/* Writes the columns of `n` deltas as array literals into arr[A_COUNT] (initialised by the caller). */
static int usage_arrays(buf *arr, const usage_delta *d, size_t n, app_err *err)
{
    const size_t st = sizeof d[0];
    array_i64(&arr[A_ACC], &d[0].account_id, n, st);
    array_i64(&arr[A_CRED], &d[0].credential_id, n, st);
    array_dates(&arr[A_DATE], d, n);
    array_i64(&arr[A_REQ], &d[0].requests, n, st);
    array_i64(&arr[A_OVER], &d[0].overage, n, st);
    array_i64(&arr[A_BLOCK], &d[0].blocked, n, st);
    for (int i = 0; i < A_COUNT; i++)
        if (buf_failed(&arr[i]))
            return app_err_set(err, APP_INTERNAL_ERROR, "usage batch too large (%zu deltas)", n);
    return 0;
}

/*
 * The usage arrays of `d` (when n > 0) into arr (initialised here; the caller cleans them up on
 * every path) and a pooled connection into *c. 0, or the error with *c NULL.
 */
static int usage_arrays_and_conn(pg_store *s, buf arr[A_COUNT], const usage_delta *d, size_t n, pg_conn **c,
                                 app_err *err)
{
    *c = NULL;
    for (int i = 0; i < A_COUNT; i++)
        buf_init(&arr[i], ARRAY_MAX_BYTES);
    int rc = n > 0 ? usage_arrays(arr, d, n, err) : 0;
    if (rc == 0 && (*c = checkout(s, err)) == NULL)
        rc = APP_STORE_UNAVAILABLE;
    return rc;
}

/* An endpoint's columns but its id (account_id .. updated_at), as Q_WEBHOOK_INSERT and Q_WEBHOOK_IMPORT take them. */
static void p_webhook(params *p, const webhook *w)
{
    p_i64(p, w->account_id);
    p_text(p, w->url);
    p_text(p, w->events);
    p_text(p, w->secret);
    p_text(p, w->prev_secret[0] ? w->prev_secret : NULL);
    p_opt(p, w->prev_secret_expires_at);
    p_text(p, webhook_status_name(w->status));
    p_i64(p, w->created_at);
    p_i64(p, w->updated_at);
}

/* An alert's columns, in the order of Q_ALERT_INSERT and Q_ALERT_IMPORT. */
static void p_alert(params *p, const usage_alert *a)
{
    p_i64(p, a->account_id);
    p_text(p, a->monthly ? "month" : "day");
    p_text(p, a->period_start);
    p_i64(p, a->threshold);
    p_i64(p, a->used);
    p_i64(p, a->limit);
    p_i64(p, a->at);
}

/* Inserts the alert unless it exists; a.raised tells which. Inside the batch's transaction. */
static int insert_alert(pg_store *s, pg_conn *c, usage_alert *a, app_err *err)
{
    a->raised = false;
    params p = {0};
    p_alert(&p, a);
    PGresult *r = NULL;
    int rc = run(s, c, Q_ALERT_INSERT, &p, &r, "insert usage alert", err);
    if (rc == 0)
        a->raised = PQntuples(r) == 1;
    PQclear(r);
    /* The event's deliveries, one per endpoint that wants it, in the same transaction as the count. */
    size_t queued;
    if (rc == 0 && a->raised && a->event != NULL)
        rc = pg_webhook_enqueue_tx(s, c, a->account_id, "usage.threshold", a->msg_id, a->event, a->at, &queued, err);
    return rc;
}

static void row_alert(const PGresult *r, int i, void *out)
{
    usage_alert *a = out;
    memset(a, 0, sizeof *a);
    a->account_id = col_i64(r, i, 0);
    a->monthly = col_is(r, i, 1, "month");
    col_text(r, i, 2, a->period_start, sizeof a->period_start);
    a->threshold = (int)col_i64(r, i, 3);
    a->used = col_i64(r, i, 4);
    a->limit = col_i64(r, i, 5);
    a->at = col_i64(r, i, 6);
}

static int pg_alert_list(store *self, int64_t account_id, const char *day_from, const char *month_from,
                         usage_alert *out, size_t cap, size_t *n, app_err *err)
{
    params p = {0};
    p_i64(&p, account_id);
    p_text(&p, day_from);
    p_text(&p, month_from);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_ALERT_LIST, &p, row_alert, out, sizeof *out, cap, n, "list usage alerts", err);
}

static int pg_alert_list_all(store *self, const usage_alert *after, usage_alert *out, size_t cap, size_t *n,
                             app_err *err)
{
    params p = {0};
    p_i64(&p, after ? after->account_id : INT64_MIN);
    p_text(&p, after ? (after->monthly ? "month" : "day") : "");
    p_text(&p, after ? after->period_start : "");
    p_i64(&p, after ? after->threshold : 0);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_ALERT_LIST_ALL, &p, row_alert, out, sizeof *out, cap, n, "list usage alerts", err);
}

static int pg_usage_apply(store *self, const usage_batch *b, app_err *err)
{
    pg_store *s = (pg_store *)self;
    buf arr[A_COUNT];
    pg_conn *c;
    int rc = usage_arrays_and_conn(s, arr, b->deltas, b->ndeltas, &c, err);
    if (rc != 0)
        goto out;
    if (b->naudits == 0 && b->nalerts == 0) {
        rc = usage_apply_pipelined(s, c, b, arr[0].data ? arr : NULL, err);
        checkin(s, c);
        goto out;
    }
    /*
     * With audit events or alerts, statements one by one: the chain's last hash must be read
     * (under the lock) before the events' hashes can be computed, and an alert's event is written
     * only when the alert is new. Such batches are rare (the first block, overage or threshold of a
     * period).
     */
    rc = exec_simple(
        s, c, b->durable ? "BEGIN; SET LOCAL synchronous_commit = on" : "BEGIN; SET LOCAL synchronous_commit = off",
        "begin", err);
    if (rc != 0) {
        checkin(s, c);
        goto out;
    }
    if (b->ndeltas > 0) {
        params p = {0};
        for (int i = 0; i < A_COUNT; i++)
            p_text(&p, arr[i].data);
        rc = run(s, c, Q_USAGE_UPSERT, &p, NULL, "apply usage", err);
    }
    for (size_t i = 0; i < b->nidem && rc == 0; i++) {
        params p = {0};
        p_idem(&p, &b->idem[i]);
        rc = run(s, c, Q_IDEM_INSERT, &p, NULL, "store idempotent answer", err);
    }
    bool alert_events = false;
    for (size_t i = 0; i < b->nalerts && rc == 0; i++) {
        rc = insert_alert(s, c, &b->alerts[i], err);
        alert_events |= b->alerts[i].raised && b->alerts[i].audit != NULL;
    }
    /* One advisory lock for the batch's events, taken last: held only from here to the commit. */
    if (rc == 0 && (b->naudits > 0 || alert_events))
        rc = lock_key(s, c, LOCK_AUDIT, err);
    for (size_t i = 0; i < b->naudits && rc == 0; i++)
        rc = audit_append(s, c, &b->audits[i], true, err);
    for (size_t i = 0; i < b->nalerts && rc == 0; i++)
        if (b->alerts[i].raised && b->alerts[i].audit != NULL)
            rc = audit_append(s, c, b->alerts[i].audit, true, err);
    for (size_t i = 0; i < b->nmarks && rc == 0; i++) {
        params p = {0};
        p_text(&p, b->marks[i].segment);
        p_i64(&p, b->marks[i].offset);
        p_i64(&p, b->marks[i].from);
        PGresult *r = NULL;
        rc = run(s, c, Q_MARK_PUT, &p, &r, "move the usage journal mark from where it was read", err);
        PQclear(r);
    }
    /* A failed batch is rolled back whole: no call of it is counted, none is answered 2xx. */
    rc = tx_end(s, c, rc, err);
    if (rc == 0 && !b->durable)
        atomic_store(&s->unsynced, true);
    for (size_t i = 0; i < b->nalerts && rc != 0; i++)
        b->alerts[i].raised = false;
    checkin(s, c);
out:
    for (int i = 0; i < A_COUNT; i++)
        buf_cleanup(&arr[i]);
    return rc;
}

static void p_range(params *p, int64_t account_id, int64_t credential_id, const char *from, const char *to)
{
    p_i64(p, account_id);
    p_i64(p, credential_id);
    p_text(p, from);
    p_text(p, to);
}

static void row_totals(const PGresult *r, int i, void *out)
{
    usage_totals *t = out;
    t->requests = col_i64(r, i, 0);
    t->overage = col_i64(r, i, 1);
    t->blocked = col_i64(r, i, 2);
}

static int pg_usage_sum(store *self, int64_t account_id, int64_t credential_id, const char *from, const char *to,
                        usage_totals *out, app_err *err)
{
    params p = {0};
    p_range(&p, account_id, credential_id, from, to);
    int rc = get_one((pg_store *)self, Q_USAGE_SUM, &p, row_totals, out, "sum usage", err);
    /* An aggregate always has its row. */
    return rc < 0 ? app_err_set(err, APP_STORE_UNAVAILABLE, "postgres sum usage returned no row") : rc;
}

static void row_usage(const PGresult *r, int i, void *out)
{
    usage_row *u = out;
    col_text(r, i, 0, u->date, sizeof u->date);
    u->credential_id = col_i64(r, i, 1);
    u->t.requests = col_i64(r, i, 2);
    u->t.overage = col_i64(r, i, 3);
    u->t.blocked = col_i64(r, i, 4);
}

static int pg_usage_rows(store *self, int64_t account_id, int64_t credential_id, const char *from, const char *to,
                         bool by_credential, usage_row *out, size_t cap, size_t *n, app_err *err)
{
    params p = {0};
    p_range(&p, account_id, credential_id, from, to);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, by_credential ? Q_USAGE_BY_CRED : Q_USAGE_BY_DATE, &p, row_usage, out, sizeof *out,
                cap, n, "list usage", err);
}

/* ---- exports ---- */

static void row_key_day(const PGresult *r, int i, void *out)
{
    usage_key_day *u = out;
    memset(u, 0, sizeof *u);
    col_text(r, i, 0, u->date, sizeof u->date);
    u->credential_id = col_i64(r, i, 1);
    col_text(r, i, 2, u->key_id, sizeof u->key_id);
    col_text(r, i, 3, u->label, sizeof u->label);
    u->t.requests = col_i64(r, i, 4);
    u->t.overage = col_i64(r, i, 5);
    u->t.blocked = col_i64(r, i, 6);
}

static int pg_usage_key_days(store *self, int64_t account_id, const char *from, const char *to,
                             const usage_key_day *after, usage_key_day *out, size_t cap, size_t *n, app_err *err)
{
    if (cap > STORE_PAGE_MAX)
        cap = STORE_PAGE_MAX;
    params p = {0};
    p_i64(&p, account_id);
    p_text(&p, from);
    p_text(&p, to);
    /* Every row sorts after ("", ""). */
    p_text(&p, after ? after->date : "");
    p_text(&p, after ? after->key_id : "");
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_USAGE_KEY_DAYS, &p, row_key_day, out, sizeof *out, cap, n,
                "list usage by key and day", err);
}

static void row_account_usage(const PGresult *r, int i, void *out)
{
    usage_account_row *u = out;
    memset(u, 0, sizeof *u);
    u->account_id = col_i64(r, i, 0);
    col_text(r, i, 1, u->account_name, sizeof u->account_name);
    plan p;
    contract c;
    /* PLAN_COLS_P: 15 columns from 2; CONTRACT_COLS_K: 18 from 17; then the key, its totals and the
     * account's status (now). */
    plan_at(r, i, 2, &p);
    contract_at(r, i, 17, &c);
    str_copy(u->plan_code, sizeof u->plan_code, p.code);
    u->limits = contract_effective_limits(&p, &c);
    u->credential_id = col_i64(r, i, 35);
    col_text(r, i, 36, u->key_id, sizeof u->key_id);
    col_text(r, i, 37, u->label, sizeof u->label);
    u->t.requests = col_i64(r, i, 38);
    u->t.overage = col_i64(r, i, 39);
    u->t.blocked = col_i64(r, i, 40);
    u->status = col_is(r, i, 41, "suspended") ? ACCOUNT_SUSPENDED : ACCOUNT_ACTIVE;
}

static int pg_usage_accounts_page(store *self, const char *from, const char *to, const usage_account_row *after,
                                  usage_account_row *out, size_t cap, size_t *n, app_err *err)
{
    if (cap > STORE_PAGE_MAX)
        cap = STORE_PAGE_MAX;
    params p = {0};
    p_text(&p, from);
    p_text(&p, to);
    /* Ids are positive: (-1, -1) precedes every row. */
    p_i64(&p, after ? after->account_id : -1);
    p_i64(&p, after ? after->credential_id : -1);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_USAGE_ACCOUNTS, &p, row_account_usage, out, sizeof *out, cap, n,
                "list usage by account", err);
}

static int pg_idem_get(store *self, int64_t account_id, const char *key, int64_t now_ms, idem_record *out, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = checkout(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    params p = {0};
    p_i64(&p, account_id);
    p_text(&p, key);
    p_i64(&p, now_ms);
    PGresult *r = NULL;
    int rc = run(s, c, Q_IDEM_GET, &p, &r, "get idempotent answer", err);
    checkin(s, c);
    if (rc == 0 && PQntuples(r) == 0)
        rc = app_err_set(err, APP_NOT_FOUND, "no stored answer");
    if (rc == 0) {
        memset(out, 0, sizeof *out);
        out->account_id = account_id;
        str_copy(out->key, sizeof out->key, key);
        col_fixed(r, 0, 0, out->fingerprint, sizeof out->fingerprint);
        out->status = (int)col_i64(r, 0, 1);
        size_t len = 0;
        unsigned char *body = col_bytea(r, 0, 2, &len);
        /* Ours to hand over with malloc ownership (store.h): copied out of libpq's buffer. */
        out->body_len = body ? len : 0;
        out->body = xmalloc(out->body_len + 1);
        if (out->body_len)
            memcpy(out->body, body, out->body_len);
        out->body[out->body_len] = '\0';
        PQfreemem(body);
        out->expires_at = col_i64(r, 0, 3);
    }
    PQclear(r);
    return rc;
}

/* ---- copying a store ---- */

static void row_usage_delta(const PGresult *r, int i, void *out)
{
    usage_delta *d = out;
    memset(d, 0, sizeof *d);
    d->account_id = col_i64(r, i, 0);
    d->credential_id = col_i64(r, i, 1);
    col_text(r, i, 2, d->date, sizeof d->date);
    d->requests = col_i64(r, i, 3);
    d->overage = col_i64(r, i, 4);
    d->blocked = col_i64(r, i, 5);
}

static int pg_usage_list(store *self, const usage_delta *after, usage_delta *out, size_t cap, size_t *n, app_err *err)
{
    params p = {0};
    /* Ids are positive and every date sorts after "": (-1, -1, "") precedes every row. */
    p_i64(&p, after ? after->account_id : -1);
    p_i64(&p, after ? after->credential_id : -1);
    p_text(&p, after ? after->date : "");
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_USAGE_LIST, &p, row_usage_delta, out, sizeof *out, cap, n, "list usage rows", err);
}

static void row_idem(const PGresult *r, int i, void *dst)
{
    idem_record *out = dst;
    memset(out, 0, sizeof *out);
    out->account_id = col_i64(r, i, 0);
    col_text(r, i, 1, out->key, sizeof out->key);
    col_fixed(r, i, 2, out->fingerprint, sizeof out->fingerprint);
    out->status = (int)col_i64(r, i, 3);
    size_t len = 0;
    unsigned char *body = col_bytea(r, i, 4, &len);
    out->body_len = body ? len : 0;
    out->body = xmalloc(out->body_len + 1);
    if (out->body_len)
        memcpy(out->body, body, out->body_len);
    out->body[out->body_len] = '\0';
    PQfreemem(body);
    out->expires_at = col_i64(r, i, 5);
}

static int pg_idem_list(store *self, int64_t now_ms, const idem_record *after, idem_record *out, size_t cap, size_t *n,
                        app_err *err)
{
    params p = {0};
    p_i64(&p, now_ms);
    p_i64(&p, after ? after->account_id : -1);
    p_text(&p, after ? after->key : "");
    p_i64(&p, (int64_t)cap);
    /* list fills rows only once the query succeeded: on failure nothing is allocated. */
    return list((pg_store *)self, Q_IDEM_LIST, &p, row_idem, out, sizeof *out, cap, n, "list idempotent answers", err);
}

/*
 * The batch in one transaction and one round trip (a pipeline, as usage batches): BEGIN, the
 * rows, the identity sequences moved past the largest ids, the change token, COMMIT. The audit
 * events go in as given, under the chain's advisory lock. A batch is a page of a copy (hundreds
 * of rows): the server's answers to a pipeline are read only after it is sent whole, and must fit
 * the sockets' buffers meanwhile.
 */
static int pg_import_rows(store *self, const store_import *b, app_err *err)
{
    pg_store *s = (pg_store *)self;
    buf arr[A_COUNT];
    pg_conn *c;
    int rc = usage_arrays_and_conn(s, arr, b->usage, b->nusage, &c, err);
    if (rc != 0)
        goto out;
    size_t rows = b->nplans + b->naccounts + b->ncontracts + b->ncredentials + b->nidem + b->naudits + b->nalerts +
                  b->nwebhooks + b->ndeliveries;
    pg_pipeline pp;
    if (!pipe_begin(&pp, s, c, 2 * (rows + 8))) {
        free(pp.items);
        rc = conn_fail(s, c->conn, "enter pipeline mode", err);
        checkin(s, c);
        goto out;
    }
    pipe_sql(&pp, "BEGIN", "begin");
    if (b->naudits > 0) {
        params p = {0};
        p_i64(&p, LOCK_AUDIT);
        pipe_run(&pp, Q_LOCK, &p, "take advisory lock");
    }
    for (size_t i = 0; i < b->nplans; i++) {
        const plan *pl = &b->plans[i];
        params p = {0};
        p_i64(&p, pl->id);
        p_text(&p, pl->code);
        p_text(&p, pl->name);
        p_plan_limits(&p, pl);
        p_i64(&p, pl->created_at);
        p_i64(&p, pl->updated_at);
        p_alerts(&p, &pl->limits.alerts);
        pipe_run(&pp, Q_PLAN_IMPORT, &p, "import plan");
    }
    for (size_t i = 0; i < b->naccounts; i++) {
        const account *a = &b->accounts[i];
        params p = {0};
        p_i64(&p, a->id);
        p_text(&p, a->name);
        p_text(&p, account_status_text(a->status));
        p_i64(&p, a->created_at);
        pipe_run(&pp, Q_ACCOUNT_IMPORT, &p, "import account");
    }
    for (size_t i = 0; i < b->ncontracts; i++) {
        params p = {0};
        p_contract(&p, &b->contracts[i]);
        pipe_run(&pp, Q_CONTRACT_PUT, &p, "import contract");
    }
    for (size_t i = 0; i < b->ncredentials; i++) {
        const credential *cr = &b->credentials[i];
        params p = {0};
        p_i64(&p, cr->id);
        p_i64(&p, cr->account_id);
        p_text(&p, cr->key_id);
        p_bytes(&p, cr->secret_hash, HASH_LEN);
        p_text(&p, cr->label);
        p_text(&p, cr->status == CREDENTIAL_REVOKED ? "revoked" : "active");
        p_i64(&p, cr->created_at);
        p_opt(&p, cr->expires_at);
        p_opt(&p, cr->revoked_at);
        p_opt(&p, cr->last_used_at);
        pipe_run(&pp, Q_CRED_IMPORT, &p, "import credential");
    }
    if (b->nusage > 0) {
        params p = {0};
        for (int i = 0; i < A_COUNT; i++)
            p_text(&p, arr[i].data);
        pipe_run(&pp, Q_USAGE_UPSERT, &p, "import usage");
    }
    for (size_t i = 0; i < b->nidem; i++) {
        params p = {0};
        p_idem(&p, &b->idem[i]);
        pipe_run(&pp, Q_IDEM_INSERT, &p, "import idempotent answer");
    }
    for (size_t i = 0; i < b->naudits; i++) {
        params p = {0};
        p_audit(&p, &b->audits[i]);
        pipe_run(&pp, Q_AUDIT_INSERT, &p, "import audit event");
    }
    for (size_t i = 0; i < b->nalerts; i++) {
        params p = {0};
        p_alert(&p, &b->alerts[i]);
        pipe_run(&pp, Q_ALERT_IMPORT, &p, "import usage alert");
    }
    for (size_t i = 0; i < b->nwebhooks; i++) {
        params p = {0};
        p_i64(&p, b->webhooks[i].id);
        p_webhook(&p, &b->webhooks[i]);
        pipe_run(&pp, Q_WEBHOOK_IMPORT, &p, "import webhook");
    }
    for (size_t i = 0; i < b->ndeliveries; i++) {
        const webhook_delivery *d = &b->deliveries[i];
        params p = {0};
        p_i64(&p, d->webhook_id);
        p_i64(&p, d->account_id);
        p_text(&p, d->msg_id);
        p_text(&p, d->event_type);
        p_i64(&p, d->attempts);
        p_i64(&p, d->attempts_before);
        p_i64(&p, d->next_attempt_at);
        p_i64(&p, d->scheduled_at);
        p_i64(&p, d->created_at);
        p_bytes(&p, d->body, d->body_len);
        pipe_run(&pp, Q_DELIVERY_IMPORT, &p, "import webhook delivery");
    }
    const params none = {0};
    pipe_run(&pp, Q_SEQ_RESTART, &none, "move id sequences");
    pipe_run(&pp, Q_TOKEN_BUMP, &none, "raise change token");
    /* After a failure the server skips to the Sync: COMMIT does not run, the block stays failed. */
    pipe_sql(&pp, "COMMIT", "commit");
    rc = pipe_end(&pp, err);
    if (c->conn != NULL && PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->conn, "ROLLBACK");
        PQclear(r);
        if (rc == 0)
            rc = app_err_set(err, APP_STORE_UNAVAILABLE, "postgres import did not commit");
    }
    checkin(s, c);
out:
    for (int i = 0; i < A_COUNT; i++)
        buf_cleanup(&arr[i]);
    return rc;
}

/* Runs one autocommit statement with parameters `p` on a pooled connection. */
static int exec_once(pg_store *s, enum stmt_id q, const params *p, const char *what, app_err *err)
{
    pg_conn *c = checkout(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    int rc = run(s, c, q, p, NULL, what, err);
    checkin(s, c);
    return rc;
}

static int pg_idem_purge(store *self, int64_t now_ms, app_err *err)
{
    params p = {0};
    p_i64(&p, now_ms);
    return exec_once((pg_store *)self, Q_IDEM_PURGE, &p, "purge idempotent answers", err);
}

static int pg_journal_mark(store *self, const char *segment, int64_t *offset, app_err *err)
{
    pg_store *s = (pg_store *)self;
    *offset = 0;
    pg_conn *c = checkout(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    params p = {0};
    p_text(&p, segment);
    PGresult *r = NULL;
    int rc = run(s, c, Q_MARK_GET, &p, &r, "read usage journal mark", err);
    checkin(s, c);
    if (rc == 0 && PQntuples(r) > 0)
        *offset = col_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

static int pg_journal_forget(store *self, const char *segment, app_err *err)
{
    params p = {0};
    p_text(&p, segment);
    return exec_once((pg_store *)self, Q_MARK_DELETE, &p, "forget usage journal mark", err);
}

/* ---- durability, sizes ---- */

/*
 * Makes every commit so far durable. A commit made with synchronous_commit=on waits until the WAL
 * is flushed up to its own commit record, and WAL is flushed in order, so it covers every commit
 * that completed before it, asynchronous ones included. A read-only transaction writes no commit
 * record and would not wait: txid_current() assigns a transaction id, which forces one.
 */
static int pg_sync(store *self, app_err *err)
{
    pg_store *s = (pg_store *)self;
    /* Nothing committed with durable=false since the last sync: no round trip. */
    if (!atomic_exchange(&s->unsynced, false))
        return 0;
    pg_conn *c = checkout(s, err);
    int rc = APP_STORE_UNAVAILABLE;
    if (c != NULL) {
        rc = exec_simple(s, c, "BEGIN; SET LOCAL synchronous_commit = on", "begin sync", err);
        if (rc == 0)
            rc = run(s, c, Q_TXID, NULL, NULL, "sync", err);
        if (rc == 0 || PQtransactionStatus(c->conn) != PQTRANS_IDLE)
            rc = tx_end(s, c, rc, err);
        checkin(s, c);
    }
    /* Not known to be flushed: the next sync tries again. */
    if (rc != 0)
        atomic_store(&s->unsynced, true);
    return rc;
}

/*
 * Unlike SQLite's, this queries the server (pg_database_size): the database is not a local file.
 * So that /metrics never waits for the store's other calls, it takes a connection only if one is
 * free, and otherwise answers the size it read last. PostgreSQL's WAL is the server's, shared by
 * every database: reported as 0.
 */
static int pg_stats(store *self, store_stats *out, app_err *err)
{
    pg_store *s = (pg_store *)self;
    out->wal_bytes = 0;
    out->db_bytes = atomic_load(&s->db_bytes);
    pg_conn *c = take_slot(s, false);
    if (c == NULL)
        return 0;
    int rc = make_ready(s, c, err);
    if (rc != 0)
        return rc;
    PGresult *r = NULL;
    rc = run(s, c, Q_DB_SIZE, NULL, &r, "database size", err);
    checkin(s, c);
    if (rc == 0 && PQntuples(r) > 0) {
        out->db_bytes = col_i64(r, 0, 0);
        atomic_store(&s->db_bytes, out->db_bytes);
    }
    PQclear(r);
    return rc;
}

static void pg_close(store *self)
{
    pg_store *s = (pg_store *)self;
    for (unsigned i = 0; i < s->nconns; i++)
        if (s->conns[i].conn != NULL)
            PQfinish(s->conns[i].conn);
    free(s->conns);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->conninfo);
    free(s->password);
    free(s);
}

/* ---- webhooks ---- */

static delivery_status delivery_status_of(const PGresult *r, int row, int col)
{
    return col_is(r, row, col, "delivered") ? DELIVERY_DELIVERED
           : col_is(r, row, col, "failed")  ? DELIVERY_FAILED
                                            : DELIVERY_PENDING;
}

static void row_webhook(const PGresult *r, int i, void *out)
{
    webhook *w = out;
    memset(w, 0, sizeof *w);
    w->id = col_i64(r, i, 0);
    w->account_id = col_i64(r, i, 1);
    col_text(r, i, 2, w->url, sizeof w->url);
    col_text(r, i, 3, w->events, sizeof w->events);
    col_text(r, i, 4, w->secret, sizeof w->secret);
    col_text(r, i, 5, w->prev_secret, sizeof w->prev_secret);
    w->prev_secret_expires_at = col_opt(r, i, 6);
    w->status = col_is(r, i, 7, "disabled") ? WEBHOOK_DISABLED : WEBHOOK_ACTIVE;
    w->created_at = col_i64(r, i, 8);
    w->updated_at = col_i64(r, i, 9);
}

/* The DELIVERY_COLS of a row, without its body. */
static void row_delivery(const PGresult *r, int i, void *out)
{
    webhook_delivery *d = out;
    memset(d, 0, sizeof *d);
    d->id = col_i64(r, i, 0);
    d->webhook_id = col_i64(r, i, 1);
    d->account_id = col_i64(r, i, 2);
    col_text(r, i, 3, d->msg_id, sizeof d->msg_id);
    col_text(r, i, 4, d->event_type, sizeof d->event_type);
    d->status = delivery_status_of(r, i, 5);
    d->attempts = col_i64(r, i, 6);
    d->next_attempt_at = col_i64(r, i, 7);
    d->scheduled_at = col_i64(r, i, 8);
    d->created_at = col_i64(r, i, 9);
}

/* A pending delivery with its body (malloc'd). */
static void row_delivery_body(const PGresult *r, int i, void *out)
{
    row_delivery(r, i, out);
    webhook_delivery *d = out;
    size_t len;
    unsigned char *body = col_bytea(r, i, 10, &len);
    d->body_len = body ? len : 0;
    d->body = xmalloc(d->body_len + 1);
    if (d->body_len)
        memcpy(d->body, body, d->body_len);
    d->body[d->body_len] = '\0';
    PQfreemem(body);
    d->attempts_before = col_i64(r, i, 11);
}

static int pg_webhook_list_all(store *self, int64_t after, webhook *out, size_t cap, size_t *n, app_err *err)
{
    params p = {0};
    p_i64(&p, after);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_WEBHOOK_LIST_ALL, &p, row_webhook, out, sizeof *out, cap, n, "list webhooks", err);
}

static int pg_delivery_pending_list(store *self, int64_t after, webhook_delivery *out, size_t cap, size_t *n,
                                    app_err *err)
{
    params p = {0};
    p_i64(&p, after);
    p_i64(&p, (int64_t)cap);
    int rc = list((pg_store *)self, Q_DELIVERY_PENDING_ALL, &p, row_delivery_body, out, sizeof *out, cap, n,
                  "list pending webhook deliveries", err);
    if (rc != 0) { /* nothing is owned on failure */
        for (size_t i = 0; i < *n; i++)
            free(out[i].body);
        *n = 0;
    }
    return rc;
}

static void row_attempt(const PGresult *r, int i, void *out)
{
    webhook_attempt *a = out;
    memset(a, 0, sizeof *a);
    a->id = col_i64(r, i, 0);
    a->delivery_id = col_i64(r, i, 1);
    a->at = col_i64(r, i, 2);
    a->http_status = (int)col_i64(r, i, 3);
    a->latency_ms = col_i64(r, i, 4);
    col_text(r, i, 5, a->error, sizeof a->error);
}

static int pg_webhook_create(store *self, webhook *io, audit_event *audit, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    params p = {0};
    p_webhook(&p, io);
    p_i64(&p, WEBHOOKS_PER_ACCOUNT_MAX);
    params lock = {0};
    p_i64(&lock, io->account_id);
    PGresult *r = NULL;
    int rc = run(s, c, Q_ACCOUNT_LOCK, &lock, NULL, "lock account", err);
    if (rc == 0)
        rc = run(s, c, Q_WEBHOOK_INSERT, &p, &r, "create webhook", err);
    if (rc == 0 && PQntuples(r) == 1)
        io->id = col_i64(r, 0, 0);
    else if (rc == 0)
        rc = app_err_field(err, "url", "account %lld has %d webhooks already, the most it may have",
                           (long long)io->account_id, WEBHOOKS_PER_ACCOUNT_MAX);
    PQclear(r);
    /* Webhooks are in no process's cache: the change token stays. */
    return write_end(s, c, rc, audit, false, err);
}

static int pg_webhook_get(store *self, int64_t id, webhook *out, app_err *err)
{
    params p = {0};
    p_i64(&p, id);
    int rc = get_one((pg_store *)self, Q_WEBHOOK_GET, &p, row_webhook, out, "get webhook", err);
    return rc < 0 ? app_err_set(err, APP_NOT_FOUND, "webhook %lld not found", (long long)id) : rc;
}

static int pg_webhook_list(store *self, int64_t account_id, int64_t after, webhook *out, size_t cap, size_t *n,
                           app_err *err)
{
    params p = {0};
    p_i64(&p, account_id);
    p_i64(&p, after);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_WEBHOOK_LIST, &p, row_webhook, out, sizeof *out, cap, n, "list webhooks", err);
}

/* Runs `q` with `p` in a write transaction with `audit`; not_found (`what`, id) when it changed no row. */
static int write_one_row(pg_store *s, enum stmt_id q, const params *p, audit_event *audit, const char *what, int64_t id,
                         app_err *err)
{
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    PGresult *r = NULL;
    int rc = run(s, c, q, p, &r, what, err);
    if (rc == 0 && changed_rows(r) == 0)
        rc = app_err_set(err, APP_NOT_FOUND, "webhook %lld not found", (long long)id);
    PQclear(r);
    return write_end(s, c, rc, audit, false, err);
}

static int pg_webhook_update(store *self, const webhook *w, audit_event *audit, app_err *err)
{
    params p = {0};
    p_text(&p, webhook_status_name(w->status));
    p_text(&p, w->secret);
    p_text(&p, w->prev_secret[0] ? w->prev_secret : NULL);
    p_opt(&p, w->prev_secret_expires_at);
    p_i64(&p, w->updated_at);
    p_i64(&p, w->id);
    return write_one_row((pg_store *)self, Q_WEBHOOK_UPDATE, &p, audit, "update webhook", w->id, err);
}

static int pg_webhook_delete(store *self, int64_t id, audit_event *audit, app_err *err)
{
    params p = {0};
    p_i64(&p, id);
    /* Its deliveries and their attempts go with it (ON DELETE CASCADE). */
    return write_one_row((pg_store *)self, Q_WEBHOOK_DELETE, &p, audit, "delete webhook", id, err);
}

/*
 * Writes the outbox rows of one event (see store_ops.webhook_enqueue) on connection `c`, inside a
 * transaction the caller opened there (BEGIN), and commits nothing. It is for writing the outbox in
 * the same transaction as a usage count: the threshold events call it from pg_usage_apply, so that
 * the count that crossed a threshold and the deliveries announcing it are committed, or rolled
 * back, together. Not in pipeline mode: it reads the number of rows inserted.
 */
static int pg_webhook_enqueue_tx(pg_store *s, pg_conn *c, int64_t account_id, const char *event_type,
                                 const char *msg_id, const char *body, int64_t now_ms, size_t *n_enqueued, app_err *err)
{
    *n_enqueued = 0;
    if (!webhook_msg_id_valid(msg_id))
        return app_err_field(err, "msg_id", "must be 1 to %d of letters, digits, '_', '-' and '.'", WEBHOOK_MSG_ID_MAX);
    size_t len = strlen(body);
    if (len > WEBHOOK_BODY_MAX)
        return app_err_set(err, APP_INTERNAL_ERROR, "webhook event body of %zu bytes is over %d", len,
                           WEBHOOK_BODY_MAX);
    params p = {0};
    p_i64(&p, account_id);
    p_text(&p, event_type);
    p_text(&p, msg_id);
    p_bytes(&p, body, len);
    p_i64(&p, now_ms);
    PGresult *r = NULL;
    int rc = run(s, c, Q_WEBHOOK_ENQUEUE, &p, &r, "enqueue webhook deliveries", err);
    if (rc == 0)
        *n_enqueued = (size_t)changed_rows(r);
    PQclear(r);
    return rc;
}

static int pg_webhook_enqueue(store *self, int64_t account_id, const char *event_type, const char *msg_id,
                              const char *body, int64_t now_ms, size_t *n_enqueued, app_err *err)
{
    pg_store *s = (pg_store *)self;
    *n_enqueued = 0;
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    int rc = pg_webhook_enqueue_tx(s, c, account_id, event_type, msg_id, body, now_ms, n_enqueued, err);
    rc = write_end(s, c, rc, NULL, false, err);
    if (rc != 0)
        *n_enqueued = 0;
    return rc;
}

static int pg_webhook_due(store *self, int64_t now_ms, int64_t lease_ms, webhook_due *out, size_t cap, size_t *n,
                          app_err *err)
{
    pg_store *s = (pg_store *)self;
    *n = 0;
    pg_conn *c = checkout(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    params p = {0};
    p_i64(&p, now_ms);
    p_i64(&p, now_ms + lease_ms);
    p_i64(&p, (int64_t)cap);
    PGresult *r = NULL;
    /* One statement, its own transaction: the rows are claimed as they are read. */
    int rc = run(s, c, Q_WEBHOOK_DUE, &p, &r, "claim due webhook deliveries", err);
    checkin(s, c);
    for (int i = 0; rc == 0 && i < PQntuples(r) && *n < cap; i++) {
        webhook_due *w = &out[(*n)++];
        row_delivery(r, i, &w->d);
        size_t len = 0;
        unsigned char *body = col_bytea(r, i, 10, &len);
        w->d.body_len = body ? len : 0;
        w->d.body = xmalloc(w->d.body_len + 1);
        if (w->d.body_len)
            memcpy(w->d.body, body, w->d.body_len);
        w->d.body[w->d.body_len] = '\0';
        PQfreemem(body);
        col_text(r, i, 11, w->url, sizeof w->url);
        col_text(r, i, 12, w->secret, sizeof w->secret);
        col_text(r, i, 13, w->prev_secret, sizeof w->prev_secret);
        w->prev_secret_expires_at = col_opt(r, i, 14);
        w->d.attempts_before = col_i64(r, i, 15);
    }
    PQclear(r);
    return rc;
}

static int pg_webhook_attempt_record(store *self, const webhook_attempt *a, delivery_status status,
                                     int64_t next_attempt_at, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = checkout(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    params p = {0};
    p_text(&p, delivery_status_name(status));
    p_i64(&p, next_attempt_at);
    p_i64(&p, a->delivery_id);
    p_i64(&p, a->at);
    p_i64(&p, a->http_status);
    p_i64(&p, a->latency_ms);
    p_text(&p, a->error);
    PGresult *r = NULL;
    /* One statement, the outcome and the attempt: one transaction. */
    int rc = run(s, c, Q_WEBHOOK_OUTCOME, &p, &r, "record webhook attempt", err);
    checkin(s, c);
    if (rc == 0 && changed_rows(r) == 0)
        rc = app_err_set(err, APP_NOT_FOUND, "webhook delivery %lld not found", (long long)a->delivery_id);
    PQclear(r);
    return rc;
}

static int pg_webhook_deliveries_list(store *self, int64_t webhook_id, int64_t before, webhook_delivery *out,
                                      size_t cap, size_t *n, app_err *err)
{
    params p = {0};
    p_i64(&p, webhook_id);
    p_i64(&p, before);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_DELIVERY_LIST, &p, row_delivery, out, sizeof *out, cap, n,
                "list webhook deliveries", err);
}

static int pg_webhook_attempts_list(store *self, int64_t delivery_id, int64_t after, webhook_attempt *out, size_t cap,
                                    size_t *n, app_err *err)
{
    params p = {0};
    p_i64(&p, delivery_id);
    p_i64(&p, after);
    p_i64(&p, (int64_t)cap);
    return list((pg_store *)self, Q_ATTEMPT_LIST, &p, row_attempt, out, sizeof *out, cap, n, "list webhook attempts",
                err);
}

static int pg_webhook_delivery_resend(store *self, int64_t webhook_id, int64_t delivery_id, int64_t now_ms,
                                      audit_event *audit, app_err *err)
{
    pg_store *s = (pg_store *)self;
    pg_conn *c = write_begin(s, err);
    if (c == NULL)
        return APP_STORE_UNAVAILABLE;
    params p = {0};
    p_i64(&p, now_ms);
    p_i64(&p, delivery_id);
    p_i64(&p, webhook_id);
    PGresult *r = NULL;
    int rc = run(s, c, Q_DELIVERY_RESEND, &p, &r, "resend webhook delivery", err);
    if (rc == 0 && PQntuples(r) == 0)
        rc = app_err_set(err, APP_NOT_FOUND, "webhook %lld has no delivery %lld", (long long)webhook_id,
                         (long long)delivery_id);
    else if (rc == 0 && col_i64(r, 0, 1) == 0)
        rc = app_err_field(err, "delivery_id", "delivery %lld is %s; only a failed delivery can be sent again",
                           (long long)delivery_id, PQgetvalue(r, 0, 0));
    PQclear(r);
    return write_end(s, c, rc, audit, false, err);
}

static const struct store_ops pg_ops = {
    .name = "postgres",
    .ping = pg_ping,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .close = pg_close,
    .account_create = pg_account_create,
    .account_get = pg_account_get,
    .account_list = pg_account_list,
    .account_set_status = pg_account_set_status,
    .plan_create = pg_plan_create,
    .plan_get = pg_plan_get,
    .plan_get_by_code = pg_plan_get_by_code,
    .plan_list = pg_plan_list,
    .plan_update = pg_plan_update,
    .contract_put = pg_contract_put,
    .contract_get = pg_contract_get,
    .contract_list = pg_contract_list,
    .credential_create = pg_credential_create,
    .credential_get = pg_credential_get,
    .credential_list = pg_credential_list,
    .credential_update = pg_credential_update,
    .credential_rotate = pg_credential_rotate,
    .credentials_touch = pg_credentials_touch,
    .audit_list = pg_audit_list,
    .change_token = pg_change_token,
    .usage_apply = pg_usage_apply,
    .usage_sum = pg_usage_sum,
    .alert_list = pg_alert_list,
    .alert_list_all = pg_alert_list_all,
    .webhook_list_all = pg_webhook_list_all,
    .delivery_pending_list = pg_delivery_pending_list,
    .usage_rows = pg_usage_rows,
    .idem_get = pg_idem_get,
    .idem_purge = pg_idem_purge,
    .usage_list = pg_usage_list,
    .usage_key_days = pg_usage_key_days,
    .usage_accounts_page = pg_usage_accounts_page,
    .idem_list = pg_idem_list,
    .import_rows = pg_import_rows,
    .sync = pg_sync,
    .stats = pg_stats,
    .journal_mark = pg_journal_mark,
    .journal_forget = pg_journal_forget,
    .webhook_create = pg_webhook_create,
    .webhook_get = pg_webhook_get,
    .webhook_list = pg_webhook_list,
    .webhook_update = pg_webhook_update,
    .webhook_delete = pg_webhook_delete,
    .webhook_enqueue = pg_webhook_enqueue,
    .webhook_due = pg_webhook_due,
    .webhook_attempt_record = pg_webhook_attempt_record,
    .webhook_deliveries_list = pg_webhook_deliveries_list,
    .webhook_attempts_list = pg_webhook_attempts_list,
    .webhook_delivery_resend = pg_webhook_delivery_resend,
};

store *store_pg_open(const char *conninfo, unsigned connections, app_err *err)
{
    /*
     * Parsed first, to keep its password for redaction and because libpq's own parse errors quote
     * the offending text, which may be the password: the message here never repeats it.
     */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &perr);
    if (opts == NULL) {
        PQfreemem(perr);
        app_err_set(err, APP_STORE_UNAVAILABLE, "the PostgreSQL connection string is not valid");
        return NULL;
    }
    pg_store *s = xcalloc(1, sizeof *s);
    s->super.ops = &pg_ops;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
            s->password = xstrdup(o->val);
    PQconninfoFree(opts);
    s->conninfo = xstrdup(conninfo);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_init(&s->unsynced, false);
    atomic_init(&s->db_bytes, 0);
    s->nconns = connections ? connections : DEFAULT_CONNECTIONS;
    s->conns = xcalloc(s->nconns, sizeof s->conns[0]);
    /* One connection now, so that an unreachable server fails here; the others on first use. */
    s->conns[0].conn = connect_one(s);
    if (s->conns[0].conn == NULL || PQstatus(s->conns[0].conn) != CONNECTION_OK) {
        conn_fail(s, s->conns[0].conn, "connect", err);
        pg_close(&s->super);
        return NULL;
    }
    return &s->super;
}
