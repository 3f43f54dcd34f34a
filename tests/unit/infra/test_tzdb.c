/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <glib.h>
#include <pthread.h>
#include <string.h>

#include "infra/tzdb.h"

/* Enough zones to make the table grow several times while readers scan it. */
static const char *const names[] = {
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Lisbon",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Singapore",
    "America/Chicago",
    "America/Denver",
    "America/Lima",
    "America/Santiago",
    "America/Bogota",
    "America/Los_Angeles",
    "Africa/Cairo",
    "Africa/Lagos",
    "Africa/Nairobi",
    "Pacific/Auckland",
    "Pacific/Honolulu",
    "Asia/Dubai",
    "Asia/Kathmandu",
    "Europe/Moscow",
    "Europe/Helsinki",
    "Europe/Athens",
    "Asia/Seoul",
    "Asia/Jakarta",
    "America/Sao_Paulo",
    "America/Toronto",
    "Atlantic/Reykjavik",
    "Europe/Dublin",
};
#define NNAMES (sizeof names / sizeof names[0])
#define THREADS 4

typedef struct look {
    tzdb *db;
    int start;
    const void *seen[NNAMES];
} look;

static void *look_up_all(void *arg)
{
    look *l = arg;
    for (int round = 0; round < 200; round++) {
        for (size_t k = 0; k < NNAMES; k++) {
            size_t i = (k + (size_t)l->start) % NNAMES;
            period_zone z;
            cr_assert(tzdb_zone(l->db, names[i], &z), "%s", names[i]);
            if (l->seen[i] == NULL)
                l->seen[i] = z.zone;
            cr_assert_eq(l->seen[i], z.zone, "%s moved", names[i]);
        }
        period_zone m;
        cr_assert(!tzdb_zone(l->db, "Mars/Olympus", &m));
    }
    return NULL;
}

/* Threads load and look up the same zones at once: one zone per name, stable, with its offsets. */
Test(tzdb, concurrent_lookups_share_one_zone_per_name)
{
    tzdb *db = tzdb_new();
    look l[THREADS] = {0};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        l[i].db = db;
        l[i].start = i * 7;
        cr_assert_eq(pthread_create(&t[i], NULL, look_up_all, &l[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (size_t k = 0; k < NNAMES; k++)
        for (int i = 1; i < THREADS; i++)
            cr_assert_eq(l[i].seen[k], l[0].seen[k], "%s loaded twice", names[k]);
    period_zone z;
    cr_assert(tzdb_zone(db, "Europe/Paris", &z));
    cr_assert_eq(z.offset(z.zone, 1767225600), 3600); /* 2026-01-01T00:00Z, winter */
    cr_assert_eq(z.offset(z.zone, 1782864000), 7200); /* 2026-07-01T00:00Z, summer */
    cr_assert(tzdb_zone(db, "Asia/Kathmandu", &z));
    cr_assert_eq(z.offset(z.zone, 1767225600), 20700); /* +05:45 */
    tzdb_free(db);
}

Test(tzdb, unknown_and_overlong_names_are_refused)
{
    tzdb *db = tzdb_new();
    period_zone z;
    cr_assert(!tzdb_zone(db, "Mars/Olympus", &z));
    char longname[100];
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert(!tzdb_zone(db, longname, &z));
    cr_assert(tzdb_zone(db, "UTC", &z));
    cr_assert_eq(z.offset(z.zone, 0), 0);
    tzdb_free(db);
}

static int32_t glib_offset(GTimeZone *tz, int64_t t)
{
    gint i = g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, t);
    return i < 0 ? 0 : g_time_zone_get_offset(tz, i);
}

/*
 * The per-day cache answers exactly what GLib answers, second for second around every change of
 * offset (the days it must not cache) and on ordinary days, whatever order the days come in.
 */
Test(tzdb, offsets_match_glib_around_every_transition)
{
    static const char *const zones[] = {"Europe/Paris",  "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
                                        "Europe/Dublin", "America/Santiago", "Pacific/Apia",        "UTC"};
    tzdb *db = tzdb_new();
    for (size_t k = 0; k < sizeof zones / sizeof zones[0]; k++) {
        GTimeZone *tz = g_time_zone_new_identifier(zones[k]);
        cr_assert_not_null(tz, "%s", zones[k]);
        period_zone z;
        cr_assert(tzdb_zone(db, zones[k], &z));
        int changes = 0;
        /* 1970..2045 in steps of 20 hours: every day seen at different hours, cache warm or cold. */
        int32_t prev = glib_offset(tz, 0);
        for (int64_t t = 0; t < 2366841600LL; t += 72000) {
            int32_t want = glib_offset(tz, t);
            cr_assert_eq(z.offset(z.zone, t), want, "%s at %lld", zones[k], (long long)t);
            if (want != prev) {
                /* Walk the change second by second over the hour before it, then back. */
                changes++;
                for (int64_t u = t - 72000; u <= t; u += 1 + (u % 7 == 0) * 600)
                    cr_assert_eq(z.offset(z.zone, u), glib_offset(tz, u), "%s at %lld", zones[k], (long long)u);
                for (int64_t u = t; u >= t - 72000; u -= 997)
                    cr_assert_eq(z.offset(z.zone, u), glib_offset(tz, u), "%s at %lld", zones[k], (long long)u);
            }
            prev = want;
        }
        /* Far days share cache slots with near ones: jump about and compare. */
        uint64_t x = 0x2545F4914F6CDD1Dull + k;
        for (int i = 0; i < 20000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int64_t t = (int64_t)(x % 4000000000ull) - 500000000;
            cr_assert_eq(z.offset(z.zone, t), glib_offset(tz, t), "%s at %lld", zones[k], (long long)t);
        }
        if (strcmp(zones[k], "UTC") != 0)
            cr_assert_gt(changes, strcmp(zones[k], "Asia/Kathmandu") == 0 ? 0 : 10, "%s: %d changes crossed", zones[k],
                         changes);
        g_time_zone_unref(tz);
    }
    tzdb_free(db);
}

Test(tzdb, only_geographic_names_are_accepted)
{
    const char *good[] = {"UTC",
                          "Europe/Paris",
                          "America/Argentina/Buenos_Aires",
                          "America/Port-au-Prince",
                          "Antarctica/DumontDUrville",
                          "Indian/Reunion"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(tzdb_name_is_geographic(good[i]), "%s", good[i]);
    const char *bad[] = {"",
                         "Factory",
                         "posixrules",
                         "localtime",
                         "right/Europe/Paris",
                         "posix/Europe/Paris",
                         "Etc/UTC",
                         "Etc/GMT+5",
                         "GMT",
                         "EST5EDT",
                         "US/Eastern",
                         "Europe",
                         "Europe/",
                         "/Europe/Paris",
                         "Europe//Paris",
                         "Europe/paris",
                         "Europe/../UTC",
                         "Europe/Paris/",
                         "America/A/B/C",
                         "Europe/Paris ",
                         "Europe/Par1s",
                         "utc",
                         "zone.tab"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!tzdb_name_is_geographic(bad[i]), "%s", bad[i]);
}
