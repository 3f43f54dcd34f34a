/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <stdlib.h>

#include "api/api.h"
#include "core/mem.h"

typedef struct me_job {
    api_env *env;
    principal who;
    json_t *out;
    app_err err;
    int rc;
} me_job;

static void me_run(void *arg)
{
    me_job *j = arg;
    j->rc = b2b_me(j->env->services, &j->who, &j->out, &j->err);
}

static void me_done(http_ctx *ctx, void *arg)
{
    me_job *j = arg;
    if (j->rc == 0)
        http_reply_data(ctx, 200, j->out, NULL);
    else
        http_reply_error(ctx, &j->err);
    free(j);
}

/* Who am I: the caller's account, credential and plan; only ever its own. */
static void me_admitted(http_ctx *ctx, void *unused)
{
    (void)unused;
    me_job *j = xcalloc(1, sizeof *j);
    j->env = http_app(ctx);
    j->who = *(const principal *)http_auth_data(ctx);
    app_err_clear(&j->err);
    http_defer(ctx, me_run, me_done, j);
}

void api_b2b_me(http_ctx *ctx)
{
    api_admit(ctx, me_admitted, NULL);
}
