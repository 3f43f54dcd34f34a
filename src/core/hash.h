/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_HASH_H
#define STARMETER_CORE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/model.h"

#define HASH_LEN 32
#define PEPPER_LEN 32

/* Keyed BLAKE2b-256 of an API key's secret under the server pepper; only this is ever stored. */
void hash_secret(const uint8_t pepper[PEPPER_LEN], const char *secret, size_t len, uint8_t out[HASH_LEN]);

/* Constant-time equality of two hashes. */
bool hash_equal(const uint8_t a[HASH_LEN], const uint8_t b[HASH_LEN]);

/*
 * The audit chain link: BLAKE2b-256 over the previous event's hash and the canonical encoding of
 * this event's fields (seq, at, actor, action, target, account_id, details, request_id). Changing
 * any stored field, or removing or reordering events, breaks every later link.
 */
void hash_audit_event(const audit_event *ev, uint8_t out[HASH_LEN]);

/* Lower-case hex of `len` bytes into out (2*len+1). */
void hash_hex(const uint8_t *bytes, size_t len, char *out);

#endif
