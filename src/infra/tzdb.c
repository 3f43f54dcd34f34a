/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "infra/tzdb.h"

#include <glib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

typedef struct zone {
    char name[72];
    GTimeZone *tz;
} zone;

struct tzdb {
    pthread_mutex_t mu;
    zone **zones; /* each allocated once and never moved: callers keep pointers */
    size_t n, cap;
};

static int32_t offset_at(const void *z, int64_t unix_s)
{
    GTimeZone *tz = ((const zone *)z)->tz;
    gint interval = g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, unix_s);
    return interval < 0 ? 0 : g_time_zone_get_offset(tz, interval);
}

tzdb *tzdb_new(void)
{
    tzdb *db = xcalloc(1, sizeof *db);
    pthread_mutex_init(&db->mu, NULL);
    return db;
}

void tzdb_free(tzdb *db)
{
    if (db == NULL)
        return;
    for (size_t i = 0; i < db->n; i++) {
        g_time_zone_unref(db->zones[i]->tz);
        free(db->zones[i]);
    }
    free(db->zones);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

bool tzdb_zone(tzdb *db, const char *name, period_zone *out)
{
    if (strlen(name) >= sizeof(((zone *)0)->name))
        return false;
    pthread_mutex_lock(&db->mu);
    zone *found = NULL;
    for (size_t i = 0; i < db->n && found == NULL; i++)
        if (strcmp(db->zones[i]->name, name) == 0)
            found = db->zones[i];
    if (found == NULL) {
        /* GLib answers NULL for an identifier the database does not have. */
        GTimeZone *tz = g_time_zone_new_identifier(name);
        if (tz != NULL) {
            if (db->n == db->cap) {
                db->cap = db->cap ? db->cap * 2 : 8;
                db->zones = xrealloc(db->zones, db->cap * sizeof *db->zones);
            }
            found = xcalloc(1, sizeof *found);
            memcpy(found->name, name, strlen(name) + 1);
            found->tz = tz;
            db->zones[db->n++] = found;
        }
    }
    pthread_mutex_unlock(&db->mu);
    if (found == NULL)
        return false;
    out->offset = offset_at;
    out->zone = found;
    return true;
}
