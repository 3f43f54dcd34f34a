/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_REPORT_H
#define STARMETER_SERVICES_REPORT_H

/*
 * Usage reports, computed from enterprise_daily_usages only (the source of truth): the account's
 * day is the sum of its credentials' days, the month the sum of its days, cumulative the sum of
 * all days since the contract started. The same documents answer the B2B and the admin routes.
 */
#include <jansson.h>

#include "core/err.h"
#include "domain/period.h"
#include "services/services.h"
#include "services/metering.h"

#define HISTORY_MAX_DAYS 366

int report_summary(services *s, metering *m, int64_t account_id, int64_t now_ms, json_t **out, app_err *err);

/* A range of days resolved for an account, as history reads it. */
typedef struct report_range {
    local_date first, last;
    char from[11], to[11]; /* YYYY-MM-DD of first and last */
    char timezone[TIMEZONE_MAX_LEN + 1];
} report_range;

/*
 * Resolves `from` and `to` (YYYY-MM-DD, inclusive, or NULL) for the account as history and the
 * export read them: `to` defaults to today and `from` to 29 days before `to`, today being the
 * contract's local date. Errors: not_found (account or contract), validation_error naming "from"
 * or "to" (not a date, from after to, more than HISTORY_MAX_DAYS days). Settles the metering
 * first, so that rows read after it hold every call answered so far.
 */
int report_range_resolve(services *s, metering *m, int64_t account_id, const char *from, const char *to, int64_t now_ms,
                         report_range *out, app_err *err);

/*
 * One row per day from `from` to `to` (YYYY-MM-DD, inclusive; NULL: the last 30 days), zeros for
 * days without calls; `key_id` (or NULL) restricts to one credential, which must belong to the
 * account (forbidden otherwise).
 */
int report_history(services *s, metering *m, int64_t account_id, const char *from, const char *to, const char *key_id,
                   int64_t now_ms, json_t **out, app_err *err);

/*
 * The account's usage alerts of the current and the previous day and month (in the contract's
 * zone), newest first, with the contract's thresholds: {"thresholds": [...], "alerts": [...]}.
 */
int report_alerts(services *s, metering *m, int64_t account_id, int64_t now_ms, json_t **out, app_err *err);

#endif
