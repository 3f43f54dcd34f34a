/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* GET /v1/b2b/astrology/weekly-by-sign over HTTP against the real ephemeris. */
#include <criterion/criterion.h>
#include <string.h>

#include "integration/harness.h"

static th_server srv;
static char key[80];

static void setup(void)
{
    th_start(&srv, NULL);
    th_response r;
    th_admin(&srv, "POST", "/v1/admin/plans",
             "{\"code\":\"all\",\"name\":\"All\",\"rate_per_second\":100000,\"burst\":100000,"
             "\"credential_rate_per_second\":100000,\"credential_burst\":100000}",
             &r);
    th_response_free(&r);
    th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"Stars\"}", &r);
    th_response_free(&r);
    th_admin(&srv, "PUT", "/v1/admin/accounts/1/contract", "{\"plan_code\":\"all\"}", &r);
    th_response_free(&r);
    th_admin(&srv, "POST", "/v1/admin/accounts/1/credentials", NULL, &r);
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    th_response_free(&r);
}

static void teardown(void)
{
    th_stop(&srv);
}

TestSuite(astrology, .init = setup, .fini = teardown, .timeout = 120);

static long weekly(const char *query, th_response *r)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/b2b/astrology/weekly-by-sign?%s", query);
    return th_keyed(&srv, path, key, r);
}

static const char *signs[] = {"aries", "taurus",  "gemini",      "cancer",    "leo",      "virgo",
                              "libra", "scorpio", "sagittarius", "capricorn", "aquarius", "pisces"};

static void assert_shape(json_t *d, const char *sign)
{
    cr_assert_str_eq(json_string_value(json_object_get(d, "sign")), sign);
    json_t *week = json_object_get(d, "week");
    cr_assert_str_eq(json_string_value(json_object_get(week, "iso")), "2026-W12");
    cr_assert_str_eq(json_string_value(json_object_get(week, "start")), "2026-03-16T00:00:00Z");
    cr_assert_str_eq(json_string_value(json_object_get(week, "end")), "2026-03-23T00:00:00Z");
    cr_assert(json_string_length(json_object_get(d, "headline")) > 10);
    cr_assert(json_string_length(json_object_get(d, "overview")) > 40);
    const char *sections[] = {"love", "work", "money", "wellbeing"};
    for (int i = 0; i < 4; i++)
        cr_assert(json_string_length(json_object_get(json_object_get(d, "sections"), sections[i])) > 20, "section %s",
                  sections[i]);
    cr_assert(json_is_array(json_object_get(d, "key_dates")));
    json_t *sky = json_object_get(d, "sky");
    json_t *pos = json_object_get(sky, "positions");
    cr_assert_eq(json_array_size(pos), 11);
    for (size_t i = 0; i < 11; i++) {
        json_int_t house = json_integer_value(json_object_get(json_array_get(pos, i), "house"));
        cr_assert(house >= 1 && house <= 12);
    }
    json_t *events = json_object_get(sky, "events");
    cr_assert_gt(json_array_size(events), 3);
    for (size_t i = 0; i < json_array_size(events); i++) {
        json_t *e = json_array_get(events, i);
        const char *utc = json_string_value(json_object_get(e, "utc"));
        cr_assert(utc && strlen(utc) == 20 && utc[19] == 'Z', "utc %s", utc ? utc : "(none)");
        json_int_t house = json_integer_value(json_object_get(e, "house"));
        cr_assert(house >= 1 && house <= 12);
    }
}

Test(astrology, all_twelve_signs_have_the_full_shape)
{
    for (int i = 0; i < 12; i++) {
        char q[96];
        snprintf(q, sizeof q, "sign=%s&week=2026-W12", signs[i]);
        th_response r;
        cr_assert_eq(weekly(q, &r), 200, "%s: %s", signs[i], r.body);
        assert_shape(th_data(&r), signs[i]);
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "meta"), "ephemeris")),
                         "swiss_ephemeris");
        th_response_free(&r);
    }
}

Test(astrology, the_march_equinox_is_in_its_week)
{
    th_response r;
    cr_assert_eq(weekly("sign=Aries&week=2026-W12", &r), 200, "%s", r.body);
    json_t *events = json_object_get(json_object_get(th_data(&r), "sky"), "events");
    bool found = false;
    for (size_t i = 0; i < json_array_size(events); i++) {
        json_t *e = json_array_get(events, i);
        if (strcmp(json_string_value(json_object_get(e, "type")), "ingress") == 0 &&
            strcmp(json_string_value(json_object_get(e, "body")), "sun") == 0) {
            cr_assert_str_eq(json_string_value(json_object_get(e, "sign")), "aries");
            /* Published: 2026-03-20T14:45:53Z. */
            cr_assert(strncmp(json_string_value(json_object_get(e, "utc")), "2026-03-20T14:4", 15) == 0);
            cr_assert_eq(json_integer_value(json_object_get(e, "house")), 1, "Aries's own sign: house 1");
            found = true;
        }
    }
    cr_assert(found, "%s", r.body);
    th_response_free(&r);
}

Test(astrology, french_is_french)
{
    th_response r;
    cr_assert_eq(weekly("sign=gemini&week=2026-W12&lang=fr", &r), 200, "%s", r.body);
    json_t *d = th_data(&r);
    cr_assert_str_eq(json_string_value(json_object_get(d, "sign_name")), "Gémeaux");
    cr_assert_str_eq(json_string_value(json_object_get(d, "lang")), "fr");
    cr_assert_str_eq(json_string_value(json_object_get(d, "sign")), "gemini", "identifiers stay English");
    th_response_free(&r);
}

/* Everything but the request id: the `data` of two answers. */
static char *data_text(const th_response *r)
{
    return json_dumps(th_data(r), JSON_COMPACT | JSON_SORT_KEYS);
}

Test(astrology, cached_and_uncached_answers_are_identical_and_deterministic)
{
    th_response a, b;
    cr_assert_eq(weekly("sign=libra&week=2031-W07", &a), 200, "%s", a.body); /* computes the week */
    cr_assert_eq(weekly("sign=libra&week=2031-W07", &b), 200);               /* from the cache */
    char *ta = data_text(&a), *tb = data_text(&b);
    cr_assert_str_eq(ta, tb);
    th_response_free(&a);
    th_response_free(&b);

    /* Another server, another cache: the same bytes. */
    th_stop(&srv);
    setup();
    cr_assert_eq(weekly("sign=libra&week=2031-W07", &a), 200);
    char *tc = data_text(&a);
    cr_assert_str_eq(ta, tc);
    th_response_free(&a);
    free(ta);
    free(tb);
    free(tc);
}

Test(astrology, bad_input_is_a_clear_422)
{
    const struct {
        const char *query, *field, *issue;
    } cases[] = {{"", "sign", "aries, taurus"},
                 {"sign=ophiuchus", "sign", "aries, taurus"},
                 {"sign=aries&week=2026-12", "week", "ISO week"},
                 {"sign=aries&week=2026-W54", "week", "ISO week"},
                 {"sign=aries&week=1700-W10", "week", "range of the ephemeris"},
                 {"sign=aries&week=2400-W10", "week", "range of the ephemeris"},
                 {"sign=aries&lang=de", "lang", "en, fr"},
                 {"sign=aries%27%20OR%201%3D1", "sign", "aries, taurus"},
                 /* A repeated parameter has no single meaning: refused, not read as its first value. */
                 {"sign=aries&sign=leo", "sign", "must be given once, not 2 times"},
                 {"sign=aries&sign=aries", "sign", "must be given once"},
                 {"sign=aries&%73ign=leo&sign=leo", "sign", "must be given once, not 3 times"},
                 {"sign=aries&week=2026-W12&week=2026-W13", "week", "must be given once"},
                 {"lang=fr&sign=aries&lang=en", "lang", "must be given once"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        th_response r;
        weekly(cases[i].query, &r);
        th_assert_error(&r, 422, "validation_error");
        json_t *fields = json_object_get(json_object_get(json_object_get(r.json, "error"), "details"), "fields");
        cr_assert_eq(json_array_size(fields), 1, "%s: %s", cases[i].query, r.body);
        json_t *f = json_array_get(fields, 0);
        cr_assert_str_eq(json_string_value(json_object_get(f, "field")), cases[i].field, "%s", cases[i].query);
        const char *issue = json_string_value(json_object_get(f, "issue"));
        cr_assert(strstr(issue, cases[i].issue) != NULL, "%s: %s", cases[i].query, issue);
        th_response_free(&r);
    }
    th_response r;
    weekly("sign=%00aries", &r); /* no value holds a NUL: malformed, whatever the parameter */
    th_assert_error(&r, 400, "bad_request");
    th_response_free(&r);
}

Test(astrology, a_key_is_required)
{
    th_response r;
    th_request(&srv, "GET", "/v1/b2b/astrology/weekly-by-sign?sign=aries", NULL, NULL, &r);
    th_assert_error(&r, 401, "missing_api_key");
    th_response_free(&r);
}

Test(astrology, the_current_week_is_the_default)
{
    th_response r;
    cr_assert_eq(weekly("sign=leo", &r), 200, "%s", r.body);
    cr_assert_not_null(json_string_value(json_object_get(json_object_get(th_data(&r), "week"), "iso")));
    th_response_free(&r);
}
