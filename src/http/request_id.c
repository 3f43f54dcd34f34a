/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <sodium.h>
#include <string.h>

#include "domain/apikey.h"
#include "http/http_int.h"

/* 1 for a lower-case letter, 2 for an upper-case one, 4 for a digit, 0 for anything else. */
static unsigned char_class(char c)
{
    return (c >= 'a' && c <= 'z') ? 1u : (c >= 'A' && c <= 'Z') ? 2u : (c >= '0' && c <= '9') ? 4u : 0u;
}

/*
 * A client's id is echoed, logged and stored in audit rows, so one that may be an API key pasted
 * into the wrong header is never taken: one holding the key prefix in any case, or a run of base62
 * as long as a key's secret that mixes lower case, upper case and digits as random base62 does
 * (a UUID's longest run is 12; hexadecimal trace ids have no upper case).
 */
static bool looks_like_apikey(slice s)
{
    size_t run = 0;
    unsigned classes = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (i + APIKEY_PREFIX_LEN <= s.len && slice_eq_nocase(slice_make(s.ptr + i, APIKEY_PREFIX_LEN), APIKEY_PREFIX))
            return true;
        unsigned c = char_class(s.ptr[i]);
        run = c != 0 ? run + 1 : 0;
        classes = c != 0 ? classes | c : 0;
        if (run >= APIKEY_SECRET_LEN && classes == 7u)
            return true;
    }
    return false;
}

bool http__request_id_is_safe(slice s)
{
    if (s.len == 0 || s.len > HTTP_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        bool ok = char_class(c) != 0 || c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok)
            return false;
    }
    return !looks_like_apikey(s);
}

/*
 * Random bytes come from a per-thread pool refilled from libsodium's CSPRNG, so a request id costs
 * no system call on the hot path.
 */
static _Thread_local unsigned char pool[4096];
static _Thread_local size_t pool_left;

static void random_bytes(unsigned char *out, size_t n)
{
    if (pool_left < n) {
        randombytes_buf(pool, sizeof pool);
        pool_left = sizeof pool;
    }
    memcpy(out, pool + sizeof pool - pool_left, n);
    sodium_memzero(pool + sizeof pool - pool_left, n);
    pool_left -= n;
}

void http__request_id_new(char out[37], int64_t unix_ms)
{
    unsigned char b[16];
    uint64_t ms = (uint64_t)unix_ms;
    random_bytes(b + 6, 10);
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (8 * (5 - i)));
    b[6] = (unsigned char)(0x70 | (b[6] & 0x0f)); /* version 7 */
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f)); /* variant 10 */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}
