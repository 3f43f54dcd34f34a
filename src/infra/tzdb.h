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

/*
 * Whether `name` is spelled as a zone a contract may name: "UTC", or a geographic IANA identifier
 * Area/Location[/Location] whose area is one of the database's continents and oceans (Africa,
 * America, Antarctica, Arctic, Asia, Atlantic, Australia, Europe, Indian, Pacific) and whose parts
 * each start with a capital letter and hold only letters, '_' and '-'. Everything else in the
 * database directory is refused: its tables and helpers (Factory, posixrules, localtime, zone.tab),
 * the posix/ and right/ copies, the fixed offsets of Etc/ (whose signs read backwards; "UTC" is the
 * one kept) and the legacy aliases (EST5EDT, US/Eastern, GMT). This checks the spelling only;
 * whether the database has the zone is tzdb_zone's answer. Pure and safe from any thread.
 */
bool tzdb_name_is_geographic(const char *name);

#endif
