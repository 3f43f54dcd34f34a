/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_HTTP_HTTP_INT_H
#define STARMETER_HTTP_HTTP_INT_H

/* What only the files of http/ share. */

#include <h2o.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http/http.h"

#define HTTP_MAX_PARAMS 4
#define HTTP_REQUEST_ID_MAX 64

typedef struct http_worker http_worker;
typedef struct http_pool http_pool;

/* Each thread owns one event loop, one h2o context and one listening socket (SO_REUSEPORT). */
struct http_worker {
    h2o_context_t ctx; /* first member: a request's conn->ctx leads back here */
    h2o_accept_ctx_t accept_ctx;
    http_server *srv;
    int fd;
    h2o_socket_t *listener;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t wake;
    h2o_multithread_receiver_t done; /* deferred work coming back from the pool */
    pthread_t thread;
    bool started;
    size_t inflight;              /* requests dispatched and not yet answered; touched by the loop thread only */
    h2o_linklist_t conns;         /* http_session of every accepted socket still open */
    size_t nconns;                /* this loop's part of srv->nconns */
    bool accept_paused;           /* the listener is not read: at the cap, or out of descriptors */
    h2o_timeout_t write_timeout;  /* a response whose client acknowledges nothing for this long is abandoned */
    h2o_timeout_t linger_timeout; /* how long the gate reads and drops bytes after its own answer */
    h2o_timeout_t accept_backoff; /* how long accepting pauses after EMFILE */
    h2o_timeout_entry_t accept_resume;
    ev_loop ev;                    /* the loop as lent to the hooks (http/evloop.c) */
    h2o_timeout_t stream_deadline; /* its streams' deadline, once one was adopted */
    bool stream_deadline_set;
    bool poll_now; /* the last iteration ended with work for h2o (resumes run after it): do not block */
};

struct http_server {
    h2o_globalconf_t config;
    http_server_opts opts;
    char *listen; /* owned copy of opts.listen */
    size_t nworkers;
    http_worker *workers;
    uint16_t port;
    atomic_bool stopping;
    _Atomic unsigned grace_ms;
    http_pool *pool;
    pthread_mutex_t ready_mu; /* start-up: loops report when they can take messages */
    pthread_cond_t ready_cv;
    size_t ready;
    size_t entity_cap;         /* the largest body any route takes (h2o's own limit for chunked bodies) */
    atomic_size_t body_bytes;  /* request bodies let through and not yet answered, all loops together */
    atomic_size_t nconns;      /* connections open (or being accepted), all loops together */
    log_every unavailable_log; /* "request failed" lines of store_unavailable: one per interval */
};

/*
 * One accepted connection. Between requests the gate (gate.c) holds its read callback: it sees each
 * request head whole before h2o does, refuses what must not go further with the error envelope,
 * and hands the rest to h2o. The response's write completion comes back through the gate too.
 */
typedef struct http_session {
    h2o_linklist_t link;
    h2o_socket_t *sock;
    http_worker *worker;
    h2o_socket_cb h2o_read;    /* h2o's read callback, given back when a head is let through */
    h2o_socket_cb h2o_written; /* h2o's write completion of the response in flight */
    h2o_req_t *req;            /* h2o's request whose response is in flight (h2o owns it) */
    size_t parsed_len;         /* bytes of an unfinished head already scanned for its end */
    size_t head_len;           /* bytes of the request head in flight */
    size_t reqsize;            /* head and body of the request in flight, which h2o consumes after it */
    size_t body_reserved;      /* bytes of srv->body_bytes this request holds */
    bool close_after;          /* framing was ambiguous (Content-Length and Transfer-Encoding) */
    uint64_t acked;            /* bytes the client had acknowledged when the write deadline last started */
    h2o_timeout_entry_t write_deadline;
    h2o_timeout_entry_t linger; /* after the gate's own answer: when to stop draining and close */
    size_t lingered;            /* bytes drained since */
    h2o_req_t *refusal;         /* the gate's own answer in flight, with its arena */
    /* While its request waits (http__gate_waiting): the buffer the request was parsed from, which
     * h2o points into and which reading must not move; bytes read meanwhile go to sock->input. */
    h2o_buffer_t *parked_input;
} http_session;

struct http_ctx {
    h2o_req_t *req;
    http_session *gate; /* set while the gate answers a head itself (no h2o request behind req) */
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

/*
 * Checks a request target's path (up to '?'): it starts with '/' and no segment is "." or "..",
 * written plainly or percent-encoded. Returns 0 or APP_BAD_REQUEST with `err` filled.
 */
int http__path_check(slice target, app_err *err);
/* Decodes %XX of a path segment into `out` (at least s.len bytes); malformed escapes stay as they are. */
/* The value of a hexadecimal digit, or -1: what percent-decoding reads (router.c). */
int http__hexval(char c);
size_t http__pct_decode(char *out, slice s);

/*
 * True when a client-supplied X-Request-Id may be echoed, logged and stored: 1..64 of
 * [A-Za-z0-9._:-], and nothing shaped like an API key (its prefix, or a secret-long mixed run).
 */
bool http__request_id_is_safe(slice s);
/* Writes a fresh UUIDv7 (36 characters and a NUL) for a request at `unix_ms`. */
void http__request_id_new(char out[37], int64_t unix_ms);

/* The worker's loop as core/evloop.h lends it (http/evloop.c): set up, and disposed after its
 * last stream is closed. */
void http__evloop_init(http_worker *w);
void http__evloop_dispose(http_worker *w);

/* The worker pool behind http_defer. */
http_pool *http__pool_start(unsigned threads, void (*thread_exit)(void));
/* Finishes queued work, then joins the threads and frees the pool. */
void http__pool_stop(http_pool *pool);
/* The loop-side half: call from the worker's receiver with the messages it got. */
void http__pool_on_done(h2o_linklist_t *messages);
/* The calling thread runs the loop whose deferred work comes back to `done_to`: its own resumes
 * are kept for it (run by http__defer_run_here after each iteration), not sent as messages. */
void http__defer_bind(h2o_multithread_receiver_t *done_to);
bool http__defer_here_pending(void);
bool http__defer_run_here(void); /* true when it ran some */
/* Queues a job for `ctx` (its worker must own a registered `done` receiver). */
void http__pool_submit(http_pool *pool, http_ctx *ctx, h2o_multithread_receiver_t *done, http_work_fn work,
                       http_done_fn fn, void *arg);

/* A resume token whose message comes back through the worker's `done` receiver. */
http_resume *http__resume_new(http_ctx *ctx, h2o_multithread_receiver_t *done_to, http_done_fn fn, void *arg);

/* Serves `path` from the panel's files when one fits; false to let the caller answer 404. */
bool http__static_serve(const http_static *st, http_ctx *ctx, slice method, slice path);

/* Sets ctx->request_id: the caller's X-Request-Id when safe to echo, else a fresh UUIDv7. */
void http__request_id_pick(http_ctx *ctx);
/* The reason phrase of a status this server sends. */
const char *http__reason(int status);

/* ---- the gate (gate.c) ---- */
/* Takes over a connection h2o has just accepted (its first request head goes through the gate). */
void http__gate_attach(http_session *sess);
/* The session of the connection a request came on. */
http_session *http__session_of(h2o_req_t *req);
/* Called by the reply path once h2o has the response: arms the write deadline, watches completion. */
void http__gate_response_started(http_session *sess, h2o_req_t *req);
/*
 * The request in flight waits (suspended, or deferred to the pool): its connection stays polled
 * for reading, so h2o's stop of reading when it dispatched the request and its start again after
 * the answer cancel out, with no system call each (epoll_ctl); bytes that arrive meanwhile are
 * kept, as pipelined bytes are, and the reading stops at the end of stream or past
 * GATE_MAX_PIPELINED of them.
 */
void http__gate_waiting(http_session *sess);
/* Writes the gate's own answer (status line, headers and body, rendered), then closes. */
void http__gate_send(http_ctx *ctx, const char *bytes, size_t len);
/*
 * Called by a stream after each h2o_send that is not its last: arms the write deadline and hands
 * the write's completion to h2o (which asks the generator for more) without ending the response.
 */
void http__gate_chunk_started(http_session *sess);
/* Called as the connection's socket closes: gives back what the session holds. */
void http__gate_detach(http_session *sess);
/* Gives back what a request held of the body budget. */
void http__gate_release(http_session *sess);

/* Status, Content-Type, X-Request-Id (and Allow) of a response; content_length SIZE_MAX: unknown. */
void http__head_prepare(http_ctx *ctx, int status, const char *content_type, size_t content_length);
/*
 * Counts a finished response in the metrics and writes its access log line. For a stream,
 * `outcome` ("complete", "aborted", "failed") and `bytes` (of body sent) are logged too; NULL and
 * -1 otherwise.
 */
void http__access_log(http_ctx *ctx, int status, app_code code, long long bytes, const char *outcome);
/* Marks a dispatched request answered (its response is with h2o now). */
void http__request_done(http_ctx *ctx);

/* Serialises the error envelope of `err` for `request_id`; the caller frees the result. */
json_t *http__error_body(const app_err *err, const char *request_id);

#endif
