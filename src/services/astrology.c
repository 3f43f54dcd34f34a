/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "services/astrology.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "domain/sky.h"
#include "services/horoscope.h"

/*
 * A week's rendered answers, shared by the cache and the calls that hold them (astrology_hold):
 * freed by the last release, so a week evicted while calls still send its bytes stays whole.
 */
struct astrology_text {
    atomic_ulong refs;
    char *text[ZODIAC_SIGN_COUNT][ZODIAC_LANG_COUNT]; /* owned, compact JSON */
    size_t len[ZODIAC_SIGN_COUNT][ZODIAC_LANG_COUNT];
};

typedef struct week_entry {
    zodiac_week week;
    ephemeris_model model;
    _Atomic unsigned long last_used; /* written by hits under the read lock */
    astrology_text *texts;           /* one reference the cache's */
} week_entry;

struct astrology {
    const ephemeris *eph;
    /*
     * The cache. Hits share it (read lock) and take a reference to their week's bytes side by
     * side; only inserting a computed week takes it exclusively, for a few stores. Writers go first, so a stream of
     * hits cannot hold a new week out.
     */
    pthread_rwlock_t mu;
    pthread_mutex_t compute; /* one computation at a time: concurrent misses of a week wait for it */
    week_entry *entries;
    size_t n, cap;
    _Atomic unsigned long tick, computations;
};

astrology *astrology_new(const ephemeris *eph, size_t max_weeks)
{
    astrology *a = xcalloc(1, sizeof *a);
    a->eph = eph;
    a->cap = max_weeks ? max_weeks : 1;
    a->entries = xcalloc(a->cap, sizeof *a->entries);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&a->mu, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&a->compute, NULL);
    return a;
}

void astrology_release(astrology_text *held)
{
    astrology_text *t = held;
    if (t == NULL || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int s = 0; s < ZODIAC_SIGN_COUNT; s++)
        for (int l = 0; l < ZODIAC_LANG_COUNT; l++)
            free(t->text[s][l]);
    free(t);
}

static void entry_clear(week_entry *e)
{
    astrology_release(e->texts);
    memset(e, 0, sizeof *e);
}

void astrology_free(astrology *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++)
        entry_clear(&a->entries[i]);
    free(a->entries);
    pthread_rwlock_destroy(&a->mu);
    pthread_mutex_destroy(&a->compute);
    free(a);
}

static week_entry *find(astrology *a, zodiac_week w)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->entries[i].week.year == w.year && a->entries[i].week.week == w.week)
            return &a->entries[i];
    return NULL;
}

astrology_text *astrology_hold(astrology *a, zodiac_week week, zodiac_sign sign, zodiac_lang lang, slice *text,
                               ephemeris_model *model)
{
    astrology_text *held = NULL;
    pthread_rwlock_rdlock(&a->mu);
    week_entry *e = find(a, week);
    if (e != NULL) {
        /* Recency only orders evictions: relaxed counts are enough. */
        atomic_store_explicit(&e->last_used, atomic_fetch_add_explicit(&a->tick, 1, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        held = e->texts;
        atomic_fetch_add_explicit(&held->refs, 1, memory_order_relaxed); /* the cache's keeps it alive */
        *text = slice_make(held->text[sign][lang], held->len[sign][lang]);
        *model = e->model;
    }
    pthread_rwlock_unlock(&a->mu);
    return held;
}

int astrology_compute(astrology *a, zodiac_week week, app_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&a->compute);
    pthread_rwlock_rdlock(&a->mu);
    bool cached = find(a, week) != NULL;
    pthread_rwlock_unlock(&a->mu);
    if (cached)
        goto out;

    sky_week *sky = xmalloc(sizeof *sky);
    ephemeris_run run;
    ephemeris_run_init(&run, a->eph);
    sky_ephemeris src = ephemeris_run_source(&run);
    if ((rc = sky_week_compute(&src, zodiac_week_start(week), sky, err)) != 0) {
        free(sky);
        goto out;
    }
    astrology_text *t = xcalloc(1, sizeof *t);
    atomic_init(&t->refs, 1);
    week_entry fresh = {.week = week, .model = run.model, .texts = t};
    for (int s = 0; s < ZODIAC_SIGN_COUNT && rc == 0; s++) {
        for (int l = 0; l < ZODIAC_LANG_COUNT && rc == 0; l++) {
            json_t *doc = horoscope_render(sky, week, (zodiac_sign)s, (zodiac_lang)l);
            t->text[s][l] = doc ? json_dumps(doc, HOROSCOPE_DUMP_FLAGS) : NULL;
            json_decref(doc);
            if (t->text[s][l] == NULL)
                rc = app_err_set(err, APP_INTERNAL_ERROR, "the horoscope could not be rendered");
            else
                t->len[s][l] = strlen(t->text[s][l]);
        }
    }
    free(sky);
    if (rc != 0) {
        entry_clear(&fresh);
        goto out;
    }
    pthread_rwlock_wrlock(&a->mu);
    week_entry *slot;
    if (a->n < a->cap) {
        slot = &a->entries[a->n++];
    } else { /* evict the least recently used week */
        slot = &a->entries[0];
        for (size_t i = 1; i < a->n; i++)
            if (a->entries[i].last_used < slot->last_used)
                slot = &a->entries[i];
        entry_clear(slot);
    }
    *slot = fresh;
    atomic_store_explicit(&slot->last_used, atomic_fetch_add_explicit(&a->tick, 1, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_fetch_add_explicit(&a->computations, 1, memory_order_relaxed);
    pthread_rwlock_unlock(&a->mu);
out:
    pthread_mutex_unlock(&a->compute);
    return rc;
}

unsigned long astrology_computations(astrology *a)
{
    return atomic_load_explicit(&a->computations, memory_order_relaxed);
}
