/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <sodium.h>
#include <string.h>

#include "api/api.h"

static int authorize_admin(api_env *env, http_ctx *ctx, app_err *err)
{
    slice h;
    static const char bearer[] = "Bearer ";
    if (!env->admin_enabled || !http_header(ctx, "authorization", &h) || h.len <= sizeof bearer - 1 ||
        strncasecmp(h.ptr, bearer, sizeof bearer - 1) != 0)
        return app_err_set(err, APP_ADMIN_AUTH_REQUIRED, NULL);
    /* Comparing hashes makes the comparison constant-time whatever the presented length. */
    uint8_t presented[HASH_LEN];
    crypto_generichash(presented, HASH_LEN, (const unsigned char *)h.ptr + sizeof bearer - 1,
                       h.len - (sizeof bearer - 1), NULL, 0);
    if (!hash_equal(presented, env->admin_token_hash))
        return app_err_set(err, APP_ADMIN_AUTH_REQUIRED, NULL);
    return 0;
}

/* The seed's require_authenticated_b2b_client: every /v1/b2b route goes through here. */
static int authorize_api_key(api_env *env, http_ctx *ctx, app_err *err)
{
    slice key = {NULL, 0};
    http_header(ctx, "x-api-key", &key);
    principal *p = http_arena_alloc(ctx, sizeof *p);
    int rc = keycache_authenticate(env->services->keys, env->services->pepper, key, clock_now_ms(env->clock), p, err);
    if (rc != 0)
        return rc;
    http_set_auth(ctx, p);
    return 0;
}

int api_authorize(http_ctx *ctx, http_auth auth, app_err *err)
{
    api_env *env = http_app(ctx);
    switch (auth) {
    case HTTP_AUTH_ADMIN: return authorize_admin(env, ctx, err);
    case HTTP_AUTH_API_KEY: return authorize_api_key(env, ctx, err);
    case HTTP_AUTH_NONE: return 0;
    }
    return app_err_set(err, APP_INTERNAL_ERROR, "unknown auth kind");
}
