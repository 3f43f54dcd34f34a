/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The API key parser: whatever it accepts is exactly one key of the format, split so that its parts
 * put together give the input back; a key built from any random bytes parses.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "domain/apikey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apikey k;
    if (apikey_parse((const char *)data, size, &k)) {
        assert(size == APIKEY_LEN);
        assert(strlen(k.key_id) == APIKEY_ID_LEN && strlen(k.secret) == APIKEY_SECRET_LEN);
        assert(apikey_is_base62(k.key_id, APIKEY_ID_LEN) && apikey_is_base62(k.secret, APIKEY_SECRET_LEN));
        assert(memcmp(data, APIKEY_PREFIX, APIKEY_PREFIX_LEN) == 0);
        assert(memcmp(data + APIKEY_PREFIX_LEN, k.key_id, APIKEY_ID_LEN) == 0);
        assert(memcmp(data + APIKEY_PREFIX_LEN + APIKEY_ID_LEN + 1, k.secret, APIKEY_SECRET_LEN) == 0);
    }
    if (size >= APIKEY_RANDOM_BYTES) {
        apikey g, p;
        if (apikey_generate(data, &g)) {
            assert(strlen(g.full) == APIKEY_LEN);
            assert(apikey_parse(g.full, APIKEY_LEN, &p));
            assert(strcmp(p.key_id, g.key_id) == 0 && strcmp(p.secret, g.secret) == 0);
        }
    }
    return 0;
}
