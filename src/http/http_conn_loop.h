/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_HTTP_CONN_LOOP_H
#define STARMETER_HTTP_CONN_LOOP_H

/* What the server's loops tell conn.c: which loop this thread runs, and when it ends. */
#include <h2o.h>

/* This thread runs `loop` from now on: connections opened here are driven by it. */
void http__conn_loop_begin(h2o_loop_t *loop);
/* The loop is ending: closes its connections (their owners hear on_close). */
void http__conn_loop_end(void);

#endif
