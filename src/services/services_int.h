/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_SERVICES_INT_H
#define STARMETER_SERVICES_SERVICES_INT_H

/* What only the services' own files share: one way to audit and to page, defined in admin.c. */
#include <jansson.h>

#include "services/services.h"

/* Fills an audit event of `who` at the clock's time; `details` (a JSON object, or NULL) is stolen. */
void services__audit_init(audit_event *ev, services *s, const actor *who, const char *action, const char *target,
                          opt_i64 account_id, json_t *details);
/* Reads a page request: *after from the cursor (0: none), *limit (default LIST_LIMIT_DEFAULT). */
int services__page_start(const page_req *page, int64_t *after, size_t *limit, app_err *err);
/* {"items": items, "next_cursor": "<last_id>" when the page is full, else null}; steals items. */
json_t *services__page_json(json_t *items, size_t limit, int64_t last_id);
/* A JSON time or null. */
json_t *services__json_opt_time(opt_i64 v);

#endif
