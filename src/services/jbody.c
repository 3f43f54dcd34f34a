/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "services/jbody.h"

#include <string.h>

#include "core/str.h"
#include "domain/civil.h"

bool jbody_init(jbody *b, json_t *doc, app_err *err)
{
    b->obj = doc;
    b->err = err;
    b->nseen = 0;
    if (!json_is_object(doc)) {
        app_err_field(err, "body", "must be a JSON object");
        return false;
    }
    return true;
}

static json_t *get(jbody *b, const char *name)
{
    if (b->nseen < sizeof b->seen / sizeof b->seen[0])
        b->seen[b->nseen++] = name;
    return json_object_get(b->obj, name);
}

size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

bool jbody_string(jbody *b, const char *name, bool required, size_t max_chars, char *out, size_t cap)
{
    json_t *v = get(b, name);
    if (v == NULL) {
        if (required)
            app_err_field(b->err, name, "is required");
        return false;
    }
    if (!json_is_string(v)) {
        app_err_field(b->err, name, "must be a string");
        return false;
    }
    const char *s = json_string_value(v);
    size_t chars = utf8_chars(s);
    if (chars == 0 || json_string_length(v) != strlen(s)) {
        app_err_field(b->err, name, "must be a non-empty string without NUL characters");
        return false;
    }
    if (chars > max_chars || strlen(s) >= cap) {
        app_err_field(b->err, name, "must be at most %zu characters", max_chars);
        return false;
    }
    if (has_control(s)) {
        app_err_field(b->err, name, "must not contain control characters");
        return false;
    }
    str_copy(out, cap, s);
    return true;
}

bool jbody_int(jbody *b, const char *name, bool required, int64_t min, int64_t max, int64_t *out)
{
    json_t *v = get(b, name);
    if (v == NULL) {
        if (required)
            app_err_field(b->err, name, "is required");
        return false;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        app_err_field(b->err, name, "must be an integer from %lld to %lld", (long long)min, (long long)max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

bool jbody_nullable_int(jbody *b, const char *name, int64_t min, int64_t max, opt_i64 *out, bool *present)
{
    json_t *v = get(b, name);
    *present = v != NULL;
    if (v == NULL)
        return false;
    if (json_is_null(v)) {
        *out = opt_none();
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        app_err_field(b->err, name, "must be null or an integer from %lld to %lld", (long long)min, (long long)max);
        *present = false;
        return false;
    }
    *out = opt_some(json_integer_value(v));
    return true;
}

bool jbody_bool(jbody *b, const char *name, bool *out)
{
    json_t *v = get(b, name);
    if (v == NULL)
        return false;
    if (!json_is_boolean(v)) {
        app_err_field(b->err, name, "must be true or false");
        return false;
    }
    *out = json_is_true(v);
    return true;
}

bool jbody_enum(jbody *b, const char *name, bool required, const char *const *choices, int *index)
{
    json_t *v = get(b, name);
    if (v == NULL) {
        if (required)
            app_err_field(b->err, name, "is required");
        return false;
    }
    if (json_is_string(v)) {
        for (int i = 0; choices[i] != NULL; i++) {
            if (strcmp(json_string_value(v), choices[i]) == 0) {
                *index = i;
                return true;
            }
        }
    }
    char allowed[160] = "";
    for (int i = 0; choices[i] != NULL; i++) {
        strncat(allowed, i ? ", " : "", sizeof allowed - strlen(allowed) - 1);
        strncat(allowed, choices[i], sizeof allowed - strlen(allowed) - 1);
    }
    app_err_field(b->err, name, "must be one of: %s", allowed);
    return false;
}

bool jbody_nullable_time(jbody *b, const char *name, opt_i64 *out, bool *present)
{
    json_t *v = get(b, name);
    *present = v != NULL;
    if (v == NULL)
        return false;
    if (json_is_null(v)) {
        *out = opt_none();
        return true;
    }
    int64_t ms;
    if (!json_is_string(v) || !civil_parse_rfc3339(json_string_value(v), json_string_length(v), &ms)) {
        app_err_field(b->err, name, "must be null or an RFC 3339 timestamp such as 2027-01-31T00:00:00Z");
        *present = false;
        return false;
    }
    *out = opt_some(ms);
    return true;
}

bool jbody_alerts(jbody *b, const char *name, alert_set *out)
{
    json_t *v = get(b, name);
    if (v == NULL)
        return false;
    if (!json_is_array(v) || json_array_size(v) > ALERT_THRESHOLDS_MAX) {
        app_err_field(b->err, name, "must be a list of at most %d integers from 1 to 100", ALERT_THRESHOLDS_MAX);
        return false;
    }
    bool taken[101] = {false};
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        json_int_t pct = json_is_integer(e) ? json_integer_value(e) : 0;
        if (pct < 1 || pct > 100) {
            app_err_field(b->err, name, "must be a list of at most %d integers from 1 to 100", ALERT_THRESHOLDS_MAX);
            return false;
        }
        if (taken[pct]) {
            app_err_field(b->err, name, "lists %d twice", (int)pct);
            return false;
        }
        taken[pct] = true;
    }
    alert_set a = {0};
    for (int pct = 1; pct <= 100; pct++)
        if (taken[pct])
            a.pct[a.n++] = (uint8_t)pct;
    *out = a;
    return true;
}

json_t *jbody_object(jbody *b, const char *name)
{
    json_t *v = get(b, name);
    if (v != NULL && !json_is_object(v)) {
        app_err_field(b->err, name, "must be an object");
        return NULL;
    }
    return v;
}

json_t *jbody_array(jbody *b, const char *name, bool required)
{
    json_t *v = get(b, name);
    if (v == NULL && required)
        app_err_field(b->err, name, "is required");
    if (v != NULL && !json_is_array(v)) {
        app_err_field(b->err, name, "must be an array");
        return NULL;
    }
    return v;
}

int jbody_finish(jbody *b)
{
    const char *key;
    json_t *value;
    json_object_foreach(b->obj, key, value)
    {
        bool known = false;
        for (size_t i = 0; i < b->nseen && !known; i++)
            known = strcmp(b->seen[i], key) == 0;
        if (!known)
            app_err_field(b->err, key, "is not a known field");
    }
    return b->err->code == APP_OK ? 0 : (int)b->err->code;
}
