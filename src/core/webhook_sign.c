/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "core/webhook_sign.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

bool webhook_secret_format(const uint8_t *key, size_t n, char *out, size_t cap)
{
    size_t prefix = sizeof WEBHOOK_SECRET_PREFIX - 1;
    if (cap < prefix + sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL))
        return false;
    memcpy(out, WEBHOOK_SECRET_PREFIX, prefix);
    sodium_bin2base64(out + prefix, cap - prefix, key, n, sodium_base64_VARIANT_ORIGINAL);
    return true;
}

bool webhook_secret_decode(const char *secret, uint8_t *key, size_t cap, size_t *len)
{
    size_t prefix = sizeof WEBHOOK_SECRET_PREFIX - 1;
    if (strncmp(secret, WEBHOOK_SECRET_PREFIX, prefix) == 0)
        secret += prefix;
    const char *end = NULL;
    *len = 0;
    return sodium_base642bin(key, cap, secret, strlen(secret), NULL, len, &end, sodium_base64_VARIANT_ORIGINAL) == 0 &&
           *end == '\0' && *len > 0;
}

bool webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body, size_t body_len,
                  char out[WEBHOOK_SIG_LEN])
{
    uint8_t key[128], mac[crypto_auth_hmacsha256_BYTES];
    size_t klen;
    out[0] = '\0';
    if (!webhook_secret_decode(secret, key, sizeof key, &klen))
        return false;
    char ts[24];
    int tn = snprintf(ts, sizeof ts, ".%lld.", (long long)timestamp);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, klen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg_id, strlen(msg_id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)tn);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, WEBHOOK_SIG_LEN - 3, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof key);
    sodium_memzero(&st, sizeof st);
    return true;
}
