/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_API_METERED_H
#define STARMETER_API_METERED_H

/*
 * A metered route as HTTP: reads the Idempotency-Key header, hands the call to the metering
 * service (services/metering.h, where its whole life is), renders the answer through http's
 * envelope builder with meta.usage, and answers with the quota headers or the error envelope.
 * Handlers validate their input first: a refusal there is not usage.
 */
#include "api/api.h"

/*
 * Produces the `data` of the answer as JSON bytes (static, cached or in the arena) and optional
 * extra `meta` members (without braces), once the call is reserved. 0, or an error code with
 * *why a static sentence for the log (the call is then refunded).
 */
typedef int (*metered_handle_fn)(http_ctx *ctx, void *state, slice *data, slice *meta_members, const char **why);

/*
 * Runs a metered call; `state` (in the request arena) is handed to `handle`. The caller's rate
 * limits are taken with the quota, in one step, unless `admitted` (the handler took them already
 * with api_admit, before work of its own). A call with an Idempotency-Key takes them first too,
 * so that replays and conflicts are rate limited like any call.
 */
void api_metered(http_ctx *ctx, metered_handle_fn handle, void *state, bool admitted);

#endif
