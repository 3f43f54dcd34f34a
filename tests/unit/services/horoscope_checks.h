/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_TESTS_HOROSCOPE_CHECKS_H
#define STARMETER_TESTS_HOROSCOPE_CHECKS_H

/*
 * Checks on the horoscope's words shared by the phrase tests and the corpus test: each returns
 * NULL when the text passes, or a pointer to the offending place in it.
 */
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "domain/zodiac.h"

static const char *const check_weekdays[ZODIAC_LANG_COUNT][7] = {
    {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"},
    {"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"},
};

static inline bool check_is_letter(char ch)
{
    return ((ch | 32) >= 'a' && (ch | 32) <= 'z') || (ch & 0x80) != 0;
}

/* The weekday named at `p`, ignoring the case of its first letter, or -1. */
static inline int check_weekday_at(const char *text, const char *p, zodiac_lang lang)
{
    if (p > text && check_is_letter(p[-1]))
        return -1;
    for (int d = 0; d < 7; d++) {
        const char *name = check_weekdays[lang][d];
        size_t n = strlen(name);
        if ((p[0] | 32) == (name[0] | 32) && strncmp(p + 1, name + 1, n - 1) == 0 && !check_is_letter(p[n]))
            return d;
    }
    return -1;
}

/* Where the same weekday is named a second time with no other weekday between, or NULL. */
static inline const char *check_weekday_twice(const char *text, zodiac_lang lang)
{
    int last = -1;
    for (const char *p = text; *p != '\0'; p++) {
        int d = check_weekday_at(text, p, lang);
        if (d < 0)
            continue;
        if (d == last)
            return p;
        last = d;
    }
    return NULL;
}

/*
 * Where a French house phrase coordinates its items without repeating the preposition ("de vos
 * finances et vos valeurs"), or NULL. A bare object ("embellit vos finances et vos valeurs") is
 * right and passes.
 */
static inline const char *check_preposition_dropped(const char *text)
{
    static const char pattern[] = "(^|[ '])(de|à|pour|sur|dans|vers) (vos|votre) [^,.;:()]* et (vos|votre) ";
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED) != 0)
        return text;
    regmatch_t m[1];
    bool found = regexec(&re, text, 1, m, 0) == 0;
    regfree(&re);
    return found ? text + m[0].rm_so : NULL;
}

/* Copies the last sentence of `text` into `out` (cap bytes): the text after the last ". ". */
static inline void check_last_sentence(const char *text, char *out, size_t cap)
{
    const char *start = text;
    for (const char *p = strstr(text, ". "); p != NULL; p = strstr(p + 1, ". "))
        start = p + 2;
    size_t n = strlen(start);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, start, n);
    out[n] = '\0';
}

#endif
