/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <string.h>

#include "domain/apikey.h"
#include "domain/civil.h"
#include "domain/model.h"

Test(apikey, generate_then_parse_round_trips)
{
    uint8_t rnd[APIKEY_RANDOM_BYTES];
    for (size_t i = 0; i < sizeof rnd; i++)
        rnd[i] = (uint8_t)(i * 37 + 11);
    apikey k, p;
    cr_assert(apikey_generate(rnd, &k));
    cr_assert_eq(strlen(k.full), APIKEY_LEN);
    cr_assert(strncmp(k.full, "sm_live_", 8) == 0);
    cr_assert(apikey_is_base62(k.key_id, APIKEY_ID_LEN));
    cr_assert(apikey_is_base62(k.secret, APIKEY_SECRET_LEN));
    cr_assert(apikey_parse(k.full, strlen(k.full), &p));
    cr_assert_str_eq(p.key_id, k.key_id);
    cr_assert_str_eq(p.secret, k.secret);
}

Test(apikey, biased_bytes_are_skipped_and_exhaustion_is_reported)
{
    uint8_t rnd[APIKEY_RANDOM_BYTES];
    memset(rnd, 250, sizeof rnd); /* all >= 248: nothing usable */
    apikey k;
    cr_assert(!apikey_generate(rnd, &k));
    memset(rnd, 0, sizeof rnd);
    cr_assert(apikey_generate(rnd, &k));
    cr_assert_eq(k.key_id[0], '0');
    rnd[0] = 248; /* skipped: the first character comes from rnd[1] */
    rnd[1] = 61;
    cr_assert(apikey_generate(rnd, &k));
    cr_assert_eq(k.key_id[0], 'z');
}

Test(apikey, parse_rejects_everything_else)
{
    const char *good = "sm_live_abcdefGHIJ12_0123456789abcdefghijABCDEFGHIJklmnopqrstuvw";
    apikey k;
    cr_assert(apikey_parse(good, strlen(good), &k));
    char bad[80];
    /* Every single-byte corruption outside the key's alphabet positions is refused. */
    for (size_t i = 0; i < strlen(good); i++) {
        strcpy(bad, good);
        bad[i] = (i == 20) ? 'x' : '-';
        cr_assert(!apikey_parse(bad, strlen(bad), &k), "accepted corruption at %zu", i);
    }
    cr_assert(!apikey_parse(good, strlen(good) - 1, &k));
    strcpy(bad, good);
    strcat(bad, "a");
    cr_assert(!apikey_parse(bad, strlen(bad), &k));
    cr_assert(!apikey_parse("", 0, &k));
    char nul[70];
    memcpy(nul, good, 64);
    nul[30] = '\0';
    cr_assert(!apikey_parse(nul, 64, &k), "an embedded NUL is not base62");
}

Test(civil, days_round_trip_over_centuries)
{
    for (int64_t d = -800000; d <= 800000; d += 97) {
        int64_t y;
        unsigned m, dd;
        civil_date_from_days(d, &y, &m, &dd);
        cr_assert_eq(civil_days_from_date(y, m, dd), d);
    }
    cr_assert_eq(civil_days_from_date(1970, 1, 1), 0);
    cr_assert_eq(civil_days_from_date(2000, 3, 1), 11017);
    cr_assert_eq(civil_days_in_month(2024, 2), 29);
    cr_assert_eq(civil_days_in_month(2100, 2), 28);
    cr_assert_eq(civil_days_in_month(2000, 2), 29);
}

Test(civil, rfc3339_parse_and_format)
{
    int64_t ms;
    cr_assert(civil_parse_rfc3339_str("2026-03-20T14:45:53Z", &ms));
    cr_assert_eq(ms, 1774017953000LL);
    cr_assert(civil_parse_rfc3339_str("2026-03-20T15:45:53.5+01:00", &ms));
    cr_assert_eq(ms, 1774017953500LL);
    cr_assert(civil_parse_rfc3339_str("2026-03-20t14:45:53.123456z", &ms));
    cr_assert_eq(ms, 1774017953123LL);
    cr_assert(civil_parse_rfc3339_str("9999-12-31T23:59:59Z", &ms), "the last instant that can be written");
    const char *bad[] = {"2026-03-20",
                         "2026-02-30T00:00:00Z",
                         "2026-13-01T00:00:00Z",
                         "2026-03-20T24:00:00Z",
                         "2026-03-20T14:45:53",
                         "2026-03-20T14:45:53+0100",
                         "2026-03-20T14:45:53.Z",
                         "1969-12-31T23:59:59Z",
                         "2026-03-20T14:45:53Zjunk",
                         "20260320T144553Z",
                         "9999-12-31T23:59:59-00:01"}; /* year 10000 in UTC: it could not be written back */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!civil_parse_rfc3339_str(bad[i], &ms), "accepted %s", bad[i]);
    char out[21];
    civil_format_rfc3339(1774017953999LL, out);
    cr_assert_str_eq(out, "2026-03-20T14:45:53Z");
    civil_format_rfc3339(951782400000LL, out);
    cr_assert_str_eq(out, "2000-02-29T00:00:00Z");
}

Test(model, effective_limits_take_only_set_overrides)
{
    plan p = {.limits = {.daily_limit = {true, 100},
                         .monthly_limit = {true, 1000},
                         .mode = LIMIT_BLOCK,
                         .rate_per_second = 5,
                         .burst = 10,
                         .credential_rate_per_second = 2,
                         .credential_burst = 4}};
    contract c = {.overridden = OVR_DAILY_LIMIT | OVR_MODE,
                  .overrides = {.daily_limit = {false, 0}, .monthly_limit = {true, 1}, .mode = LIMIT_OVERAGE}};
    limits l = contract_effective_limits(&p, &c);
    cr_assert(!l.daily_limit.present, "overridden to unlimited");
    cr_assert_eq(l.monthly_limit.v, 1000, "not overridden: from the plan");
    cr_assert_eq(l.mode, LIMIT_OVERAGE);
    cr_assert_eq(l.burst, 10);
}
