/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_APP_STORE_COPY_H
#define STARMETER_APP_STORE_COPY_H

#include <stdint.h>

#include "core/err.h"
#include "infra/store.h"

/* What store_copy copied, row by row. */
typedef struct store_copy_counts {
    int64_t plans, accounts, contracts, credentials, usage_rows, idem_records, audit_events, usage_alerts, webhooks,
        webhook_deliveries;
} store_copy_counts;

/*
 * Copies every row of `from` into `to` (both borrowed, both migrated by the caller) with its id:
 * plans, accounts, contracts, credentials (secret hashes as they are), usage rows, the
 * idempotency answers unexpired at now_ms, the audit chain with its seq and hashes, so that
 * the copy verifies, the usage alerts raised (so that none is raised twice), and the webhook
 * endpoints with their secrets and their pending deliveries (delivered and failed ones, and the
 * attempts, are history the copy leaves behind). Usage journal marks are not copied:
 * they belong to the source's processes. Refuses a target that holds any account, plan or audit event
 * (validation_error, nothing written). Works in pages, each one transaction of the target (store_import_rows), so
 * memory does not grow with the database; a failure part way leaves the pages copied so far in the target (empty it
 * before trying again). The source must not change meanwhile: its server stopped. *counts (may be NULL) receives what
 * was copied, also on failure.
 */
int store_copy(store *from, store *to, int64_t now_ms, store_copy_counts *counts, app_err *err);

/*
 * Answers validation_error, naming the first one, when the usage journal directory `dir` holds
 * segment files: counts served but not yet folded into the database, which a copy would miss. A
 * missing directory is an empty journal.
 */
int store_copy_check_journal(const char *dir, app_err *err);

#endif
