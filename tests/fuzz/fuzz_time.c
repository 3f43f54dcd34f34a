/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * RFC 3339 timestamps and ISO 8601 weeks. An accepted timestamp lies in the documented years and
 * survives formatting and parsing again (to the second); the length-bounded and the NUL-terminated
 * parser agree. An accepted week is the input spelled canonically, and its Monday lies in it.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/civil.h"
#include "domain/zodiac.h"

#define YEAR_10000_MS 253402300800000LL

static void check_rfc3339(const uint8_t *data, size_t size)
{
    int64_t ms = 0;
    bool ok = civil_parse_rfc3339((const char *)data, size, &ms);
    if (ok) /* every accepted instant can be written back: none in year 10000 */
        assert(ms >= 0 && ms < YEAR_10000_MS);
    if (ok) {
        char out[21];
        civil_format_rfc3339(ms, out);
        int64_t again = -1;
        assert(civil_parse_rfc3339_str(out, &again));
        assert(again == ms - ms % 1000);
    }
    if (memchr(data, '\0', size) == NULL) {
        char *s = malloc(size + 1);
        memcpy(s, data, size);
        s[size] = '\0';
        int64_t ms2 = 0;
        bool ok2 = civil_parse_rfc3339_str(s, &ms2);
        assert(ok2 == ok && (!ok || ms2 == ms));
        free(s);
    }
}

static void check_week(const uint8_t *data, size_t size)
{
    zodiac_week w = {0, 0};
    if (!zodiac_week_parse(slice_make((const char *)data, size), &w))
        return;
    assert(w.year >= 1 && w.year <= 9999 && w.week >= 1 && w.week <= zodiac_weeks_in_year(w.year));
    char out[ZODIAC_WEEK_STR_SIZE];
    zodiac_week_format(w, out);
    assert(size == strlen(out) && memcmp(out, data, size) == 0);
    zodiac_week back = zodiac_week_of(zodiac_week_start(w));
    assert(back.year == w.year && back.week == w.week);
    back = zodiac_week_of(zodiac_week_start(w) + ZODIAC_WEEK_SECONDS - 1);
    assert(back.year == w.year && back.week == w.week);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_rfc3339(data, size);
    check_week(data, size);
    return 0;
}
