/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_WEBHOOK_SIGN_H
#define STARMETER_CORE_WEBHOOK_SIGN_H

/*
 * Standard Webhooks signatures (https://www.standardwebhooks.com): a secret is "whsec_" and the
 * base64 of its key; a signature is "v1," and the base64 of HMAC-SHA256(key, id "." timestamp "."
 * body). Pure computation over the bytes given: no I/O, no clock.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_SECRET_PREFIX "whsec_"
/* Random bytes in a secret this server makes. */
#define WEBHOOK_SECRET_BYTES 32
/* "v1," and the base64 of 32 bytes (44 characters), NUL-terminated. */
#define WEBHOOK_SIG_LEN 48

/* Writes "whsec_" and the base64 of `n` bytes into out[cap]; false when it does not fit. */
bool webhook_secret_format(const uint8_t *key, size_t n, char *out, size_t cap);

/*
 * Decodes the key of `secret` ("whsec_<base64>", or the bare base64) into key[cap]; *len gets its
 * length. False when it is not valid base64 or does not fit.
 */
bool webhook_secret_decode(const char *secret, uint8_t *key, size_t cap, size_t *len);

/*
 * The signature "v1,<base64>" of a message into out, for the webhook-signature header. False (out
 * empty) when the secret does not decode.
 */
bool webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body, size_t body_len,
                  char out[WEBHOOK_SIG_LEN]);

#endif
