/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_HTTP_HTTP_H
#define STARMETER_HTTP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/evloop.h"
#include "core/err.h"
#include "core/log.h"
#include "core/str.h"
#include "infra/metrics.h"

/*
 * The only code that speaks HTTP. Handlers in api/ receive an http_ctx, read the request through
 * the accessors below and answer with exactly one http_reply_* call, now or later on the same
 * event-loop thread (an asynchronous answer). The context lives in the request's arena and dies
 * with the response.
 */
typedef struct http_ctx http_ctx;

/* Returns nothing: a handler always ends in one http_reply_* call, now or later. */
typedef void (*http_handler_fn)(http_ctx *ctx);

/*
 * One row of the route table: the dispatcher enforces method, path and body size before the
 * handler runs. `path` may hold parameters as whole segments: "/v1/admin/accounts/{id}".
 */
/* Who may call a route; the dispatcher asks opts->authorize before the handler runs. */
typedef enum http_auth { HTTP_AUTH_NONE = 0, HTTP_AUTH_ADMIN, HTTP_AUTH_API_KEY } http_auth;

typedef struct http_route {
    const char *method;
    const char *path;
    http_handler_fn handler;
    size_t max_body; /* bytes; 0 means no body is accepted beyond the empty one */
    http_auth auth;
} http_route;

typedef struct http_server http_server;

/* The panel's static files, loaded into memory (see static.c). */
typedef struct http_static http_static;
/* Loads every regular file under `root` (which must hold index.html); NULL with `err` set. */
http_static *http_static_load(const char *root, app_err *err);
void http_static_free(http_static *st);
size_t http_static_count(const http_static *st);

typedef struct http_server_opts {
    const char *listen;        /* "host:port"; port 0 picks a free port (see http_server_port) */
    unsigned threads;          /* event loops, one per thread, each with its own SO_REUSEPORT listener */
    size_t max_header_bytes;   /* request line + headers beyond this get 431 */
    size_t max_body_hard;      /* bodies beyond this are refused before they are read */
    size_t max_connections;    /* open connections beyond this wait in the listen backlog; 0: no cap */
    size_t max_body_in_flight; /* bytes of request bodies held at once (all loops); beyond: 503; 0: no cap */
    unsigned write_timeout_ms; /* a response its client has not read after this closes the connection; 0: 30 s */
    const http_route *routes;  /* borrowed; must outlive the server */
    size_t nroutes;
    void *app;                      /* handed to handlers through http_app() */
    const app_log *log;             /* borrowed */
    metrics *metrics;               /* borrowed; built with the route paths as names */
    unsigned pool_threads;          /* threads running deferred work (http_defer); 0 means 2 */
    void (*pool_thread_exit)(void); /* called by each pool thread as it ends (library cleanup), or NULL */
    /*
     * Decides whether the request may reach a route whose auth is not NONE: returns 0 (and may
     * attach what it learned with http_set_auth) or an error code with `err` filled.
     */
    int (*authorize)(http_ctx *ctx, http_auth auth, app_err *err);
    const http_static *static_files; /* the panel, served for GET paths no route matches; or NULL */
    /*
     * Called on each event-loop thread after every iteration of its loop, with `loop_hook_arg`:
     * where work gathered during the iteration is handed on in one go. Or NULL. Returns true to
     * have the next iteration run without waiting (it kept work back to gather more).
     */
    bool (*loop_hook)(void *arg);
    void *loop_hook_arg;
    /*
     * Called on each event-loop thread, with `loop_hook_arg` and the loop (core/evloop.h), once
     * before its first iteration and once after its last, when nothing is in flight any more;
     * the loop is lent between the two. Either may be NULL.
     */
    void (*loop_start)(void *arg, ev_loop *loop);
    void (*loop_stop)(void *arg, ev_loop *loop);
    /*
     * Called on a stopping event-loop thread, with `loop_hook_arg`, once nothing of its own is in
     * flight: true while the loop must go on iterating before loop_stop (it carries work of the
     * other loops). It does, up to the grace period and two seconds more. Or NULL.
     */
    bool (*loop_busy)(void *arg);
} http_server_opts;

/*
 * Binds the listeners and starts the event-loop threads. Returns NULL with `err` set when the
 * address cannot be parsed or bound. The caller owns the server: http_server_stop, then
 * http_server_free.
 */
http_server *http_server_start(const http_server_opts *opts, app_err *err);
/* The bound port (useful after listening on port 0). */
uint16_t http_server_port(const http_server *srv);
/*
 * Stops accepting, lets in-flight requests finish (up to `grace_ms`), closes idle connections and
 * joins the threads. Safe to call once from any thread but the loops'.
 */
void http_server_stop(http_server *srv, unsigned grace_ms);
void http_server_free(http_server *srv);

/* ---- what handlers read ---- */
void *http_app(http_ctx *ctx);
const char *http_request_id(const http_ctx *ctx);
/* The value of path parameter `name` ("{id}"), or an empty slice. Bytes are percent-decoded. */
slice http_path_param(const http_ctx *ctx, const char *name);
/* The first value of header `name` (lower case), false if absent. */
bool http_header(const http_ctx *ctx, const char *name, slice *out);
/*
 * The value of query parameter `name`, percent-decoded into the request arena: true when it is
 * given once. False when absent, or given more than once: it has no single meaning, and a field
 * error naming it is added to `err`.
 */
bool http_query(http_ctx *ctx, const char *name, slice *out, app_err *err);
/* How many times query parameter `name` is given (names compared decoded, as http_query does). */
size_t http_query_count(http_ctx *ctx, const char *name);
/* The request target as sent: path and query string. */
slice http_target(const http_ctx *ctx);
/* The request body (empty when none). */
slice http_body(const http_ctx *ctx);

/* What the authorize hook attached to this request (NULL if nothing). */
void *http_auth_data(const http_ctx *ctx);
void http_set_auth(http_ctx *ctx, void *data);
/* Allocates `n` bytes in the request arena (freed with the response). */
void *http_arena_alloc(http_ctx *ctx, size_t n);
/*
 * Calls release(arg) once the request's arena is freed, after the response was written: what the
 * response borrows from elsewhere (a cached answer) is held until then.
 */
void http_arena_hold(http_ctx *ctx, void (*release)(void *arg), void *arg);
/* The peer's IP address as text (for limits on failed authentication); "" if unknown. */
const char *http_peer(http_ctx *ctx);

/*
 * Runs `work(arg)` on the server's worker pool, then `done(ctx, arg)` back on this request's
 * event-loop thread, where it must answer. For work that may wait (the store), so the event loop
 * never does. `arg` is the caller's to free in `done`.
 */
typedef void (*http_work_fn)(void *arg);
typedef void (*http_done_fn)(http_ctx *ctx, void *arg);
void http_defer(http_ctx *ctx, http_work_fn work, http_done_fn done, void *arg);

/*
 * Parks the request until another thread calls http_resume_post: then `done(ctx, arg)` runs on
 * the request's event-loop thread, where it must answer. For answers that wait on a writer
 * (group commit). The token is freed by the resume.
 */
typedef struct http_resume http_resume;
http_resume *http_suspend(http_ctx *ctx, http_done_fn done, void *arg);
void http_resume_post(http_resume *token);
/*
 * Posts `n` tokens at once, from any thread: the tokens of one event loop travel in one message
 * (one wake-up of that loop), however many there are.
 */
void http_resume_post_all(http_resume *const *tokens, size_t n);

/* ---- how handlers answer ---- */
/* Adds a response header; both strings are copied into the request arena. */
void http_add_header(http_ctx *ctx, const char *name, const char *value);
/*
 * The success envelope {"data": data, "meta": {meta_members, "request_id"}}, in pieces: `data`
 * (one JSON value) is not copied and must outlive the response (static, in the arena, or held by
 * http_arena_hold); `meta_members` (the members of an object without its braces, `"usage":{...}`,
 * or empty) is copied into the arena. For answers that are kept (an idempotent answer is stored
 * byte for byte) before they are sent with http_reply_slices.
 */
slices http_envelope(http_ctx *ctx, slice data, slice meta_members);
/*
 * Sends {"data": data, "meta": {...meta, "request_id"}}; steals both references (meta may be
 * NULL).
 */
void http_reply_data(http_ctx *ctx, int status, json_t *data, json_t *meta);
/*
 * Same, from bytes already serialised: `data` is one JSON value, `meta_members` the members of an
 * object without its braces (`"usage":{...}`), or NULL. Both are copied or must outlive the
 * response (static or in the arena).
 */
void http_reply_data_raw(http_ctx *ctx, int status, const char *data, size_t data_len, const char *meta_members,
                         size_t meta_len);
/*
 * Sends the error envelope for `err`, with the status of its code. For internal_error and
 * store_unavailable the client sees the table's message, the log the specific one.
 */
void http_reply_error(http_ctx *ctx, const app_err *err);
/* Shorthand for an error with the table's default message. */
void http_reply_code(http_ctx *ctx, app_code code);
/* Sends bytes as they are; `body` must outlive the response (static or in the arena). */
void http_reply_raw(http_ctx *ctx, int status, const char *content_type, const char *body, size_t len);
/* The same, from pieces sent one after another (one writev); each must outlive the response. */
void http_reply_slices(http_ctx *ctx, int status, const char *content_type, const slices *body);
/*
 * Sends a stored success envelope again (an idempotent replay), byte for byte. Its request id,
 * meta.request_id, becomes this response's X-Request-Id (and the id of its log line), so that
 * header and body name the same request: the one that was served. `body` as for http_reply_raw.
 */
void http_reply_replay(http_ctx *ctx, int status, const char *body, size_t len);
/* Copies `len` bytes into the request arena, for bodies built on the heap. */
char *http_arena_dup(http_ctx *ctx, const char *p, size_t len);

/* ---- streamed answers ---- */
/*
 * A response of unknown length, sent as it is produced: chunked transfer encoding on HTTP/1.1
 * (HTTP/1.0: the body ends when the connection closes). Memory stays constant whatever the
 * length: the next chunk is produced only once the previous one is written.
 *
 * `next(state, out, last, err)` runs on the worker pool (it may wait on the store), one call at
 * a time per stream: it appends one chunk to `out` (empty at each call; appends past
 * HTTP_STREAM_CHUNK_MAX bytes set its failed flag, which ends the stream as internal_error) and
 * sets *last with the last one (which may be empty). It returns 0, or an error code with `err`
 * filled:
 * - on the first call, before any byte has left, the error is answered as any other (the error
 *   envelope with its status);
 * - after, the head is gone: the stream ends abnormally (an invalid chunk, then the connection
 *   closes), so the client sees a truncated body, never a complete-looking one; the error is
 *   logged and counted in b2b_api_errors_total.
 *
 * `state` is the stream's from this call on: `free_state(state)` (or NULL) runs exactly once, on
 * this event loop, never while `next` runs, however the stream ends: last chunk sent, error,
 * client gone (its write fails: h2o stops the generator), write deadline, server stopping (past
 * its grace the sockets are shut down, which ends the stream as a client gone would).
 * Headers added with http_add_header before the call are sent with the head, which leaves with
 * the first chunk. `status` should be 200: h2o encodes only those in chunks (another status is
 * sent unframed and its connection closes after it). HEAD: the first chunk is produced, so that a failure answers as it
 * would for GET, then only the head is sent. The access log line and the request metrics are written when the stream
 * ends, with its duration, bytes and how it ended.
 */
#define HTTP_STREAM_CHUNK_MAX (1024 * 1024)
typedef int (*http_chunk_fn)(void *state, buf *out, bool *last, app_err *err);
void http_reply_stream(http_ctx *ctx, int status, const char *content_type, http_chunk_fn next,
                       void (*free_state)(void *state), void *state);

#endif
