/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_HTTP_HTTP_INT_H
#define STARMETER_HTTP_HTTP_INT_H

/* What only the files of http/ share. */

#include <h2o.h>

#include "http/http.h"

#define HTTP_MAX_PARAMS 4
#define HTTP_REQUEST_ID_MAX 64

typedef struct http_worker http_worker;

struct http_ctx {
    h2o_req_t *req;
    http_worker *worker;
    const http_server_opts *opts;
    size_t route_index; /* opts->nroutes when no route matched */
    uint64_t started_ns;
    bool replied;
    const char *allow; /* Allow header of a 405, in the arena */
    void *auth_data;
    size_t nparams;
    struct {
        slice name;
        slice value;
    } params[HTTP_MAX_PARAMS];
    char request_id[HTTP_REQUEST_ID_MAX + 1];
};

/*
 * Matches `path` (no query string) against the route table. Returns the index of the route whose
 * template and method match; otherwise returns `nroutes` and sets *path_matched when some route
 * has the path with another method (a 405), writing its methods into allow (", " separated).
 * Path parameters of the match are stored in ctx.
 */
size_t http__route_match(const http_route *routes, size_t nroutes, slice method, slice path, http_ctx *ctx,
                         bool *path_matched, char *allow, size_t allow_cap);

/* True when a client-supplied X-Request-Id may be echoed: 1..64 of [A-Za-z0-9._:-]. */
bool http__request_id_is_safe(slice s);
/* Writes a fresh UUIDv7 (36 characters and a NUL) for a request at `unix_ms`. */
void http__request_id_new(char out[37], int64_t unix_ms);

/* The worker pool behind http_defer. */
typedef struct http_pool http_pool;
http_pool *http__pool_start(unsigned threads, void (*thread_exit)(void));
/* Finishes queued work, then joins the threads and frees the pool. */
void http__pool_stop(http_pool *pool);
/* The loop-side half: call from the worker's receiver with the messages it got. */
void http__pool_on_done(h2o_linklist_t *messages);
/* Queues a job for `ctx` (its worker must own a registered `done` receiver). */
void http__pool_submit(http_pool *pool, http_ctx *ctx, h2o_multithread_receiver_t *done, http_work_fn work,
                       http_done_fn fn, void *arg);

/* A resume token whose message comes back through the worker's `done` receiver. */
http_resume *http__resume_new(http_ctx *ctx, h2o_multithread_receiver_t *done_to, http_done_fn fn, void *arg);

/* Serves `path` from the panel's files when one fits; false to let the caller answer 404. */
bool http__static_serve(const http_static *st, http_ctx *ctx, slice method, slice path);

/* Marks a dispatched request answered (its response is with h2o now). */
void http__request_done(http_ctx *ctx);

/* Serialises the error envelope of `err` for `request_id`; the caller frees the result. */
json_t *http__error_body(const app_err *err, const char *request_id);

#endif
