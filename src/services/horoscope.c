/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * How the text is written. Each event of the week gets a solar house for the reader, a weight
 * (how much it matters: the kind of event, the bodies, and whether it falls in an angular or love
 * house) and a tone (favourable, challenging or pivotal, from the nature of the bodies and of the
 * aspect). Sentences are whole templates per language, not word-by-word translations, filled
 * with `{name}` variables (a capitalised `{Name}` capitalises the value's first letter); the
 * French tables carry their own articles and contractions ("au Soleil", "du Bélier"), so no
 * grammar is computed at run time. The one exception is a house's matters, a list of items that
 * `{obj:de}` writes with the preposition before each of them ("de vos finances et de vos
 * valeurs"), as French repeats it. Templates are rendered into fixed buffers: a sentence that
 * would not fit is dropped whole rather than cut, so the text stays valid UTF-8.
 *
 *   headline   the heaviest event (or the Sun's sign) and the life area of its house;
 *   overview   the Sun's house, the heaviest events in date order (one clause per day), the
 *              retrograde planets with the advice each calls for, and the balance of tones over
 *              the week with the areas it favours or strains;
 *   sections   the events that fall in the section's houses or involve its bodies, at most two,
 *              preferring events no earlier section told (one it did is recalled in a clause,
 *              not repeated); then advice from their tones, both sides when they disagree.
 *              Without a strong event, where the section's planet stands for the reader all
 *              week; a section no event touches also follows the Moon through its houses;
 *   key_dates  the UTC days holding an event of weight >= KEY_WEIGHT, with the day's heaviest
 *              events as reasons and their tone: "mixed" when they pull both ways.
 *
 * Where several phrasings fit, the hash of (reader, week, what is chosen) picks one, so closing
 * advice varies from week to week, sign to sign and section to section, and stays reproducible.
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
#define DAYS 7

/* TONE_MIXED is never an event's: it is a day's or a section's whose events pull both ways. */
typedef enum tone { TONE_FAVOURABLE, TONE_CHALLENGING, TONE_PIVOTAL, TONE_MIXED, TONE_COUNT } tone;
static const char *const tone_names[TONE_COUNT] = {"favourable", "challenging", "pivotal", "mixed"};

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

/* The modern rulers of the signs, for the reader's ruling planet. */
static const zodiac_body sign_rulers[ZODIAC_SIGN_COUNT] = {
    ZODIAC_MARS,  ZODIAC_VENUS, ZODIAC_MERCURY, ZODIAC_MOON,   ZODIAC_SUN,    ZODIAC_MERCURY,
    ZODIAC_VENUS, ZODIAC_PLUTO, ZODIAC_JUPITER, ZODIAC_SATURN, ZODIAC_URANUS, ZODIAC_NEPTUNE,
};

/* Angular houses and the 5th (love) weigh more. */
#define STRONG_HOUSES (HOUSE_BIT(1) | HOUSE_BIT(4) | HOUSE_BIT(5) | HOUSE_BIT(7) | HOUSE_BIT(10))

/* Aspect families: the effect sentences depend on the family only. */
enum { FAMILY_HARMONIOUS, FAMILY_TENSE, FAMILY_CONJUNCTION, FAMILY_COUNT };

/* Overall tone of the week as an adjective. */
enum { MOOD_FAVOURABLE, MOOD_DEMANDING, MOOD_PIVOTAL, MOOD_MIXED, MOOD_COUNT };

#define COLOR_COUNT 10
#define VARIANTS 2
#define NOTHING_VARIANTS 3
#define MOOD_VARIANTS 3
/* Closing advice per section and tone; a NULL ends a shorter list. */
#define CODA_MAX 8
/* A house's matters: at most this many items, then NULL. */
#define OBJ_ITEMS 3

/* Everything one language says. Houses are indexed 1..12; entry 0 is unused. */
typedef struct phrases {
    const char *code;
    const char *weekday[DAYS];              /* Monday first */
    const char *same_day;                   /* stands for the weekday just named */
    const char *when_one;                   /* {day} */
    const char *when_span;                  /* {day} to {day2} */
    const char *body[ZODIAC_BODY_COUNT];    /* as a subject or object, with its article */
    const char *body_to[ZODIAC_BODY_COUNT]; /* after "to": French contracts à + le */
    const char *pron[ZODIAC_BODY_COUNT];
    const char *nature[ZODIAC_BODY_COUNT];
    const char *acts[ZODIAC_BODY_COUNT];       /* what the body does to {obj}, without its subject */
    const char *retro_obj[ZODIAC_BODY_COUNT];  /* what a retrograde body asks of {obj}: a clause */
    const char *retro_week[ZODIAC_BODY_COUNT]; /* what it asks this week, without its subject */
    const char *sign_of[ZODIAC_SIGN_COUNT];    /* "12° {of_sign}" */
    const char *sign_to[ZODIAC_SIGN_COUNT];    /* "from Leo {to_sign2}" */
    const char *where[13];
    const char *obj[13][OBJ_ITEMS + 1]; /* the house's matters, items of an object */
    const char *topic[13];              /* the house's matters in a word or two, lower case */
    const char *and_;                   /* the last separator of a list */
    const char *list_sep;               /* between items of a list of moments */
    const char *then;                   /* between the moments of one day */

    const char *ingress[VARIANTS];
    const char *ingress_retro;
    const char *station[2]; /* [0] turning direct, [1] turning retrograde */
    const char *node_ingress;
    const char *node_station;
    const char *lunation[SKY_PHASE_COUNT];
    const char *aspect;
    const char *aspect_vp[SKY_ASPECT_COUNT];
    const char *effect[FAMILY_COUNT][VARIANTS];

    const char *short_ingress;
    const char *short_ingress_retro;
    const char *short_station[2];
    const char *short_node_ingress;
    const char *short_node_station;
    const char *short_lunation[SKY_PHASE_COUNT];
    const char *short_aspect;
    const char *short_sun; /* the headline when the week holds no event */

    const char *headline[VARIANTS];
    const char *overview_sun[VARIANTS];
    const char *moments;
    const char *moment;
    const char *quiet;
    const char *ruler;
    const char *retro_one;
    const char *retro_many;
    const char *retro_clause;
    const char *mood[MOOD_COUNT][MOOD_VARIANTS]; /* MOOD_MIXED: {topic} easier, {topic2} harder */
    const char *mood_mixed_same;                 /* both sides in one area */
    const char *mood_mixed_one;                  /* no side dominates, nothing pulls both ways */

    const char *section_name[SEC_COUNT];
    const char *nothing[NOTHING_VARIANTS];
    const char *recall;
    const char *planet;
    const char *planet_retro;
    const char *planet_coda[SEC_COUNT];
    const char *moon[SEC_COUNT][VARIANTS]; /* the Moon in one of the section's houses */
    const char *moon_path;                 /* the Moon elsewhere all week */
    const char *coda[SEC_COUNT][TONE_COUNT][CODA_MAX];
    const char *color[COLOR_COUNT];
} phrases;

static const phrases phrases_en = {
    .code = "en",
    .weekday = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"},
    .same_day = "the same day",
    .when_one = "on {day}",
    .when_span = "from {day} to {day2}",
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
    .retro_obj =
        {
            [ZODIAC_SUN] = "a moment to look back on {obj}.",
            [ZODIAC_MOON] = "a moment to look back on {obj}.",
            [ZODIAC_MERCURY] = "reread, double-check and renegotiate what touches {obj} before you commit.",
            [ZODIAC_VENUS] = "the ties and values bound up with {obj} come back for a second look.",
            [ZODIAC_MARS] = "energy turns inward; around {obj}, finish what is started rather than launch anything "
                            "new.",
            [ZODIAC_JUPITER] = "growth in {obj} consolidates rather than expands; secure what you have gained.",
            [ZODIAC_SATURN] = "the structures that hold {obj} come up for review, to be rebuilt where they creak.",
            [ZODIAC_URANUS] = "the changes brewing in {obj} ripen slowly, out of sight.",
            [ZODIAC_NEPTUNE] = "the dreams tied to {obj} settle and clear, slowly and from within.",
            [ZODIAC_PLUTO] = "what is transforming in {obj} does so from within, slowly and quietly.",
            [ZODIAC_MEAN_NODE] = "the nodal axis keeps its course through {obj}.",
        },
    .retro_week =
        {
            [ZODIAC_SUN] = "invites you to look back",
            [ZODIAC_MOON] = "invites you to look back",
            [ZODIAC_MERCURY] = "asks you to reread and double-check before you commit",
            [ZODIAC_VENUS] = "brings relationships and values back for a second look",
            [ZODIAC_MARS] = "turns your energy inward, better spent finishing than starting",
            [ZODIAC_JUPITER] = "consolidates growth rather than widening it",
            [ZODIAC_SATURN] = "puts structures and commitments up for review",
            [ZODIAC_URANUS] = "lets change ripen slowly, out of sight",
            [ZODIAC_NEPTUNE] = "turns dreams into slow inner work",
            [ZODIAC_PLUTO] = "deepens a slow, inner transformation",
            [ZODIAC_MEAN_NODE] = "keeps its course",
        },
    .sign_of = {"Aries", "Taurus", "Gemini", "Cancer", "Leo", "Virgo", "Libra", "Scorpio", "Sagittarius", "Capricorn",
                "Aquarius", "Pisces"},
    .sign_to = {"to Aries", "to Taurus", "to Gemini", "to Cancer", "to Leo", "to Virgo", "to Libra", "to Scorpio",
                "to Sagittarius", "to Capricorn", "to Aquarius", "to Pisces"},
    .where = {NULL, "your own sign", "your 2nd house", "your 3rd house", "your 4th house", "your 5th house",
              "your 6th house", "your 7th house", "your 8th house", "your 9th house", "your 10th house",
              "your 11th house", "your 12th house"},
    .obj =
        {
            {NULL},
            {"how you present yourself"},
            {"your money", "what you value"},
            {"conversations", "short trips", "siblings"},
            {"home", "family"},
            {"love", "pleasure", "creativity"},
            {"your daily work and health routines"},
            {"your partnerships"},
            {"shared money", "intimacy"},
            {"travel", "study", "the bigger picture"},
            {"your career and public image"},
            {"friends", "networks"},
            {"rest", "time alone"},
        },
    .topic = {NULL, "yourself", "money", "conversations", "home", "love", "daily routines", "partnerships", "intimacy",
              "horizons", "career", "friendships", "rest"},
    .and_ = " and ",
    .list_sep = "; ",
    .then = ", then ",

    .ingress =
        {
            "{Body} enters {sign} on {day}, moving into {where}: {pron} {acts}.",
            "On {day}, {body} moves into {sign} and {where}, where {pron} {acts}.",
        },
    .ingress_retro = "{Body}, still retrograde, slips back into {sign} on {day} and returns to {where}: {retro}",
    .station =
        {
            "On {day}, {body} turns direct at {deg}° {of_sign}, in {where}: what stalled around {obj} starts moving "
            "again.",
            "On {day}, {body} turns retrograde at {deg}° {of_sign}, in {where}: {retro}",
        },
    .node_ingress = "On {day}, the lunar node moves into {sign}, in {where}: for the next year and a half, the nodal "
                    "axis points you towards {obj}.",
    .node_station = "On {day}, the lunar node stands still at {deg}° {of_sign}, in {where}: the nodal axis lingers "
                    "on {obj}.",
    .lunation =
        {
            "On {day}, the New Moon in {sign} falls in {where}: a fresh start for {obj}.",
            "On {day}, the first-quarter Moon in {sign}, in {where}, pushes you to act on {obj}.",
            "On {day}, the Full Moon in {sign} lights up {where}: emotions peak around {obj}.",
            "On {day}, the last-quarter Moon in {sign}, in {where}, is the time to sort out what no longer serves "
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
    .short_node_ingress = "the lunar node moves into {sign}{at}",
    .short_node_station = "the lunar node stands still in {sign}{at}",
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
    .ruler = "Your ruling planet, {body}, starts the week in {sign}, in {where}, and {acts}.",
    .retro_one = "{Body} is retrograde as the week begins and {advice}.",
    .retro_many = "{List} are retrograde as the week begins: {clauses}.",
    .retro_clause = "{Body} {advice}",
    .mood =
        {
            [MOOD_FAVOURABLE] = {"Overall, the week looks favourable, above all for {topic}.",
                                 "All in all, a favourable week, especially for {topic}.",
                                 "The balance of the week is favourable, most of all for {topic}."},
            [MOOD_DEMANDING] = {"Overall, the week looks demanding, above all for {topic}.",
                                "All in all, a demanding week, especially for {topic}.",
                                "The balance of the week is demanding, most of all for {topic}."},
            [MOOD_PIVOTAL] = {"Overall, the week looks decisive, above all for {topic}.",
                              "All in all, a decisive week, especially for {topic}.",
                              "The balance of the week is decisive, most of all for {topic}."},
            [MOOD_MIXED] = {"Overall, a mixed week: easier for {topic}, harder for {topic2}.",
                            "All in all, a mixed week: a tailwind for {topic}, a headwind for {topic2}.",
                            "A mixed balance this week: support for {topic}, resistance for {topic2}."},
        },
    .mood_mixed_same = "Overall, a mixed week for {topic}: support and friction side by side.",
    .mood_mixed_one = "Overall, the week looks mixed, with {topic} at its centre.",

    .section_name = {"your love life", "your work", "your finances", "your wellbeing"},
    .nothing = {"No major event touches {section} this week.", "The week's big events leave {section} alone.",
                "{Section} stays out of the week's main events."},
    .recall = "On {day}, {brief}, which also bears on {section}.",
    .planet = "{Body} stays in {sign} all week, in {where}, and {acts}: {coda}",
    .planet_retro = "{Body}, retrograde in {sign} all week, sits in {where}: {retro}",
    .planet_coda = {"that is where your heart finds its openings.", "that is where your efforts pay off.",
                    "that is where opportunities grow.", "that is where you recharge."},
    .moon =
        {
            [SEC_LOVE] = {"The Moon crosses {where} {when}: feelings come closer to the surface around {obj}.",
                          "{When}, the Moon in {sign} warms {where}, a tender time for {obj}."},
            [SEC_WORK] = {"The Moon crosses {where} {when}: a good window to sort out {obj}.",
                          "{When}, the Moon in {sign} moves through {where}: trust your instinct about {obj}."},
            [SEC_MONEY] = {"The Moon crosses {where} {when}: a good time to look calmly at {obj}.",
                           "{When}, the Moon in {sign} passes through {where}, drawing your attention to {obj}."},
            [SEC_WELLBEING] = {"The Moon crosses {where} {when}: make room for {obj}.",
                               "{When}, the Moon in {sign} moves through {where}: your mood follows {obj}."},
        },
    .moon_path = "The Moon moves from {sign} {to_sign2} this week, from {where} to {where2}, and leaves {section} "
                 "in the background.",
    .coda =
        {
            [SEC_LOVE] =
                {
                    [TONE_FAVOURABLE] = {"A good moment to open your heart.", "Let tenderness lead the way.",
                                         "A kind word goes further than usual.",
                                         "Say what you feel: it will be well received.",
                                         "Make room for a shared pleasure.", "Affection flows more easily than usual.",
                                         "A good week to plan something for two.",
                                         "Charm is on your side: use it gently."},
                    [TONE_CHALLENGING] = {"Patience with loved ones pays off.", "Listen before you answer.",
                                          "Let a tense moment pass before you talk it over.",
                                          "Don't read too much into a cool word.",
                                          "Gentleness will do more than insistence.", "Give each other some room.",
                                          "Keep jealousy and old grievances out of it.",
                                          "A little distance helps you see clearly."},
                    [TONE_PIVOTAL] = {"A question of the heart comes to the fore.",
                                      "A relationship asks for a clear choice.",
                                      "What you want in love becomes clearer.",
                                      "A meeting or a conversation can change the picture.",
                                      "Be honest about what you need.", "A turning point for a bond that matters.",
                                      "Old patterns in love ask to be left behind.",
                                      "Follow your feelings, but keep your eyes open."},
                    [TONE_MIXED] = {"Sweet moments and friction alternate: take the good, let the rest pass.",
                                    "Warmth on one side, tension on the other: keep your balance.",
                                    "Tender moments outweigh the misunderstandings, given some patience.",
                                    "Enjoy the easy moments and defuse the harder ones.",
                                    "Love shows both faces this week: the sweet and the demanding.",
                                    "Good surprises and small clashes: nothing that honesty cannot handle."},
                },
            [SEC_WORK] =
                {
                    [TONE_FAVOURABLE] = {"Move your projects forward.", "Your ideas find a willing audience.",
                                         "A good week to take the initiative.", "Teamwork runs smoothly: lean on it.",
                                         "Put forward the project you believe in.",
                                         "Effort is rewarded faster than usual.",
                                         "A good time to ask for what you deserve.",
                                         "Your work gains visibility: make it count."},
                    [TONE_CHALLENGING] = {"Pace yourself and avoid power struggles.",
                                          "Check the details twice before you sign off.",
                                          "Keep calm in meetings: not every battle is worth it.",
                                          "Deadlines may slip: build in some margin.", "Focus on what you control.",
                                          "Better to finish what is started than to open new fronts.",
                                          "A firm but diplomatic tone will serve you best.",
                                          "Don't take friction with colleagues personally."},
                    [TONE_PIVOTAL] = {"A professional decision takes shape.",
                                      "Your priorities at work are being reshuffled.",
                                      "A new direction is worth considering.",
                                      "Something shifts in how you work: adapt rather than resist.",
                                      "A role or a responsibility is up for redefinition.",
                                      "Keep your options open a few more days.",
                                      "An opportunity calls for a quick but thoughtful answer.",
                                      "Take stock of where your career is heading."},
                    [TONE_MIXED] = {"Progress and obstacles go hand in hand: keep the pace steady.",
                                    "Some doors open, others stick: push where it gives.",
                                    "A productive week, provided you choose your battles.",
                                    "Use the easy days to get ahead and the hard ones to check.",
                                    "Support and resistance both show up: rely on the first.",
                                    "Ambition is welcome, and so is diplomacy."},
                },
            [SEC_MONEY] =
                {
                    [TONE_FAVOURABLE] =
                        {"A favourable window for money matters.", "A good time to negotiate or to ask.",
                         "Your sense of value is sharp: trust it.", "An expense can turn into an investment.",
                         "Money flows more easily: put some aside.", "A small gain or a good deal is within reach.",
                         "Plan the purchase you have been putting off.", "What you invest in yourself pays back."},
                    [TONE_CHALLENGING] =
                        {"Hold off on big purchases.", "Read the small print before you commit.",
                         "Keep a margin for the unexpected.", "Impulse buying is tempting: sleep on it.",
                         "Don't lend what you cannot afford to lose.", "Review your subscriptions and fixed costs.",
                         "Caution pays more than boldness this week.", "Postpone money talks if tempers rise."},
                    [TONE_PIVOTAL] = {"Take stock of your budget.", "A financial choice deserves a clear head.",
                                      "Your spending priorities are shifting.",
                                      "Rethink what really has value for you.",
                                      "A shared resource needs a clear agreement.",
                                      "A good moment to set a new savings goal.", "Compare before you decide.",
                                      "A source of income deserves a second look."},
                    [TONE_MIXED] = {"Gains and expenses balance out: keep your accounts close.",
                                    "A good deal sits next to a trap: read carefully.",
                                    "Spend on what matters, save on the rest.",
                                    "Opportunities come with conditions: weigh both.",
                                    "One door opens, another closes: choose calmly.",
                                    "Generous one day, careful the next: find your middle ground."},
                },
            [SEC_WELLBEING] =
                {
                    [TONE_FAVOURABLE] = {"Your energy is on the rise.", "A good week to start a healthy habit.",
                                         "Move, breathe, get outside: it all helps.",
                                         "Your body responds well to a little care.", "Morale is good: share it.",
                                         "Rest comes easily: enjoy it.", "A lighter mood makes everything easier.",
                                         "Treat yourself to something that does you good."},
                    [TONE_CHALLENGING] = {"Protect your sleep and your nerves.",
                                          "Don't take on too much: say no when you need to.",
                                          "Slow down before fatigue does it for you.",
                                          "Drink water, breathe, and keep your evenings quiet.",
                                          "Stress is close to the surface: make time to unwind.",
                                          "Gentle exercise beats a big effort this week.",
                                          "Watch for the small signs of tiredness.",
                                          "Keep screens away from your nights."},
                    [TONE_PIVOTAL] = {"Listen to what your body tells you.", "A change of rhythm does you good.",
                                      "A good moment to rethink your daily routine.",
                                      "Let go of a habit that tires you.",
                                      "Your energy is shifting: follow it rather than force it.",
                                      "Make room for a pause that recharges you.",
                                      "What you feel physically has something to say.",
                                      "Find a new balance between activity and rest."},
                    [TONE_MIXED] = {"Ups and downs in energy: plan around them.",
                                    "Use your good days well and go easy on the others.",
                                    "Energy comes and goes: alternate effort and rest.",
                                    "Vitality on one side, fatigue on the other: listen to both.",
                                    "Good form, provided you respect your limits.",
                                    "A lively week that still asks for proper rest."},
                },
        },
    .color = {"red", "orange", "gold", "green", "turquoise", "blue", "violet", "silver", "white", "pink"},
};

static const phrases phrases_fr = {
    .code = "fr",
    .weekday = {"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"},
    .same_day = "le même jour",
    .when_one = "{day}",
    .when_span = "de {day} à {day2}",
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
            "anime les idées et le dialogue autour {obj:de}",
            "embellit {obj}",
            "dynamise, non sans frictions, {obj}",
            "ouvre de nouvelles perspectives {obj:à}",
            "demande rigueur et patience {obj:pour}",
            "bouscule {obj}",
            "idéalise {obj}, au risque de l'illusion",
            "transforme en profondeur {obj}",
            "fait {obj:de} un enjeu de long terme",
        },
    .retro_obj =
        {
            [ZODIAC_SUN] = "un moment pour faire le bilan {obj:de}.",
            [ZODIAC_MOON] = "un moment pour faire le bilan {obj:de}.",
            [ZODIAC_MERCURY] = "relisez, vérifiez et renégociez ce qui touche {obj:à} avant de vous engager.",
            [ZODIAC_VENUS] = "les liens et les valeurs attachés {obj:à} demandent un second regard.",
            [ZODIAC_MARS] = "l'énergie se tourne vers l'intérieur" NBSP "; du côté {obj:de}, terminez ce qui est "
                            "lancé plutôt que d'ouvrir de nouveaux chantiers.",
            [ZODIAC_JUPITER] =
                "la croissance {obj:de} se consolide plutôt qu'elle ne s'étend" NBSP "; sécurisez vos acquis.",
            [ZODIAC_SATURN] = "les structures qui portent {obj} sont à revoir, et à reconstruire là où elles grincent.",
            [ZODIAC_URANUS] = "les changements qui couvent du côté {obj:de} mûrissent lentement, à l'abri des regards.",
            [ZODIAC_NEPTUNE] = "les rêves liés {obj:à} décantent lentement, de l'intérieur.",
            [ZODIAC_PLUTO] = "ce qui se transforme du côté {obj:de} le fait en profondeur, lentement et sans bruit.",
            [ZODIAC_MEAN_NODE] = "l'axe des nœuds poursuit sa route à travers {obj}.",
        },
    .retro_week =
        {
            [ZODIAC_SUN] = "invite à faire le bilan",
            [ZODIAC_MOON] = "invite à faire le bilan",
            [ZODIAC_MERCURY] = "invite à relire et à vérifier avant de vous engager",
            [ZODIAC_VENUS] = "soumet vos liens et vos valeurs à un second regard",
            [ZODIAC_MARS] = "tourne votre énergie vers l'intérieur, mieux employée à finir qu'à commencer",
            [ZODIAC_JUPITER] = "consolide la croissance plutôt que de l'étendre",
            [ZODIAC_SATURN] = "remet à plat les structures et les engagements",
            [ZODIAC_URANUS] = "laisse le changement mûrir lentement, à l'abri des regards",
            [ZODIAC_NEPTUNE] = "fait des rêves un lent travail intérieur",
            [ZODIAC_PLUTO] = "approfondit une lente transformation intérieure",
            [ZODIAC_MEAN_NODE] = "poursuit sa route",
        },
    .sign_of = {"du Bélier", "du Taureau", "des Gémeaux", "du Cancer", "du Lion", "de la Vierge", "de la Balance",
                "du Scorpion", "du Sagittaire", "du Capricorne", "du Verseau", "des Poissons"},
    .sign_to = {"au Bélier", "au Taureau", "aux Gémeaux", "au Cancer", "au Lion", "à la Vierge", "à la Balance",
                "au Scorpion", "au Sagittaire", "au Capricorne", "au Verseau", "aux Poissons"},
    .where = {NULL, "votre propre signe", "votre maison 2", "votre maison 3", "votre maison 4", "votre maison 5",
              "votre maison 6", "votre maison 7", "votre maison 8", "votre maison 9", "votre maison 10",
              "votre maison 11", "votre maison 12"},
    /* Every item starts with "votre" or "vos", so "de" and "à" before it never contract. */
    .obj =
        {
            {NULL},
            {"votre image", "votre élan personnel"},
            {"vos finances", "vos valeurs"},
            {"vos échanges", "vos petits trajets", "vos relations fraternelles"},
            {"votre foyer", "votre famille"},
            {"vos amours", "vos plaisirs", "votre créativité"},
            {"votre travail au quotidien", "votre hygiène de vie"},
            {"vos relations de couple", "vos associations"},
            {"vos ressources partagées", "votre intimité"},
            {"vos voyages", "vos études", "votre quête de sens"},
            {"votre carrière", "votre image publique"},
            {"vos amitiés", "vos réseaux"},
            {"votre besoin de repos et de recul"},
        },
    .topic = {NULL, "votre image", "l'argent", "les échanges", "le foyer", "les amours", "le quotidien", "le couple",
              "l'intimité", "les horizons lointains", "la carrière", "les amitiés", "le repos"},
    .and_ = " et ",
    .list_sep = NBSP "; ",
    .then = ", puis ",

    .ingress =
        {
            "{Day}, {body} entre en {sign} et rejoint {where}" NBSP ": {pron} {acts}.",
            "{Day}, {body} passe en {sign}, dans {where}, et {acts}.",
        },
    .ingress_retro = "{Day}, {body}, toujours rétrograde, recule en {sign} et revient dans {where}" NBSP ": {retro}",
    .station =
        {
            "{Day}, {body} reprend sa marche directe à {deg}° {of_sign}, dans {where}" NBSP
            ": ce qui piétinait du côté {obj:de} se remet en mouvement.",
            "{Day}, {body} devient rétrograde à {deg}° {of_sign}, dans {where}" NBSP ": {retro}",
        },
    .node_ingress = "{Day}, le nœud lunaire passe en {sign}, dans {where}" NBSP
                    ": pour un an et demi, l'axe des nœuds fait {obj:de} un cap à suivre.",
    .node_station = "{Day}, le nœud lunaire marque une pause à {deg}° {of_sign}, dans {where}" NBSP
                    ": l'axe des nœuds s'attarde {obj:sur}.",
    .lunation =
        {
            "{Day}, la nouvelle lune en {sign} se forme dans {where}" NBSP ": un nouveau départ {obj:pour}.",
            "{Day}, le premier quartier de lune en {sign}, dans {where}, vous pousse à agir {obj:pour}.",
            "{Day}, la pleine lune en {sign} illumine {where}" NBSP ": les émotions culminent autour {obj:de}.",
            "{Day}, le dernier quartier de lune en {sign}, dans {where}, invite à faire le tri du côté {obj:de}.",
        },
    .aspect = "{Day}, {body}{nat_a} {vp} dans {where}" NBSP ": {effect}",
    .aspect_vp = {"s'unit {to_other}{nat_b}", "forme un sextile avec {other}{nat_b}",
                  "forme un carré avec {other}{nat_b}", "forme un trigone avec {other}{nat_b}",
                  "s'oppose {to_other}{nat_b}"},
    .effect =
        {
            [FAMILY_HARMONIOUS] = {"une belle fluidité qui favorise {obj}.", "un appui précieux {obj:pour}, à saisir."},
            [FAMILY_TENSE] = {"des frictions autour {obj:de}" NBSP "; ne forcez rien.",
                              "un tiraillement autour {obj:de}" NBSP "; cherchez le juste milieu."},
            [FAMILY_CONJUNCTION] = {"une énergie intense, concentrée {obj:sur}.",
                                    "un nouveau cycle s'ouvre {obj:pour}."},
        },

    .short_ingress = "{body} entre en {sign}{at}",
    .short_ingress_retro = "{body} recule en {sign}{at}",
    .short_station = {"{body} reprend sa marche directe en {sign}{at}", "{body} devient rétrograde en {sign}{at}"},
    .short_node_ingress = "le nœud lunaire passe en {sign}{at}",
    .short_node_station = "le nœud lunaire marque une pause en {sign}{at}",
    .short_lunation = {"la nouvelle lune en {sign}{at}", "le premier quartier de lune en {sign}{at}",
                       "la pleine lune en {sign}{at}", "le dernier quartier de lune en {sign}{at}"},
    .short_aspect = "{body} {vp}{at}",
    .short_sun = "le Soleil en {sign}",

    .headline = {"{Topic} au premier plan" NBSP ": {brief}", "{Brief}" NBSP ": coup de projecteur sur {topic}"},
    .overview_sun =
        {
            "Avec le Soleil en {sign}, dans {where}, la semaine tourne autour {obj:de}.",
            "Le Soleil, en {sign} et dans {where}, place {obj} au cœur de la semaine.",
        },
    .moments = "Temps forts" NBSP ": {list}.",
    .moment = "{day}, {brief}",
    .quiet = "Ciel calme cette semaine" NBSP
             ": aucune configuration majeure ne se forme, c'est le bon moment pour consolider.",
    .ruler = "Votre planète maîtresse, {body}, commence la semaine en {sign}, dans {where}, et {acts}.",
    .retro_one = "{Body} est rétrograde en début de semaine et {advice}.",
    .retro_many = "{List} sont rétrogrades en début de semaine" NBSP ": {clauses}.",
    .retro_clause = "{Body} {advice}",
    .mood =
        {
            [MOOD_FAVOURABLE] = {"Dans l'ensemble, la semaine s'annonce porteuse, surtout pour {topic}.",
                                 "Au bilan, une semaine porteuse, en particulier pour {topic}.",
                                 "La semaine penche du bon côté, avant tout pour {topic}."},
            [MOOD_DEMANDING] = {"Dans l'ensemble, la semaine s'annonce exigeante, surtout pour {topic}.",
                                "Au bilan, une semaine exigeante, en particulier pour {topic}.",
                                "La semaine demande des efforts, avant tout pour {topic}."},
            [MOOD_PIVOTAL] = {"Dans l'ensemble, la semaine s'annonce décisive, surtout pour {topic}.",
                              "Au bilan, une semaine décisive, en particulier pour {topic}.",
                              "La semaine marque un tournant, avant tout pour {topic}."},
            [MOOD_MIXED] = {"Dans l'ensemble, une semaine contrastée" NBSP
                            ": plus facile pour {topic}, plus difficile pour {topic2}.",
                            "Au bilan, une semaine contrastée" NBSP
                            ": un vent porteur pour {topic}, un vent contraire pour {topic2}.",
                            "Un bilan contrasté cette semaine" NBSP
                            ": des appuis pour {topic}, des résistances pour {topic2}."},
        },
    .mood_mixed_same =
        "Dans l'ensemble, une semaine contrastée pour {topic}" NBSP ": appuis et frictions s'y côtoient.",
    .mood_mixed_one = "Dans l'ensemble, la semaine s'annonce contrastée, avec {topic} en son centre.",

    .section_name = {"votre vie amoureuse", "votre travail", "vos finances", "votre bien-être"},
    .nothing = {"Aucun événement majeur ne concerne {section} cette semaine.",
                "Les grands événements de la semaine épargnent {section}.",
                "La semaine laisse {section} à l'écart de ses grands événements."},
    .recall = "{Day}, {brief}, ce qui concerne aussi {section}.",
    .planet = "{Body} reste en {sign} toute la semaine, dans {where}, et {acts}" NBSP ": {coda}",
    .planet_retro = "{Body}, rétrograde en {sign} toute la semaine, se trouve dans {where}" NBSP ": {retro}",
    .planet_coda = {"c'est là que votre cœur trouve ses ouvertures.", "c'est là que vos efforts portent leurs fruits.",
                    "c'est là que se dessinent les opportunités.", "c'est là que vous rechargez vos batteries."},
    .moon =
        {
            [SEC_LOVE] = {"La Lune traverse {where} {when}" NBSP ": les sentiments affleurent du côté {obj:de}.",
                          "{When}, la Lune en {sign} réchauffe {where}, un moment tendre {obj:pour}."},
            [SEC_WORK] = {"La Lune traverse {where} {when}" NBSP
                          ": une bonne fenêtre pour mettre de l'ordre {obj:dans}.",
                          "{When}, la Lune en {sign} passe dans {where}" NBSP
                          ": fiez-vous à votre instinct {obj:pour}."},
            [SEC_MONEY] = {"La Lune traverse {where} {when}" NBSP ": un bon moment pour regarder {obj} à tête reposée.",
                           "{When}, la Lune en {sign} passe dans {where} et attire votre attention {obj:sur}."},
            [SEC_WELLBEING] = {"La Lune traverse {where} {when}" NBSP ": faites de la place {obj:à}.",
                               "{When}, la Lune en {sign} traverse {where}" NBSP
                               ": votre humeur suit le fil {obj:de}."},
        },
    .moon_path = "Cette semaine, la Lune passe {of_sign} {to_sign2}, de {where} à {where2}, et laisse {section} au "
                 "second plan.",
    .coda =
        {
            [SEC_LOVE] =
                {
                    [TONE_FAVOURABLE] = {"Un bon moment pour ouvrir votre cœur.",
                                         "Laissez la tendresse montrer le chemin.",
                                         "Un mot tendre porte plus loin que d'habitude.",
                                         "Dites ce que vous ressentez" NBSP ": ce sera bien reçu.",
                                         "Faites une place à un plaisir partagé.",
                                         "L'affection circule plus librement que d'habitude.",
                                         "Une bonne semaine pour prévoir un moment à deux.",
                                         "Le charme joue pour vous" NBSP ": servez-vous-en avec délicatesse."},
                    [TONE_CHALLENGING] = {"La patience envers vos proches sera payante.", "Écoutez avant de répondre.",
                                          "Laissez passer un moment de tension avant d'en parler.",
                                          "Ne surinterprétez pas un mot un peu froid.",
                                          "La douceur fera plus que l'insistance.",
                                          "Laissez-vous mutuellement un peu d'air.",
                                          "Tenez la jalousie et les vieux griefs à l'écart.",
                                          "Un peu de recul vous aide à y voir clair."},
                    [TONE_PIVOTAL] = {"Une question de cœur passe au premier plan.",
                                      "Une relation demande un choix clair.",
                                      "Ce que vous attendez en amour se précise.",
                                      "Une rencontre ou une conversation peut changer la donne.",
                                      "Soyez honnête sur ce dont vous avez besoin.",
                                      "Un tournant pour un lien qui compte.",
                                      "De vieux schémas amoureux demandent à être dépassés.",
                                      "Suivez vos sentiments, mais gardez les yeux ouverts."},
                    [TONE_MIXED] = {"Douceur et frictions alternent" NBSP ": prenez le meilleur, laissez passer le "
                                    "reste.",
                                    "De la chaleur d'un côté, de la tension de l'autre" NBSP ": gardez l'équilibre.",
                                    "Les moments tendres l'emportent sur les malentendus, avec un peu de patience.",
                                    "Profitez des moments faciles et désamorcez les plus tendus.",
                                    "L'amour montre ses deux visages cette semaine" NBSP ": le doux et l'exigeant.",
                                    "Bonnes surprises et petits accrochages" NBSP
                                    ": rien que la franchise ne puisse régler."},
                },
            [SEC_WORK] =
                {
                    [TONE_FAVOURABLE] = {"Faites avancer vos projets.", "Vos idées trouvent une oreille attentive.",
                                         "Une bonne semaine pour prendre l'initiative.",
                                         "Le travail d'équipe est fluide" NBSP ": appuyez-vous dessus.",
                                         "Mettez en avant le projet auquel vous croyez.",
                                         "L'effort est récompensé plus vite que d'habitude.",
                                         "Un bon moment pour demander ce qui vous revient.",
                                         "Votre travail gagne en visibilité" NBSP ": faites-le valoir."},
                    [TONE_CHALLENGING] = {"Dosez vos efforts et évitez les rapports de force.",
                                          "Vérifiez deux fois les détails avant de valider.",
                                          "Gardez votre calme en réunion" NBSP
                                          ": toutes les batailles ne valent pas la peine.",
                                          "Les délais peuvent glisser" NBSP ": prévoyez de la marge.",
                                          "Concentrez-vous sur ce qui dépend de vous.",
                                          "Mieux vaut terminer ce qui est lancé qu'ouvrir de nouveaux fronts.",
                                          "Un ton ferme mais diplomate vous servira le mieux.",
                                          "Ne prenez pas les frictions avec vos collègues pour vous."},
                    [TONE_PIVOTAL] = {"Une décision professionnelle se dessine.",
                                      "Vos priorités professionnelles se redistribuent.",
                                      "Une nouvelle orientation mérite réflexion.",
                                      "Quelque chose change dans votre façon de travailler" NBSP
                                      ": adaptez-vous plutôt que de résister.",
                                      "Un rôle ou une responsabilité est à redéfinir.",
                                      "Gardez vos options ouvertes quelques jours de plus.",
                                      "Une occasion demande une réponse rapide mais réfléchie.",
                                      "Faites le point sur la direction que prend votre carrière."},
                    [TONE_MIXED] = {"Avancées et obstacles vont de pair" NBSP ": gardez un rythme régulier.",
                                    "Certaines portes s'ouvrent, d'autres résistent" NBSP ": poussez là où ça cède.",
                                    "Une semaine productive, à condition de choisir vos combats.",
                                    "Profitez des jours faciles pour avancer et des plus durs pour vérifier.",
                                    "Soutiens et résistances se manifestent" NBSP ": appuyez-vous sur les premiers.",
                                    "L'ambition est bienvenue, la diplomatie aussi."},
                },
            [SEC_MONEY] =
                {
                    [TONE_FAVOURABLE] = {"Une fenêtre favorable pour vos finances.",
                                         "Un bon moment pour négocier ou pour demander.",
                                         "Votre sens de la valeur est aiguisé" NBSP ": fiez-vous-y.",
                                         "Une dépense peut se changer en investissement.",
                                         "L'argent circule plus facilement" NBSP ": mettez-en de côté.",
                                         "Un petit gain ou une bonne affaire est à portée de main.",
                                         "Planifiez l'achat que vous repoussiez.",
                                         "Ce que vous investissez en vous-même rapporte."},
                    [TONE_CHALLENGING] = {"Différez les gros achats.",
                                          "Lisez les petites lignes avant de vous engager.",
                                          "Gardez une marge pour les imprévus.",
                                          "Les achats impulsifs tentent" NBSP ": attendez le lendemain.",
                                          "Ne prêtez pas ce que vous ne pouvez pas perdre.",
                                          "Passez en revue vos abonnements et vos frais fixes.",
                                          "La prudence rapporte plus que l'audace cette semaine.",
                                          "Reportez les discussions d'argent si le ton monte."},
                    [TONE_PIVOTAL] = {"Faites le point sur votre budget.", "Un choix financier mérite la tête froide.",
                                      "Vos priorités de dépense évoluent.",
                                      "Redéfinissez ce qui a vraiment de la valeur pour vous.",
                                      "Une ressource partagée demande un accord clair.",
                                      "Un bon moment pour fixer un nouvel objectif d'épargne.",
                                      "Comparez avant de trancher.", "Une source de revenus mérite un second regard."},
                    [TONE_MIXED] = {"Gains et dépenses s'équilibrent" NBSP ": suivez vos comptes de près.",
                                    "Une bonne affaire côtoie un piège" NBSP ": lisez attentivement.",
                                    "Dépensez pour l'essentiel, économisez sur le reste.",
                                    "Les occasions viennent avec des conditions" NBSP ": pesez les deux.",
                                    "Une porte s'ouvre, une autre se ferme" NBSP ": choisissez posément.",
                                    "Un jour la largesse, le lendemain la prudence" NBSP ": trouvez le juste milieu."},
                },
            [SEC_WELLBEING] =
                {
                    [TONE_FAVOURABLE] = {"Votre énergie remonte.", "Une bonne semaine pour adopter une habitude saine.",
                                         "Bougez, respirez, sortez" NBSP ": tout y contribue.",
                                         "Votre corps répond bien à un peu d'attention.",
                                         "Le moral est bon" NBSP ": partagez-le.",
                                         "Le repos vient facilement" NBSP ": profitez-en.",
                                         "Une humeur plus légère facilite tout.",
                                         "Offrez-vous quelque chose qui vous fait du bien."},
                    [TONE_CHALLENGING] = {"Ménagez votre sommeil et vos nerfs.",
                                          "N'en faites pas trop" NBSP ": dites non quand il le faut.",
                                          "Ralentissez avant que la fatigue ne le fasse pour vous.",
                                          "Buvez de l'eau, respirez et gardez des soirées calmes.",
                                          "Le stress affleure" NBSP ": prenez le temps de décompresser.",
                                          "Un exercice doux vaut mieux qu'un gros effort cette semaine.",
                                          "Guettez les petits signaux de fatigue.",
                                          "Éloignez les écrans de vos nuits."},
                    [TONE_PIVOTAL] = {"Écoutez ce que votre corps vous dit.",
                                      "Un changement de rythme vous fait du bien.",
                                      "Un bon moment pour repenser votre routine.",
                                      "Lâchez une habitude qui vous fatigue.",
                                      "Votre énergie se transforme" NBSP ": suivez-la plutôt que de la forcer.",
                                      "Faites place à une pause qui vous ressource.",
                                      "Ce que vous ressentez physiquement a quelque chose à dire.",
                                      "Trouvez un nouvel équilibre entre activité et repos."},
                    [TONE_MIXED] = {"Des hauts et des bas d'énergie" NBSP ": organisez-vous en conséquence.",
                                    "Profitez de vos bons jours et ménagez-vous les autres.",
                                    "L'énergie va et vient" NBSP ": alternez effort et repos.",
                                    "De la vitalité d'un côté, de la fatigue de l'autre" NBSP ": écoutez les deux.",
                                    "Une bonne forme, à condition de respecter vos limites.",
                                    "Une semaine vive, qui demande pourtant un vrai repos."},
                },
        },
    .color = {"rouge", "orange", "doré", "vert", "turquoise", "bleu", "violet", "argenté", "blanc", "rose"},
};

static const phrases *const phrase_tables[ZODIAC_LANG_COUNT] = {
    [ZODIAC_LANG_EN] = &phrases_en, [ZODIAC_LANG_FR] = &phrases_fr};

/* ---- templates ---- */

typedef enum var {
    V_DAY,
    V_DAY2,
    V_WHEN,
    V_BODY,
    V_OTHER,
    V_TO_OTHER,
    V_PRON,
    V_SIGN,
    V_OF_SIGN,
    V_TO_SIGN2,
    V_DEG,
    V_WHERE,
    V_WHERE2,
    V_ACTS,
    V_RETRO,
    V_ADVICE,
    V_CLAUSES,
    V_NAT_A,
    V_NAT_B,
    V_VP,
    V_EFFECT,
    V_AT,
    V_TOPIC,
    V_TOPIC2,
    V_BRIEF,
    V_LIST,
    V_SECTION,
    V_CODA,
    V_COUNT
} var;

static const char *const var_names[V_COUNT] = {
    "day",    "day2",  "when",   "body",   "other", "to_other", "pron",    "sign",  "of_sign", "to_sign2",
    "deg",    "where", "where2", "acts",   "retro", "advice",   "clauses", "nat_a", "nat_b",   "vp",
    "effect", "at",    "topic",  "topic2", "brief", "list",     "section", "coda",
};

/*
 * A template's values. `obj` is special: the items of a house's matters (NULL-terminated), which
 * {obj} joins as a list and {obj:de} joins with "de" before each item.
 */
typedef struct vars {
    const char *v[V_COUNT];
    const char *const *obj;
    const char *and_;
} vars;

static vars vars_make(const phrases *p)
{
    vars v = {.and_ = p->and_};
    return v;
}

/* True when the template name `name` (len bytes) is `want`, `name` possibly capitalised. */
static bool name_is(const char *name, size_t len, const char *want, bool capital)
{
    return strlen(want) == len && name[0] == (capital ? want[0] - 'a' + 'A' : want[0]) &&
           memcmp(want + 1, name + 1, len - 1) == 0;
}

static const char *var_find(const vars *v, const char *name, size_t len, bool capital)
{
    for (unsigned i = 0; i < V_COUNT; i++)
        if (name_is(name, len, var_names[i], capital))
            return v->v[i];
    return NULL;
}

static bool emit(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
    if (*n + len >= cap)
        return false;
    memcpy(out + *n, s, len);
    *n += len;
    return true;
}

/* "A, B and C", each item after `prep` (plen bytes, none when 0). */
static bool emit_obj(char *out, size_t cap, size_t *n, const vars *v, const char *prep, size_t plen)
{
    assert(v->obj != NULL && v->obj[0] != NULL && "a template names {obj} without a house");
    if (v->obj == NULL)
        return false;
    for (size_t i = 0; v->obj[i] != NULL; i++) {
        const char *sep = i == 0 ? "" : v->obj[i + 1] == NULL ? v->and_ : ", ";
        if (!emit(out, cap, n, sep, strlen(sep)) || (plen > 0 && !emit(out, cap, n, prep, plen)) ||
            (plen > 0 && !emit(out, cap, n, " ", 1)) || !emit(out, cap, n, v->obj[i], strlen(v->obj[i])))
            return false;
    }
    return true;
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
            if (!emit(out, cap, &n, p, 1))
                goto fail;
            p++;
            continue;
        }
        const char *end = strchr(p, '}');
        assert(end != NULL && end > p + 1);
        if (end == NULL || end == p + 1)
            goto fail;
        const char *name = p + 1;
        size_t len = (size_t)(end - name);
        bool capital = name[0] >= 'A' && name[0] <= 'Z';
        size_t start = n;
        const char *colon = memchr(name, ':', len);
        if (name_is(name, colon ? (size_t)(colon - name) : len, "obj", capital)) {
            const char *prep = colon ? colon + 1 : "";
            if (!emit_obj(out, cap, &n, v, prep, colon ? (size_t)(end - prep) : 0))
                goto fail;
        } else {
            const char *val = var_find(v, name, len, capital);
            assert(val != NULL && "a template names a variable that is not set");
            if (val == NULL || !emit(out, cap, &n, val, strlen(val)))
                goto fail;
        }
        /* Every value that can open a sentence starts with an ASCII letter. */
        if (capital && n > start && out[start] >= 'a' && out[start] <= 'z')
            out[start] = (char)(out[start] - 'a' + 'A');
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

/* Renders `tpl` and appends it as a sentence of `t`. */
static void text_add_tpl(text *t, const char *tpl, const vars *v)
{
    char s[SENTENCE_MAX];
    if (tpl_render(s, sizeof s, tpl, v))
        text_add(t, s);
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
    zodiac_sign moon[DAYS];         /* the Moon's sign at noon UTC of each day of the week */
    bool failed;                    /* jansson could not allocate */
} ctx;

/* What a hash picks; each choice has its own salt so that they vary independently. */
enum {
    SALT_HEADLINE = 1,
    SALT_OVERVIEW,
    SALT_LUCKY_DAY,
    SALT_LUCKY_NUMBER,
    SALT_LUCKY_COLOR,
    SALT_MOOD,
    SALT_CODA = 100,    /* + section */
    SALT_NOTHING = 200, /* + section */
    SALT_MOON = 300,    /* + section */
    SALT_EVENT = 1000,  /* + event index */
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
    /* FNV's low bits mix poorly when only the last byte differs: fold the high half in. */
    h ^= h >> 32;
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
    case SKY_EVENT_STATION:
        /* The node's backward motion is its normal one: nothing turns hard when it pauses. */
        return e->retrograde && e->body != ZODIAC_MEAN_NODE ? TONE_CHALLENGING : TONE_PIVOTAL;
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

/*
 * The tone of a set of events from their summed weights: "mixed" as soon as favourable and
 * challenging ones meet, so that a favourable day never lists a square; otherwise the heaviest,
 * pivotal among equals.
 */
static tone tone_of_sums(const int sum[TONE_COUNT])
{
    int fav = sum[TONE_FAVOURABLE], chal = sum[TONE_CHALLENGING], piv = sum[TONE_PIVOTAL];
    if (fav > 0 && chal > 0)
        return TONE_MIXED;
    return fav > chal && fav > piv ? TONE_FAVOURABLE : chal > fav && chal > piv ? TONE_CHALLENGING : TONE_PIVOTAL;
}

typedef enum form {
    FORM_FULL,  /* a sentence naming the day, with the bodies' natures */
    FORM_SHORT, /* a clause naming the house: "Venus enters Taurus (your 2nd house)" */
    FORM_BRIEF, /* a clause: "Venus enters Taurus" */
} form;

static const char *event_template(const ctx *c, size_t i, form f, unsigned variant)
{
    const sky_event *e = &c->w->events[i];
    const phrases *p = c->p;
    bool full = f == FORM_FULL;
    switch (e->kind) {
    case SKY_EVENT_INGRESS:
        /* The node always moves backwards: its ingress is the nodal axis changing signs. */
        if (e->body == ZODIAC_MEAN_NODE)
            return full ? p->node_ingress : p->short_node_ingress;
        if (e->retrograde)
            return full ? p->ingress_retro : p->short_ingress_retro;
        return full ? p->ingress[variant] : p->short_ingress;
    case SKY_EVENT_STATION:
        if (e->body == ZODIAC_MEAN_NODE)
            return full ? p->node_station : p->short_node_station;
        return full ? p->station[e->retrograde] : p->short_station[e->retrograde];
    case SKY_EVENT_LUNATION: return full ? p->lunation[e->phase] : p->short_lunation[e->phase];
    case SKY_EVENT_ASPECT: return full ? p->aspect : p->short_aspect;
    default: return NULL;
    }
}

/*
 * Renders event `i` in form `f`; false (out empty) if it does not fit. `day` stands for the
 * event's weekday when not NULL ("the same day").
 */
static bool event_render(const ctx *c, size_t i, form f, const char *day, char *out, size_t cap)
{
    const sky_event *e = &c->w->events[i];
    const phrases *p = c->p;
    unsigned h = c->info[i].house;
    char sign[32], deg[16], at[96], acts[256], retro[SENTENCE_MAX], vp[256], effect[SENTENCE_MAX], nat_a[64], nat_b[64];
    vars v = vars_make(p);

    sign_display(e->sign, c->lang, sign);
    snprintf(deg, sizeof deg, "%d", (int)floor(zodiac_degree_in_sign(e->lon_deg)));
    v.v[V_DAY] = day != NULL ? day : p->weekday[weekday_of_day(c->info[i].day)];
    v.v[V_BODY] = p->body[e->body];
    v.v[V_OTHER] = p->body[e->other];
    v.v[V_TO_OTHER] = p->body_to[e->other];
    v.v[V_PRON] = p->pron[e->body];
    v.v[V_SIGN] = sign;
    v.v[V_OF_SIGN] = p->sign_of[e->sign];
    v.v[V_DEG] = deg;
    v.v[V_WHERE] = p->where[h];
    v.obj = p->obj[h];
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
    if (!tpl_render(acts, sizeof acts, p->acts[e->body], &v) ||
        !tpl_render(retro, sizeof retro, p->retro_obj[e->body], &v))
        return false;
    v.v[V_ACTS] = acts;
    v.v[V_RETRO] = retro;

    unsigned variant = pick(c, SALT_EVENT + (uint32_t)i, VARIANTS);
    if (e->kind == SKY_EVENT_ASPECT) {
        if (!tpl_render(vp, sizeof vp, p->aspect_vp[e->aspect], &v))
            return false;
        v.v[V_VP] = vp;
        if (!tpl_render(effect, sizeof effect, p->effect[aspect_family(e->aspect)][variant], &v))
            return false;
        v.v[V_EFFECT] = effect;
    }
    const char *tpl = event_template(c, i, f, variant);
    return tpl != NULL && tpl_render(out, cap, tpl, &v);
}

/* The index of the heaviest event (the earliest among equals) of tone `t` (any when TONE_COUNT), or -1. */
static long heaviest_event(const ctx *c, tone t)
{
    long best = -1;
    for (size_t i = 0; i < c->w->nevents; i++)
        if ((t == TONE_COUNT || c->info[i].tone == t) && (best < 0 || c->info[i].weight > c->info[best].weight))
            best = (long)i;
    return best;
}

static void position_vars(const ctx *c, zodiac_body b, vars *v, char sign[32], char acts[256], char retro[SENTENCE_MAX])
{
    const sky_position *pos = &c->w->positions[b];
    unsigned h = zodiac_house_solar(pos->sign, c->reader);
    sign_display(pos->sign, c->lang, sign);
    v->v[V_BODY] = c->p->body[b];
    v->v[V_PRON] = c->p->pron[b];
    v->v[V_SIGN] = sign;
    v->v[V_WHERE] = c->p->where[h];
    v->obj = c->p->obj[h];
    v->v[V_TOPIC] = c->p->topic[h];
    if (tpl_render(acts, 256, c->p->acts[b], v))
        v->v[V_ACTS] = acts;
    if (tpl_render(retro, SENTENCE_MAX, c->p->retro_obj[b], v))
        v->v[V_RETRO] = retro;
}

static json_t *render_headline(ctx *c)
{
    const phrases *p = c->p;
    char brief[SENTENCE_MAX], out[SENTENCE_MAX], sign[32], acts[256], retro[SENTENCE_MAX];
    vars v = vars_make(p);
    long top = heaviest_event(c, TONE_COUNT);
    position_vars(c, ZODIAC_SUN, &v, sign, acts, retro);
    if (top >= 0) {
        v.v[V_TOPIC] = p->topic[c->info[top].house];
        if (!event_render(c, (size_t)top, FORM_BRIEF, NULL, brief, sizeof brief))
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

/* The overview's last sentence: the balance of the week, and the areas it favours or strains. */
static void add_mood(const ctx *c, text *t)
{
    const phrases *p = c->p;
    const sky_week *w = c->w;
    int sum[TONE_COUNT] = {0};
    for (size_t i = 0; i < w->nevents; i++)
        sum[c->info[i].tone] += c->info[i].weight;
    int fav = sum[TONE_FAVOURABLE], chal = sum[TONE_CHALLENGING], piv = sum[TONE_PIVOTAL];
    int mood = fav * 4 > chal * 5 && fav >= piv    ? MOOD_FAVOURABLE
               : chal * 4 > fav * 5 && chal >= piv ? MOOD_DEMANDING
               : piv > fav && piv > chal           ? MOOD_PIVOTAL
                                                   : MOOD_MIXED;
    static const tone lead_tone[MOOD_COUNT] = {TONE_FAVOURABLE, TONE_CHALLENGING, TONE_PIVOTAL, TONE_COUNT};
    long lead = heaviest_event(c, lead_tone[mood]);
    long easy = heaviest_event(c, TONE_FAVOURABLE), hard = heaviest_event(c, TONE_CHALLENGING);
    if (lead < 0)
        return;
    vars v = vars_make(p);
    v.v[V_TOPIC] = p->topic[c->info[lead].house];
    const char *tpl = p->mood[mood][pick(c, SALT_MOOD, MOOD_VARIANTS)];
    if (mood == MOOD_MIXED) {
        if (easy < 0 || hard < 0) {
            tpl = p->mood_mixed_one;
        } else if (c->info[easy].house == c->info[hard].house) {
            v.v[V_TOPIC] = p->topic[c->info[easy].house];
            tpl = p->mood_mixed_same;
        } else {
            v.v[V_TOPIC] = p->topic[c->info[easy].house];
            v.v[V_TOPIC2] = p->topic[c->info[hard].house];
        }
    }
    text_add_tpl(t, tpl, &v);
}

/* The planets retrograde at the start of the week, each with the advice it calls for. */
static void add_retrogrades(const ctx *c, text *t)
{
    const phrases *p = c->p;
    const char *names[ZODIAC_BODY_COUNT];
    zodiac_body bodies[ZODIAC_BODY_COUNT];
    size_t n = 0;
    /* The outer planets are retrograde half the year: their stations and ingresses speak for them. */
    for (int b = ZODIAC_MERCURY; b <= ZODIAC_SATURN; b++)
        if (c->w->positions[b].retrograde) {
            bodies[n] = (zodiac_body)b;
            names[n++] = p->body[b];
        }
    if (n == 0)
        return;
    vars v = vars_make(p);
    if (n == 1) {
        v.v[V_BODY] = p->body[bodies[0]];
        v.v[V_ADVICE] = p->retro_week[bodies[0]];
        text_add_tpl(t, p->retro_one, &v);
        return;
    }
    text list, clauses;
    text_init(&list);
    text_init(&clauses);
    list_join(p, &list, names, n);
    for (size_t k = 0; k < n; k++) {
        char s[SENTENCE_MAX];
        vars cl = vars_make(p);
        cl.v[V_BODY] = p->body[bodies[k]];
        cl.v[V_ADVICE] = p->retro_week[bodies[k]];
        if (tpl_render(s, sizeof s, p->retro_clause, &cl))
            text_add_sep(&clauses, p->list_sep, s);
    }
    v.v[V_LIST] = list.s;
    v.v[V_CLAUSES] = clauses.s;
    text_add_tpl(t, p->retro_many, &v);
}

/* Appends to `list` the moments of one day, in time order: "Friday, A, then B". */
static void add_moment(const phrases *p, text *list, int64_t day, const char *const *briefs, size_t n)
{
    text joined;
    text_init(&joined);
    for (size_t i = 0; i < n; i++)
        text_add_sep(&joined, p->then, briefs[i]);
    char item[SENTENCE_MAX];
    vars m = vars_make(p);
    m.v[V_DAY] = p->weekday[weekday_of_day(day)];
    m.v[V_BRIEF] = joined.s;
    if (tpl_render(item, sizeof item, p->moment, &m))
        text_add_sep(list, p->list_sep, item);
}

static json_t *render_overview(ctx *c)
{
    const phrases *p = c->p;
    const sky_week *w = c->w;
    text t;
    char sign[32], acts[256], retro[SENTENCE_MAX];
    vars v = vars_make(p);
    text_init(&t);

    position_vars(c, ZODIAC_SUN, &v, sign, acts, retro);
    text_add_tpl(&t, p->overview_sun[pick(c, SALT_OVERVIEW, VARIANTS)], &v);

    /* The heaviest events, told in date order, the events of one day in one clause. */
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
        char briefs[MOMENTS_MAX][SENTENCE_MAX];
        const char *day_briefs[MOMENTS_MAX];
        size_t nday = 0;
        int64_t day = 0;
        for (size_t i = 0; i < w->nevents; i++) {
            if (!chosen[i])
                continue;
            if (nday > 0 && c->info[i].day != day) {
                add_moment(p, &list, day, day_briefs, nday);
                nday = 0;
            }
            if (event_render(c, i, FORM_SHORT, NULL, briefs[nday], sizeof briefs[nday])) {
                day_briefs[nday] = briefs[nday];
                nday++;
                day = c->info[i].day;
            }
        }
        if (nday > 0)
            add_moment(p, &list, day, day_briefs, nday);
        vars m = vars_make(p);
        m.v[V_LIST] = list.s;
        if (list.len > 0)
            text_add_tpl(&t, p->moments, &m);
    } else {
        text_add(&t, p->quiet);
        vars r = vars_make(p);
        position_vars(c, sign_rulers[c->reader], &r, sign, acts, retro);
        text_add_tpl(&t, p->ruler, &r);
    }

    add_retrogrades(c, &t);
    add_mood(c, &t);
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
    char sign[32], acts[256], retro[SENTENCE_MAX];
    vars v = vars_make(c->p);
    if (body_moves(c->w, d->planet)) /* "all week" would not be true */
        return;
    position_vars(c, d->planet, &v, sign, acts, retro);
    v.v[V_CODA] = c->p->planet_coda[sec];
    text_add_tpl(t, c->w->positions[d->planet].retrograde ? c->p->planet_retro : c->p->planet, &v);
}

/* The Moon's sign at noon UTC of each day of the week, from its sign at the start and its ingresses. */
static void moon_days(ctx *c)
{
    const sky_week *w = c->w;
    for (int d = 0; d < DAYS; d++) {
        int64_t noon = w->start + d * 86400 + 43200;
        zodiac_sign s = w->positions[ZODIAC_MOON].sign;
        for (size_t i = 0; i < w->nevents && w->events[i].at <= noon; i++)
            if (w->events[i].kind == SKY_EVENT_INGRESS && w->events[i].body == ZODIAC_MOON)
                s = w->events[i].sign;
        c->moon[d] = s;
    }
}

/* The last day of the Moon's stay that includes day `d`. */
static int moon_stay_end(const ctx *c, int d)
{
    int e = d;
    while (e + 1 < DAYS && c->moon[e + 1] == c->moon[d])
        e++;
    return e;
}

/*
 * For a section no event touches: the Moon's first stay in one of its houses this week, or else its
 * path through the reader's houses, which leaves the section out. Sections share houses (the 8th),
 * but each says it in its own words.
 */
static void add_moon_sentence(const ctx *c, section_id sec, text *t)
{
    const phrases *p = c->p;
    char sign[32], sign2[32], when[128];
    vars v = vars_make(p);
    for (int d = 0; d < DAYS; d = moon_stay_end(c, d) + 1) {
        unsigned h = zodiac_house_solar(c->moon[d], c->reader);
        if ((section_defs[sec].houses & HOUSE_BIT(h)) == 0)
            continue;
        int e = moon_stay_end(c, d);
        vars wv = vars_make(p);
        wv.v[V_DAY] = p->weekday[d];
        wv.v[V_DAY2] = p->weekday[e];
        if (!tpl_render(when, sizeof when, e == d ? p->when_one : p->when_span, &wv))
            return;
        sign_display(c->moon[d], c->lang, sign);
        v.v[V_WHEN] = when;
        v.v[V_SIGN] = sign;
        v.v[V_WHERE] = p->where[h];
        v.obj = p->obj[h];
        text_add_tpl(t, p->moon[sec][pick(c, SALT_MOON + (uint32_t)sec, VARIANTS)], &v);
        return;
    }
    zodiac_sign first = c->moon[0], last = c->moon[DAYS - 1];
    if (first == last)
        return;
    sign_display(first, c->lang, sign);
    sign_display(last, c->lang, sign2);
    v.v[V_SIGN] = sign;
    v.v[V_OF_SIGN] = p->sign_of[first];
    v.v[V_TO_SIGN2] = p->sign_to[last];
    v.v[V_WHERE] = p->where[zodiac_house_solar(first, c->reader)];
    v.v[V_WHERE2] = p->where[zodiac_house_solar(last, c->reader)];
    v.v[V_SECTION] = p->section_name[sec];
    text_add_tpl(t, p->moon_path, &v);
}

/* The closing advice of a section whose events have the tone `tn`; a hash varies it. */
static void add_coda(const ctx *c, section_id sec, tone tn, text *t)
{
    const char *const *codas = c->p->coda[sec][tn];
    unsigned n = 0;
    while (n < CODA_MAX && codas[n] != NULL)
        n++;
    assert(n > 0);
    text_add(t, codas[pick(c, SALT_CODA + (uint32_t)sec, n)]);
}

static json_t *render_section(ctx *c, section_id sec)
{
    const struct section_def *d = &section_defs[sec];
    const sky_week *w = c->w;
    const phrases *p = c->p;
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
        vars v = vars_make(p);
        v.v[V_SECTION] = p->section_name[sec];
        text_add_tpl(&t, p->nothing[pick(c, SALT_NOTHING + (uint32_t)sec, NOTHING_VARIANTS)], &v);
        add_planet_sentence(c, sec, &t);
        add_moon_sentence(c, sec, &t);
        return json_string(t.s);
    }

    /* The heaviest event sets the advice; among equals, the most relevant. Both sides if they disagree. */
    long lead = picked[0];
    int sum[TONE_COUNT] = {0};
    for (size_t k = 0; k < npicked; k++) {
        if (c->info[picked[k]].weight > c->info[lead].weight)
            lead = picked[k];
        sum[c->info[picked[k]].tone] += c->info[picked[k]].weight;
    }
    tone advice = tone_of_sums(sum) == TONE_MIXED ? TONE_MIXED : c->info[lead].tone;
    bool strong = false;
    if (npicked == 2 && picked[1] < picked[0]) { /* tell them in date order */
        long tmp = picked[0];
        picked[0] = picked[1];
        picked[1] = tmp;
    }
    for (size_t k = 0; k < npicked; k++) {
        size_t i = (size_t)picked[k];
        /* A second event of the same day does not name the weekday again. */
        const char *day = k > 0 && c->info[picked[k - 1]].day == c->info[i].day ? p->same_day : NULL;
        strong = strong || c->info[i].weight >= KEY_WEIGHT;
        if (!c->used[i]) {
            if (event_render(c, i, FORM_FULL, day, s, sizeof s))
                text_add(&t, s);
            c->used[i] = true;
            continue;
        }
        /* Told in full by an earlier section: recalled in a clause, not repeated word for word. */
        char brief[SENTENCE_MAX];
        vars v = vars_make(p);
        v.v[V_DAY] = day != NULL ? day : p->weekday[weekday_of_day(c->info[i].day)];
        v.v[V_BRIEF] = brief;
        v.v[V_SECTION] = p->section_name[sec];
        if (event_render(c, i, FORM_SHORT, NULL, brief, sizeof brief))
            text_add_tpl(&t, p->recall, &v);
    }
    if (!strong)
        add_planet_sentence(c, sec, &t);
    add_coda(c, sec, advice, &t);
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

/*
 * A speed to 4 decimals; a body so close to its station that this would print 0 keeps 4
 * significant digits instead, so the speed's sign always agrees with "retrograde".
 */
static double speed_out(double v)
{
    double r = round_to(v, 10000);
    if (r != 0.0 || v == 0.0 || !isfinite(v))
        return r;
    double scale = pow(10.0, 3.0 - floor(log10(fabs(v))));
    return round(v * scale) / scale;
}

typedef struct day_summary {
    int64_t day;
    bool key;
    int sum[TONE_COUNT]; /* over the reasons */
    tone tone;
    size_t nbecause;
    size_t because[BECAUSE_MAX]; /* the day's heaviest events, the reasons given for it */
} day_summary;

/* The distinct days of the week's events, in order, with their reasons and tones. Returns their number. */
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
        days[k].key = days[k].key || in->weight >= KEY_WEIGHT;
    }
    for (size_t k = 0; k < n; k++) {
        day_summary *d = &days[k];
        bool told[SKY_WEEK_EVENTS_MAX] = {false};
        for (; d->nbecause < BECAUSE_MAX; d->nbecause++) {
            long best = -1;
            for (size_t i = 0; i < c->w->nevents; i++)
                if (!told[i] && c->info[i].day == d->day && c->info[i].weight >= MENTION_WEIGHT &&
                    (best < 0 || c->info[i].weight > c->info[best].weight))
                    best = (long)i;
            if (best < 0)
                break;
            told[best] = true;
            d->because[d->nbecause] = (size_t)best;
            d->sum[c->info[best].tone] += c->info[best].weight;
        }
        /* The tone is that of the reasons the reader sees, so it can never contradict them. */
        d->tone = tone_of_sums(d->sum);
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
    for (size_t k = 0; k < d->nbecause; k++) {
        if (!event_render(c, d->because[k], FORM_SHORT, NULL, s, sizeof s))
            continue;
        vars v = vars_make(c->p);
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
    unsigned wd = best >= 0 ? weekday_of_day(days[best].day) : pick(c, SALT_LUCKY_DAY, DAYS);
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
                       speed_out(pos->speed_deg_per_day), "retrograde", pos->retrograde, "house",
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
    moon_days(c);

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
