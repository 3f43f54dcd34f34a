/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "api/api.h"

/* Every route that exists; docs/openapi.yaml describes each one. */
const http_route api_routes[] = {
    {"GET", "/healthz", api_ops_healthz, 0},
    {"GET", "/readyz", api_ops_readyz, 0},
    {"GET", "/metrics", api_ops_metrics, 0},
    {"GET", "/openapi.yaml", api_ops_openapi, 0},
};
const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
