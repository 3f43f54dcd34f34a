/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "core/hash.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void hash_secret(const uint8_t pepper[PEPPER_LEN], const char *secret, size_t len, uint8_t out[HASH_LEN])
{
    crypto_generichash(out, HASH_LEN, (const unsigned char *)secret, len, pepper, PEPPER_LEN);
}

bool hash_equal(const uint8_t a[HASH_LEN], const uint8_t b[HASH_LEN])
{
    return sodium_memcmp(a, b, HASH_LEN) == 0;
}

void hash_audit_event(const audit_event *ev, uint8_t out[HASH_LEN])
{
    json_t *canon =
        json_pack("[I, I, s, s, s, o, s, s?]", (json_int_t)ev->seq, (json_int_t)ev->at, ev->actor, ev->action,
                  ev->target, ev->account_id.present ? json_integer(ev->account_id.v) : json_null(), ev->details,
                  ev->request_id[0] ? ev->request_id : NULL);
    char *bytes = canon ? json_dumps(canon, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, HASH_LEN);
    crypto_generichash_update(&st, ev->prev_hash, HASH_LEN);
    if (bytes != NULL)
        crypto_generichash_update(&st, (const unsigned char *)bytes, strlen(bytes));
    crypto_generichash_final(&st, out, HASH_LEN);
    free(bytes);
    json_decref(canon);
}

void hash_hex(const uint8_t *bytes, size_t len, char *out)
{
    sodium_bin2hex(out, 2 * len + 1, bytes, len);
}
