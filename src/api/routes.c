/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "api/api.h"

#define BODY_SMALL 16384

/* Every route that exists; docs/openapi.yaml describes each one. */
const http_route api_routes[] = {
    {"GET", "/healthz", api_ops_healthz, 0, HTTP_AUTH_NONE},
    {"GET", "/readyz", api_ops_readyz, 0, HTTP_AUTH_NONE},
    {"GET", "/metrics", api_ops_metrics, 0, HTTP_AUTH_NONE},
    {"GET", "/openapi.yaml", api_ops_openapi, 0, HTTP_AUTH_NONE},

    {"GET", "/v1/b2b/astrology/weekly-by-sign", api_b2b_astrology_weekly, 0, HTTP_AUTH_API_KEY},
    {"GET", "/v1/b2b/me", api_b2b_me, 0, HTTP_AUTH_API_KEY},
    {"GET", "/v1/b2b/usage/summary", api_b2b_usage_summary, 0, HTTP_AUTH_API_KEY},
    {"GET", "/v1/b2b/usage/history", api_b2b_usage_history, 0, HTTP_AUTH_API_KEY},
    {"GET", "/v1/b2b/usage/alerts", api_b2b_usage_alerts, 0, HTTP_AUTH_API_KEY},
    {"GET", "/v1/b2b/usage/export", api_b2b_usage_export, 0, HTTP_AUTH_API_KEY},

    {"POST", "/v1/admin/accounts", api_admin_accounts_create, BODY_SMALL, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/accounts", api_admin_accounts_list, 0, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/accounts/{id}", api_admin_accounts_get, 0, HTTP_AUTH_ADMIN},
    {"PATCH", "/v1/admin/accounts/{id}", api_admin_accounts_patch, BODY_SMALL, HTTP_AUTH_ADMIN},
    {"PUT", "/v1/admin/accounts/{id}/contract", api_admin_contract_put, BODY_SMALL, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/accounts/{id}/contract", api_admin_contract_get, 0, HTTP_AUTH_ADMIN},
    {"POST", "/v1/admin/accounts/{id}/credentials", api_admin_credentials_issue, BODY_SMALL, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/accounts/{id}/credentials", api_admin_credentials_list, 0, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/accounts/{id}/usage", api_admin_usage_summary, 0, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/accounts/{id}/usage/history", api_admin_usage_history, 0, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/accounts/{id}/usage/alerts", api_admin_usage_alerts, 0, HTTP_AUTH_ADMIN},
    {"POST", "/v1/admin/accounts/{id}/webhooks", api_admin_webhooks_create, BODY_SMALL, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/accounts/{id}/webhooks", api_admin_webhooks_list, 0, HTTP_AUTH_ADMIN},
    {"POST", "/v1/admin/credentials/{key_id}/rotate", api_admin_credentials_rotate, BODY_SMALL, HTTP_AUTH_ADMIN},
    {"DELETE", "/v1/admin/credentials/{key_id}", api_admin_credentials_revoke, 0, HTTP_AUTH_ADMIN},
    {"POST", "/v1/admin/plans", api_admin_plans_create, BODY_SMALL, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/plans", api_admin_plans_list, 0, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/plans/{code}", api_admin_plans_get, 0, HTTP_AUTH_ADMIN},
    {"PATCH", "/v1/admin/plans/{code}", api_admin_plans_patch, BODY_SMALL, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/usage/export", api_admin_usage_export, 0, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/audit", api_admin_audit_list, 0, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/audit/verify", api_admin_audit_verify, 0, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/webhooks/{id}", api_admin_webhooks_get, 0, HTTP_AUTH_ADMIN},
    {"PATCH", "/v1/admin/webhooks/{id}", api_admin_webhooks_patch, BODY_SMALL, HTTP_AUTH_ADMIN},
    {"DELETE", "/v1/admin/webhooks/{id}", api_admin_webhooks_delete, 0, HTTP_AUTH_ADMIN},
    {"POST", "/v1/admin/webhooks/{id}/rotate-secret", api_admin_webhooks_rotate, BODY_SMALL, HTTP_AUTH_ADMIN},
    {"GET", "/v1/admin/webhooks/{id}/deliveries", api_admin_webhooks_deliveries, 0, HTTP_AUTH_ADMIN},
    {"POST", "/v1/admin/webhooks/{id}/deliveries/{delivery_id}/resend", api_admin_webhooks_resend, BODY_SMALL,
     HTTP_AUTH_ADMIN},
};
const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
