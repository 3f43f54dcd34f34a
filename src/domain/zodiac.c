/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "domain/zodiac.h"

#include <assert.h>
#include <math.h>

#include "domain/civil.h"

static const char *const sign_names[ZODIAC_LANG_COUNT][ZODIAC_SIGN_COUNT] = {
    [ZODIAC_LANG_EN] = {"aries", "taurus", "gemini", "cancer", "leo", "virgo", "libra", "scorpio", "sagittarius",
                        "capricorn", "aquarius", "pisces"},
    [ZODIAC_LANG_FR] = {"bélier", "taureau", "gémeaux", "cancer", "lion", "vierge", "balance", "scorpion", "sagittaire",
                        "capricorne", "verseau", "poissons"},
};

static const char *const body_names[ZODIAC_BODY_COUNT] = {
    "sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus", "neptune", "pluto", "mean_node",
};

const char *zodiac_sign_name(zodiac_sign sign, zodiac_lang lang)
{
    if ((unsigned)sign >= ZODIAC_SIGN_COUNT || (unsigned)lang >= ZODIAC_LANG_COUNT)
        return NULL;
    return sign_names[lang][sign];
}

bool zodiac_sign_from_name(slice name, zodiac_sign *out)
{
    for (unsigned i = 0; i < ZODIAC_SIGN_COUNT; i++) {
        if (slice_eq_nocase(name, sign_names[ZODIAC_LANG_EN][i])) {
            *out = (zodiac_sign)i;
            return true;
        }
    }
    return false;
}

const char *zodiac_body_name(zodiac_body body)
{
    return (unsigned)body < ZODIAC_BODY_COUNT ? body_names[body] : NULL;
}

bool zodiac_body_from_name(slice name, zodiac_body *out)
{
    for (unsigned i = 0; i < ZODIAC_BODY_COUNT; i++) {
        if (slice_eq_nocase(name, body_names[i])) {
            *out = (zodiac_body)i;
            return true;
        }
    }
    return false;
}

double zodiac_lon_normalize(double lon_deg)
{
    assert(isfinite(lon_deg));
    double r = fmod(lon_deg, 360.0);
    if (r < 0)
        r += 360.0;
    /* -1e-20 + 360 rounds to 360, which is not in [0, 360); adding +0.0 turns -0.0 into 0.0. */
    return r >= 360.0 ? 0.0 : r + 0.0;
}

zodiac_sign zodiac_sign_of(double lon_deg)
{
    int s = (int)(zodiac_lon_normalize(lon_deg) / 30.0);
    return (zodiac_sign)(s < ZODIAC_SIGN_COUNT ? s : ZODIAC_SIGN_COUNT - 1);
}

double zodiac_degree_in_sign(double lon_deg)
{
    double lon = zodiac_lon_normalize(lon_deg);
    double d = lon - 30.0 * (double)zodiac_sign_of(lon);
    return d < 0 ? 0 : d;
}

unsigned zodiac_house_solar(zodiac_sign body_sign, zodiac_sign reader_sign)
{
    assert((unsigned)body_sign < ZODIAC_SIGN_COUNT && (unsigned)reader_sign < ZODIAC_SIGN_COUNT);
    int d = ((int)body_sign - (int)reader_sign) % ZODIAC_SIGN_COUNT;
    return (unsigned)((d + ZODIAC_SIGN_COUNT) % ZODIAC_SIGN_COUNT) + 1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of the Monday that starts ISO week 1 of `year`: the week holding 4 January. */
static int64_t week1_monday(int64_t year)
{
    int64_t jan4 = civil_days_from_date(year, 1, 4);
    /* 1970-01-01 was a Thursday, so day 0 is weekday 3 counting Monday as 0. */
    return jan4 - (jan4 + 3 - floor_div(jan4 + 3, 7) * 7);
}

unsigned zodiac_weeks_in_year(int64_t year)
{
    return (unsigned)((week1_monday(year + 1) - week1_monday(year)) / 7);
}

bool zodiac_week_parse(slice s, zodiac_week *out)
{
    int y, w;
    if (s.len != 8 || s.ptr[4] != '-' || s.ptr[5] != 'W')
        return false;
    if (!civil_digits(s.ptr, 4, &y) || !civil_digits(s.ptr + 6, 2, &w))
        return false;
    if (y < 1 || w < 1 || (unsigned)w > zodiac_weeks_in_year(y))
        return false;
    out->year = y;
    out->week = (unsigned)w;
    return true;
}

void zodiac_week_format(zodiac_week w, char out[ZODIAC_WEEK_STR_SIZE])
{
    assert(w.year >= 1 && w.year <= 9999 && w.week >= 1 && w.week <= 53);
    unsigned y = (unsigned)w.year;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = 'W';
    out[6] = (char)('0' + w.week / 10);
    out[7] = (char)('0' + w.week % 10);
    out[8] = '\0';
}

int64_t zodiac_week_start(zodiac_week w)
{
    return (week1_monday(w.year) + 7 * ((int64_t)w.week - 1)) * 86400;
}

zodiac_week zodiac_week_of(int64_t unix_s)
{
    int64_t days = floor_div(unix_s, 86400);
    int64_t y;
    unsigned m, d;
    civil_date_from_days(days, &y, &m, &d);
    /* The ISO year differs from the civil one only in the last days of December or first of January. */
    int64_t mon = week1_monday(y + 1);
    if (days >= mon) {
        y++;
    } else {
        mon = week1_monday(y);
        if (days < mon)
            mon = week1_monday(--y);
    }
    return (zodiac_week){.year = (int32_t)y, .week = (unsigned)((days - mon) / 7 + 1)};
}
