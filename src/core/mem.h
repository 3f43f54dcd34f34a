/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_MEM_H
#define STARMETER_CORE_MEM_H

#include <stddef.h>

/*
 * Allocation that cannot fail: out of memory aborts the process with a message, as there is no
 * sensible way to answer a request without memory. Sizes a client controls are checked against a
 * limit before they get here.
 */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* A heap copy of `s` (NUL-terminated); the caller owns it. */
char *xstrdup(const char *s);

#endif
