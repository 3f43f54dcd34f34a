/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
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

/* A held answer's bytes, copied out (and the hold given back), or NULL on a miss. */
static char *copy_of(astrology *a, zodiac_week week, zodiac_sign sign, zodiac_lang lang, size_t *len)
{
    slice text;
    ephemeris_model model;
    astrology_text *held = astrology_hold(a, week, sign, lang, &text, &model);
    if (held == NULL)
        return NULL;
    char *out = malloc(text.len ? text.len : 1);
    memcpy(out, text.ptr, text.len);
    *len = text.len;
    astrology_release(held);
    return out;
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

/*
 * Hits whatever is cached, checking every byte, then again after letting the evicting thread run:
 * an answer is whole or absent, never torn, and stays whole while it is held.
 */
static void *hit_many(void *arg)
{
    hitter *h = arg;
    for (unsigned i = (unsigned)h->seed; !atomic_load(h->stop) || i < 2000u + (unsigned)h->seed; i++) {
        int w = (int)(i % WEEKS), s = (int)(i / WEEKS % ZODIAC_SIGN_COUNT), l = (int)(i % ZODIAC_LANG_COUNT);
        slice got;
        ephemeris_model model;
        astrology_text *held = astrology_hold(h->a, weeks[w], (zodiac_sign)s, (zodiac_lang)l, &got, &model);
        if (held == NULL) {
            h->misses++;
            continue;
        }
        h->hits++;
        for (int pass = 0; pass < 2; pass++) {
            cr_assert_eq(got.len, h->want->len[w][s][l]);
            cr_assert(memcmp(got.ptr, h->want->text[w][s][l], got.len) == 0, "week %d sign %d lang %d differs", w, s,
                      l);
            if (pass == 0)
                sched_yield();
        }
        astrology_release(held);
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

Test(astrology, concurrent_hits_hold_whole_answers_while_weeks_are_evicted)
{
    expected *want = calloc(1, sizeof *want);
    astrology *ref = astrology_new(&eph, WEEKS);
    for (int w = 0; w < WEEKS; w++) {
        app_err err;
        app_err_clear(&err);
        cr_assert_eq(astrology_compute(ref, weeks[w], &err), 0, "%s", err.message);
        for (int s = 0; s < ZODIAC_SIGN_COUNT; s++)
            for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
                want->text[w][s][l] = copy_of(ref, weeks[w], (zodiac_sign)s, (zodiac_lang)l, &want->len[w][s][l]);
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
    cr_assert_null(copy_of(a, weeks[0], ZODIAC_ARIES, ZODIAC_LANG_EN, &len));
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(astrology_compute(a, weeks[0], &err), 0);
    cr_assert_eq(astrology_compute(a, weeks[0], &err), 0);
    cr_assert_eq(astrology_computations(a), 1);
    char *got = copy_of(a, weeks[0], ZODIAC_ARIES, ZODIAC_LANG_EN, &len);
    cr_assert_not_null(got);
    cr_assert(len > 0 && got[0] == '{');
    free(got);
    astrology_free(a);
}

Test(astrology, a_held_answer_outlives_its_week_s_eviction)
{
    astrology *a = astrology_new(&eph, 1);
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(astrology_compute(a, weeks[0], &err), 0, "%s", err.message);
    size_t len = 0;
    char *want = copy_of(a, weeks[0], ZODIAC_LEO, ZODIAC_LANG_FR, &len);
    cr_assert_not_null(want);
    slice held_text, again_text;
    ephemeris_model model;
    astrology_text *held = astrology_hold(a, weeks[0], ZODIAC_LEO, ZODIAC_LANG_FR, &held_text, &model);
    astrology_text *again = astrology_hold(a, weeks[0], ZODIAC_LEO, ZODIAC_LANG_FR, &again_text, &model);
    cr_assert(held != NULL && again == held && held_text.ptr == again_text.ptr, "the cache's own bytes, not copies");
    astrology_release(again);

    cr_assert_eq(astrology_compute(a, weeks[1], &err), 0, "%s", err.message); /* evicts weeks[0] */
    size_t other = 0;
    cr_assert_null(copy_of(a, weeks[0], ZODIAC_LEO, ZODIAC_LANG_FR, &other), "evicted");
    /* Under AddressSanitizer, a read of freed bytes here fails the test. */
    cr_assert_eq(held_text.len, len);
    cr_assert(memcmp(held_text.ptr, want, len) == 0);
    astrology_release(held); /* the last hold frees the evicted week */
    free(want);
    astrology_free(a);
}
