/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_DOMAIN_APIKEY_H
#define STARMETER_DOMAIN_APIKEY_H

/*
 * API keys: `sm_live_<key_id>_<secret>`. key_id is 12 base62 characters and public (logs, panel);
 * secret is 43 base62 characters (256 bits) and is never stored, only a keyed hash of it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APIKEY_PREFIX "sm_live_"
#define APIKEY_PREFIX_LEN 8
#define APIKEY_ID_LEN 12
#define APIKEY_SECRET_LEN 43
#define APIKEY_LEN (APIKEY_PREFIX_LEN + APIKEY_ID_LEN + 1 + APIKEY_SECRET_LEN)
/* Random bytes handed to apikey_generate: enough that rejection sampling practically never runs out. */
#define APIKEY_RANDOM_BYTES 160

typedef struct apikey {
    char key_id[APIKEY_ID_LEN + 1];
    char secret[APIKEY_SECRET_LEN + 1];
    char full[APIKEY_LEN + 1];
} apikey;

/*
 * Splits `len` bytes of `s` into key_id and secret. False for anything that is not exactly a key
 * of this format (length, prefix, separator, alphabet); `out` is then unspecified.
 */
bool apikey_parse(const char *s, size_t len, apikey *out);

/*
 * Builds a key from `rnd` (APIKEY_RANDOM_BYTES uniformly random bytes), mapping bytes to base62
 * without bias (bytes >= 248 are skipped). False in the astronomically rare case that too many
 * bytes were skipped; draw again then.
 */
bool apikey_generate(const uint8_t rnd[APIKEY_RANDOM_BYTES], apikey *out);

/* True when all `len` bytes of `s` are base62 characters. */
bool apikey_is_base62(const char *s, size_t len);

#endif
