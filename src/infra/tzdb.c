/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "infra/tzdb.h"

#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/*
 * A period computation visits today, its neighbours and both ends of the month: days at most 33
 * apart, which a prime number of slots above that never maps to the same slot.
 */
#define DAY_CACHE 37
#define DAY_EMPTY ((uint64_t)(uint32_t)INT32_MIN << 32)

typedef struct zone {
    char name[72];
    GTimeZone *tz;
    /*
     * The offset of whole UTC days that lie in one interval of the zone, packed as day << 32 |
     * (uint32_t)offset, one slot per day modulo DAY_CACHE. GLib finds an interval by a linear scan of the
     * zone's transitions; a metered call asks for a dozen offsets around today and the month's
     * bounds, so most answers come from here, lock-free.
     */
    _Atomic uint64_t by_day[DAY_CACHE];
} zone;

/*
 * The zones known at one moment. Readers scan it without a lock: a zone is written before `n`
 * counts it (release), and a full table is replaced by a copy twice its size rather than moved, so
 * a reader that still holds the old one scans valid memory. Replaced tables are kept until
 * tzdb_free, which costs at most as much again as the live one.
 */
typedef struct table {
    struct table *older; /* the table this one replaced, freed with the tzdb */
    _Atomic size_t n;
    size_t cap;
    zone *zones[]; /* each allocated once and never moved: callers keep pointers */
} table;

struct tzdb {
    _Atomic(table *) current;
    pthread_mutex_t add; /* one writer at a time; lookups of a loaded zone never take it */
};

static int32_t glib_offset(GTimeZone *tz, gint interval)
{
    return interval < 0 ? 0 : g_time_zone_get_offset(tz, interval);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int32_t offset_at(const void *zp, int64_t unix_s)
{
    zone *z = (zone *)zp; /* only the cache changes, atomically */
    int64_t day = floor_div(unix_s, 86400);
    bool cacheable = day > INT32_MIN && day <= INT32_MAX;
    _Atomic uint64_t *slot = &z->by_day[(day % DAY_CACHE + DAY_CACHE) % DAY_CACHE];
    if (cacheable) {
        uint64_t v = atomic_load_explicit(slot, memory_order_relaxed);
        if ((int32_t)(uint32_t)(v >> 32) == (int32_t)day)
            return (int32_t)(uint32_t)v;
    }
    gint interval = g_time_zone_find_interval(z->tz, G_TIME_TYPE_UNIVERSAL, unix_s);
    int32_t offset = glib_offset(z->tz, interval);
    /* Intervals follow time in order, so a day whose first and last seconds share one is all in it. */
    if (cacheable && g_time_zone_find_interval(z->tz, G_TIME_TYPE_UNIVERSAL, day * 86400) == interval &&
        g_time_zone_find_interval(z->tz, G_TIME_TYPE_UNIVERSAL, day * 86400 + 86399) == interval)
        atomic_store_explicit(slot, (uint64_t)(uint32_t)(int32_t)day << 32 | (uint32_t)offset, memory_order_relaxed);
    return offset;
}

static table *table_new(size_t cap)
{
    table *t = xcalloc(1, sizeof *t + cap * sizeof t->zones[0]);
    atomic_init(&t->n, 0);
    t->cap = cap;
    return t;
}

tzdb *tzdb_new(void)
{
    tzdb *db = xcalloc(1, sizeof *db);
    atomic_init(&db->current, table_new(8));
    pthread_mutex_init(&db->add, NULL);
    return db;
}

void tzdb_free(tzdb *db)
{
    if (db == NULL)
        return;
    table *t = atomic_load(&db->current);
    size_t n = atomic_load(&t->n);
    for (size_t i = 0; i < n; i++) {
        g_time_zone_unref(t->zones[i]->tz);
        free(t->zones[i]);
    }
    while (t != NULL) {
        table *older = t->older;
        free(t);
        t = older;
    }
    pthread_mutex_destroy(&db->add);
    free(db);
}

static zone *find(tzdb *db, const char *name)
{
    table *t = atomic_load_explicit(&db->current, memory_order_acquire);
    size_t n = atomic_load_explicit(&t->n, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t->zones[i]->name, name) == 0)
            return t->zones[i];
    return NULL;
}

/* Loads `name` and publishes it; the caller holds db->add. NULL when GLib does not know it. */
static zone *add(tzdb *db, const char *name)
{
    /* GLib answers NULL for an identifier the database does not have. */
    GTimeZone *tz = g_time_zone_new_identifier(name);
    if (tz == NULL)
        return NULL;
    zone *z = xcalloc(1, sizeof *z);
    memcpy(z->name, name, strlen(name) + 1);
    z->tz = tz;
    for (int i = 0; i < DAY_CACHE; i++)
        atomic_init(&z->by_day[i], DAY_EMPTY);
    table *t = atomic_load_explicit(&db->current, memory_order_relaxed);
    size_t n = atomic_load_explicit(&t->n, memory_order_relaxed);
    if (n == t->cap) {
        table *bigger = table_new(t->cap * 2);
        memcpy(bigger->zones, t->zones, n * sizeof t->zones[0]);
        bigger->older = t;
        bigger->zones[n] = z;
        atomic_store_explicit(&bigger->n, n + 1, memory_order_relaxed);
        atomic_store_explicit(&db->current, bigger, memory_order_release);
    } else {
        t->zones[n] = z;
        atomic_store_explicit(&t->n, n + 1, memory_order_release);
    }
    return z;
}

bool tzdb_zone(tzdb *db, const char *name, period_zone *out)
{
    if (strlen(name) >= sizeof(((zone *)0)->name))
        return false;
    zone *found = find(db, name);
    if (found == NULL) {
        pthread_mutex_lock(&db->add);
        found = find(db, name); /* another thread may have added it meanwhile */
        if (found == NULL)
            found = add(db, name);
        pthread_mutex_unlock(&db->add);
    }
    if (found == NULL)
        return false;
    out->offset = offset_at;
    out->zone = found;
    return true;
}

static bool is_area(const char *p, size_t n)
{
    static const char *const areas[] = {"Africa",   "America",   "Antarctica", "Arctic", "Asia",
                                        "Atlantic", "Australia", "Europe",     "Indian", "Pacific"};
    for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
        if (strlen(areas[i]) == n && memcmp(areas[i], p, n) == 0)
            return true;
    return false;
}

bool tzdb_name_is_geographic(const char *name)
{
    if (strcmp(name, "UTC") == 0)
        return true;
    size_t parts = 0;
    for (const char *p = name;; parts++) {
        size_t n = strcspn(p, "/");
        if (n == 0 || !(p[0] >= 'A' && p[0] <= 'Z'))
            return false;
        for (size_t i = 1; i < n; i++) {
            char c = p[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '-'))
                return false;
        }
        if (parts == 0 && !is_area(p, n))
            return false;
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    return parts >= 1 && parts <= 2;
}
