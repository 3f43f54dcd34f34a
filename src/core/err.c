/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"

static const struct {
    int status;
    const char *name;
    const char *message;
} table[APP_CODE_COUNT] = {
#define APP_ERR_ROW(n, status, code, msg) [APP_##n] = {status, code, msg},
    APP_ERR_MAP(APP_ERR_ROW)
#undef APP_ERR_ROW
};

void app_err_clear(app_err *err)
{
    err->code = APP_OK;
    err->message[0] = '\0';
    err->nfields = 0;
    err->ndetails = 0;
}

static void format_escaped(char *dst, size_t cap, const char *fmt, va_list ap)
{
    char raw[512];
    vsnprintf(raw, sizeof raw, fmt, ap);
    str_escape_ctl(dst, cap, raw, strlen(raw));
}

int app_err_set(app_err *err, app_code code, const char *fmt, ...)
{
    if (err == NULL)
        return (int)code;
    err->code = code;
    if (fmt == NULL) {
        str_copy(err->message, sizeof err->message, table[code].message);
    } else {
        va_list ap;
        va_start(ap, fmt);
        format_escaped(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return (int)code;
}

int app_err_field(app_err *err, const char *field, const char *fmt, ...)
{
    if (err == NULL)
        return APP_VALIDATION_ERROR;
    if (err->code != APP_VALIDATION_ERROR)
        app_err_set(err, APP_VALIDATION_ERROR, NULL);
    if (err->nfields < APP_ERR_MAX_FIELDS) {
        str_escape_ctl(err->fields[err->nfields].field, sizeof err->fields[0].field, field, strlen(field));
        va_list ap;
        va_start(ap, fmt);
        format_escaped(err->fields[err->nfields].issue, sizeof err->fields[0].issue, fmt, ap);
        va_end(ap);
        err->nfields++;
    }
    return APP_VALIDATION_ERROR;
}

void app_err_detail_str(app_err *err, const char *key, const char *value)
{
    if (err == NULL || err->ndetails >= APP_ERR_MAX_DETAILS)
        return;
    str_copy(err->details[err->ndetails].key, sizeof err->details[0].key, key);
    err->details[err->ndetails].kind = APP_DETAIL_STR;
    str_escape_ctl(err->details[err->ndetails].str, sizeof err->details[0].str, value, strlen(value));
    err->ndetails++;
}

void app_err_detail_int(app_err *err, const char *key, long long value)
{
    if (err == NULL || err->ndetails >= APP_ERR_MAX_DETAILS)
        return;
    str_copy(err->details[err->ndetails].key, sizeof err->details[0].key, key);
    err->details[err->ndetails].kind = APP_DETAIL_INT;
    err->details[err->ndetails].num = value;
    err->ndetails++;
}

int app_code_status(app_code code)
{
    return code < APP_CODE_COUNT ? table[code].status : 500;
}

const char *app_code_name(app_code code)
{
    return code < APP_CODE_COUNT ? table[code].name : "internal_error";
}

const char *app_code_message(app_code code)
{
    return code < APP_CODE_COUNT ? table[code].message : "An internal error occurred.";
}
