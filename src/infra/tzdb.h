/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_TZDB_H
#define STARMETER_INFRA_TZDB_H

/*
 * The IANA time-zone database (the system's tzdata, through GLib's GTimeZone), behind the pure
 * period_zone interface of domain/period.h. Zones are loaded once by name and kept for the life
 * of the tzdb; lookups are safe from any thread, and a zone already loaded is found without a lock
 * (only loading a new one takes the tzdb's mutex).
 */
#include <stdbool.h>

#include "domain/period.h"

typedef struct tzdb tzdb;

tzdb *tzdb_new(void);
void tzdb_free(tzdb *db);

/*
 * The zone named `name` ("Europe/Paris", "UTC"), or false when the database does not know it.
 * The zone stays valid until tzdb_free.
 */
bool tzdb_zone(tzdb *db, const char *name, period_zone *out);

#endif
