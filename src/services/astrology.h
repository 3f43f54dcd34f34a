/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_SERVICES_ASTROLOGY_H
#define STARMETER_SERVICES_ASTROLOGY_H

/*
 * The weekly horoscopes: the sky of an ISO week is computed once (tens of milliseconds of
 * ephemeris work, on a worker thread) and its 12 signs x 2 languages are rendered at the same
 * time, so every later call for that week is a copy of cached bytes. The cache keeps the most
 * recently used weeks.
 */
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "domain/zodiac.h"
#include "infra/ephemeris.h"

typedef struct astrology astrology;

/* `eph` is borrowed; `max_weeks` bounds the cache (at least 1). */
astrology *astrology_new(const ephemeris *eph, size_t max_weeks);
void astrology_free(astrology *a);

/*
 * Copies the rendered `data` JSON of (week, sign, lang) into memory from `alloc(ctx, n)` and
 * returns it (with *len and the model that computed it), or NULL when the week is not cached.
 */
char *astrology_cached(astrology *a, zodiac_week week, zodiac_sign sign, zodiac_lang lang,
                       void *(*alloc)(void *ctx, size_t n), void *ctx, size_t *len, ephemeris_model *model);

/* Computes and caches a week (a no-op when cached). May take tens of milliseconds: not on an event loop. */
int astrology_compute(astrology *a, zodiac_week week, app_err *err);

/* Weeks computed since start (cache misses), for tests and metrics. */
unsigned long astrology_computations(astrology *a);

#endif
