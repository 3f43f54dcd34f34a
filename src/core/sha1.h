/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_SHA1_H
#define STARMETER_CORE_SHA1_H

/*
 * SHA-1 (FIPS 180-4), for the one place that needs it: the name Redis gives a Lua script
 * (EVALSHA), known before Redis is reached. Not for anything secret.
 */
#include <stddef.h>

/* The digest of `len` bytes at `data`, as 40 lowercase hexadecimal digits and a NUL. */
void sha1_hex(const void *data, size_t len, char out[41]);

#endif
