/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "infra/metrics.h"

static const char *const labels[] = {"method=\"GET\",route=\"/a\"", "method=\"POST\",route=\"/b\""};

Test(metrics, counts_statuses_and_cumulative_buckets)
{
    metrics *m = metrics_new(labels, 2);
    metrics_observe_request(m, 0, 200, 50000);       /* 50 µs */
    metrics_observe_request(m, 0, 200, 3000000);     /* 3 ms */
    metrics_observe_request(m, 0, 418, 20000000000); /* 20 s, odd status */
    metrics_observe_request(m, 99, 404, 1000);       /* out of range: unmatched */
    metrics_count_error(m, APP_NOT_FOUND);
    buf b;
    buf_init(&b, 1 << 20);
    metrics_render(m, &b);
    cr_assert(!buf_failed(&b));
    cr_assert(strstr(b.data, "http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 2\n"));
    cr_assert(strstr(b.data, "http_requests_total{method=\"GET\",route=\"/a\",status=\"other\"} 1\n"));
    cr_assert(strstr(b.data, "http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"));
    cr_assert(strstr(b.data, "http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"0.0001\"} 1\n"));
    cr_assert(strstr(b.data, "http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"0.005\"} 2\n"));
    cr_assert(strstr(b.data, "http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"10\"} 2\n"));
    cr_assert(strstr(b.data, "http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"+Inf\"} 3\n"));
    cr_assert(strstr(b.data, "http_request_duration_seconds_count{method=\"GET\",route=\"/a\"} 3\n"));
    cr_assert(strstr(b.data, "b2b_api_errors_total{code=\"not_found\"} 1\n"));
    cr_assert(strstr(b.data, "b2b_api_errors_total{code=\"rate_limited\"} 0\n"), "every code is exported");
    buf_cleanup(&b);
    metrics_free(m);
}

static metrics *shared;
static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++)
        metrics_observe_request(shared, 1, 201, 1000);
    return NULL;
}

Test(metrics, concurrent_increments_are_not_lost)
{
    shared = metrics_new(labels, 2);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    buf b;
    buf_init(&b, 1 << 20);
    metrics_render(shared, &b);
    cr_assert(strstr(b.data, "http_requests_total{method=\"POST\",route=\"/b\",status=\"201\"} 400000\n"));
    buf_cleanup(&b);
    metrics_free(shared);
}

Test(metrics, a_gauge_is_set_both_ways_and_typed_gauge)
{
    metrics *m = metrics_new(labels, 2);
    int id = metrics_gauge_register(m, "test_gauge", "A test gauge.");
    metrics_gauge_set(m, id, 42);
    metrics_gauge_set(m, id, 7);
    buf b;
    buf_init(&b, 1 << 20);
    metrics_render(m, &b);
    cr_assert(strstr(b.data, "# TYPE test_gauge gauge\ntest_gauge 7\n"), "%s", b.data);
    buf_cleanup(&b);
    metrics_free(m);
}
