/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_ERR_H
#define STARMETER_CORE_ERR_H

#include <stddef.h>

/*
 * The error table: every failure in starmeter ends as one of these codes. One X-macro generates
 * the enum, the HTTP status and the wire code, so the three cannot drift apart.
 * X(enum suffix, HTTP status, wire code, default message)
 */
#define APP_ERR_MAP(X)                                                                                                 \
    X(OK, 200, "ok", "OK")                                                                                             \
    X(MISSING_API_KEY, 401, "missing_api_key", "An X-API-Key header is required.")                                     \
    X(INVALID_API_KEY, 401, "invalid_api_key", "The API key is unknown or malformed.")                                 \
    X(REVOKED_API_KEY, 401, "revoked_api_key", "The API key has been revoked.")                                        \
    X(EXPIRED_API_KEY, 401, "expired_api_key", "The API key has expired.")                                             \
    X(ADMIN_AUTH_REQUIRED, 401, "admin_auth_required", "A valid admin bearer token is required.")                      \
    X(ACCOUNT_SUSPENDED, 403, "account_suspended", "The account is suspended.")                                        \
    X(FORBIDDEN, 403, "forbidden", "This key cannot access that resource.")                                            \
    X(NOT_FOUND, 404, "not_found", "No such resource.")                                                                \
    X(METHOD_NOT_ALLOWED, 405, "method_not_allowed", "This method is not allowed on this resource.")                   \
    X(IDEMPOTENCY_CONFLICT, 409, "idempotency_conflict",                                                               \
      "This Idempotency-Key was already used for a different request.")                                                \
    X(PAYLOAD_TOO_LARGE, 413, "payload_too_large", "The request body is too large.")                                   \
    X(VALIDATION_ERROR, 422, "validation_error", "The request is not valid.")                                          \
    X(RATE_LIMITED, 429, "rate_limited", "Too many requests; retry later.")                                            \
    X(B2B_QUOTA_EXCEEDED, 429, "b2b_quota_exceeded", "The contractual limit for this period is reached.")              \
    X(HEADERS_TOO_LARGE, 431, "request_header_fields_too_large", "The request headers are too large.")                 \
    X(BAD_REQUEST, 400, "bad_request", "The request is malformed.")                                                    \
    X(STORE_UNAVAILABLE, 503, "store_unavailable", "The store cannot be reached; retry later.")                        \
    X(COUNTERS_UNAVAILABLE, 503, "counters_unavailable", "The usage counters cannot be reached; retry later.")         \
    X(INTERNAL_ERROR, 500, "internal_error", "An internal error occurred.")

typedef enum app_code {
#define APP_ERR_ENUM(name, status, code, msg) APP_##name,
    APP_ERR_MAP(APP_ERR_ENUM)
#undef APP_ERR_ENUM
        APP_CODE_COUNT
} app_code;

#define APP_ERR_MAX_FIELDS 16
#define APP_ERR_MAX_DETAILS 8

typedef enum app_detail_kind { APP_DETAIL_STR, APP_DETAIL_INT } app_detail_kind;

/*
 * An error on its way to the caller. Fixed buffers only, so reporting an error never allocates.
 * `fields` are the per-field problems of a validation_error; `details` are other key/value facts
 * (a limit, a retry delay). Both end up in the envelope's "details".
 */
typedef struct app_err {
    app_code code;
    char message[256];
    size_t nfields;
    struct {
        char field[64];
        char issue[160];
    } fields[APP_ERR_MAX_FIELDS];
    size_t ndetails;
    struct {
        char key[32];
        app_detail_kind kind;
        char str[96];
        long long num;
    } details[APP_ERR_MAX_DETAILS];
} app_err;

/* Resets `err` to no error. */
void app_err_clear(app_err *err);

/*
 * Sets the code and message (printf format; NULL keeps the table's default message) and returns
 * `code`, so a function can `return app_err_set(err, APP_NOT_FOUND, "account %lld not found", id);`.
 * `err` may be NULL. Control characters in the formatted message are escaped.
 */
int app_err_set(app_err *err, app_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Adds one field problem (a validation_error entry) and sets code to VALIDATION_ERROR. */
int app_err_field(app_err *err, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Adds a key/value detail. Silently drops details past APP_ERR_MAX_DETAILS. */
void app_err_detail_str(app_err *err, const char *key, const char *value);
void app_err_detail_int(app_err *err, const char *key, long long value);

/* The HTTP status, wire code and default message of a code. */
int app_code_status(app_code code);
const char *app_code_name(app_code code);
const char *app_code_message(app_code code);

#endif
