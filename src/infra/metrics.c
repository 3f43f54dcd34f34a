/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "infra/metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/mem.h"

static const int statuses[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 422, 429, 431, 500, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0] + 1) /* last slot: any other status */

static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NBUCKET (sizeof bounds / sizeof bounds[0])

typedef struct route_stats {
    atomic_uint_fast64_t by_status[NSTATUS];
    atomic_uint_fast64_t buckets[NBUCKET]; /* non-cumulative; summed when rendered */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_ns;
} route_stats;

#define MAX_FAMILIES 16
#define MAX_FAMILY_VALUES 200

typedef struct family {
    const char *name, *help, *label;
    const char *const *values; /* NULL: a gauge without labels, its value in counts[0] */
    size_t nvalues;
    bool gauge;
    bool sparse; /* only the values counted at least once are rendered */
    atomic_uint_fast64_t counts[MAX_FAMILY_VALUES];
} family;

struct metrics {
    family families[MAX_FAMILIES];
    int nfamilies;
    const char *const *route_labels;
    size_t nroutes;
    route_stats *routes; /* nroutes + 1 */
    atomic_uint_fast64_t errors[APP_CODE_COUNT];
};

metrics *metrics_new(const char *const *route_labels, size_t nroutes)
{
    metrics *m = xcalloc(1, sizeof *m);
    m->route_labels = route_labels;
    m->nroutes = nroutes;
    m->routes = xcalloc(nroutes + 1, sizeof *m->routes);
    return m;
}

void metrics_free(metrics *m)
{
    if (m == NULL)
        return;
    free(m->routes);
    free(m);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return NSTATUS - 1;
}

void metrics_observe_request(metrics *m, size_t route, int status, uint64_t duration_ns)
{
    if (route > m->nroutes)
        route = m->nroutes;
    route_stats *r = &m->routes[route];
    atomic_fetch_add_explicit(&r->by_status[status_slot(status)], 1, memory_order_relaxed);
    double secs = (double)duration_ns / 1e9;
    for (size_t i = 0; i < NBUCKET; i++) {
        if (secs <= bounds[i]) {
            atomic_fetch_add_explicit(&r->buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sum_ns, duration_ns, memory_order_relaxed);
}

void metrics_count_error(metrics *m, app_code code)
{
    if (code < APP_CODE_COUNT)
        atomic_fetch_add_explicit(&m->errors[code], 1, memory_order_relaxed);
}

int metrics_family_register(metrics *m, const char *name, const char *help, const char *label,
                            const char *const *values, size_t nvalues)
{
    if (m->nfamilies >= MAX_FAMILIES || nvalues > MAX_FAMILY_VALUES)
        abort(); /* a programming error, caught by the first test run */
    family *f = &m->families[m->nfamilies];
    f->name = name;
    f->help = help;
    f->label = label;
    f->values = values;
    f->nvalues = nvalues;
    return m->nfamilies++;
}

int metrics_family_register_sparse(metrics *m, const char *name, const char *help, const char *const *values,
                                   size_t nvalues)
{
    int id = metrics_family_register(m, name, help, NULL, values, nvalues);
    m->families[id].sparse = true;
    return id;
}

int metrics_gauge_register(metrics *m, const char *name, const char *help)
{
    int id = metrics_family_register(m, name, help, NULL, NULL, 1);
    m->families[id].gauge = true;
    return id;
}

void metrics_gauge_set(metrics *m, int id, uint64_t v)
{
    if (id < 0 || id >= m->nfamilies || !m->families[id].gauge)
        return;
    atomic_store_explicit(&m->families[id].counts[0], v, memory_order_relaxed);
}

void metrics_family_add(metrics *m, int id, size_t value, uint64_t n)
{
    if (id < 0 || id >= m->nfamilies || value >= m->families[id].nvalues)
        return;
    atomic_fetch_add_explicit(&m->families[id].counts[value], n, memory_order_relaxed);
}

static uint64_t load(atomic_uint_fast64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static const char *route_labels(const metrics *m, size_t i)
{
    return i < m->nroutes ? m->route_labels[i] : "route=\"unmatched\"";
}

void metrics_render(metrics *m, buf *out)
{
    buf_appends(out, "# HELP http_requests_total HTTP requests answered, by route template and status.\n"
                     "# TYPE http_requests_total counter\n");
    for (size_t r = 0; r <= m->nroutes; r++) {
        for (size_t s = 0; s < NSTATUS; s++) {
            uint64_t v = load(&m->routes[r].by_status[s]);
            if (v == 0)
                continue;
            if (s < NSTATUS - 1)
                buf_appendf(out, "http_requests_total{%s,status=\"%d\"} %llu\n", route_labels(m, r), statuses[s],
                            (unsigned long long)v);
            else
                buf_appendf(out, "http_requests_total{%s,status=\"other\"} %llu\n", route_labels(m, r),
                            (unsigned long long)v);
        }
    }
    buf_appends(out, "# HELP http_request_duration_seconds Time from request parsed to response handed to "
                     "the socket, by route template.\n"
                     "# TYPE http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= m->nroutes; r++) {
        route_stats *rs = &m->routes[r];
        uint64_t count = load(&rs->count);
        if (count == 0 && r == m->nroutes)
            continue;
        uint64_t cumulative = 0;
        for (size_t b = 0; b < NBUCKET; b++) {
            cumulative += load(&rs->buckets[b]);
            buf_appendf(out, "http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", route_labels(m, r), bounds[b],
                        (unsigned long long)cumulative);
        }
        buf_appendf(out, "http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", route_labels(m, r),
                    (unsigned long long)count);
        buf_appendf(out, "http_request_duration_seconds_sum{%s} %.9f\n", route_labels(m, r),
                    (double)load(&rs->sum_ns) / 1e9);
        buf_appendf(out, "http_request_duration_seconds_count{%s} %llu\n", route_labels(m, r),
                    (unsigned long long)count);
    }
    buf_appends(out, "# HELP b2b_api_errors_total Error responses, by code of the error table.\n"
                     "# TYPE b2b_api_errors_total counter\n");
    for (int c = 1; c < APP_CODE_COUNT; c++)
        buf_appendf(out, "b2b_api_errors_total{code=\"%s\"} %llu\n", app_code_name((app_code)c),
                    (unsigned long long)load(&m->errors[c]));
    for (int i = 0; i < m->nfamilies; i++) {
        family *f = &m->families[i];
        buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->gauge ? "gauge" : "counter");
        for (size_t v = 0; v < f->nvalues; v++)
            if (f->sparse && load(&f->counts[v]) == 0)
                continue;
            else if (f->values == NULL)
                buf_appendf(out, "%s %llu\n", f->name, (unsigned long long)load(&f->counts[v]));
            else if (f->label != NULL)
                buf_appendf(out, "%s{%s=\"%s\"} %llu\n", f->name, f->label, f->values[v],
                            (unsigned long long)load(&f->counts[v]));
            else /* the values are whole label sets */
                buf_appendf(out, "%s{%s} %llu\n", f->name, f->values[v], (unsigned long long)load(&f->counts[v]));
    }
}
