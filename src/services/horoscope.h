/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_HOROSCOPE_H
#define STARMETER_SERVICES_HOROSCOPE_H

/*
 * The text of GET /v1/b2b/astrology/weekly-by-sign: the `data` object for one reader sign, in one
 * language, written from the sky of one ISO week (domain/sky.h). Every sentence is derived from
 * that sky: which events fall in which whole-sign solar house of the reader, the nature of the
 * bodies involved and of their aspects. Where several phrasings fit, the choice is made by an
 * FNV-1a hash of (reader sign, ISO week, HOROSCOPE_CONTENT_VERSION), never by a clock or rand(),
 * so the same (sky, week, sign, lang) always gives the same bytes, and both languages of a sign
 * make the same choices.
 *
 * The document:
 *   {"sign": "aries", "sign_name": "Bélier", "lang": "fr",
 *    "week": {"iso": "2026-W12", "start": "2026-03-16T00:00:00Z", "end": "2026-03-23T00:00:00Z"},
 *    "headline": str, "overview": str,
 *    "sections": {"love": str, "work": str, "money": str, "wellbeing": str},
 *    "key_dates": [{"date": "2026-03-17", "tone": "favourable"|"challenging"|"pivotal"|"mixed",
 *                   "because": [str]}],
 *    "lucky": {"day": "mardi", "number": 1..99, "color": str},
 *    "sky": {"positions": [{"body", "sign", "degree", "speed", "retrograde", "house"}],
 *            "events": [{"type": "ingress", "body", "sign", "utc", "house"},
 *                       {"type": "station", "body", "direction": "retrograde"|"direct", "sign", "degree", "utc",
 *                        "house"},
 *                       {"type": "lunation", "phase": "new_moon"|..., "sign", "utc", "house"},
 *                       {"type": "aspect", "bodies": [a, b], "aspect": "conjunction"|..., "utc", "house"}]}}
 * Identifiers (sign, body, phase, aspect) are the English wire names of domain/; "sign_name" and
 * the texts are in `lang`. Times are RFC 3339 UTC to the second; days of the week and key dates
 * are UTC days. An event's house is zodiac_house_solar(event sign, reader): for an aspect, the sign
 * of its first body. A key date's tone is that of the events it gives as reasons: "mixed" when
 * favourable and challenging ones meet. Degrees carry 2 decimals, speeds (degrees per day) 4, or 4
 * significant digits for a body so near its station that 4 decimals would read 0, so a speed's
 * sign always agrees with "retrograde".
 */
#include <jansson.h>

#include "domain/sky.h"
#include "domain/zodiac.h"

/* Bump when the phrase tables or the way they are chosen change, to reshuffle the variants. */
#define HOROSCOPE_CONTENT_VERSION 2u

/*
 * Dump flags for the document: jansson's default prints 17 significant digits, which turns a
 * degree of 29.99 into 29.989999999999998; 15 digits print every rounded value as it was meant.
 */
#define HOROSCOPE_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/*
 * Renders the `data` object described above for `reader` in `lang`. `w` is borrowed and must hold
 * valid values (bodies, signs, phases and aspects in range, nevents <= SKY_WEEK_EVENTS_MAX);
 * `iso` must be a valid week (zodiac_week_parse) and is only named and hashed, the times come from
 * `w`. Returns a new reference the caller owns (json_decref), or NULL if jansson could not
 * allocate. Pure: no I/O, no clock, no shared state; safe from any thread.
 */
json_t *horoscope_render(const sky_week *w, zodiac_week iso, zodiac_sign reader, zodiac_lang lang);

#endif
