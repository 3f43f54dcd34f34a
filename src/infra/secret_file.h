/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_INFRA_SECRET_FILE_H
#define STARMETER_INFRA_SECRET_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/*
 * Reads the 32-byte pepper at `path`, or creates it (mode 0600, random bytes, written before
 * anything is hashed with it) when the file does not exist. A file of another size is an error:
 * hashing with a different pepper would silently invalidate every key.
 */
int pepper_load_or_create(const char *path, uint8_t out[32], app_err *err);

/* Reads a whole small text file (a token) into out[cap], without its trailing newline. */
int secret_file_read(const char *path, char *out, size_t cap, app_err *err);

#endif
