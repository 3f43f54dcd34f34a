/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "services/astrology.h"

static ephemeris eph;

static void setup(void)
{
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(ephemeris_init(&eph, NULL, &err), 0);
}

static void teardown(void)
{
    ephemeris_thread_cleanup();
}

TestSuite(astrology, .init = setup, .fini = teardown, .timeout = 300);

static void *heap(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n ? n : 1);
}

#define WEEKS 3
static const zodiac_week weeks[WEEKS] = {{2026, 48}, {2026, 49}, {2026, 50}};

typedef struct expected {
    char *text[WEEKS][ZODIAC_SIGN_COUNT][ZODIAC_LANG_COUNT];
    size_t len[WEEKS][ZODIAC_SIGN_COUNT][ZODIAC_LANG_COUNT];
} expected;

typedef struct hitter {
    astrology *a;
    const expected *want;
    int seed;
    _Atomic bool *stop;
    unsigned long hits, misses;
} hitter;

/* Hits whatever is cached, checking every byte: an answer is whole or absent, never torn. */
static void *hit_many(void *arg)
{
    hitter *h = arg;
    for (unsigned i = (unsigned)h->seed; !atomic_load(h->stop) || i < 2000u + (unsigned)h->seed; i++) {
        int w = (int)(i % WEEKS), s = (int)(i / WEEKS % ZODIAC_SIGN_COUNT), l = (int)(i % ZODIAC_LANG_COUNT);
        size_t len = 0;
        ephemeris_model model;
        char *got = astrology_cached(h->a, weeks[w], (zodiac_sign)s, (zodiac_lang)l, heap, NULL, &len, &model);
        if (got == NULL) {
            h->misses++;
            continue;
        }
        h->hits++;
        cr_assert_eq(len, h->want->len[w][s][l]);
        cr_assert(memcmp(got, h->want->text[w][s][l], len) == 0, "week %d sign %d lang %d differs", w, s, l);
        free(got);
    }
    return NULL;
}

typedef struct churn {
    astrology *a;
    _Atomic bool *stop;
} churn;

/* Computes weeks in turn in a cache of two, so each computation evicts a week being hit. */
static void *evict_many(void *arg)
{
    churn *c = arg;
    for (int round = 0; round < 2 * WEEKS; round++) {
        app_err err;
        app_err_clear(&err);
        cr_assert_eq(astrology_compute(c->a, weeks[round % WEEKS], &err), 0, "%s", err.message);
    }
    ephemeris_thread_cleanup();
    atomic_store(c->stop, true);
    return NULL;
}

Test(astrology, concurrent_hits_copy_whole_answers_while_weeks_are_evicted)
{
    expected *want = calloc(1, sizeof *want);
    astrology *ref = astrology_new(&eph, WEEKS);
    for (int w = 0; w < WEEKS; w++) {
        app_err err;
        app_err_clear(&err);
        cr_assert_eq(astrology_compute(ref, weeks[w], &err), 0, "%s", err.message);
        for (int s = 0; s < ZODIAC_SIGN_COUNT; s++)
            for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
                ephemeris_model model;
                want->text[w][s][l] = astrology_cached(ref, weeks[w], (zodiac_sign)s, (zodiac_lang)l, heap, NULL,
                                                       &want->len[w][s][l], &model);
                cr_assert_not_null(want->text[w][s][l]);
            }
    }
    cr_assert_eq(astrology_computations(ref), WEEKS);
    astrology_free(ref);

    astrology *a = astrology_new(&eph, 2);
    _Atomic bool stop = false;
    hitter h[3];
    pthread_t t[3], writer;
    churn c = {.a = a, .stop = &stop};
    for (int i = 0; i < 3; i++) {
        h[i] = (hitter){.a = a, .want = want, .seed = i * 5, .stop = &stop};
        cr_assert_eq(pthread_create(&t[i], NULL, hit_many, &h[i]), 0);
    }
    cr_assert_eq(pthread_create(&writer, NULL, evict_many, &c), 0);
    pthread_join(writer, NULL);
    unsigned long hits = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        hits += h[i].hits;
    }
    cr_assert_gt(hits, 0);
    /* Two weeks in turn each round, so every round but the ones already cached computes. */
    cr_assert_geq(astrology_computations(a), (unsigned long)WEEKS);
    astrology_free(a);
    for (int w = 0; w < WEEKS; w++)
        for (int s = 0; s < ZODIAC_SIGN_COUNT; s++)
            for (int l = 0; l < ZODIAC_LANG_COUNT; l++)
                free(want->text[w][s][l]);
    free(want);
}

Test(astrology, a_miss_is_null_and_a_hit_is_counted_once)
{
    astrology *a = astrology_new(&eph, 1);
    size_t len = 0;
    ephemeris_model model;
    cr_assert_null(astrology_cached(a, weeks[0], ZODIAC_ARIES, ZODIAC_LANG_EN, heap, NULL, &len, &model));
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(astrology_compute(a, weeks[0], &err), 0);
    cr_assert_eq(astrology_compute(a, weeks[0], &err), 0);
    cr_assert_eq(astrology_computations(a), 1);
    char *got = astrology_cached(a, weeks[0], ZODIAC_ARIES, ZODIAC_LANG_EN, heap, NULL, &len, &model);
    cr_assert_not_null(got);
    cr_assert(len > 0 && got[0] == '{');
    free(got);
    astrology_free(a);
}
