/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The horoscope's words over a real corpus: every sign, both languages, three years of weeks of
 * the real sky, read as a reader of many weeks would. The sky of each week is computed once and
 * its 24 answers are rendered twice, to show they are the same bytes.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "domain/sky.h"
#include "infra/ephemeris.h"
#include "services/horoscope.h"
#include "unit/services/horoscope_checks.h"

#define FIRST_YEAR 2026
#define YEARS 3
#define WEEKS_MAX (YEARS * 53)
#define SECTIONS 4
#define TEXT_LEN 1024 /* a closing sentence: all far shorter */

static const char *const section_keys[SECTIONS] = {"love", "work", "money", "wellbeing"};

/* Texts collected to count repeats: owned copies, sorted as pointers so no text is moved. */
static int text_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *text_dup(const char *s)
{
    char *d = strdup(s);
    cr_assert_not_null(d);
    return d;
}

/* The largest number of equal texts in `v` (sorted here), and which one it is. */
static size_t most_repeated(char **v, size_t n, const char **which)
{
    qsort(v, n, sizeof *v, text_cmp);
    size_t best = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(v[i], v[j]) == 0)
            j++;
        if (j - i > best) {
            best = j - i;
            *which = v[i];
        }
        i = j;
    }
    return best;
}

/* Where the weeks of one section of one sign in one language start in the table of sections. */
static size_t section_slot(int lang, int sign, int section)
{
    return (((size_t)lang * ZODIAC_SIGN_COUNT + (size_t)sign) * SECTIONS + (size_t)section) * WEEKS_MAX;
}

static void texts_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Every sentence-bearing text of an answer checked on its own: the same day never twice in a row. */
static void check_texts(json_t *d, zodiac_lang lang, const char *where)
{
    const char *texts[1 + SECTIONS];
    texts[0] = json_string_value(json_object_get(d, "overview"));
    for (int k = 0; k < SECTIONS; k++)
        texts[1 + k] = json_string_value(json_object_get(json_object_get(d, "sections"), section_keys[k]));
    for (int k = 0; k < 1 + SECTIONS; k++) {
        cr_assert_not_null(texts[k]);
        const char *twice = check_weekday_twice(texts[k], lang);
        cr_assert_null(twice, "%s: a weekday twice in a row at \"%.60s\" in\n%s", where, twice, texts[k]);
        if (lang == ZODIAC_LANG_FR) {
            const char *bad = check_preposition_dropped(texts[k]);
            cr_assert_null(bad, "%s: the preposition is not repeated at \"%.80s\"", where, bad);
        }
        /* The lunar node's backward motion is its normal one: no sentence calls it retrograde. */
        static const char *const node[ZODIAC_LANG_COUNT] = {"lunar node", "nœud lunaire"};
        for (const char *p = strstr(texts[k], node[lang]); p != NULL; p = strstr(p + 1, node[lang])) {
            const char *end = strstr(p, ". ");
            size_t n = end ? (size_t)(end - p) : strlen(p);
            cr_assert(memmem(p, n, "etrograde", 9) == NULL && memmem(p, n, "étrograde", 10) == NULL,
                      "%s: the node is called retrograde: %.*s", where, (int)n, p);
        }
    }
    /* A favourable day lists no square and no opposition. */
    size_t i, j;
    json_t *kd, *because;
    json_array_foreach(json_object_get(d, "key_dates"), i, kd)
    {
        if (strcmp(json_string_value(json_object_get(kd, "tone")), "favourable") != 0)
            continue;
        json_array_foreach(json_object_get(kd, "because"), j, because)
        {
            const char *r = json_string_value(because);
            cr_assert(strstr(r, "squares") == NULL && strstr(r, "opposes") == NULL && strstr(r, "carré") == NULL &&
                          strstr(r, "s'oppose") == NULL,
                      "%s: a favourable day lists \"%s\"", where, r);
        }
    }
    /* A speed never reads 0 while the body is said to be retrograde. */
    json_t *pos;
    json_array_foreach(json_object_get(json_object_get(d, "sky"), "positions"), i, pos)
    {
        double speed = json_real_value(json_object_get(pos, "speed"));
        cr_assert_eq(speed < 0, json_is_true(json_object_get(pos, "retrograde")), "%s: position %zu", where, i);
    }
}

Test(horoscope_corpus, three_years_of_every_sign_in_both_languages_read_as_written_by_hand, .timeout = 120)
{
    ephemeris eph;
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(ephemeris_init(&eph, NULL, &err), 0);
    sky_week *sky = malloc(sizeof *sky);
    /* [lang][answer]: the closing sentences of one answer; [lang][sign][section][week]: the sections. */
    size_t answers_max = (size_t)WEEKS_MAX * ZODIAC_SIGN_COUNT;
    char **closers[ZODIAC_LANG_COUNT];
    size_t nsections = (size_t)ZODIAC_LANG_COUNT * ZODIAC_SIGN_COUNT * SECTIONS * WEEKS_MAX;
    char **sections = calloc(nsections, sizeof *sections);
    cr_assert(sky != NULL && sections != NULL);
    for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
        closers[l] = calloc(answers_max * (1 + SECTIONS), sizeof *closers[l]);
        cr_assert_not_null(closers[l]);
    }
    size_t nclosers[ZODIAC_LANG_COUNT] = {0}, nanswers[ZODIAC_LANG_COUNT] = {0}, nweeks = 0;

    for (int64_t t = zodiac_week_start((zodiac_week){FIRST_YEAR, 1});; t += ZODIAC_WEEK_SECONDS) {
        zodiac_week iso = zodiac_week_of(t);
        if (iso.year >= FIRST_YEAR + YEARS)
            break;
        cr_assert(nweeks < WEEKS_MAX);
        ephemeris_run run;
        ephemeris_run_init(&run, &eph);
        sky_ephemeris src = ephemeris_run_source(&run);
        cr_assert_eq(sky_week_compute(&src, t, sky, &err), 0, "%s", err.message);
        for (int s = 0; s < ZODIAC_SIGN_COUNT; s++) {
            for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
                char where[64];
                snprintf(where, sizeof where, "%d-W%02u sign %d lang %d", (int)iso.year, iso.week, s, l);
                json_t *d = horoscope_render(sky, iso, (zodiac_sign)s, (zodiac_lang)l);
                json_t *again = horoscope_render(sky, iso, (zodiac_sign)s, (zodiac_lang)l);
                cr_assert(d != NULL && again != NULL);
                char *a = json_dumps(d, HOROSCOPE_DUMP_FLAGS), *b = json_dumps(again, HOROSCOPE_DUMP_FLAGS);
                cr_assert_str_eq(a, b, "%s: two renders differ", where);
                free(a);
                free(b);
                json_decref(again);

                check_texts(d, (zodiac_lang)l, where);
                /* The closing sentences of the answer, each counted once per answer. */
                char last[1 + SECTIONS][TEXT_LEN];
                check_last_sentence(json_string_value(json_object_get(d, "overview")), last[0], TEXT_LEN);
                for (int k = 0; k < SECTIONS; k++) {
                    const char *text =
                        json_string_value(json_object_get(json_object_get(d, "sections"), section_keys[k]));
                    check_last_sentence(text, last[1 + k], TEXT_LEN);
                    sections[section_slot(l, s, k) + nweeks] = text_dup(text);
                }
                for (int k = 0; k < 1 + SECTIONS; k++) {
                    bool seen = false;
                    for (int m = 0; m < k; m++)
                        seen = seen || strcmp(last[m], last[k]) == 0;
                    if (!seen)
                        closers[l][nclosers[l]++] = text_dup(last[k]);
                }
                nanswers[l]++;
                json_decref(d);
            }
        }
        nweeks++;
    }
    cr_assert_geq(nweeks, YEARS * 52);

    for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
        const char *which = "";
        size_t most = most_repeated(closers[l], nclosers[l], &which);
        cr_assert(most * 10 <= nanswers[l], "lang %d: \"%s\" closes %zu of %zu answers (over 10%%)", l, which, most,
                  nanswers[l]);
        for (int s = 0; s < ZODIAC_SIGN_COUNT; s++) {
            for (int k = 0; k < SECTIONS; k++) {
                char **v = &sections[section_slot(l, s, k)];
                most = most_repeated(v, nweeks, &which);
                cr_assert(most <= 2, "lang %d sign %d: the %s section is word for word the same in %zu weeks: %s", l, s,
                          section_keys[k], most, which);
            }
        }
        texts_free(closers[l], nclosers[l]);
    }
    texts_free(sections, nsections); /* the weeks past nweeks are NULL */
    free(sky);
    ephemeris_thread_cleanup();
}
