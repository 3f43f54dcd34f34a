/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_DOMAIN_ZODIAC_H
#define STARMETER_DOMAIN_ZODIAC_H

/*
 * The tropical zodiac, the bodies astrology reads, whole-sign solar houses and ISO 8601 weeks,
 * pure (no I/O, no clock). Returned names are static strings: never freed, valid for ever.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

typedef enum zodiac_sign {
    ZODIAC_ARIES,
    ZODIAC_TAURUS,
    ZODIAC_GEMINI,
    ZODIAC_CANCER,
    ZODIAC_LEO,
    ZODIAC_VIRGO,
    ZODIAC_LIBRA,
    ZODIAC_SCORPIO,
    ZODIAC_SAGITTARIUS,
    ZODIAC_CAPRICORN,
    ZODIAC_AQUARIUS,
    ZODIAC_PISCES,
    ZODIAC_SIGN_COUNT
} zodiac_sign;

/* The languages names exist in; English is also the wire identifier. */
typedef enum zodiac_lang { ZODIAC_LANG_EN, ZODIAC_LANG_FR, ZODIAC_LANG_COUNT } zodiac_lang;

/*
 * The bodies in the order astrologers list them. The values are starmeter's own, not any
 * ephemeris library's: infra maps them.
 */
typedef enum zodiac_body {
    ZODIAC_SUN,
    ZODIAC_MOON,
    ZODIAC_MERCURY,
    ZODIAC_VENUS,
    ZODIAC_MARS,
    ZODIAC_JUPITER,
    ZODIAC_SATURN,
    ZODIAC_URANUS,
    ZODIAC_NEPTUNE,
    ZODIAC_PLUTO,
    ZODIAC_MEAN_NODE,
    ZODIAC_BODY_COUNT
} zodiac_body;

/*
 * The sign's name in `lang`: English lower case ("aries" .. "pisces"), French lower case with its
 * accents in UTF-8 ("bélier", "gémeaux"). NULL for a value out of range.
 */
const char *zodiac_sign_name(zodiac_sign sign, zodiac_lang lang);

/* The sign whose English name is `name`, ignoring ASCII case. False for anything else. */
bool zodiac_sign_from_name(slice name, zodiac_sign *out);

/* "sun" .. "pluto", "mean_node"; NULL for a value out of range. */
const char *zodiac_body_name(zodiac_body body);

/* The body named exactly (ignoring ASCII case) as zodiac_body_name spells it. */
bool zodiac_body_from_name(slice name, zodiac_body *out);

/* `lon_deg` reduced to [0, 360); `lon_deg` must be finite. */
double zodiac_lon_normalize(double lon_deg);

/* The sign an ecliptic longitude falls in (any finite longitude; 30° exactly is Taurus). */
zodiac_sign zodiac_sign_of(double lon_deg);

/* How far into its sign a longitude is, in [0, 30). */
double zodiac_degree_in_sign(double lon_deg);

/*
 * The whole-sign solar house, 1..12, that `body_sign` occupies for a reader of `reader_sign`: the
 * reader's sign is the 1st house, the next sign the 2nd, and so on round the circle.
 */
unsigned zodiac_house_solar(zodiac_sign body_sign, zodiac_sign reader_sign);

/* An ISO 8601 week: weeks run Monday to Sunday, week 1 is the one holding the year's 4 January. */
typedef struct zodiac_week {
    int32_t year;  /* the ISO week-numbering year, 1..9999 */
    unsigned week; /* 1..52 or 53 */
} zodiac_week;

/* "2026-W12": 8 characters and the NUL. */
#define ZODIAC_WEEK_STR_SIZE 9

#define ZODIAC_WEEK_SECONDS (7 * 86400)

/* 52 or 53: the number of ISO weeks of the ISO year `year`. */
unsigned zodiac_weeks_in_year(int64_t year);

/*
 * Parses exactly "YYYY-Www" (four digits, a capital 'W', two digits): year 0001..9999 and a week
 * that exists in that year (W53 only in long years). Nothing else is accepted: no lower-case 'w',
 * no day suffix, no sign, no spaces. False leaves `out` untouched.
 */
bool zodiac_week_parse(slice s, zodiac_week *out);

/* Formats a valid week as "YYYY-Www" into out (NUL-terminated). */
void zodiac_week_format(zodiac_week w, char out[ZODIAC_WEEK_STR_SIZE]);

/* The Unix time (seconds) of the week's Monday 00:00 UTC; the week ends ZODIAC_WEEK_SECONDS later. */
int64_t zodiac_week_start(zodiac_week w);

/*
 * The ISO week holding Unix time `unix_s` (UTC). The result's year is in 1..9999 only when
 * `unix_s` lies in those years' weeks; callers format or start it only then.
 */
zodiac_week zodiac_week_of(int64_t unix_s);

#endif
