/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_DOMAIN_CIVIL_H
#define STARMETER_DOMAIN_CIVIL_H

/* Proleptic Gregorian calendar arithmetic and RFC 3339 timestamps, pure (no libc time zone state). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses exactly `n` decimal digits of `s` (no sign, no space); false otherwise. */
bool civil_digits(const char *s, size_t n, int *out);

/* Days since 1970-01-01 of a civil date (month 1..12), valid for any year in int32 range. */
int64_t civil_days_from_date(int64_t y, unsigned m, unsigned d);
/* The civil date of a day count. */
void civil_date_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
unsigned civil_days_in_month(int64_t y, unsigned m);

/*
 * Parses an RFC 3339 timestamp ("2026-03-20T14:45:53Z", with optional fraction and a numeric
 * offset, 'T' or 't' or ' ' as separator) into Unix milliseconds. Years 1970..9999.
 */
bool civil_parse_rfc3339(const char *s, size_t len, int64_t *unix_ms);

/* Same, for a NUL-terminated string. */
bool civil_parse_rfc3339_str(const char *s, int64_t *unix_ms);

/* Formats Unix ms as "2026-03-20T14:45:53Z" (seconds precision) into out[21]. */
void civil_format_rfc3339(int64_t unix_ms, char out[21]);

#endif
