/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_API_METERED_H
#define STARMETER_API_METERED_H

/*
 * The life of a metered call, after authentication and rate limits: validate the input (a
 * refusal here is not usage), replay a stored answer for a known Idempotency-Key, reserve the
 * call against the contract, produce the answer, commit the count (group commit) and only then
 * answer. A reserved call that is not answered 2xx is refunded.
 */
#include "api/api.h"

typedef struct metered_call metered_call;

/* Checks the request; 0 or an error (validation_error...). Runs on the event loop. */
typedef int (*metered_validate_fn)(http_ctx *ctx, void *state, app_err *err);
/*
 * Produces the `data` of the answer as JSON bytes (static, cached or in the arena) and optional
 * extra `meta` members (without braces, or NULL); 0 or an error (the call is then refunded).
 */
typedef int (*metered_handle_fn)(http_ctx *ctx, void *state, slice *data, slice *meta_members, app_err *err);

/* Runs a metered call; `state` (in the request arena) is handed to both callbacks. */
void api_metered(http_ctx *ctx, metered_validate_fn validate, metered_handle_fn handle, void *state);

#endif
