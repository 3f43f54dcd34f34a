/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_STORE_H
#define STARMETER_INFRA_STORE_H

#include "core/err.h"

/*
 * The store: starmeter's durable state behind a table of function pointers, so services never
 * know which database answers. Each backend embeds `struct store` as its first member.
 * Every function returns 0 or a code of the error table, with `err` filled; a backend translates
 * its library's errors (SQLITE_BUSY, a SQLSTATE) into table codes here, at the boundary.
 * Backends are safe to call from several threads.
 */
typedef struct store store;

struct store_ops {
    const char *name;
    /* Answers whether the store can serve queries now (for /readyz). */
    int (*ping)(store *self, app_err *err);
    /* Applies the migrations not yet applied, each in its own transaction; *applied counts them. */
    int (*migrate)(store *self, int *applied, app_err *err);
    /* The highest applied migration number (0 on an empty database). */
    int (*schema_version)(store *self, int *version, app_err *err);
    /* Closes the store and frees it. */
    void (*close)(store *self);
};

struct store {
    const struct store_ops *ops;
};

static inline int store_ping(store *s, app_err *err)
{
    return s->ops->ping(s, err);
}
static inline int store_migrate(store *s, int *applied, app_err *err)
{
    return s->ops->migrate(s, applied, err);
}
static inline int store_schema_version(store *s, int *version, app_err *err)
{
    return s->ops->schema_version(s, version, err);
}
/* Closes and frees `s`; NULL does nothing. */
static inline void store_close(store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

/*
 * Opens (creating if needed, with its parent directory) the SQLite database at `path` in WAL
 * mode. Does not migrate. Returns NULL with `err` set (store_unavailable) on failure; the caller
 * owns the result and releases it with store_close.
 */
store *store_sqlite_open(const char *path, app_err *err);

/*
 * A fault-injecting wrapper: forwards to `inner` (which it owns) until `fail_after` calls have
 * passed, then fails every call with store_unavailable. fail_after < 0 never fails. Used by tests
 * to reach error paths, as SQLite's own fault-injection tests do.
 */
store *store_faulty_new(store *inner, int fail_after);

#endif
