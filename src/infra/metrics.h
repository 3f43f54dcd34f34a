/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_METRICS_H
#define STARMETER_INFRA_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/*
 * Prometheus metrics with bounded labels only: routes come from the route table, statuses from a
 * fixed list, error codes from the error table. Never an id or a key in a label. Updates are
 * relaxed atomic increments, safe from any thread; rendering reads a consistent-enough snapshot.
 */
typedef struct metrics metrics;

/*
 * `route_labels` (borrowed, must outlive the metrics) holds, for routes 0..nroutes-1, the label pairs
 * that name each one, e.g. `method="GET",route="/healthz"`; route index `nroutes` is reported as
 * route="unmatched". The caller owns the result (metrics_free).
 */
metrics *metrics_new(const char *const *route_labels, size_t nroutes);
void metrics_free(metrics *m);

/* One answered HTTP request. */
void metrics_observe_request(metrics *m, size_t route, int status, uint64_t duration_ns);
/* One error response, by its code from the error table. */
void metrics_count_error(metrics *m, app_code code);

/*
 * A counter family with one label over a fixed set of values (all borrowed, static): e.g.
 * b2b_rate_limited_total{scope="account"}. With `label` NULL, each value is a whole label set
 * (`period="daily",mode="block"`). Register at start-up, before any increment; returns the id.
 */
int metrics_family_register(metrics *m, const char *name, const char *help, const char *label,
                            const char *const *values, size_t nvalues);
/*
 * The same with whole label sets for values, of which only those counted at least once are
 * rendered: for a family over many possible values of which few are ever used (up to 200).
 */
int metrics_family_register_sparse(metrics *m, const char *name, const char *help, const char *const *values,
                                   size_t nvalues);
/* Adds `n` to the counter of value index `value` of family `id`. */
void metrics_family_add(metrics *m, int id, size_t value, uint64_t n);

/* A gauge without labels (e.g. b2b_counter_drift): registered like a family; returns its id. */
int metrics_gauge_register(metrics *m, const char *name, const char *help);
/* Sets the gauge `id` to `v`. */
void metrics_gauge_set(metrics *m, int id, uint64_t v);

/* Appends the text exposition format (version 0.0.4) to `out`. */
void metrics_render(metrics *m, buf *out);

#endif
