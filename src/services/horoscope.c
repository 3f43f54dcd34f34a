/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * How the text is written. Each event of the week gets a solar house for the reader, a weight
 * (how much it matters: the kind of event, the bodies, and whether it falls in an angular or love
 * house) and a tone (favourable, challenging or pivotal, from the nature of the bodies and of the
 * aspect). Sentences are whole templates per language, not word-by-word translations, filled
 * with `{name}` variables (a capitalised `{Name}` capitalises the value's first letter); the
 * French tables carry their own articles and contractions ("au Soleil", "du Bélier"), so no
 * grammar is computed at run time. Templates are rendered into fixed buffers: a sentence that
 * would not fit is dropped whole rather than cut, so the text stays valid UTF-8.
 *
 *   headline   the heaviest event (or the Sun's sign) and the life area of its house;
 *   overview   the Sun's house, the heaviest events in date order, the retrograde planets, the
 *              balance of tones over the week;
 *   sections   the events that fall in the section's houses or involve its bodies, at most two,
 *              preferring events no earlier section told (one it did is recalled in a clause,
 *              not repeated); then advice from the tone of the most relevant one. Without a
 *              strong event, where the section's planet stands for the reader all week;
 *   key_dates  the UTC days holding an event of weight >= KEY_WEIGHT, the day's tone being the
 *              tone with the largest summed weight.
 */
#include "services/horoscope.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "domain/civil.h"

#define NBSP "\u00a0" /* French puts a no-break space before ':' and ';' */

#define SENTENCE_MAX 768
#define TEXT_MAX 4096
#define SECTION_EVENTS_MAX 2
#define MOMENTS_MAX 3
#define BECAUSE_MAX 3
/* An event of at least this weight makes its day a key date. */
#define KEY_WEIGHT 3
/* Events lighter than this (a Moon ingress, a sextile) are left out of lists and reasons. */
#define MENTION_WEIGHT 2
#define HOUSE_BIT(h) (1u << (h))
#define BODY_BIT(b) (1u << (b))

typedef enum tone { TONE_FAVOURABLE, TONE_CHALLENGING, TONE_PIVOTAL, TONE_COUNT } tone;
static const char *const tone_names[TONE_COUNT] = {"favourable", "challenging", "pivotal"};

typedef enum section_id { SEC_LOVE, SEC_WORK, SEC_MONEY, SEC_WELLBEING, SEC_COUNT } section_id;
static const char *const section_keys[SEC_COUNT] = {"love", "work", "money", "wellbeing"};

/* The houses and bodies a section reads, and the planet it falls back on when nothing touches it. */
static const struct section_def {
    unsigned houses;
    unsigned bodies;
    zodiac_body planet;
} section_defs[SEC_COUNT] = {
    [SEC_LOVE] = {HOUSE_BIT(5) | HOUSE_BIT(7) | HOUSE_BIT(8), BODY_BIT(ZODIAC_VENUS), ZODIAC_VENUS},
    [SEC_WORK] = {HOUSE_BIT(6) | HOUSE_BIT(10),
                  BODY_BIT(ZODIAC_MERCURY) | BODY_BIT(ZODIAC_MARS) | BODY_BIT(ZODIAC_SATURN), ZODIAC_MARS},
    [SEC_MONEY] = {HOUSE_BIT(2) | HOUSE_BIT(8), BODY_BIT(ZODIAC_VENUS) | BODY_BIT(ZODIAC_JUPITER), ZODIAC_JUPITER},
    [SEC_WELLBEING] = {HOUSE_BIT(1) | HOUSE_BIT(6) | HOUSE_BIT(12), BODY_BIT(ZODIAC_SUN) | BODY_BIT(ZODIAC_MOON),
                       ZODIAC_SUN},
};

/* Angular houses and the 5th (love) weigh more. */
#define STRONG_HOUSES (HOUSE_BIT(1) | HOUSE_BIT(4) | HOUSE_BIT(5) | HOUSE_BIT(7) | HOUSE_BIT(10))

/* Aspect families: the effect sentences depend on the family only. */
enum { FAMILY_HARMONIOUS, FAMILY_TENSE, FAMILY_CONJUNCTION, FAMILY_COUNT };

/* Overall tone of the week as an adjective. */
enum { MOOD_FAVOURABLE, MOOD_DEMANDING, MOOD_PIVOTAL, MOOD_MIXED, MOOD_COUNT };

#define COLOR_COUNT 10
#define VARIANTS 2

/* Everything one language says. Houses are indexed 1..12; entry 0 is unused. */
typedef struct phrases {
    const char *code;
    const char *weekday[7];                 /* Monday first */
    const char *body[ZODIAC_BODY_COUNT];    /* as a subject or object, with its article */
    const char *body_to[ZODIAC_BODY_COUNT]; /* after "to": French contracts à + le */
    const char *pron[ZODIAC_BODY_COUNT];
    const char *nature[ZODIAC_BODY_COUNT];
    const char *acts[ZODIAC_BODY_COUNT];    /* what the body does to {obj}, without its subject */
    const char *sign_of[ZODIAC_SIGN_COUNT]; /* "12° {of_sign}" */
    const char *where[13];
    const char *obj[13];   /* the house's matters, as an object */
    const char *topic[13]; /* the house's matters in a word or two, lower case */
    const char *and_;      /* the last separator of a list */
    const char *list_sep;  /* between items of a list of moments */

    const char *ingress[VARIANTS];
    const char *ingress_retro;
    const char *station[2]; /* [0] turning direct, [1] turning retrograde */
    const char *lunation[SKY_PHASE_COUNT];
    const char *aspect;
    const char *aspect_vp[SKY_ASPECT_COUNT];
    const char *effect[FAMILY_COUNT][VARIANTS];

    const char *short_ingress;
    const char *short_ingress_retro;
    const char *short_station[2];
    const char *short_lunation[SKY_PHASE_COUNT];
    const char *short_aspect;
    const char *short_sun; /* the headline when the week holds no event */

    const char *headline[VARIANTS];
    const char *overview_sun[VARIANTS];
    const char *moments;
    const char *moment;
    const char *quiet;
    const char *retro[2]; /* one planet, several */
    const char *mood;
    const char *mood_word[MOOD_COUNT];

    const char *section_name[SEC_COUNT];
    const char *nothing;
    const char *recall;
    const char *planet;
    const char *planet_retro;
    const char *planet_coda[SEC_COUNT];
    const char *coda[SEC_COUNT][TONE_COUNT];
    const char *color[COLOR_COUNT];
} phrases;

static const phrases phrases_en = {
    .code = "en",
    .weekday = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"},
    .body = {"the Sun", "the Moon", "Mercury", "Venus", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune", "Pluto",
             "the lunar node"},
    .body_to = {"to the Sun", "to the Moon", "to Mercury", "to Venus", "to Mars", "to Jupiter", "to Saturn",
                "to Uranus", "to Neptune", "to Pluto", "to the lunar node"},
    .pron = {"it", "it", "it", "it", "it", "it", "it", "it", "it", "it", "it"},
    .nature = {"vitality", "mood", "communication", "love and money", "energy", "growth", "structure", "change",
               "dreams", "transformation", "destiny"},
    .acts =
        {
            "puts {obj} in the spotlight",
            "colours your mood around {obj}",
            "gets ideas and conversations moving around {obj}",
            "brings charm and ease to {obj}",
            "puts energy, and some friction, into {obj}",
            "opens room for growth in {obj}",
            "asks for structure and patience in {obj}",
            "brings surprises to {obj}",
            "adds dreams, and some haze, to {obj}",
            "slowly transforms {obj}",
            "makes {obj} a long-term priority",
        },
    .sign_of = {"Aries", "Taurus", "Gemini", "Cancer", "Leo", "Virgo", "Libra", "Scorpio", "Sagittarius", "Capricorn",
                "Aquarius", "Pisces"},
    .where = {NULL, "your own sign", "your 2nd house", "your 3rd house", "your 4th house", "your 5th house",
              "your 6th house", "your 7th house", "your 8th house", "your 9th house", "your 10th house",
              "your 11th house", "your 12th house"},
    .obj = {NULL, "how you present yourself", "your money and what you value",
            "conversations, short trips and siblings", "home and family", "love, pleasure and creativity",
            "your daily work and health routines", "your partnerships", "shared money and intimacy",
            "travel, study and the bigger picture", "your career and public image", "friends and networks",
            "rest and time alone"},
    .topic = {NULL, "yourself", "money", "conversations", "home", "love", "daily routines", "partnerships", "intimacy",
              "horizons", "career", "friendships", "rest"},
    .and_ = " and ",
    .list_sep = "; ",

    .ingress =
        {
            "{Body} enters {sign} on {day}, moving into {where}: {pron} {acts}.",
            "On {day}, {body} moves into {sign} and {where}, where {pron} {acts}.",
        },
    .ingress_retro = "{Body}, still retrograde, slips back into {sign} on {day} and returns to {where}: time to "
                     "review {obj}.",
    .station =
        {
            "On {day}, {body} turns direct at {deg}° {of_sign}, in {where}: what stalled around {obj} starts moving "
            "again.",
            "On {day}, {body} turns retrograde at {deg}° {of_sign}, in {where}: slow down and review {obj} before "
            "launching anything new.",
        },
    .lunation =
        {
            "On {day}, the New Moon in {sign} falls in {where}: a fresh start for {obj}.",
            "On {day}, the first-quarter Moon in {sign}, in {where}, pushes you to act on {obj}.",
            "On {day}, the Full Moon in {sign} lights up {where}: emotions peak around {obj}.",
            "On {day}, the last-quarter Moon in {sign}, in {where}, is the time to let go of what no longer serves "
            "{obj}.",
        },
    .aspect = "On {day}, {body}{nat_a} {vp} in {where}: {effect}",
    .aspect_vp = {"meets {other}{nat_b}", "sextiles {other}{nat_b}", "squares {other}{nat_b}", "trines {other}{nat_b}",
                  "opposes {other}{nat_b}"},
    .effect =
        {
            [FAMILY_HARMONIOUS] = {"an easy flow that favours {obj}.", "a helpful link for {obj}, worth using."},
            [FAMILY_TENSE] = {"friction around {obj}; don't force things.",
                              "a tug-of-war around {obj}; look for the middle ground."},
            [FAMILY_CONJUNCTION] = {"an intense, concentrated charge for {obj}.", "a new cycle begins for {obj}."},
        },

    .short_ingress = "{body} enters {sign}{at}",
    .short_ingress_retro = "{body} slips back into {sign}{at}",
    .short_station = {"{body} turns direct in {sign}{at}", "{body} turns retrograde in {sign}{at}"},
    .short_lunation = {"the New Moon in {sign}{at}", "the first-quarter Moon in {sign}{at}",
                       "the Full Moon in {sign}{at}", "the last-quarter Moon in {sign}{at}"},
    .short_aspect = "{body} {vp}{at}",
    .short_sun = "the Sun in {sign}",

    .headline = {"{Topic} in focus: {brief}", "{Brief}: spotlight on {topic}"},
    .overview_sun =
        {
            "With the Sun in {sign}, {where}, the week revolves around {obj}.",
            "The Sun, in {sign} and {where}, puts {obj} at the heart of the week.",
        },
    .moments = "Key moments: {list}.",
    .moment = "{Day}, {brief}",
    .quiet = "A quiet sky this week: no major configuration forms, a good time to consolidate.",
    .retro =
        {
            "{List} is retrograde as the week begins: review and double-check before you commit.",
            "{List} are retrograde as the week begins: review and double-check before you commit.",
        },
    .mood = "Overall, the week looks {mood}.",
    .mood_word = {"favourable", "demanding", "decisive", "mixed"},

    .section_name = {"your love life", "your work", "your finances", "your wellbeing"},
    .nothing = "No major event touches {section} this week.",
    .recall = "On {day}, {brief}, which also bears on {section}.",
    .planet = "{Body} stays in {sign} all week, in {where}, and {acts}: {coda}",
    .planet_retro = "{Body}, retrograde in {sign} all week, sits in {where}: {pron} invites you to revisit {obj}; "
                    "{coda}",
    .planet_coda = {"that is where your heart finds its openings.", "that is where your efforts pay off.",
                    "that is where opportunities grow.", "that is where you recharge."},
    .coda =
        {
            [SEC_LOVE] = {"A good moment to open your heart.", "Patience with loved ones pays off.",
                          "A question of the heart comes to the fore."},
            [SEC_WORK] = {"Move your projects forward.", "Pace yourself and avoid power struggles.",
                          "A professional decision takes shape."},
            [SEC_MONEY] = {"A favourable window for money matters.", "Hold off on big purchases.",
                           "Take stock of your budget."},
            [SEC_WELLBEING] = {"Your energy is on the rise.", "Protect your sleep and your nerves.",
                               "Listen to what your body tells you."},
        },
    .color = {"red", "orange", "gold", "green", "turquoise", "blue", "violet", "silver", "white", "pink"},
};

static const phrases phrases_fr = {
    .code = "fr",
    .weekday = {"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"},
    .body = {"le Soleil", "la Lune", "Mercure", "Vénus", "Mars", "Jupiter", "Saturne", "Uranus", "Neptune", "Pluton",
             "le nœud lunaire"},
    .body_to = {"au Soleil", "à la Lune", "à Mercure", "à Vénus", "à Mars", "à Jupiter", "à Saturne", "à Uranus",
                "à Neptune", "à Pluton", "au nœud lunaire"},
    .pron = {"il", "elle", "il", "elle", "il", "il", "il", "il", "il", "il", "il"},
    .nature = {"vitalité", "humeur", "communication", "amour et argent", "énergie", "expansion", "structure",
               "changement", "rêve", "transformation", "destinée"},
    .acts =
        {
            "met en lumière {obj}",
            "teinte d'émotion {obj}",
            "anime les idées et le dialogue autour de {obj}",
            "embellit {obj}",
            "dynamise, non sans frictions, {obj}",
            "ouvre de nouvelles perspectives à {obj}",
            "demande rigueur et patience pour {obj}",
            "bouscule {obj}",
            "idéalise {obj}, au risque de l'illusion",
            "transforme en profondeur {obj}",
            "fait de {obj} un enjeu de long terme",
        },
    .sign_of = {"du Bélier", "du Taureau", "des Gémeaux", "du Cancer", "du Lion", "de la Vierge", "de la Balance",
                "du Scorpion", "du Sagittaire", "du Capricorne", "du Verseau", "des Poissons"},
    .where = {NULL, "votre propre signe", "votre maison 2", "votre maison 3", "votre maison 4", "votre maison 5",
              "votre maison 6", "votre maison 7", "votre maison 8", "votre maison 9", "votre maison 10",
              "votre maison 11", "votre maison 12"},
    /* Every entry starts with "votre" or "vos", so "de {obj}" and "à {obj}" never contract. */
    .obj = {NULL, "votre image et votre élan personnel", "vos finances et vos valeurs",
            "vos échanges, vos petits trajets et vos relations fraternelles", "votre foyer et votre famille",
            "vos amours, vos plaisirs et votre créativité", "votre travail au quotidien et votre hygiène de vie",
            "vos relations de couple et vos associations", "vos ressources partagées et votre intimité",
            "vos voyages, vos études et votre quête de sens", "votre carrière et votre image publique",
            "vos amitiés et vos réseaux", "votre besoin de repos et de recul"},
    .topic = {NULL, "votre image", "l'argent", "les échanges", "le foyer", "les amours", "le quotidien", "le couple",
              "l'intimité", "les horizons lointains", "la carrière", "les amitiés", "le repos"},
    .and_ = " et ",
    .list_sep = NBSP "; ",

    .ingress =
        {
            "{Day}, {body} entre en {sign} et rejoint {where}" NBSP ": {pron} {acts}.",
            "{Day}, {body} passe en {sign}, dans {where}, et {acts}.",
        },
    .ingress_retro = "{Day}, {body}, toujours rétrograde, recule en {sign} et revient dans {where}" NBSP
                     ": l'heure est au bilan pour {obj}.",
    .station =
        {
            "{Day}, {body} reprend sa marche directe à {deg}° {of_sign}, dans {where}" NBSP
            ": ce qui piétinait du côté de {obj} se remet en mouvement.",
            "{Day}, {body} devient rétrograde à {deg}° {of_sign}, dans {where}" NBSP
            ": ralentissez et revoyez {obj} avant de lancer quoi que ce soit de nouveau.",
        },
    .lunation =
        {
            "{Day}, la nouvelle lune en {sign} se forme dans {where}" NBSP ": un nouveau départ pour {obj}.",
            "{Day}, le premier quartier de lune en {sign}, dans {where}, vous pousse à agir pour {obj}.",
            "{Day}, la pleine lune en {sign} illumine {where}" NBSP ": les émotions culminent autour de {obj}.",
            "{Day}, le dernier quartier de lune en {sign}, dans {where}, invite à lâcher ce qui ne sert plus {obj}.",
        },
    .aspect = "{Day}, {body}{nat_a} {vp} dans {where}" NBSP ": {effect}",
    .aspect_vp = {"s'unit {to_other}{nat_b}", "forme un sextile avec {other}{nat_b}",
                  "forme un carré avec {other}{nat_b}", "forme un trigone avec {other}{nat_b}",
                  "s'oppose {to_other}{nat_b}"},
    .effect =
        {
            [FAMILY_HARMONIOUS] = {"une belle fluidité qui favorise {obj}.", "un appui précieux pour {obj}, à saisir."},
            [FAMILY_TENSE] = {"des frictions autour de {obj}" NBSP "; ne forcez rien.",
                              "un tiraillement autour de {obj}" NBSP "; cherchez le juste milieu."},
            [FAMILY_CONJUNCTION] = {"une énergie intense, concentrée sur {obj}.",
                                    "un nouveau cycle s'ouvre pour {obj}."},
        },

    .short_ingress = "{body} entre en {sign}{at}",
    .short_ingress_retro = "{body} recule en {sign}{at}",
    .short_station = {"{body} reprend sa marche directe en {sign}{at}", "{body} devient rétrograde en {sign}{at}"},
    .short_lunation = {"nouvelle lune en {sign}{at}", "premier quartier de lune en {sign}{at}",
                       "pleine lune en {sign}{at}", "dernier quartier de lune en {sign}{at}"},
    .short_aspect = "{body} {vp}{at}",
    .short_sun = "le Soleil en {sign}",

    .headline = {"{Topic} au premier plan" NBSP ": {brief}", "{Brief}" NBSP ": coup de projecteur sur {topic}"},
    .overview_sun =
        {
            "Avec le Soleil en {sign}, dans {where}, la semaine tourne autour de {obj}.",
            "Le Soleil, en {sign} et dans {where}, place {obj} au cœur de la semaine.",
        },
    .moments = "Temps forts" NBSP ": {list}.",
    .moment = "{day}, {brief}",
    .quiet = "Ciel calme cette semaine" NBSP
             ": aucune configuration majeure ne se forme, c'est le bon moment pour consolider.",
    .retro =
        {
            "{List} est rétrograde en début de semaine" NBSP ": relisez et vérifiez avant de vous engager.",
            "{List} sont rétrogrades en début de semaine" NBSP ": relisez et vérifiez avant de vous engager.",
        },
    .mood = "Dans l'ensemble, la semaine s'annonce {mood}.",
    .mood_word = {"porteuse", "exigeante", "décisive", "contrastée"},

    .section_name = {"votre vie amoureuse", "votre travail", "vos finances", "votre bien-être"},
    .nothing = "Aucun événement majeur ne concerne {section} cette semaine.",
    .recall = "{Day}, {brief}, ce qui concerne aussi {section}.",
    .planet = "{Body} reste en {sign} toute la semaine, dans {where}, et {acts}" NBSP ": {coda}",
    .planet_retro = "{Body}, rétrograde en {sign} toute la semaine, se trouve dans {where}" NBSP
                    ": {pron} vous invite à revisiter {obj}" NBSP "; {coda}",
    .planet_coda = {"c'est là que votre cœur trouve ses ouvertures.", "c'est là que vos efforts portent leurs fruits.",
                    "c'est là que se dessinent les opportunités.", "c'est là que vous rechargez vos batteries."},
    .coda =
        {
            [SEC_LOVE] = {"Un bon moment pour ouvrir votre cœur.", "La patience envers vos proches sera payante.",
                          "Une question de cœur passe au premier plan."},
            [SEC_WORK] = {"Faites avancer vos projets.", "Dosez vos efforts et évitez les rapports de force.",
                          "Une décision professionnelle se dessine."},
            [SEC_MONEY] = {"Une fenêtre favorable pour vos finances.", "Différez les gros achats.",
                           "Faites le point sur votre budget."},
            [SEC_WELLBEING] = {"Votre énergie remonte.", "Ménagez votre sommeil et vos nerfs.",
                               "Écoutez ce que votre corps vous dit."},
        },
    .color = {"rouge", "orange", "doré", "vert", "turquoise", "bleu", "violet", "argenté", "blanc", "rose"},
};

static const phrases *const phrase_tables[ZODIAC_LANG_COUNT] = {
    [ZODIAC_LANG_EN] = &phrases_en, [ZODIAC_LANG_FR] = &phrases_fr};

/* ---- templates ---- */

typedef enum var {
    V_DAY,
    V_BODY,
    V_OTHER,
    V_TO_OTHER,
    V_PRON,
    V_SIGN,
    V_OF_SIGN,
    V_DEG,
    V_WHERE,
    V_OBJ,
    V_ACTS,
    V_NAT_A,
    V_NAT_B,
    V_VP,
    V_EFFECT,
    V_AT,
    V_TOPIC,
    V_BRIEF,
    V_LIST,
    V_MOOD,
    V_SECTION,
    V_CODA,
    V_COUNT
} var;

static const char *const var_names[V_COUNT] = {
    "day",   "body",  "other", "to_other", "pron", "sign",  "of_sign", "deg",  "where", "obj",     "acts",
    "nat_a", "nat_b", "vp",    "effect",   "at",   "topic", "brief",   "list", "mood",  "section", "coda",
};

typedef struct vars {
    const char *v[V_COUNT];
} vars;

static const char *var_find(const vars *v, const char *name, size_t len, bool *capital)
{
    *capital = name[0] >= 'A' && name[0] <= 'Z';
    for (unsigned i = 0; i < V_COUNT; i++) {
        const char *n = var_names[i];
        if (strlen(n) == len && n[0] == (*capital ? name[0] - 'A' + 'a' : name[0]) &&
            memcmp(n + 1, name + 1, len - 1) == 0)
            return v->v[i];
    }
    return NULL;
}

/*
 * Renders `tpl` into `out` (cap bytes). False, with `out` empty, when a variable is unset or the
 * result does not fit: a sentence is written whole or not at all.
 */
static bool tpl_render(char *out, size_t cap, const char *tpl, const vars *v)
{
    assert(cap > 0);
    size_t n = 0;
    for (const char *p = tpl; *p != '\0';) {
        if (*p != '{') {
            if (n + 1 >= cap)
                goto fail;
            out[n++] = *p++;
            continue;
        }
        const char *end = strchr(p, '}');
        assert(end != NULL && end > p + 1);
        if (end == NULL || end == p + 1)
            goto fail;
        bool capital;
        const char *val = var_find(v, p + 1, (size_t)(end - p - 1), &capital);
        assert(val != NULL && "a template names a variable that is not set");
        if (val == NULL)
            goto fail;
        size_t len = strlen(val);
        if (n + len >= cap)
            goto fail;
        memcpy(out + n, val, len);
        /* Every value that can open a sentence starts with an ASCII letter. */
        if (capital && len > 0 && out[n] >= 'a' && out[n] <= 'z')
            out[n] = (char)(out[n] - 'a' + 'A');
        n += len;
        p = end + 1;
    }
    out[n] = '\0';
    return true;
fail:
    out[0] = '\0';
    return false;
}

/* A paragraph of sentences, or a list of items, built whole item by whole item. */
typedef struct text {
    char s[TEXT_MAX];
    size_t len;
} text;

static void text_init(text *t)
{
    t->s[0] = '\0';
    t->len = 0;
}

/* Appends `sep` (unless `t` is empty) and `item`; drops both when they do not fit. */
static void text_add_sep(text *t, const char *sep, const char *item)
{
    size_t n = strlen(item);
    size_t s = t->len > 0 ? strlen(sep) : 0;
    if (n == 0 || t->len + s + n >= sizeof t->s)
        return;
    memcpy(t->s + t->len, sep, s);
    memcpy(t->s + t->len + s, item, n + 1);
    t->len += s + n;
}

static void text_add(text *t, const char *sentence)
{
    text_add_sep(t, " ", sentence);
}

/* ---- the week as the reader sees it ---- */

typedef struct ev_info {
    unsigned house;
    int weight;
    tone tone;
    int64_t day; /* UTC days since 1970-01-01 */
} ev_info;

typedef struct ctx {
    const sky_week *w;
    zodiac_week iso;
    zodiac_sign reader;
    zodiac_lang lang;
    const phrases *p;
    ev_info info[SKY_WEEK_EVENTS_MAX];
    bool used[SKY_WEEK_EVENTS_MAX]; /* already told in an earlier section */
    bool failed;                    /* jansson could not allocate */
} ctx;

/* What a hash picks; each choice has its own salt so that they vary independently. */
enum {
    SALT_HEADLINE = 1,
    SALT_OVERVIEW,
    SALT_LUCKY_DAY,
    SALT_LUCKY_NUMBER,
    SALT_LUCKY_COLOR,
    SALT_EVENT = 1000, /* + event index */
};

static uint64_t fnv1a(uint64_t h, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        h ^= (v >> (8 * i)) & 0xffu;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* One of `n` choices, from (reader, week, content version, salt) only: the language is left out. */
static unsigned pick(const ctx *c, uint32_t salt, unsigned n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a(h, HOROSCOPE_CONTENT_VERSION);
    h = fnv1a(h, (uint32_t)c->reader);
    h = fnv1a(h, (uint32_t)c->iso.year);
    h = fnv1a(h, c->iso.week);
    h = fnv1a(h, salt);
    return (unsigned)(h % n);
}

static int64_t day_of(int64_t unix_s)
{
    return unix_s / 86400 - (unix_s % 86400 < 0);
}

static unsigned weekday_of_day(int64_t day)
{
    /* 1970-01-01 was a Thursday: index 3 counting from Monday. */
    return (unsigned)(((day % 7) + 7 + 3) % 7);
}

static void sign_display(zodiac_sign s, zodiac_lang lang, char out[32])
{
    /* Every sign name, in both languages, starts with an ASCII letter. */
    long n = str_copy(out, 32, zodiac_sign_name(s, lang));
    assert(n > 0);
    (void)n;
    if (out[0] >= 'a' && out[0] <= 'z')
        out[0] = (char)(out[0] - 'a' + 'A');
}

static bool is_benefic(zodiac_body b)
{
    return b == ZODIAC_VENUS || b == ZODIAC_JUPITER;
}

static bool is_malefic(zodiac_body b)
{
    return b == ZODIAC_MARS || b == ZODIAC_SATURN || b == ZODIAC_PLUTO;
}

static int aspect_family(sky_aspect a)
{
    switch (a) {
    case SKY_SEXTILE:
    case SKY_TRINE: return FAMILY_HARMONIOUS;
    case SKY_SQUARE:
    case SKY_OPPOSITION: return FAMILY_TENSE;
    default: return FAMILY_CONJUNCTION;
    }
}

static int event_weight(const sky_event *e, unsigned house)
{
    int w = 0;
    switch (e->kind) {
    case SKY_EVENT_INGRESS:
        /* The Moon changes sign every two days and a half; the Sun's ingress turns the month. */
        w = e->body == ZODIAC_MOON ? 1 : e->body == ZODIAC_SUN || e->body >= ZODIAC_JUPITER ? 4 : 3;
        break;
    case SKY_EVENT_STATION: w = 4; break;
    case SKY_EVENT_LUNATION: w = e->phase == SKY_NEW_MOON || e->phase == SKY_FULL_MOON ? 4 : 2; break;
    case SKY_EVENT_ASPECT: w = e->aspect == SKY_SEXTILE ? 1 : e->aspect == SKY_TRINE ? 2 : 3; break;
    default: assert(0 && "unknown event kind");
    }
    return w + ((STRONG_HOUSES & HOUSE_BIT(house)) ? 1 : 0);
}

static tone event_tone(const sky_event *e)
{
    switch (e->kind) {
    case SKY_EVENT_INGRESS:
        if (e->retrograde)
            return TONE_PIVOTAL;
        return e->body == ZODIAC_SUN || e->body == ZODIAC_MOON || is_benefic(e->body) ? TONE_FAVOURABLE : TONE_PIVOTAL;
    case SKY_EVENT_STATION: return e->retrograde ? TONE_CHALLENGING : TONE_PIVOTAL;
    case SKY_EVENT_LUNATION:
        return e->phase == SKY_NEW_MOON ? TONE_FAVOURABLE : e->phase == SKY_FULL_MOON ? TONE_PIVOTAL : TONE_CHALLENGING;
    default:
        switch (aspect_family(e->aspect)) {
        case FAMILY_HARMONIOUS: return TONE_FAVOURABLE;
        case FAMILY_TENSE: return TONE_CHALLENGING;
        default: {
            bool good = is_benefic(e->body) || is_benefic(e->other);
            bool hard = is_malefic(e->body) || is_malefic(e->other);
            return good && !hard ? TONE_FAVOURABLE : hard && !good ? TONE_CHALLENGING : TONE_PIVOTAL;
        }
        }
    }
}

typedef enum form {
    FORM_FULL,  /* a sentence naming the day, with the bodies' natures */
    FORM_SHORT, /* a clause naming the house: "Venus enters Taurus (your 2nd house)" */
    FORM_BRIEF, /* a clause: "Venus enters Taurus" */
} form;

/* Renders event `i` in form `f`; false (out empty) if it does not fit. */
static bool event_render(const ctx *c, size_t i, form f, char *out, size_t cap)
{
    const sky_event *e = &c->w->events[i];
    const phrases *p = c->p;
    unsigned h = c->info[i].house;
    char sign[32], deg[16], at[96], acts[256], vp[256], effect[SENTENCE_MAX], nat_a[64], nat_b[64];
    vars v = {{0}};

    sign_display(e->sign, c->lang, sign);
    snprintf(deg, sizeof deg, "%d", (int)floor(zodiac_degree_in_sign(e->lon_deg)));
    v.v[V_DAY] = p->weekday[weekday_of_day(c->info[i].day)];
    v.v[V_BODY] = p->body[e->body];
    v.v[V_OTHER] = p->body[e->other];
    v.v[V_TO_OTHER] = p->body_to[e->other];
    v.v[V_PRON] = p->pron[e->body];
    v.v[V_SIGN] = sign;
    v.v[V_OF_SIGN] = p->sign_of[e->sign];
    v.v[V_DEG] = deg;
    v.v[V_WHERE] = p->where[h];
    v.v[V_OBJ] = p->obj[h];
    if (snprintf(at, sizeof at, " (%s)", p->where[h]) >= (int)sizeof at)
        return false;
    v.v[V_AT] = f == FORM_SHORT ? at : "";
    if (f == FORM_FULL) {
        if (snprintf(nat_a, sizeof nat_a, " (%s)", p->nature[e->body]) >= (int)sizeof nat_a ||
            snprintf(nat_b, sizeof nat_b, " (%s)", p->nature[e->other]) >= (int)sizeof nat_b)
            return false;
    } else {
        nat_a[0] = nat_b[0] = '\0';
    }
    v.v[V_NAT_A] = nat_a;
    v.v[V_NAT_B] = nat_b;
    if (!tpl_render(acts, sizeof acts, p->acts[e->body], &v))
        return false;
    v.v[V_ACTS] = acts;

    unsigned variant = pick(c, SALT_EVENT + (uint32_t)i, VARIANTS);
    const char *tpl = NULL;
    switch (e->kind) {
    case SKY_EVENT_INGRESS:
        if (f == FORM_FULL)
            tpl = e->retrograde ? p->ingress_retro : p->ingress[variant];
        else
            tpl = e->retrograde ? p->short_ingress_retro : p->short_ingress;
        break;
    case SKY_EVENT_STATION: tpl = f == FORM_FULL ? p->station[e->retrograde] : p->short_station[e->retrograde]; break;
    case SKY_EVENT_LUNATION: tpl = f == FORM_FULL ? p->lunation[e->phase] : p->short_lunation[e->phase]; break;
    case SKY_EVENT_ASPECT:
        if (!tpl_render(vp, sizeof vp, p->aspect_vp[e->aspect], &v))
            return false;
        v.v[V_VP] = vp;
        if (!tpl_render(effect, sizeof effect, p->effect[aspect_family(e->aspect)][variant], &v))
            return false;
        v.v[V_EFFECT] = effect;
        tpl = f == FORM_FULL ? p->aspect : p->short_aspect;
        break;
    default: return false;
    }
    return tpl_render(out, cap, tpl, &v);
}

/* The index of the heaviest event (the earliest among equals), or -1 for an empty week. */
static long heaviest_event(const ctx *c)
{
    long best = -1;
    for (size_t i = 0; i < c->w->nevents; i++)
        if (best < 0 || c->info[i].weight > c->info[best].weight)
            best = (long)i;
    return best;
}

static void position_vars(const ctx *c, zodiac_body b, vars *v, char sign[32], char acts[256])
{
    const sky_position *pos = &c->w->positions[b];
    unsigned h = zodiac_house_solar(pos->sign, c->reader);
    sign_display(pos->sign, c->lang, sign);
    v->v[V_BODY] = c->p->body[b];
    v->v[V_PRON] = c->p->pron[b];
    v->v[V_SIGN] = sign;
    v->v[V_WHERE] = c->p->where[h];
    v->v[V_OBJ] = c->p->obj[h];
    v->v[V_TOPIC] = c->p->topic[h];
    if (tpl_render(acts, 256, c->p->acts[b], v))
        v->v[V_ACTS] = acts;
}

static json_t *render_headline(ctx *c)
{
    const phrases *p = c->p;
    char brief[SENTENCE_MAX], out[SENTENCE_MAX], sign[32], acts[256];
    vars v = {{0}};
    long top = heaviest_event(c);
    position_vars(c, ZODIAC_SUN, &v, sign, acts);
    if (top >= 0) {
        v.v[V_TOPIC] = p->topic[c->info[top].house];
        if (!event_render(c, (size_t)top, FORM_BRIEF, brief, sizeof brief))
            brief[0] = '\0';
    } else if (!tpl_render(brief, sizeof brief, p->short_sun, &v)) {
        brief[0] = '\0';
    }
    v.v[V_BRIEF] = brief;
    if (brief[0] == '\0' || !tpl_render(out, sizeof out, p->headline[pick(c, SALT_HEADLINE, VARIANTS)], &v))
        tpl_render(out, sizeof out, "{Topic}", &v);
    return json_string(out);
}

/* Appends "A, B and C" of the names in `items`. */
static void list_join(const phrases *p, text *t, const char *const *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        text_add_sep(t, i + 1 == n ? p->and_ : ", ", items[i]);
}

static json_t *render_overview(ctx *c)
{
    const phrases *p = c->p;
    const sky_week *w = c->w;
    text t;
    char s[SENTENCE_MAX], sign[32], acts[256];
    vars v = {{0}};
    text_init(&t);

    position_vars(c, ZODIAC_SUN, &v, sign, acts);
    if (tpl_render(s, sizeof s, p->overview_sun[pick(c, SALT_OVERVIEW, VARIANTS)], &v))
        text_add(&t, s);

    /* The heaviest events, told in date order. */
    bool chosen[SKY_WEEK_EVENTS_MAX] = {false};
    size_t nchosen = 0;
    for (; nchosen < MOMENTS_MAX; nchosen++) {
        long best = -1;
        for (size_t i = 0; i < w->nevents; i++)
            if (!chosen[i] && c->info[i].weight >= MENTION_WEIGHT &&
                (best < 0 || c->info[i].weight > c->info[best].weight))
                best = (long)i;
        if (best < 0)
            break;
        chosen[best] = true;
    }
    if (nchosen > 0) {
        text list;
        text_init(&list);
        for (size_t i = 0; i < w->nevents; i++) {
            char brief[SENTENCE_MAX], item[SENTENCE_MAX];
            if (!chosen[i] || !event_render(c, i, FORM_SHORT, brief, sizeof brief))
                continue;
            vars m = {{0}};
            m.v[V_DAY] = p->weekday[weekday_of_day(c->info[i].day)];
            m.v[V_BRIEF] = brief;
            if (tpl_render(item, sizeof item, p->moment, &m))
                text_add_sep(&list, p->list_sep, item);
        }
        vars m = {{0}};
        m.v[V_LIST] = list.s;
        if (list.len > 0 && tpl_render(s, sizeof s, p->moments, &m))
            text_add(&t, s);
    } else {
        text_add(&t, p->quiet);
    }

    /* Retrograde planets at the start of the week; the outer ones are retrograde half the year. */
    const char *retro[ZODIAC_BODY_COUNT];
    size_t nretro = 0;
    for (int b = ZODIAC_MERCURY; b <= ZODIAC_SATURN; b++)
        if (w->positions[b].retrograde)
            retro[nretro++] = p->body[b];
    if (nretro > 0) {
        text list;
        text_init(&list);
        list_join(p, &list, retro, nretro);
        vars r = {{0}};
        r.v[V_LIST] = list.s;
        if (tpl_render(s, sizeof s, p->retro[nretro > 1], &r))
            text_add(&t, s);
    }

    if (w->nevents > 0) {
        int sum[TONE_COUNT] = {0};
        for (size_t i = 0; i < w->nevents; i++)
            sum[c->info[i].tone] += c->info[i].weight;
        int fav = sum[TONE_FAVOURABLE], chal = sum[TONE_CHALLENGING], piv = sum[TONE_PIVOTAL];
        int mood = fav * 4 > chal * 5 && fav >= piv    ? MOOD_FAVOURABLE
                   : chal * 4 > fav * 5 && chal >= piv ? MOOD_DEMANDING
                   : piv > fav && piv > chal           ? MOOD_PIVOTAL
                                                       : MOOD_MIXED;
        vars m = {{0}};
        m.v[V_MOOD] = p->mood_word[mood];
        if (tpl_render(s, sizeof s, p->mood, &m))
            text_add(&t, s);
    }
    return json_string(t.s);
}

static int section_relevance(const struct section_def *d, const sky_event *e, const ev_info *in)
{
    bool house = (d->houses & HOUSE_BIT(in->house)) != 0;
    bool body =
        (d->bodies & BODY_BIT(e->body)) != 0 || (e->kind == SKY_EVENT_ASPECT && (d->bodies & BODY_BIT(e->other)) != 0);
    if (!house && !body)
        return 0;
    return in->weight + (house ? 3 : 0) + (body ? 2 : 0);
}

static bool body_moves(const sky_week *w, zodiac_body b)
{
    for (size_t i = 0; i < w->nevents; i++)
        if (w->events[i].body == b &&
            (w->events[i].kind == SKY_EVENT_INGRESS || w->events[i].kind == SKY_EVENT_STATION))
            return true;
    return false;
}

/* Where the section's planet stands all week, for a section no strong event touches. */
static void add_planet_sentence(const ctx *c, section_id sec, text *t)
{
    const struct section_def *d = &section_defs[sec];
    char s[SENTENCE_MAX], sign[32], acts[256];
    vars v = {{0}};
    if (body_moves(c->w, d->planet)) /* "all week" would not be true */
        return;
    position_vars(c, d->planet, &v, sign, acts);
    v.v[V_CODA] = c->p->planet_coda[sec];
    const char *tpl = c->w->positions[d->planet].retrograde ? c->p->planet_retro : c->p->planet;
    if (tpl_render(s, sizeof s, tpl, &v))
        text_add(t, s);
}

static json_t *render_section(ctx *c, section_id sec)
{
    const struct section_def *d = &section_defs[sec];
    const sky_week *w = c->w;
    text t;
    char s[SENTENCE_MAX];
    long picked[SECTION_EVENTS_MAX];
    size_t npicked = 0;
    text_init(&t);

    for (; npicked < SECTION_EVENTS_MAX; npicked++) {
        long best = -1;
        int best_rel = 0;
        for (size_t i = 0; i < w->nevents; i++) {
            bool taken = false;
            for (size_t k = 0; k < npicked; k++)
                taken = taken || picked[k] == (long)i;
            int rel = section_relevance(d, &w->events[i], &c->info[i]);
            if (taken || rel == 0)
                continue;
            if (c->used[i]) /* told already: only if nothing fresh is left */
                rel = rel > 4 ? rel - 4 : 1;
            if (rel > best_rel) {
                best = (long)i;
                best_rel = rel;
            }
        }
        if (best < 0)
            break;
        picked[npicked] = best;
    }

    if (npicked == 0) {
        vars v = {{0}};
        v.v[V_SECTION] = c->p->section_name[sec];
        if (tpl_render(s, sizeof s, c->p->nothing, &v))
            text_add(&t, s);
        add_planet_sentence(c, sec, &t);
        return json_string(t.s);
    }

    /* The heaviest event sets the advice; among equals, the most relevant. */
    long lead = picked[0];
    for (size_t k = 1; k < npicked; k++)
        if (c->info[picked[k]].weight > c->info[lead].weight)
            lead = picked[k];
    bool strong = false;
    if (npicked == 2 && picked[1] < picked[0]) { /* tell them in date order */
        long tmp = picked[0];
        picked[0] = picked[1];
        picked[1] = tmp;
    }
    for (size_t k = 0; k < npicked; k++) {
        size_t i = (size_t)picked[k];
        strong = strong || c->info[i].weight >= KEY_WEIGHT;
        if (!c->used[i]) {
            if (event_render(c, i, FORM_FULL, s, sizeof s))
                text_add(&t, s);
            c->used[i] = true;
            continue;
        }
        /* Told in full by an earlier section: recalled in a clause, not repeated word for word. */
        char brief[SENTENCE_MAX];
        vars v = {{0}};
        v.v[V_DAY] = c->p->weekday[weekday_of_day(c->info[i].day)];
        v.v[V_BRIEF] = brief;
        v.v[V_SECTION] = c->p->section_name[sec];
        if (event_render(c, i, FORM_SHORT, brief, sizeof brief) && tpl_render(s, sizeof s, c->p->recall, &v))
            text_add(&t, s);
    }
    if (!strong)
        add_planet_sentence(c, sec, &t);
    text_add(&t, c->p->coda[sec][c->info[lead].tone]);
    return json_string(t.s);
}

/* ---- JSON ---- */

static void put(ctx *c, json_t *obj, const char *key, json_t *val)
{
    if (val == NULL || json_object_set_new(obj, key, val) != 0)
        c->failed = true;
}

static void push(ctx *c, json_t *arr, json_t *val)
{
    if (val == NULL || json_array_append_new(arr, val) != 0)
        c->failed = true;
}

static json_t *rfc3339(int64_t unix_s)
{
    char out[21];
    civil_format_rfc3339(unix_s * 1000, out);
    return json_string(out);
}

static double round_to(double x, double scale)
{
    return round(x * scale) / scale + 0.0; /* + 0.0 turns -0 into 0 */
}

static double degree_out(double lon_deg)
{
    double d = round_to(zodiac_degree_in_sign(lon_deg), 100);
    return d >= 30.0 ? 29.99 : d;
}

typedef struct day_summary {
    int64_t day;
    int sum[TONE_COUNT];
    bool key;
    tone tone;
} day_summary;

/* The distinct days of the week's events, in order, with their tones. Returns their number. */
static size_t days_summarise(const ctx *c, day_summary *days)
{
    size_t n = 0;
    for (size_t i = 0; i < c->w->nevents; i++) {
        const ev_info *in = &c->info[i];
        size_t k = 0;
        while (k < n && days[k].day != in->day)
            k++;
        if (k == n) {
            /* Insert in order: the events are sorted by time, but nothing here depends on it. */
            size_t at = n;
            while (at > 0 && days[at - 1].day > in->day)
                at--;
            memmove(&days[at + 1], &days[at], (n - at) * sizeof *days);
            days[at] = (day_summary){.day = in->day};
            n++;
            k = at;
        }
        if (in->weight >= MENTION_WEIGHT)
            days[k].sum[in->tone] += in->weight;
        days[k].key = days[k].key || in->weight >= KEY_WEIGHT;
    }
    for (size_t k = 0; k < n; k++) {
        const int *s = days[k].sum;
        days[k].tone =
            s[TONE_FAVOURABLE] > s[TONE_CHALLENGING] && s[TONE_FAVOURABLE] > s[TONE_PIVOTAL]    ? TONE_FAVOURABLE
            : s[TONE_CHALLENGING] > s[TONE_FAVOURABLE] && s[TONE_CHALLENGING] > s[TONE_PIVOTAL] ? TONE_CHALLENGING
                                                                                                : TONE_PIVOTAL;
    }
    return n;
}

static json_t *render_key_date(ctx *c, const day_summary *d)
{
    char date[16], s[SENTENCE_MAX], sentence[SENTENCE_MAX + 2];
    int64_t y;
    unsigned m, dd;
    civil_date_from_days(d->day, &y, &m, &dd);
    snprintf(date, sizeof date, "%04lld-%02u-%02u", (long long)y, m, dd);

    json_t *because = json_array();
    bool told[SKY_WEEK_EVENTS_MAX] = {false};
    for (size_t n = 0; n < BECAUSE_MAX; n++) {
        long best = -1;
        for (size_t i = 0; i < c->w->nevents; i++)
            if (!told[i] && c->info[i].day == d->day && c->info[i].weight >= MENTION_WEIGHT &&
                (best < 0 || c->info[i].weight > c->info[best].weight))
                best = (long)i;
        if (best < 0)
            break;
        told[best] = true;
        if (!event_render(c, (size_t)best, FORM_SHORT, s, sizeof s))
            continue;
        vars v = {{0}};
        v.v[V_BRIEF] = s;
        if (tpl_render(sentence, sizeof sentence, "{Brief}.", &v))
            push(c, because, json_string(sentence));
    }
    json_t *kd = json_pack("{s:s,s:s}", "date", date, "tone", tone_names[d->tone]);
    put(c, kd, "because", because);
    return kd;
}

static json_t *render_lucky(ctx *c, const day_summary *days, size_t ndays)
{
    const phrases *p = c->p;
    /* The most favourable key date if there is one; otherwise a day chosen by the hash. */
    long best = -1;
    for (size_t k = 0; k < ndays; k++)
        if (days[k].key && days[k].tone == TONE_FAVOURABLE &&
            (best < 0 || days[k].sum[TONE_FAVOURABLE] > days[best].sum[TONE_FAVOURABLE]))
            best = (long)k;
    unsigned wd = best >= 0 ? weekday_of_day(days[best].day) : pick(c, SALT_LUCKY_DAY, 7);
    return json_pack("{s:s,s:i,s:s}", "day", p->weekday[wd], "number", (int)pick(c, SALT_LUCKY_NUMBER, 99) + 1, "color",
                     p->color[pick(c, SALT_LUCKY_COLOR, COLOR_COUNT)]);
}

static json_t *render_event_json(ctx *c, size_t i)
{
    const sky_event *e = &c->w->events[i];
    const char *sign = zodiac_sign_name(e->sign, ZODIAC_LANG_EN);
    json_t *j = NULL;
    switch (e->kind) {
    case SKY_EVENT_INGRESS:
        j = json_pack("{s:s,s:s,s:s}", "type", "ingress", "body", zodiac_body_name(e->body), "sign", sign);
        break;
    case SKY_EVENT_STATION:
        j = json_pack("{s:s,s:s,s:s,s:s,s:f}", "type", "station", "body", zodiac_body_name(e->body), "direction",
                      e->retrograde ? "retrograde" : "direct", "sign", sign, "degree", degree_out(e->lon_deg));
        break;
    case SKY_EVENT_LUNATION:
        j = json_pack("{s:s,s:s,s:s}", "type", "lunation", "phase", sky_phase_name(e->phase), "sign", sign);
        break;
    case SKY_EVENT_ASPECT:
        j = json_pack("{s:s,s:[s,s],s:s}", "type", "aspect", "bodies", zodiac_body_name(e->body),
                      zodiac_body_name(e->other), "aspect", sky_aspect_name(e->aspect));
        break;
    default: break;
    }
    put(c, j, "utc", rfc3339(e->at));
    put(c, j, "house", json_integer(c->info[i].house));
    if (j == NULL)
        c->failed = true;
    return j;
}

static json_t *render_sky(ctx *c)
{
    json_t *sky = json_object(), *positions = json_array(), *events = json_array();
    for (int b = 0; b < ZODIAC_BODY_COUNT; b++) {
        const sky_position *pos = &c->w->positions[b];
        push(c, positions,
             json_pack("{s:s,s:s,s:f,s:f,s:b,s:i}", "body", zodiac_body_name((zodiac_body)b), "sign",
                       zodiac_sign_name(pos->sign, ZODIAC_LANG_EN), "degree", degree_out(pos->lon_deg), "speed",
                       round_to(pos->speed_deg_per_day, 10000), "retrograde", pos->retrograde, "house",
                       (int)zodiac_house_solar(pos->sign, c->reader)));
    }
    for (size_t i = 0; i < c->w->nevents; i++)
        push(c, events, render_event_json(c, i));
    put(c, sky, "positions", positions);
    put(c, sky, "events", events);
    return sky;
}

json_t *horoscope_render(const sky_week *w, zodiac_week iso, zodiac_sign reader, zodiac_lang lang)
{
    assert(w != NULL && w->nevents <= SKY_WEEK_EVENTS_MAX);
    assert((unsigned)reader < ZODIAC_SIGN_COUNT && (unsigned)lang < ZODIAC_LANG_COUNT);
    ctx cx = {.w = w, .iso = iso, .reader = reader, .lang = lang, .p = phrase_tables[lang]};
    ctx *c = &cx;
    for (size_t i = 0; i < w->nevents; i++) {
        const sky_event *e = &w->events[i];
        assert((unsigned)e->kind < SKY_EVENT_KIND_COUNT && (unsigned)e->body < ZODIAC_BODY_COUNT &&
               (unsigned)e->other < ZODIAC_BODY_COUNT && (unsigned)e->sign < ZODIAC_SIGN_COUNT &&
               (unsigned)e->phase < SKY_PHASE_COUNT && (unsigned)e->aspect < SKY_ASPECT_COUNT);
        c->info[i].house = zodiac_house_solar(e->sign, reader);
        c->info[i].weight = event_weight(e, c->info[i].house);
        c->info[i].tone = event_tone(e);
        c->info[i].day = day_of(e->at);
    }

    char week_str[ZODIAC_WEEK_STR_SIZE], sign[32];
    zodiac_week_format(iso, week_str);
    sign_display(reader, lang, sign);

    json_t *doc = json_object();
    put(c, doc, "sign", json_string(zodiac_sign_name(reader, ZODIAC_LANG_EN)));
    put(c, doc, "sign_name", json_string(sign));
    put(c, doc, "lang", json_string(c->p->code));
    json_t *week = json_pack("{s:s}", "iso", week_str);
    put(c, week, "start", rfc3339(w->start));
    put(c, week, "end", rfc3339(w->end));
    put(c, doc, "week", week);
    put(c, doc, "headline", render_headline(c));
    put(c, doc, "overview", render_overview(c));
    json_t *sections = json_object();
    for (int s = 0; s < SEC_COUNT; s++)
        put(c, sections, section_keys[s], render_section(c, (section_id)s));
    put(c, doc, "sections", sections);

    day_summary days[SKY_WEEK_EVENTS_MAX];
    size_t ndays = days_summarise(c, days);
    json_t *key_dates = json_array();
    for (size_t k = 0; k < ndays; k++)
        if (days[k].key)
            push(c, key_dates, render_key_date(c, &days[k]));
    put(c, doc, "key_dates", key_dates);
    put(c, doc, "lucky", render_lucky(c, days, ndays));
    put(c, doc, "sky", render_sky(c));

    if (c->failed) {
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}
