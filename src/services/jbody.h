/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_JBODY_H
#define STARMETER_SERVICES_JBODY_H

/*
 * Reading a JSON request document field by field, collecting one validation_error entry per bad
 * field instead of stopping at the first. Unknown fields are errors too (jbody_finish).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "domain/model.h"

typedef struct jbody {
    json_t *obj; /* borrowed */
    app_err *err;
    const char *seen[32];
    size_t nseen;
} jbody;

/* Starts reading `doc`; a document that is not an object is a validation error on "body". */
bool jbody_init(jbody *b, json_t *doc, app_err *err);

/*
 * Each reader returns true when the field is present and valid (value stored), false when absent
 * (nothing stored; an error when `required`) or invalid (an error recorded).
 */
bool jbody_string(jbody *b, const char *name, bool required, size_t max_chars, char *out, size_t cap);
bool jbody_int(jbody *b, const char *name, bool required, int64_t min, int64_t max, int64_t *out);
/* An integer or null; *present tells whether the field was in the document at all. */
bool jbody_nullable_int(jbody *b, const char *name, int64_t min, int64_t max, opt_i64 *out, bool *present);
bool jbody_bool(jbody *b, const char *name, bool *out);
/* One of `choices` (NULL-terminated); *index gets its position. */
bool jbody_enum(jbody *b, const char *name, bool required, const char *const *choices, int *index);
/* An RFC 3339 timestamp or null. */
bool jbody_nullable_time(jbody *b, const char *name, opt_i64 *out, bool *present);
/*
 * Alert thresholds: an array of 0 to ALERT_THRESHOLDS_MAX distinct integers from 1 to 100, stored
 * ascending (an empty array turns alerts off).
 */
bool jbody_alerts(jbody *b, const char *name, alert_set *out);
/* An object member (borrowed) or NULL. */
json_t *jbody_object(jbody *b, const char *name);
/* An array member (borrowed) or NULL (absent: an error when `required`; not an array: an error). */
json_t *jbody_array(jbody *b, const char *name, bool required);

/* Records every member not read above as an unknown field; returns the error code or 0. */
int jbody_finish(jbody *b);

/* Number of UTF-8 characters in a valid UTF-8 string. */
size_t utf8_chars(const char *s);

#endif
