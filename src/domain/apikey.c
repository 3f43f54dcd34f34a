/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "domain/apikey.h"

#include <string.h>

static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool apikey_is_base62(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    }
    return true;
}

bool apikey_parse(const char *s, size_t len, apikey *out)
{
    if (len != APIKEY_LEN || memcmp(s, APIKEY_PREFIX, APIKEY_PREFIX_LEN) != 0)
        return false;
    const char *id = s + APIKEY_PREFIX_LEN, *sep = id + APIKEY_ID_LEN, *secret = sep + 1;
    if (*sep != '_' || !apikey_is_base62(id, APIKEY_ID_LEN) || !apikey_is_base62(secret, APIKEY_SECRET_LEN))
        return false;
    memcpy(out->key_id, id, APIKEY_ID_LEN);
    out->key_id[APIKEY_ID_LEN] = '\0';
    memcpy(out->secret, secret, APIKEY_SECRET_LEN);
    out->secret[APIKEY_SECRET_LEN] = '\0';
    memcpy(out->full, s, APIKEY_LEN);
    out->full[APIKEY_LEN] = '\0';
    return true;
}

bool apikey_generate(const uint8_t rnd[APIKEY_RANDOM_BYTES], apikey *out)
{
    char chars[APIKEY_ID_LEN + APIKEY_SECRET_LEN];
    size_t n = 0;
    for (size_t i = 0; i < APIKEY_RANDOM_BYTES && n < sizeof chars; i++)
        if (rnd[i] < 248) /* 248 = 4 * 62: keeps every character equally likely */
            chars[n++] = alphabet[rnd[i] % 62];
    if (n < sizeof chars)
        return false;
    memcpy(out->key_id, chars, APIKEY_ID_LEN);
    out->key_id[APIKEY_ID_LEN] = '\0';
    memcpy(out->secret, chars + APIKEY_ID_LEN, APIKEY_SECRET_LEN);
    out->secret[APIKEY_SECRET_LEN] = '\0';
    memcpy(out->full, APIKEY_PREFIX, APIKEY_PREFIX_LEN);
    memcpy(out->full + APIKEY_PREFIX_LEN, out->key_id, APIKEY_ID_LEN);
    out->full[APIKEY_PREFIX_LEN + APIKEY_ID_LEN] = '_';
    memcpy(out->full + APIKEY_PREFIX_LEN + APIKEY_ID_LEN + 1, out->secret, APIKEY_SECRET_LEN);
    out->full[APIKEY_LEN] = '\0';
    return true;
}
