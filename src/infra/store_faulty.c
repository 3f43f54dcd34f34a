/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/mem.h"
#include "infra/store.h"

typedef struct faulty_store {
    store super;
    store *inner;
    int fail_after;
    atomic_int calls;
} faulty_store;

static bool should_fail(faulty_store *s, app_err *err)
{
    int n = atomic_fetch_add(&s->calls, 1);
    if (s->fail_after < 0 || n < s->fail_after)
        return false;
    app_err_set(err, APP_STORE_UNAVAILABLE, "injected store fault after %d calls", s->fail_after);
    return true;
}

static int faulty_ping(store *self, app_err *err)
{
    faulty_store *s = (faulty_store *)self;
    return should_fail(s, err) ? APP_STORE_UNAVAILABLE : store_ping(s->inner, err);
}

static int faulty_migrate(store *self, int *applied, app_err *err)
{
    faulty_store *s = (faulty_store *)self;
    return should_fail(s, err) ? APP_STORE_UNAVAILABLE : store_migrate(s->inner, applied, err);
}

static int faulty_schema_version(store *self, int *version, app_err *err)
{
    faulty_store *s = (faulty_store *)self;
    return should_fail(s, err) ? APP_STORE_UNAVAILABLE : store_schema_version(s->inner, version, err);
}

static void faulty_close(store *self)
{
    faulty_store *s = (faulty_store *)self;
    store_close(s->inner);
    free(s);
}

static const struct store_ops faulty_ops = {
    .name = "faulty",
    .ping = faulty_ping,
    .migrate = faulty_migrate,
    .schema_version = faulty_schema_version,
    .close = faulty_close,
};

store *store_faulty_new(store *inner, int fail_after)
{
    faulty_store *s = xcalloc(1, sizeof *s);
    s->super.ops = &faulty_ops;
    s->inner = inner;
    s->fail_after = fail_after;
    atomic_init(&s->calls, 0);
    return &s->super;
}
