/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_ASTROLOGY_H
#define STARMETER_SERVICES_ASTROLOGY_H

/*
 * The weekly horoscopes: the sky of an ISO week is computed once (tens of milliseconds of
 * ephemeris work, on a worker thread) and its 12 signs x 2 languages are rendered at the same
 * time, so every later call for that week sends cached bytes, held while it sends them. The cache
 * keeps the most recently used weeks.
 */
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/str.h"
#include "domain/zodiac.h"
#include "infra/ephemeris.h"

typedef struct astrology astrology;
/* A week's rendered answers, held by a call (astrology_hold) until astrology_release. */
typedef struct astrology_text astrology_text;

/* `eph` is borrowed; `max_weeks` bounds the cache (at least 1). */
astrology *astrology_new(const ephemeris *eph, size_t max_weeks);
void astrology_free(astrology *a);

/*
 * The rendered `data` JSON of (week, sign, lang) in *text, with the model that computed it, or
 * NULL when the week is not cached. The bytes are the cache's own, not copied: they stay valid,
 * even if the week is evicted meanwhile, until the returned hold is given to astrology_release.
 * Any thread.
 */
astrology_text *astrology_hold(astrology *a, zodiac_week week, zodiac_sign sign, zodiac_lang lang, slice *text,
                               ephemeris_model *model);
/* Gives a hold back (NULL: nothing); the last one frees an evicted week's bytes. */
void astrology_release(astrology_text *held);

/* Computes and caches a week (a no-op when cached). May take tens of milliseconds: not on an event loop. */
int astrology_compute(astrology *a, zodiac_week week, app_err *err);

/* Weeks computed since start (cache misses), for tests and metrics. */
unsigned long astrology_computations(astrology *a);

#endif
