/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "domain/sky.h"
#include "domain/zodiac.h"
#include "services/horoscope.h"
#include "unit/services/horoscope_checks.h"

/* 2026-W12: Monday 16 March 2026 00:00Z to Monday 23 March. */
static const zodiac_week W12 = {2026, 12};

static const char *const fr_body[ZODIAC_BODY_COUNT] = {
    "Soleil", "Lune", "Mercure", "Vénus", "Mars", "Jupiter", "Saturne", "Uranus", "Neptune", "Pluton", "nœud lunaire",
};
static const char *const en_body[ZODIAC_BODY_COUNT] = {
    "Sun", "Moon", "Mercury", "Venus", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune", "Pluto", "lunar node",
};

static void position_set(sky_week *w, zodiac_body b, double lon, double speed)
{
    sky_position *p = &w->positions[b];
    p->body = b;
    p->lon_deg = lon;
    p->sign = zodiac_sign_of(lon);
    p->degree = zodiac_degree_in_sign(lon);
    p->speed_deg_per_day = speed;
    p->retrograde = speed < 0;
}

/* The sky of 2026-W12, roughly as it is, with no events. */
static void week_positions(sky_week *w)
{
    memset(w, 0, sizeof *w);
    w->start = zodiac_week_start(W12);
    w->end = w->start + ZODIAC_WEEK_SECONDS;
    position_set(w, ZODIAC_SUN, 355.5, 0.99);
    position_set(w, ZODIAC_MOON, 310.25, 13.2);
    position_set(w, ZODIAC_MERCURY, 338.6, -0.31);
    position_set(w, ZODIAC_VENUS, 15.0, 1.23);
    position_set(w, ZODIAC_MARS, 349.99, 0.78);
    position_set(w, ZODIAC_JUPITER, 105.2, 0.02);
    position_set(w, ZODIAC_SATURN, 0.7, 0.12);
    position_set(w, ZODIAC_URANUS, 57.8, 0.03);
    position_set(w, ZODIAC_NEPTUNE, 0.9, 0.04);
    position_set(w, ZODIAC_PLUTO, 304.5, 0.01);
    position_set(w, ZODIAC_MEAN_NODE, 359.999, -0.053);
}

static sky_event event_make(int day, int hour, sky_event_kind kind, zodiac_body a, zodiac_body b, double lon,
                            double other_lon)
{
    return (sky_event){
        .at = zodiac_week_start(W12) + day * 86400 + hour * 3600 + 1234,
        .kind = kind,
        .body = a,
        .other = b,
        .sign = zodiac_sign_of(lon),
        .lon_deg = lon,
        .other_lon_deg = other_lon,
    };
}

/* One event of each kind and variety; `n` receives their number. */
static size_t all_events(sky_event *out)
{
    size_t n = 0;
    out[n++] = event_make(4, 14, SKY_EVENT_INGRESS, ZODIAC_SUN, ZODIAC_SUN, 0.0, 0.0);        /* equinox */
    out[n++] = event_make(5, 3, SKY_EVENT_INGRESS, ZODIAC_MOON, ZODIAC_MOON, 30.0, 30.0);     /* into Taurus */
    out[n] = event_make(0, 9, SKY_EVENT_INGRESS, ZODIAC_MERCURY, ZODIAC_MERCURY, 329.999, 0); /* back to Aquarius */
    out[n++].retrograde = true;
    out[n] = event_make(2, 20, SKY_EVENT_STATION, ZODIAC_MARS, ZODIAC_MARS, 350.4, 350.4);
    out[n++].retrograde = true;
    out[n++] = event_make(4, 9, SKY_EVENT_STATION, ZODIAC_MERCURY, ZODIAC_MERCURY, 338.2, 338.2);
    for (int ph = 0; ph < SKY_PHASE_COUNT; ph++) {
        out[n] = event_make(ph + 1, 1, SKY_EVENT_LUNATION, ZODIAC_MOON, ZODIAC_SUN, 356.0 + 90.0 * ph, 356.0);
        out[n].lon_deg = zodiac_lon_normalize(out[n].lon_deg);
        out[n].sign = zodiac_sign_of(out[n].lon_deg);
        out[n++].phase = (sky_phase)ph;
    }
    static const zodiac_body pairs[SKY_ASPECT_COUNT][2] = {
        {ZODIAC_SUN, ZODIAC_NEPTUNE},    {ZODIAC_VENUS, ZODIAC_PLUTO},  {ZODIAC_MARS, ZODIAC_JUPITER},
        {ZODIAC_MERCURY, ZODIAC_URANUS}, {ZODIAC_VENUS, ZODIAC_SATURN},
    };
    static const double lons[SKY_ASPECT_COUNT] = {355.8, 16.0, 350.1, 339.0, 17.5};
    for (int a = 0; a < SKY_ASPECT_COUNT; a++) {
        out[n] = event_make(a + 2, 12, SKY_EVENT_ASPECT, pairs[a][0], pairs[a][1], lons[a], lons[a] + 90);
        out[n++].aspect = (sky_aspect)a;
    }
    return n;
}

static int by_time(const void *a, const void *b)
{
    const sky_event *x = a, *y = b;
    return (x->at > y->at) - (x->at < y->at);
}

static sky_week *full_week(void)
{
    sky_week *w = malloc(sizeof *w);
    cr_assert_not_null(w);
    week_positions(w);
    w->nevents = all_events(w->events);
    qsort(w->events, w->nevents, sizeof w->events[0], by_time);
    return w;
}

/* Every human sentence of a document, joined with newlines. Owned by the buf. */
static void all_text(json_t *data, buf *b)
{
    buf_appendf(b, "%s\n%s\n", json_string_value(json_object_get(data, "headline")),
                json_string_value(json_object_get(data, "overview")));
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(data, "sections"), key, v)
    {
        buf_appendf(b, "%s\n", json_string_value(v));
    }
    size_t i, j;
    json_t *kd, *s;
    json_array_foreach(json_object_get(data, "key_dates"), i, kd)
    {
        json_array_foreach(json_object_get(kd, "because"), j, s)
        {
            buf_appendf(b, "%s\n", json_string_value(s));
        }
    }
    cr_assert(!buf_failed(b));
}

static json_t *field(json_t *obj, const char *name, json_type type)
{
    json_t *v = json_object_get(obj, name);
    cr_assert_not_null(v, "missing field \"%s\"", name);
    cr_assert_eq(json_typeof(v), type, "field \"%s\" has type %d, not %d", name, json_typeof(v), type);
    return v;
}

static void nonempty_string(json_t *obj, const char *name)
{
    json_t *v = field(obj, name, JSON_STRING);
    cr_assert(json_string_length(v) > 0, "\"%s\" is empty", name);
    const char *s = json_string_value(v);
    cr_assert(strchr(s, '{') == NULL && strchr(s, '}') == NULL, "unfilled template in \"%s\": %s", name, s);
    cr_assert(strstr(s, "  ") == NULL && strstr(s, " .") == NULL && strstr(s, "..") == NULL, "bad spacing: %s", s);
}

static bool is_rfc3339_z(const char *s)
{
    /* 2026-03-16T00:00:00Z */
    if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
        return false;
    return true;
}

static void assert_shape(json_t *d, zodiac_sign sign, zodiac_lang lang, const sky_week *w)
{
    cr_assert_str_eq(json_string_value(field(d, "sign", JSON_STRING)), zodiac_sign_name(sign, ZODIAC_LANG_EN));
    nonempty_string(d, "sign_name");
    cr_assert_str_eq(json_string_value(field(d, "lang", JSON_STRING)), lang == ZODIAC_LANG_FR ? "fr" : "en");

    json_t *week = field(d, "week", JSON_OBJECT);
    cr_assert_str_eq(json_string_value(field(week, "iso", JSON_STRING)), "2026-W12");
    cr_assert_str_eq(json_string_value(field(week, "start", JSON_STRING)), "2026-03-16T00:00:00Z");
    cr_assert_str_eq(json_string_value(field(week, "end", JSON_STRING)), "2026-03-23T00:00:00Z");

    nonempty_string(d, "headline");
    nonempty_string(d, "overview");
    json_t *sections = field(d, "sections", JSON_OBJECT);
    cr_assert_eq(json_object_size(sections), 4);
    nonempty_string(sections, "love");
    nonempty_string(sections, "work");
    nonempty_string(sections, "money");
    nonempty_string(sections, "wellbeing");

    json_t *kds = field(d, "key_dates", JSON_ARRAY), *kd;
    size_t i;
    const char *prev = "";
    json_array_foreach(kds, i, kd)
    {
        const char *date = json_string_value(field(kd, "date", JSON_STRING));
        cr_assert(strlen(date) == 10 && strncmp(date, "2026-03-", 8) == 0, "date %s", date);
        cr_assert(strcmp(date, "2026-03-16") >= 0 && strcmp(date, "2026-03-22") <= 0, "date %s outside the week", date);
        cr_assert(strcmp(prev, date) < 0, "key dates out of order or repeated: %s after %s", date, prev);
        prev = date;
        const char *tone = json_string_value(field(kd, "tone", JSON_STRING));
        cr_assert(strcmp(tone, "favourable") == 0 || strcmp(tone, "challenging") == 0 || strcmp(tone, "pivotal") == 0 ||
                      strcmp(tone, "mixed") == 0,
                  "tone %s", tone);
        json_t *because = field(kd, "because", JSON_ARRAY), *s;
        size_t j;
        cr_assert(json_array_size(because) > 0);
        json_array_foreach(because, j, s)
        {
            cr_assert(json_is_string(s) && json_string_length(s) > 0);
        }
    }

    json_t *lucky = field(d, "lucky", JSON_OBJECT);
    nonempty_string(lucky, "day");
    nonempty_string(lucky, "color");
    json_int_t num = json_integer_value(field(lucky, "number", JSON_INTEGER));
    cr_assert(num >= 1 && num <= 99);

    json_t *sky = field(d, "sky", JSON_OBJECT);
    json_t *positions = field(sky, "positions", JSON_ARRAY), *p;
    cr_assert_eq(json_array_size(positions), ZODIAC_BODY_COUNT);
    json_array_foreach(positions, i, p)
    {
        cr_assert_str_eq(json_string_value(field(p, "body", JSON_STRING)), zodiac_body_name((zodiac_body)i));
        cr_assert_str_eq(json_string_value(field(p, "sign", JSON_STRING)),
                         zodiac_sign_name(w->positions[i].sign, ZODIAC_LANG_EN));
        double deg = json_real_value(field(p, "degree", JSON_REAL));
        cr_assert(deg >= 0 && deg < 30);
        field(p, "speed", JSON_REAL);
        cr_assert_eq(json_is_true(json_object_get(p, "retrograde")), w->positions[i].retrograde);
        json_int_t h = json_integer_value(field(p, "house", JSON_INTEGER));
        cr_assert_eq(h, zodiac_house_solar(w->positions[i].sign, sign));
    }

    json_t *events = field(sky, "events", JSON_ARRAY), *e;
    cr_assert_eq(json_array_size(events), w->nevents);
    json_array_foreach(events, i, e)
    {
        const sky_event *x = &w->events[i];
        const char *type = json_string_value(field(e, "type", JSON_STRING));
        cr_assert_str_eq(type, sky_event_kind_name(x->kind));
        cr_assert(is_rfc3339_z(json_string_value(field(e, "utc", JSON_STRING))));
        cr_assert_eq(json_integer_value(field(e, "house", JSON_INTEGER)), zodiac_house_solar(x->sign, sign));
        switch (x->kind) {
        case SKY_EVENT_INGRESS:
            cr_assert_str_eq(json_string_value(field(e, "body", JSON_STRING)), zodiac_body_name(x->body));
            cr_assert_str_eq(json_string_value(field(e, "sign", JSON_STRING)), zodiac_sign_name(x->sign, 0));
            cr_assert_eq(json_object_size(e), 5);
            break;
        case SKY_EVENT_STATION:
            cr_assert_str_eq(json_string_value(field(e, "body", JSON_STRING)), zodiac_body_name(x->body));
            cr_assert_str_eq(json_string_value(field(e, "direction", JSON_STRING)),
                             x->retrograde ? "retrograde" : "direct");
            cr_assert_str_eq(json_string_value(field(e, "sign", JSON_STRING)), zodiac_sign_name(x->sign, 0));
            field(e, "degree", JSON_REAL);
            cr_assert_eq(json_object_size(e), 7);
            break;
        case SKY_EVENT_LUNATION:
            cr_assert_str_eq(json_string_value(field(e, "phase", JSON_STRING)), sky_phase_name(x->phase));
            cr_assert_str_eq(json_string_value(field(e, "sign", JSON_STRING)), zodiac_sign_name(x->sign, 0));
            cr_assert_eq(json_object_size(e), 5);
            break;
        default: {
            json_t *bodies = field(e, "bodies", JSON_ARRAY);
            cr_assert_eq(json_array_size(bodies), 2);
            cr_assert_str_eq(json_string_value(json_array_get(bodies, 0)), zodiac_body_name(x->body));
            cr_assert_str_eq(json_string_value(json_array_get(bodies, 1)), zodiac_body_name(x->other));
            cr_assert_str_eq(json_string_value(field(e, "aspect", JSON_STRING)), sky_aspect_name(x->aspect));
            cr_assert_eq(json_object_size(e), 5);
        }
        }
    }
}

/* No section repeats, word for word, a sentence another section already told. */
static void assert_sections_do_not_repeat(json_t *d)
{
    static const char *const keys[] = {"love", "work", "money", "wellbeing"};
    json_t *sections = json_object_get(d, "sections");
    for (int a = 0; a < 4; a++) {
        const char *text = json_string_value(json_object_get(sections, keys[a]));
        for (const char *p = text; *p != '\0';) {
            const char *end = strstr(p, ". ");
            size_t n = end ? (size_t)(end - p) : strlen(p);
            char sentence[1024];
            cr_assert(n < sizeof sentence);
            memcpy(sentence, p, n);
            sentence[n] = '\0';
            for (int b = 0; b < 4; b++)
                if (b != a)
                    cr_assert(strstr(json_string_value(json_object_get(sections, keys[b])), sentence) == NULL,
                              "\"%s\" is in both %s and %s", sentence, keys[a], keys[b]);
            p += n;
            while (*p == '.' || *p == ' ')
                p++;
        }
    }
}

static char *dump(json_t *d)
{
    char *s = json_dumps(d, HOROSCOPE_DUMP_FLAGS);
    cr_assert_not_null(s);
    return s;
}

Test(horoscope, every_sign_and_language_has_the_documented_shape_and_is_deterministic)
{
    sky_week *w = full_week();
    for (int s = 0; s < ZODIAC_SIGN_COUNT; s++) {
        for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
            json_t *a = horoscope_render(w, W12, (zodiac_sign)s, (zodiac_lang)l);
            json_t *b = horoscope_render(w, W12, (zodiac_sign)s, (zodiac_lang)l);
            cr_assert_not_null(a);
            assert_shape(a, (zodiac_sign)s, (zodiac_lang)l, w);
            assert_sections_do_not_repeat(a);
            char *da = dump(a), *db = dump(b);
            cr_assert_str_eq(da, db, "two renders of %d/%d differ", s, l);
            free(da);
            free(db);
            json_decref(a);
            json_decref(b);
        }
    }
    free(w);
}

Test(horoscope, numbers_are_dumped_as_rounded)
{
    sky_week *w = full_week();
    json_t *d = horoscope_render(w, W12, ZODIAC_ARIES, ZODIAC_LANG_EN);
    char *s = dump(d);
    /* Mars at 349.99 is 19.99° Pisces; the node at 29.999° Pisces shows 29.99, not 30.00. */
    cr_assert(strstr(s, "\"body\":\"mars\",\"sign\":\"pisces\",\"degree\":19.99,\"speed\":0.78,") != NULL, "%s", s);
    cr_assert(strstr(s, "\"body\":\"mean_node\",\"sign\":\"pisces\",\"degree\":29.99,\"speed\":-0.053,"
                        "\"retrograde\":true,\"house\":12}") != NULL,
              "%s", s);
    cr_assert(strstr(s, "\"utc\":\"2026-03-20T14:20:34Z\"") != NULL, "the equinox ingress: %s", s);
    free(s);
    json_decref(d);
    free(w);
}

Test(horoscope, houses_are_solar_whole_sign_from_the_reader)
{
    sky_week *w = full_week();
    /* The Sun enters Aries: the reader's own sign for Aries, the 2nd for Pisces, the 7th for Libra. */
    static const struct {
        zodiac_sign reader;
        int house;
        const char *en, *fr;
    } cases[] = {
        {ZODIAC_ARIES, 1, "your own sign", "votre propre signe"},
        {ZODIAC_PISCES, 2, "your 2nd house", "votre maison 2"},
        {ZODIAC_LIBRA, 7, "your 7th house", "votre maison 7"},
        {ZODIAC_TAURUS, 12, "your 12th house", "votre maison 12"},
        {ZODIAC_CANCER, 10, "your 10th house", "votre maison 10"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
            json_t *d = horoscope_render(w, W12, cases[k].reader, (zodiac_lang)l);
            json_t *events = json_object_get(json_object_get(d, "sky"), "events"), *e;
            size_t i;
            bool found = false;
            json_array_foreach(events, i, e)
            {
                if (strcmp(json_string_value(json_object_get(e, "type")), "ingress") == 0 &&
                    strcmp(json_string_value(json_object_get(e, "body")), "sun") == 0) {
                    cr_assert_eq(json_integer_value(json_object_get(e, "house")), cases[k].house);
                    found = true;
                }
            }
            cr_assert(found);
            /* Venus at 15° Aries: 10th house for Cancer, 1st for Aries. */
            json_t *venus = json_array_get(json_object_get(json_object_get(d, "sky"), "positions"), ZODIAC_VENUS);
            cr_assert_eq(json_integer_value(json_object_get(venus, "house")),
                         zodiac_house_solar(ZODIAC_ARIES, cases[k].reader));
            buf b;
            buf_init(&b, 1 << 20);
            all_text(d, &b);
            const char *want = l == ZODIAC_LANG_FR ? cases[k].fr : cases[k].en;
            cr_assert(strstr(b.data, want) != NULL, "no \"%s\" in:\n%s", want, b.data);
            buf_cleanup(&b);
            json_decref(d);
        }
    }
    cr_assert_eq(zodiac_house_solar(ZODIAC_ARIES, ZODIAC_ARIES), 1);
    cr_assert_eq(zodiac_house_solar(ZODIAC_ARIES, ZODIAC_PISCES), 2);
    cr_assert_eq(zodiac_house_solar(ZODIAC_PISCES, ZODIAC_ARIES), 12);
    free(w);
}

static bool contains_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p != NULL; p = strstr(p + 1, word)) {
        bool left = p == text || !((p[-1] | 32) >= 'a' && (p[-1] | 32) <= 'z');
        bool right = !((p[n] | 32) >= 'a' && (p[n] | 32) <= 'z');
        if (left && right)
            return true;
    }
    return false;
}

Test(horoscope, each_event_kind_is_told_in_both_languages_with_its_bodies)
{
    sky_event evs[SKY_WEEK_EVENTS_MAX];
    size_t n = all_events(evs);
    sky_week *w = malloc(sizeof *w);
    cr_assert_not_null(w);
    for (size_t k = 0; k < n; k++) {
        week_positions(w);
        w->nevents = 1;
        w->events[0] = evs[k];
        for (int s = 0; s < ZODIAC_SIGN_COUNT; s++) {
            for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
                json_t *d = horoscope_render(w, W12, (zodiac_sign)s, (zodiac_lang)l);
                cr_assert_not_null(d);
                assert_shape(d, (zodiac_sign)s, (zodiac_lang)l, w);
                buf b;
                buf_init(&b, 1 << 20);
                all_text(d, &b);
                const char *const *names = l == ZODIAC_LANG_FR ? fr_body : en_body;
                const char *headline = json_string_value(json_object_get(d, "headline"));
                const sky_event *e = &evs[k];
                if (e->kind == SKY_EVENT_LUNATION) {
                    const char *moon = l == ZODIAC_LANG_FR ? "lune" : "Moon";
                    cr_assert(strstr(headline, moon) != NULL, "event %zu: %s", k, headline);
                } else {
                    cr_assert(strstr(headline, names[e->body]) != NULL, "event %zu: %s", k, headline);
                }
                if (e->kind == SKY_EVENT_ASPECT)
                    cr_assert(strstr(headline, names[e->other]) != NULL, "event %zu: %s", k, headline);
                /* The event's day is named in a section. */
                static const char *const days[ZODIAC_LANG_COUNT][7] = {
                    {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"},
                    {"undi", "ardi", "ercredi", "eudi", "endredi", "amedi", "imanche"},
                };
                int wd = (int)((e->at - w->start) / 86400);
                cr_assert(strstr(b.data, days[l][wd]) != NULL, "event %zu: no %s in\n%s", k, days[l][wd], b.data);
                if (e->kind == SKY_EVENT_STATION && e->retrograde == false && l == ZODIAC_LANG_FR)
                    cr_assert(strstr(b.data, "Mercure reprend sa marche directe") != NULL, "%s", b.data);
                if (e->kind == SKY_EVENT_STATION && e->retrograde && l == ZODIAC_LANG_FR)
                    cr_assert(strstr(b.data, "Mars devient rétrograde") != NULL, "%s", b.data);
                buf_cleanup(&b);
                json_decref(d);
            }
        }
    }
    free(w);
}

Test(horoscope, french_is_french)
{
    sky_week *w = full_week();
    static const char *const english[] = {"Sun",    "Moon",   "Mercury", "Venus",  "Saturn", "Pluto",     "node",
                                          "the",    "your",   "Monday",  "Friday", "Sunday", "house",     "Aries",
                                          "Taurus", "Gemini", "Pisces",  "Leo",    "and",    "retrograde"};
    for (int s = 0; s < ZODIAC_SIGN_COUNT; s++) {
        json_t *d = horoscope_render(w, W12, (zodiac_sign)s, ZODIAC_LANG_FR);
        buf b;
        buf_init(&b, 1 << 20);
        all_text(d, &b);
        cr_assert(strstr(b.data, "é") != NULL, "no accent in:\n%s", b.data);
        for (size_t i = 0; i < sizeof english / sizeof english[0]; i++)
            cr_assert(!contains_word(b.data, english[i]), "English \"%s\" in:\n%s", english[i], b.data);
        /* French typography: a no-break space before the colon and semicolon, never a bare one. */
        cr_assert(strstr(b.data, " :") == NULL && strstr(b.data, " ;") == NULL, "%s", b.data);
        cr_assert(strstr(b.data, "\u00a0:") != NULL);
        /* No elision or contraction missed: "de" or "que" before a vowel, "à le", "de les". */
        static const char *const bad[] = {" de a", " de é", " de o", " de u",   " que a",  " que i",
                                          " le a", " la a", " à le", " de le ", " de les "};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            cr_assert(strstr(b.data, bad[i]) == NULL, "\"%s\" in:\n%s", bad[i], b.data);
        const char *lucky = json_string_value(json_object_get(json_object_get(d, "lucky"), "day"));
        static const char *const jours[] = {"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"};
        bool ok = false;
        for (int i = 0; i < 7; i++)
            ok = ok || strcmp(lucky, jours[i]) == 0;
        cr_assert(ok, "lucky day %s", lucky);
        static const char *const signes[] = {"Bélier",  "Taureau",  "Gémeaux",    "Cancer",     "Lion",    "Vierge",
                                             "Balance", "Scorpion", "Sagittaire", "Capricorne", "Verseau", "Poissons"};
        cr_assert_str_eq(json_string_value(json_object_get(d, "sign_name")), signes[s]);
        buf_cleanup(&b);
        json_decref(d);
    }
    free(w);
}

Test(horoscope, english_is_english)
{
    sky_week *w = full_week();
    static const char *const french[] = {"Soleil", "Lune", "Mercure", "Vénus", "Saturne", "votre", "maison", "lundi"};
    for (int s = 0; s < ZODIAC_SIGN_COUNT; s++) {
        json_t *d = horoscope_render(w, W12, (zodiac_sign)s, ZODIAC_LANG_EN);
        buf b;
        buf_init(&b, 1 << 20);
        all_text(d, &b);
        for (const char *p = b.data; *p; p++) {
            if (strncmp(p, "°", strlen("°")) == 0)
                p += strlen("°") - 1;
            else
                cr_assert((unsigned char)*p < 0x80, "non-ASCII in English:\n%s", b.data);
        }
        for (size_t i = 0; i < sizeof french / sizeof french[0]; i++)
            cr_assert(!contains_word(b.data, french[i]), "French \"%s\" in:\n%s", french[i], b.data);
        buf_cleanup(&b);
        json_decref(d);
    }
    free(w);
}

Test(horoscope, a_week_without_events_falls_back_on_the_positions)
{
    sky_week *w = malloc(sizeof *w);
    cr_assert_not_null(w);
    week_positions(w);
    for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
        json_t *d = horoscope_render(w, W12, ZODIAC_GEMINI, (zodiac_lang)l);
        assert_shape(d, ZODIAC_GEMINI, (zodiac_lang)l, w);
        cr_assert_eq(json_array_size(json_object_get(d, "key_dates")), 0);
        const char *love = json_string_value(json_object_get(json_object_get(d, "sections"), "love"));
        /* Venus at 15° Aries is in the 11th house of Gemini. */
        if (l == ZODIAC_LANG_EN)
            cr_assert(strstr(love, "Venus stays in Aries all week, in your 11th house") != NULL, "%s", love);
        else
            cr_assert(strstr(love, "Vénus reste en Bélier toute la semaine, dans votre maison 11") != NULL, "%s", love);
        const char *work = json_string_value(json_object_get(json_object_get(d, "sections"), "work"));
        cr_assert(strstr(work, l == ZODIAC_LANG_EN ? "Mars" : "Mars") != NULL, "%s", work);
        json_decref(d);
    }
    free(w);
}

Test(horoscope, the_week_and_sign_change_the_choices_not_the_language)
{
    sky_week *w = full_week();
    /* Both languages of a sign make the same choices: the lucky number is the same. */
    for (int s = 0; s < ZODIAC_SIGN_COUNT; s++) {
        json_t *en = horoscope_render(w, W12, (zodiac_sign)s, ZODIAC_LANG_EN);
        json_t *fr = horoscope_render(w, W12, (zodiac_sign)s, ZODIAC_LANG_FR);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(en, "lucky"), "number")),
                     json_integer_value(json_object_get(json_object_get(fr, "lucky"), "number")));
        json_decref(en);
        json_decref(fr);
    }
    /* Across the 12 signs and a few weeks the hash does not always pick the same number. */
    json_int_t first = -1;
    bool varied = false;
    for (unsigned wk = 10; wk < 14; wk++) {
        json_t *d = horoscope_render(w, (zodiac_week){2026, wk}, ZODIAC_LEO, ZODIAC_LANG_EN);
        json_int_t num = json_integer_value(json_object_get(json_object_get(d, "lucky"), "number"));
        varied = varied || (first >= 0 && num != first);
        first = num;
        json_decref(d);
    }
    cr_assert(varied);
    free(w);
}

/* ---- phrase families, in both languages ---- */

/* A week of the positions above with no planet retrograde, and the given events. */
static sky_week *week_of(const sky_event *events, size_t n)
{
    sky_week *w = malloc(sizeof *w);
    cr_assert_not_null(w);
    week_positions(w);
    position_set(w, ZODIAC_MERCURY, 338.6, 1.1);
    cr_assert(n <= SKY_WEEK_EVENTS_MAX);
    if (n > 0)
        memcpy(w->events, events, n * sizeof *events);
    w->nevents = n;
    qsort(w->events, w->nevents, sizeof w->events[0], by_time);
    return w;
}

static char *text_of(const sky_week *w, zodiac_sign s, zodiac_lang l, buf *b)
{
    json_t *d = horoscope_render(w, W12, s, l);
    cr_assert_not_null(d);
    assert_shape(d, s, l, w);
    buf_init(b, 1 << 20);
    all_text(d, b);
    json_decref(d);
    return b->data;
}

Test(horoscope, every_coordinated_french_house_phrase_repeats_its_preposition)
{
    /* The reader is Aries: a body at `lon` is in house floor(lon / 30) + 1. */
    static const struct {
        sky_event_kind kind;
        zodiac_body a, b;
        double lon;
        sky_phase phase;
        bool retrograde;
        const char *fr, *en;
    } cases[] = {
        {SKY_EVENT_LUNATION, ZODIAC_MOON, ZODIAC_SUN, 45.0, SKY_NEW_MOON, false,
         "un nouveau départ pour vos finances et pour vos valeurs", "a fresh start for your money and what you value"},
        {SKY_EVENT_LUNATION, ZODIAC_MOON, ZODIAC_SUN, 225.0, SKY_FULL_MOON, false,
         "culminent autour de vos ressources partagées et de votre intimité",
         "emotions peak around shared money and intimacy"},
        {SKY_EVENT_INGRESS, ZODIAC_JUPITER, ZODIAC_JUPITER, 60.0, 0, false,
         "à vos échanges, à vos petits trajets et à vos relations fraternelles",
         "opens room for growth in conversations, short trips and siblings"},
        {SKY_EVENT_INGRESS, ZODIAC_SATURN, ZODIAC_SATURN, 240.0, 0, false,
         "pour vos voyages, pour vos études et pour votre quête de sens",
         "asks for structure and patience in travel, study and the bigger picture"},
        {SKY_EVENT_STATION, ZODIAC_MERCURY, ZODIAC_MERCURY, 100.0, 0, false,
         "du côté de votre foyer et de votre famille se remet", "what stalled around home and family"},
        {SKY_EVENT_STATION, ZODIAC_VENUS, ZODIAC_VENUS, 130.0, 0, true,
         "attachés à vos amours, à vos plaisirs et à votre créativité", "bound up with love, pleasure and creativity"},
        {SKY_EVENT_STATION, ZODIAC_JUPITER, ZODIAC_JUPITER, 280.0, 0, true,
         "la croissance de votre carrière et de votre image publique",
         "growth in your career and public image consolidates"},
        {SKY_EVENT_INGRESS, ZODIAC_MEAN_NODE, ZODIAC_MEAN_NODE, 239.99, 0, true,
         "fait de vos ressources partagées et de votre intimité un cap",
         "points you towards shared money and intimacy"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sky_event e = event_make(2, 10, cases[k].kind, cases[k].a, cases[k].b, cases[k].lon, cases[k].lon);
        e.phase = cases[k].phase;
        e.retrograde = cases[k].retrograde;
        sky_week *w = week_of(&e, 1);
        for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
            buf b;
            const char *t = text_of(w, ZODIAC_ARIES, (zodiac_lang)l, &b);
            const char *want = l == ZODIAC_LANG_FR ? cases[k].fr : cases[k].en;
            cr_assert(strstr(t, want) != NULL, "case %zu: no \"%s\" in\n%s", k, want, t);
            if (l == ZODIAC_LANG_FR) {
                const char *bad = check_preposition_dropped(t);
                cr_assert_null(bad, "case %zu: the preposition is not repeated at \"%.80s\"", k, bad);
            }
            buf_cleanup(&b);
        }
        free(w);
    }
    /* And everywhere in a busy week, for every reader. */
    sky_week *w = full_week();
    for (int s = 0; s < ZODIAC_SIGN_COUNT; s++) {
        buf b;
        const char *t = text_of(w, (zodiac_sign)s, ZODIAC_LANG_FR, &b);
        const char *bad = check_preposition_dropped(t);
        cr_assert_null(bad, "sign %d: the preposition is not repeated at \"%.80s\"", s, bad);
        buf_cleanup(&b);
    }
    free(w);
    /* The check itself catches what it is for. */
    cr_assert_not_null(check_preposition_dropped("des frictions autour de vos finances et vos valeurs."));
    cr_assert_not_null(check_preposition_dropped("du côté de vos ressources partagées et votre intimité."));
    cr_assert_null(check_preposition_dropped("des frictions autour de vos finances et de vos valeurs."));
    cr_assert_null(check_preposition_dropped("Vénus embellit vos finances et vos valeurs."));
}

Test(horoscope, the_lunar_node_has_its_own_sentences_and_is_never_called_retrograde)
{
    sky_event ev[3];
    ev[0] = event_make(1, 8, SKY_EVENT_INGRESS, ZODIAC_MEAN_NODE, ZODIAC_MEAN_NODE, 329.99, 329.99);
    ev[0].retrograde = true; /* the node always moves backwards */
    ev[1] = event_make(3, 8, SKY_EVENT_ASPECT, ZODIAC_MARS, ZODIAC_MEAN_NODE, 330.0, 330.0);
    ev[1].aspect = SKY_CONJUNCTION;
    ev[2] = event_make(5, 8, SKY_EVENT_STATION, ZODIAC_MEAN_NODE, ZODIAC_MEAN_NODE, 329.5, 329.5);
    ev[2].retrograde = true;
    static const char *const want[ZODIAC_LANG_COUNT][2] = {
        {"the lunar node moves into Aquarius", "the lunar node stands still"},
        {"le nœud lunaire passe en Verseau", "le nœud lunaire marque une pause"},
    };
    /* Aquarius is Leo's 7th house, which the love section reads: the ingress is told in full there. */
    static const char *const nodal[ZODIAC_LANG_COUNT] = {"the nodal axis points you towards your partnerships",
                                                         "l'axe des nœuds fait de vos relations de couple et de vos "
                                                         "associations un cap à suivre"};
    sky_week *w = week_of(ev, 3);
    for (int s = 0; s < ZODIAC_SIGN_COUNT; s++) {
        for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
            buf b;
            const char *t = text_of(w, (zodiac_sign)s, (zodiac_lang)l, &b);
            for (int k = 0; k < 2; k++)
                cr_assert(strstr(t, want[l][k]) != NULL || strstr(t, want[l][k] + 1) != NULL, "no \"%s\" in\n%s",
                          want[l][k], t);
            if (s == ZODIAC_LEO)
                cr_assert(strstr(t, nodal[l]) != NULL, "no \"%s\" in\n%s", nodal[l], t);
            /* No planet is retrograde this week: the word has nothing to describe. */
            cr_assert(strstr(t, "retrograde") == NULL && strstr(t, "rétrograde") == NULL, "%s", t);
            cr_assert(strstr(t, "slips back") == NULL && strstr(t, "recule") == NULL, "%s", t);
            buf_cleanup(&b);
        }
    }
    free(w);
}

/* Each retrograde body's advice, and what only Mercury's says. */
static const struct {
    zodiac_body body;
    const char *en, *fr;
} retro_advice[] = {
    {ZODIAC_MERCURY, "reread, double-check and renegotiate", "relisez, vérifiez et renégociez"},
    {ZODIAC_VENUS, "come back for a second look", "demandent un second regard"},
    {ZODIAC_MARS, "energy turns inward", "l'énergie se tourne vers l'intérieur"},
    {ZODIAC_JUPITER, "consolidates rather than expands", "se consolide plutôt qu'elle ne s'étend"},
    {ZODIAC_SATURN, "come up for review", "sont à revoir"},
    {ZODIAC_URANUS, "ripen slowly, out of sight", "mûrissent lentement"},
    {ZODIAC_NEPTUNE, "settle and clear", "décantent lentement"},
    {ZODIAC_PLUTO, "from within, slowly and quietly", "en profondeur, lentement et sans bruit"},
};

Test(horoscope, each_retrograde_body_gets_advice_that_fits_it)
{
    size_t n = sizeof retro_advice / sizeof retro_advice[0];
    for (size_t k = 0; k < n; k++) {
        /* Turning retrograde in Libra, and slipping back into Virgo: the 7th and 6th houses of Aries. */
        sky_event ev[2];
        ev[0] = event_make(1, 8, SKY_EVENT_STATION, retro_advice[k].body, retro_advice[k].body, 181.0, 181.0);
        ev[0].retrograde = true;
        ev[1] = event_make(4, 8, SKY_EVENT_INGRESS, retro_advice[k].body, retro_advice[k].body, 179.999, 179.999);
        ev[1].retrograde = true;
        for (int e = 0; e < 2; e++) {
            sky_week *w = week_of(&ev[e], 1);
            for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
                buf b;
                const char *t = text_of(w, ZODIAC_ARIES, (zodiac_lang)l, &b);
                for (size_t o = 0; o < n; o++) {
                    const char *advice = l == ZODIAC_LANG_FR ? retro_advice[o].fr : retro_advice[o].en;
                    if (o == k)
                        cr_assert(strstr(t, advice) != NULL, "body %d: no \"%s\" in\n%s", retro_advice[k].body, advice,
                                  t);
                    else
                        cr_assert(strstr(t, advice) == NULL, "body %d is given the advice of body %d:\n%s",
                                  retro_advice[k].body, retro_advice[o].body, t);
                }
                buf_cleanup(&b);
            }
            free(w);
        }
    }
}

Test(horoscope, the_planets_retrograde_as_the_week_begins_each_say_their_own_thing)
{
    static const struct {
        zodiac_body bodies[2];
        size_t n;
        const char *en, *fr;
    } cases[] = {
        {{ZODIAC_MERCURY},
         1,
         "Mercury is retrograde as the week begins and asks you to reread and double-check before you commit.",
         "Mercure est rétrograde en début de semaine et invite à relire et à vérifier avant de vous engager."},
        {{ZODIAC_VENUS},
         1,
         "Venus is retrograde as the week begins and brings relationships and values back for a second look.",
         "Vénus est rétrograde en début de semaine et soumet vos liens et vos valeurs à un second regard."},
        {{ZODIAC_JUPITER},
         1,
         "Jupiter is retrograde as the week begins and consolidates growth rather than widening it.",
         "Jupiter est rétrograde en début de semaine et consolide la croissance plutôt que de l'étendre."},
        {{ZODIAC_SATURN},
         1,
         "Saturn is retrograde as the week begins and puts structures and commitments up for review.",
         "Saturne est rétrograde en début de semaine et remet à plat les structures et les engagements."},
        {{ZODIAC_MARS, ZODIAC_SATURN},
         2,
         "Mars and Saturn are retrograde as the week begins: Mars turns your energy inward, better spent finishing "
         "than starting; Saturn puts structures and commitments up for review.",
         "Mars et Saturne sont rétrogrades en début de semaine\u00a0: Mars tourne votre énergie vers l'intérieur, "
         "mieux employée à finir qu'à commencer\u00a0; Saturne remet à plat les structures et les engagements."},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sky_week *w = full_week();
        position_set(w, ZODIAC_MERCURY, 338.6, 1.1);
        for (size_t i = 0; i < cases[k].n; i++) {
            zodiac_body b = cases[k].bodies[i];
            position_set(w, b, w->positions[b].lon_deg, -0.2);
        }
        for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
            json_t *d = horoscope_render(w, W12, ZODIAC_LEO, (zodiac_lang)l);
            const char *overview = json_string_value(json_object_get(d, "overview"));
            const char *want = l == ZODIAC_LANG_FR ? cases[k].fr : cases[k].en;
            cr_assert(strstr(overview, want) != NULL, "case %zu: no \"%s\" in\n%s", k, want, overview);
            json_decref(d);
        }
        free(w);
    }
}

Test(horoscope, a_day_is_named_once_and_its_events_share_a_clause)
{
    /* Wednesday: Venus trines Jupiter and squares Mars, both in the reader's 5th house. */
    sky_event ev[2];
    ev[0] = event_make(2, 9, SKY_EVENT_ASPECT, ZODIAC_VENUS, ZODIAC_JUPITER, 125.0, 5.0);
    ev[0].aspect = SKY_TRINE;
    ev[1] = event_make(2, 18, SKY_EVENT_ASPECT, ZODIAC_VENUS, ZODIAC_MARS, 125.5, 35.5);
    ev[1].aspect = SKY_SQUARE;
    sky_week *w = week_of(ev, 2);
    static const char *const moments[ZODIAC_LANG_COUNT] = {
        "Key moments: Wednesday, Venus trines Jupiter (your 5th house), then Venus squares Mars (your 5th house).",
        "Temps forts\u00a0: mercredi, Vénus forme un trigone avec Jupiter (votre maison 5), puis Vénus forme un "
        "carré avec Mars (votre maison 5).",
    };
    static const char *const same_day[ZODIAC_LANG_COUNT] = {"On the same day, Venus (love and money) squares Mars",
                                                            "Le même jour, Vénus (amour et argent) forme un carré"};
    for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
        json_t *d = horoscope_render(w, W12, ZODIAC_ARIES, (zodiac_lang)l);
        const char *overview = json_string_value(json_object_get(d, "overview"));
        const char *love = json_string_value(json_object_get(json_object_get(d, "sections"), "love"));
        cr_assert(strstr(overview, moments[l]) != NULL, "%s", overview);
        cr_assert(strstr(love, same_day[l]) != NULL, "%s", love);
        cr_assert_null(check_weekday_twice(overview, (zodiac_lang)l), "%s", overview);
        cr_assert_null(check_weekday_twice(love, (zodiac_lang)l), "%s", love);
        json_decref(d);
    }
    free(w);
    /* In a busy week too, for every reader and every text. */
    w = full_week();
    for (int s = 0; s < ZODIAC_SIGN_COUNT; s++) {
        for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
            json_t *d = horoscope_render(w, W12, (zodiac_sign)s, (zodiac_lang)l);
            const char *key;
            json_t *v;
            cr_assert_null(check_weekday_twice(json_string_value(json_object_get(d, "overview")), (zodiac_lang)l));
            json_object_foreach(json_object_get(d, "sections"), key, v)
            {
                const char *twice = check_weekday_twice(json_string_value(v), (zodiac_lang)l);
                cr_assert_null(twice, "%s names a day twice in a row at \"%.40s\"", key, twice);
            }
            json_decref(d);
        }
    }
    free(w);
    cr_assert_not_null(check_weekday_twice("lundi, A\u00a0; lundi, B", ZODIAC_LANG_FR));
    cr_assert_null(check_weekday_twice("Lundi, A. Mardi, B. Lundi, C.", ZODIAC_LANG_FR));
}

Test(horoscope, the_tone_follows_the_events)
{
    /* Wednesday: a trine and a square (both sides); Friday: a square alone; Sunday: a trine alone. */
    sky_event ev[4];
    ev[0] = event_make(2, 9, SKY_EVENT_ASPECT, ZODIAC_VENUS, ZODIAC_JUPITER, 125.0, 5.0);
    ev[0].aspect = SKY_TRINE;
    ev[1] = event_make(2, 18, SKY_EVENT_ASPECT, ZODIAC_MARS, ZODIAC_SATURN, 280.0, 10.0);
    ev[1].aspect = SKY_SQUARE;
    ev[2] = event_make(4, 9, SKY_EVENT_ASPECT, ZODIAC_SUN, ZODIAC_PLUTO, 40.0, 310.0);
    ev[2].aspect = SKY_SQUARE;
    ev[3] = event_make(6, 9, SKY_EVENT_ASPECT, ZODIAC_MERCURY, ZODIAC_SATURN, 190.0, 70.0);
    ev[3].aspect = SKY_TRINE;
    sky_week *w = week_of(ev, 4);
    static const char *const want[] = {"mixed", "challenging", "favourable"};
    for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
        json_t *d = horoscope_render(w, W12, ZODIAC_ARIES, (zodiac_lang)l);
        json_t *kds = json_object_get(d, "key_dates");
        cr_assert_eq(json_array_size(kds), 3);
        for (size_t k = 0; k < 3; k++) {
            json_t *kd = json_array_get(kds, k);
            cr_assert_str_eq(json_string_value(json_object_get(kd, "tone")), want[k], "key date %zu", k);
            cr_assert_eq(json_array_size(json_object_get(kd, "because")), k == 0 ? 2 : 1);
        }
        /* A mixed week names both sides: Venus-Jupiter in the 5th (love), Mars-Saturn in the 10th. */
        const char *overview = json_string_value(json_object_get(d, "overview"));
        static const char *const sides[ZODIAC_LANG_COUNT][2] = {{"love", "career"}, {"les amours", "la carrière"}};
        char mood[512];
        check_last_sentence(overview, mood, sizeof mood);
        cr_assert(strstr(mood, sides[l][0]) != NULL && strstr(mood, sides[l][1]) != NULL, "%s", mood);
        json_decref(d);
    }
    free(w);

    /* In a busy week, no favourable day lists a square or an opposition. */
    w = full_week();
    for (int s = 0; s < ZODIAC_SIGN_COUNT; s++) {
        json_t *d = horoscope_render(w, W12, (zodiac_sign)s, ZODIAC_LANG_EN);
        size_t i, j;
        json_t *kd, *because;
        json_array_foreach(json_object_get(d, "key_dates"), i, kd)
        {
            if (strcmp(json_string_value(json_object_get(kd, "tone")), "favourable") != 0)
                continue;
            json_array_foreach(json_object_get(kd, "because"), j, because)
            {
                const char *r = json_string_value(because);
                cr_assert(strstr(r, "squares") == NULL && strstr(r, "opposes") == NULL, "favourable: %s", r);
            }
        }
        json_decref(d);
    }
    free(w);
}

Test(horoscope, closing_advice_varies_with_the_week_the_sign_and_the_section)
{
    static const char *const keys[] = {"love", "work", "money", "wellbeing"};
    sky_week *w = full_week();
    for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
        for (int k = 0; k < 4; k++) {
            /* The same sky under 52 week numbers: only the hash of the week changes. */
            char closers[52][256];
            size_t distinct = 0, most = 0;
            for (unsigned wk = 1; wk <= 52; wk++) {
                json_t *d = horoscope_render(w, (zodiac_week){2026, wk}, ZODIAC_VIRGO, (zodiac_lang)l);
                check_last_sentence(json_string_value(json_object_get(json_object_get(d, "sections"), keys[k])),
                                    closers[wk - 1], sizeof closers[0]);
                json_decref(d);
            }
            for (size_t i = 0; i < 52; i++) {
                size_t same = 0, before = 0;
                for (size_t j = 0; j < 52; j++) {
                    same += strcmp(closers[i], closers[j]) == 0;
                    before += j < i && strcmp(closers[i], closers[j]) == 0;
                }
                distinct += before == 0;
                most = same > most ? same : most;
            }
            cr_assert(distinct >= 5, "%s: %zu closers over 52 weeks", keys[k], distinct);
            cr_assert(most <= 52 / 4, "%s: one closer ends %zu of 52 weeks", keys[k], most);
        }
    }
    free(w);
}

Test(horoscope, a_quiet_section_says_where_its_planet_and_the_moon_are)
{
    /* No event: the Moon stays in Aquarius all week, in the 7th house of Leo. */
    sky_week *w = week_of(NULL, 0);
    static const char *const want[ZODIAC_LANG_COUNT][3] = {
        {"Venus stays in Aries all week, in your 9th house", "your 7th house", "rom Monday to Sunday"},
        {"Vénus reste en Bélier toute la semaine, dans votre maison 9", "votre maison 7", "e lundi à dimanche"},
    };
    for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
        json_t *d = horoscope_render(w, W12, ZODIAC_LEO, (zodiac_lang)l);
        const char *love = json_string_value(json_object_get(json_object_get(d, "sections"), "love"));
        for (int k = 0; k < 3; k++)
            cr_assert(strstr(love, want[l][k]) != NULL, "no \"%s\" in %s", want[l][k], love);
        json_decref(d);
    }
    /* The Moon moves from Aquarius into Pisces and Aries: for Gemini (9th, 10th, 11th), love is left out. */
    w->events[0] = event_make(2, 8, SKY_EVENT_INGRESS, ZODIAC_MOON, ZODIAC_MOON, 330.0, 330.0);
    w->events[1] = event_make(4, 20, SKY_EVENT_INGRESS, ZODIAC_MOON, ZODIAC_MOON, 0.0, 0.0);
    w->nevents = 2;
    static const char *const path[ZODIAC_LANG_COUNT] = {
        "The Moon moves from Aquarius to Aries this week, from your 9th house to your 11th house, and leaves your "
        "love life in the background.",
        "Cette semaine, la Lune passe du Verseau au Bélier, de votre maison 9 à votre maison 11, et laisse votre vie "
        "amoureuse au second plan.",
    };
    for (int l = 0; l < ZODIAC_LANG_COUNT; l++) {
        json_t *d = horoscope_render(w, W12, ZODIAC_GEMINI, (zodiac_lang)l);
        const char *love = json_string_value(json_object_get(json_object_get(d, "sections"), "love"));
        cr_assert(strstr(love, path[l]) != NULL, "%s", love);
        json_decref(d);
    }
    free(w);
}

Test(horoscope, a_body_at_its_station_never_shows_a_zero_speed)
{
    sky_week *w = week_of(NULL, 0);
    position_set(w, ZODIAC_SATURN, 0.7, -0.0000312);
    position_set(w, ZODIAC_URANUS, 57.8, 0.0000457);
    json_t *d = horoscope_render(w, W12, ZODIAC_ARIES, ZODIAC_LANG_EN);
    json_t *positions = json_object_get(json_object_get(d, "sky"), "positions");
    json_t *saturn = json_array_get(positions, ZODIAC_SATURN), *uranus = json_array_get(positions, ZODIAC_URANUS);
    cr_assert(json_real_value(json_object_get(saturn, "speed")) < 0);
    cr_assert(json_is_true(json_object_get(saturn, "retrograde")));
    cr_assert(json_real_value(json_object_get(uranus, "speed")) > 0);
    cr_assert(json_is_false(json_object_get(uranus, "retrograde")));
    /* Printed with 4 significant digits, not rounded to 0. */
    char *sat = json_dumps(saturn, HOROSCOPE_DUMP_FLAGS), *ura = json_dumps(uranus, HOROSCOPE_DUMP_FLAGS);
    bool ok = strstr(sat, "\"speed\":-3.12e-5,\"retrograde\":true") != NULL &&
              strstr(ura, "\"speed\":4.57e-5,\"retrograde\":false") != NULL;
    cr_assert(ok, "%s %s", sat, ura);
    free(sat);
    free(ura);
    json_decref(d);
    free(w);
}
