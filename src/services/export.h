/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_EXPORT_H
#define STARMETER_SERVICES_EXPORT_H

/*
 * Usage exports, read page by page from enterprise_daily_usages (the rows the summary and the
 * history sum, so their figures cannot disagree) and written as CSV (RFC 4180) or NDJSON, one
 * page per chunk: memory stays one page and one chunk whatever the range.
 *
 * An export is opened (the range or month checked, the rows not read yet), then asked for its
 * chunks until the last, then freed. Every call may wait on the store: not on an event loop.
 */
#include <stdbool.h>

#include "core/buf.h"
#include "core/err.h"
#include "services/metering.h"
#include "services/services.h"

typedef enum export_format { EXPORT_CSV = 0, EXPORT_NDJSON = 1 } export_format;

/* Rows read from the store per chunk. */
#define EXPORT_PAGE_ROWS 256

/* "csv" or "ndjson"; NULL (the parameter is absent) is csv. Otherwise validation_error on "format". */
int export_format_parse(const char *s, export_format *out, app_err *err);

typedef struct export_job export_job;

/*
 * The account's export from `from` to `to` (YYYY-MM-DD or NULL), resolved and checked exactly as
 * the history does (report_range_resolve: same defaults, same 404 and 422s). One line per day and
 * credential that has a row: date, key_id, label, requests, overage, blocked. On success *out is
 * the caller's, to free with export_free.
 */
int export_account_open(services *s, metering *m, int64_t account_id, const char *from, const char *to,
                        export_format format, int64_t now_ms, export_job **out, app_err *err);

/*
 * The invoicing export of `month` (YYYY-MM, required; validation_error on "month" otherwise):
 * every account with a contract, per credential with usage in the month (once with zeros when it
 * has none), with plan code, mode, daily and monthly limits and the month's totals. *out as above.
 */
int export_month_open(services *s, metering *m, const char *month, export_format format, export_job **out,
                      app_err *err);

/* The file name to offer: starmeter-usage-<from>-<to>.<ext> or starmeter-usage-<month>.<ext>. */
const char *export_filename(const export_job *j);

/*
 * Appends the next chunk to `out`: the header row first (CSV), then one page of rows; sets *last
 * with the last chunk. Errors are the store's (store_unavailable) or internal_error.
 */
int export_next(export_job *j, buf *out, bool *last, app_err *err);

/* Frees the export; NULL does nothing. */
void export_free(export_job *j);

#endif
