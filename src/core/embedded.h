/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_EMBEDDED_H
#define STARMETER_CORE_EMBEDDED_H

#include <stddef.h>

/* A file compiled into the binary (cmake/embed.cmake). Bytes are static and NUL-terminated. */
typedef struct embedded_file {
    const char *name;
    const char *bytes;
    size_t len;
} embedded_file;

/* Numbered SQLite migrations, sorted by name. */
extern const embedded_file embedded_migrations_sqlite[];
extern const size_t embedded_migrations_sqlite_count;

/* Numbered PostgreSQL migrations, sorted by name: the same schema as SQLite's. */
extern const embedded_file embedded_migrations_postgres[];
extern const size_t embedded_migrations_postgres_count;

/* docs/openapi.yaml, the API contract. */
extern const embedded_file embedded_openapi[];
extern const size_t embedded_openapi_count;

#endif
