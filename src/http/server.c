/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/mem.h"
#include "http/http_int.h"

typedef struct server_handler {
    h2o_handler_t super;
    http_server *srv;
} server_handler;

static void on_req_dispatch_error(http_ctx *ctx, app_code code);

/* ---- request dispatch ---- */

static size_t header_block_size(const h2o_req_t *req)
{
    size_t n = req->input.method.len + req->input.path.len + 16;
    for (size_t i = 0; i < req->headers.size; i++)
        n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return n;
}

void http__request_id_pick(http_ctx *ctx)
{
    slice rid;
    if (http_header(ctx, "x-request-id", &rid) && http__request_id_is_safe(rid)) {
        memcpy(ctx->request_id, rid.ptr, rid.len);
        ctx->request_id[rid.len] = '\0';
    } else {
        http__request_id_new(ctx->request_id, clock_now_ms(clock_system()));
    }
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    http_server *srv = ((server_handler *)self)->srv;
    http_ctx *ctx = h2o_mem_alloc_pool(&req->pool, sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->worker = (http_worker *)req->conn->ctx;
    ctx->opts = &srv->opts;
    ctx->route_index = srv->opts.nroutes;
    ctx->started_ns = clock_mono_ns();
    ctx->worker->inflight++;
    http__request_id_pick(ctx);

    http_session *sess = http__session_of(req);
    if (sess != NULL && sess->close_after)
        req->http1_is_persistent = 0;

    if (header_block_size(req) > srv->opts.max_header_bytes) {
        on_req_dispatch_error(ctx, APP_HEADERS_TOO_LARGE);
        return 0;
    }

    /* Routes match the target as sent, segment by segment (see router.c): h2o's normalised path
     * would let an encoded '/' or a ".." choose another route. The gate has checked its form. */
    slice method = slice_make(req->input.method.base, req->input.method.len);
    if (slice_eq(method, "HEAD")) /* a GET without its body (send_bytes leaves it out) */
        method = slice_make("GET", 3);
    slice path = slice_make(req->path.base, req->query_at != SIZE_MAX ? req->query_at : req->path.len);
    app_err perr;
    app_err_clear(&perr);
    if (http__path_check(path, &perr) != 0) {
        http_reply_error(ctx, &perr);
        return 0;
    }
    bool path_matched;
    char allow[128];
    size_t idx =
        http__route_match(srv->opts.routes, srv->opts.nroutes, method, path, ctx, &path_matched, allow, sizeof allow);
    if (idx == srv->opts.nroutes) {
        if (path_matched) {
            ctx->allow = h2o_strdup(&req->pool, allow, strlen(allow)).base;
            on_req_dispatch_error(ctx, APP_METHOD_NOT_ALLOWED);
        } else if (!http__static_serve(srv->opts.static_files, ctx, method, path)) {
            on_req_dispatch_error(ctx, APP_NOT_FOUND);
        }
        return 0;
    }
    ctx->route_index = idx;
    const http_route *route = &srv->opts.routes[idx];
    if (route->auth != HTTP_AUTH_NONE) {
        app_err err;
        app_err_clear(&err);
        if (srv->opts.authorize == NULL || srv->opts.authorize(ctx, route->auth, &err) != 0) {
            if (err.code == APP_OK)
                app_err_set(&err, route->auth == HTTP_AUTH_ADMIN ? APP_ADMIN_AUTH_REQUIRED : APP_MISSING_API_KEY, NULL);
            http_reply_error(ctx, &err);
            return 0;
        }
    }
    /* After authentication: a caller without credentials learns nothing about the route's limits. */
    if (req->entity.base != NULL && req->entity.len > route->max_body) {
        on_req_dispatch_error(ctx, APP_PAYLOAD_TOO_LARGE);
        return 0;
    }
    route->handler(ctx);
    return 0;
}

static void on_req_dispatch_error(http_ctx *ctx, app_code code)
{
    app_err err;
    app_err_clear(&err);
    app_err_set(&err, code, NULL);
    if (code == APP_METHOD_NOT_ALLOWED && ctx->allow != NULL)
        app_err_detail_str(&err, "allowed_methods", ctx->allow);
    if (code == APP_PAYLOAD_TOO_LARGE) {
        app_err_detail_int(&err, "max_bytes", (long long)ctx->opts->routes[ctx->route_index].max_body);
    }
    if (code == APP_HEADERS_TOO_LARGE)
        app_err_detail_int(&err, "max_bytes", (long long)ctx->opts->max_header_bytes);
    http_reply_error(ctx, &err);
}

/* ---- what handlers read ---- */

void *http_app(http_ctx *ctx)
{
    return ctx->opts->app;
}

const char *http_request_id(const http_ctx *ctx)
{
    return ctx->request_id;
}

slice http_path_param(const http_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->nparams; i++) {
        if (!slice_eq(ctx->params[i].name, name))
            continue;
        slice raw = ctx->params[i].value;
        if (memchr(raw.ptr, '%', raw.len) == NULL || ctx->req == NULL)
            return raw;
        char *out = h2o_mem_alloc_pool(&ctx->req->pool, raw.len + 1);
        size_t n = http__pct_decode(out, raw);
        out[n] = '\0';
        return slice_make(out, n);
    }
    return slice_make("", 0);
}

bool http_header(const http_ctx *ctx, const char *name, slice *out)
{
    ssize_t i = h2o_find_header_by_str(&ctx->req->headers, name, strlen(name), -1);
    if (i < 0)
        return false;
    *out = slice_make(ctx->req->headers.entries[i].value.base, ctx->req->headers.entries[i].value.len);
    return true;
}

/* Decodes %XX and '+' into the arena. Malformed escapes are kept as they are. */
static slice query_decode(h2o_mem_pool_t *pool, const char *p, size_t n)
{
    char *out = h2o_mem_alloc_pool(pool, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n && http__hexval(p[i + 1]) >= 0 && http__hexval(p[i + 2]) >= 0) {
            out[o++] = (char)(http__hexval(p[i + 1]) * 16 + http__hexval(p[i + 2]));
            i += 2;
        } else {
            out[o++] = p[i] == '+' ? ' ' : p[i];
        }
    }
    out[o] = '\0';
    return slice_make(out, o);
}

/*
 * Finds the occurrences of query parameter `name` (decoded as http_query decodes it): the first
 * one's value into *out (when out is not NULL), and how many there are when `count` (else stops
 * at the first).
 */
static size_t query_find(http_ctx *ctx, const char *name, slice *out, bool count)
{
    h2o_req_t *req = ctx->req;
    if (req->query_at == SIZE_MAX)
        return 0;
    const char *p = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t nlen = strlen(name), found = 0;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pend = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pend - p));
        const char *kend = eq ? eq : pend;
        slice key = query_decode(&req->pool, p, (size_t)(kend - p));
        if (key.len == nlen && memcmp(key.ptr, name, nlen) == 0) {
            if (found++ == 0 && out != NULL)
                *out = eq ? query_decode(&req->pool, eq + 1, (size_t)(pend - eq - 1)) : slice_make("", 0);
            if (!count)
                break;
        }
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    return found;
}

bool http_query(http_ctx *ctx, const char *name, slice *out, app_err *err)
{
    size_t n = query_find(ctx, name, out, true);
    if (n > 1)
        app_err_field(err, name, "must be given once, not %zu times", n);
    return n == 1;
}

size_t http_query_count(http_ctx *ctx, const char *name)
{
    return query_find(ctx, name, NULL, true);
}

void *http_auth_data(const http_ctx *ctx)
{
    return ctx->auth_data;
}

void http_set_auth(http_ctx *ctx, void *data)
{
    ctx->auth_data = data;
}

void *http_arena_alloc(http_ctx *ctx, size_t n)
{
    return h2o_mem_alloc_pool(&ctx->req->pool, n);
}

typedef struct arena_hold {
    void (*release)(void *arg);
    void *arg;
} arena_hold;

static void arena_hold_dispose(void *p)
{
    arena_hold *h = p;
    h->release(h->arg);
}

void http_arena_hold(http_ctx *ctx, void (*release)(void *arg), void *arg)
{
    /* A chunk the pool holds the only reference to: disposed when the pool is cleared. */
    arena_hold *h = h2o_mem_alloc_shared(&ctx->req->pool, sizeof *h, arena_hold_dispose);
    h->release = release;
    h->arg = arg;
}

const char *http_peer(http_ctx *ctx)
{
    struct sockaddr_storage ss;
    char *out = h2o_mem_alloc_pool(&ctx->req->pool, 64);
    out[0] = '\0';
    socklen_t len = ctx->req->conn->callbacks->get_peername(ctx->req->conn, (struct sockaddr *)&ss);
    if (len == 0)
        return out;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, 64);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, 64);
    return out;
}

/* The request waits for work elsewhere: see http__gate_waiting. */
static void waiting(http_ctx *ctx)
{
    if (ctx->gate != NULL)
        return;
    http_session *sess = http__session_of(ctx->req);
    if (sess != NULL)
        http__gate_waiting(sess);
}

void http_defer(http_ctx *ctx, http_work_fn work, http_done_fn done, void *arg)
{
    waiting(ctx);
    http__pool_submit(ctx->worker->srv->pool, ctx, &ctx->worker->done, work, done, arg);
}

http_resume *http_suspend(http_ctx *ctx, http_done_fn done, void *arg)
{
    waiting(ctx);
    return http__resume_new(ctx, &ctx->worker->done, done, arg);
}

slice http_target(const http_ctx *ctx)
{
    return slice_make(ctx->req->path.base, ctx->req->path.len);
}

slice http_body(const http_ctx *ctx)
{
    return ctx->req->entity.base ? slice_make(ctx->req->entity.base, ctx->req->entity.len) : slice_make("", 0);
}

/* ---- event loops ---- */

static void on_accept(h2o_socket_t *listener, const char *err);

static void accept_pause(http_worker *w)
{
    if (!w->accept_paused && w->listener != NULL) {
        h2o_socket_read_stop(w->listener);
        w->accept_paused = true;
    }
}

/* --max-connections, counted over every loop together; SIZE_MAX when there is no cap. */
static size_t conn_cap(const http_server *srv)
{
    return srv->opts.max_connections ? srv->opts.max_connections : SIZE_MAX;
}

/*
 * Resumes a paused listener when the server is under the cap again. The cap is shared by every
 * loop and a slot freed on one is not announced to the others: a loop paused at the cap looks
 * again every accept_backoff period (and at once when one of its own connections closes).
 */
static void accept_resume(http_worker *w)
{
    if (!w->accept_paused || w->listener == NULL || atomic_load(&w->srv->stopping))
        return;
    if (atomic_load(&w->srv->nconns) < conn_cap(w->srv)) {
        h2o_timeout_unlink(&w->accept_resume);
        h2o_socket_read_start(w->listener, on_accept);
        w->accept_paused = false;
    } else if (!h2o_timeout_is_linked(&w->accept_resume)) {
        h2o_timeout_link(w->ctx.loop, &w->accept_backoff, &w->accept_resume);
    }
}

static void on_accept_backoff(h2o_timeout_entry_t *entry)
{
    accept_resume(H2O_STRUCT_FROM_MEMBER(http_worker, accept_resume, entry));
}

static void on_socket_close(void *data)
{
    http_session *sess = data;
    http_worker *w = sess->worker;
    http__gate_detach(sess);
    h2o_linklist_unlink(&sess->link);
    free(sess);
    w->nconns--;
    atomic_fetch_sub(&w->srv->nconns, 1);
    accept_resume(w);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    http_worker *w = listener->data;
    /* The slot is taken before the accept, so that loops accepting at once cannot pass the cap. */
    if (atomic_fetch_add(&w->srv->nconns, 1) >= conn_cap(w->srv)) {
        atomic_fetch_sub(&w->srv->nconns, 1);
        accept_pause(w);  /* the backlog holds the rest until one closes */
        accept_resume(w); /* which, at the cap, looks again later */
        return;
    }
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock == NULL) {
        atomic_fetch_sub(&w->srv->nconns, 1);
        /* Out of descriptors, the listener stays readable: stop reading it for a while, rather
         * than spin on a connection that cannot be taken. A close resumes it sooner. */
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            accept_pause(w);
            h2o_timeout_unlink(&w->accept_resume);
            h2o_timeout_link(w->ctx.loop, &w->accept_backoff, &w->accept_resume);
            log_write(w->srv->opts.log, LOG_WARN, "accept failed; pausing", "{s:s, s:i}", "error", strerror(errno),
                      "connections", (int)w->nconns);
        }
        return;
    }
    http_session *sess = xcalloc(1, sizeof *sess);
    sess->sock = sock;
    sess->worker = w;
    h2o_linklist_insert(&w->conns, &sess->link);
    w->nconns++;
    sock->on_close.cb = on_socket_close;
    sock->on_close.data = sess;
    h2o_accept(&w->accept_ctx, sock);
    http__gate_attach(sess);
}

static void on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    http__pool_on_done(messages);
}

static void on_wake(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    (void)messages; /* only ever woken with no message: the loop re-reads `stopping` */
}

/*
 * Graceful stop of one loop: no new connections, in-flight requests finish and their connections
 * close after the response, then idle keep-alive connections are closed. h2o's own graceful
 * shutdown is not used: it arms a one-second HTTP/2 GOAWAY timer even with no HTTP/2 client, and
 * the flag alone gives HTTP/1 the behaviour wanted (no keep-alive after shutdown is requested).
 */
static bool loop_has_connections(http_worker *w)
{
    return !h2o_linklist_is_empty(&w->ctx.http1._conns) || !h2o_linklist_is_empty(&w->ctx.http2._conns);
}

/* One iteration of the loop, then the hook that hands on what the iteration gathered. */
static void loop_run(http_worker *w, int32_t max_wait_ms)
{
    h2o_evloop_run(w->ctx.loop, w->poll_now || http__defer_here_pending() ? 0 : max_wait_ms);
    /* What the iteration resumed on this loop, before the hook hands on. Their writes complete in
     * h2o's next iteration, which must not block then. */
    w->poll_now = http__defer_run_here();
    if (w->srv->opts.loop_hook != NULL && w->srv->opts.loop_hook(w->srv->opts.loop_hook_arg))
        w->poll_now = true;
}

static void drain_and_close(http_worker *w)
{
    http_server *srv = w->srv;
    if (!w->accept_paused)
        h2o_socket_read_stop(w->listener);
    h2o_timeout_unlink(&w->accept_resume);
    h2o_socket_close(w->listener);
    w->listener = NULL;
    w->ctx.shutdown_requested = 1;
    uint64_t deadline = clock_mono_ns() + (uint64_t)atomic_load(&srv->grace_ms) * 1000000u;
    while (w->inflight > 0 && clock_mono_ns() < deadline)
        loop_run(w, 10);
    /* Idle connections wait on their read timeouts: make those expire now. */
    w->ctx.http1.req_timeout.timeout = 0;
    w->ctx.http2.idle_timeout.timeout = 0;
    while (loop_has_connections(w) && clock_mono_ns() < deadline)
        loop_run(w, 10);
    /* Past the grace period (a client that does not read, a request still running): shut the
     * sockets down so h2o sees them fail and tears the connections down itself. */
    for (h2o_linklist_t *n = w->conns.next; n != &w->conns; n = n->next)
        shutdown(h2o_socket_get_fd(H2O_STRUCT_FROM_MEMBER(http_session, link, n)->sock), SHUT_RDWR);
    uint64_t hard = clock_mono_ns() + 2000000000u;
    while (loop_has_connections(w) && clock_mono_ns() < hard)
        loop_run(w, 10);
    /* A request parked on the writer or the pool still holds a token that will post back to this
     * loop's queue: the queue must outlive it, whatever the grace. The store's own timeouts bound
     * this wait (a stalled commit fails and the request is answered 503). */
    while (w->inflight > 0)
        loop_run(w, 10);
    /* A request that finished late wrote its response after the sockets were shut down: its
     * connection (and its write deadline) may still be there. The loop runs on until every
     * connection is gone, since a timeout list must be empty when it is disposed; what a bounded
     * wait leaves behind has its deadlines unlinked. */
    for (h2o_linklist_t *n = w->conns.next; n != &w->conns; n = n->next)
        shutdown(h2o_socket_get_fd(H2O_STRUCT_FROM_MEMBER(http_session, link, n)->sock), SHUT_RDWR);
    hard = clock_mono_ns() + 2000000000u;
    while (!h2o_linklist_is_empty(&w->conns) && clock_mono_ns() < hard)
        loop_run(w, 10);
    for (h2o_linklist_t *n = w->conns.next; n != &w->conns; n = n->next)
        http__gate_detach(H2O_STRUCT_FROM_MEMBER(http_session, link, n));
}

/*
 * Everything a loop owns is created on the loop's own thread: h2o's socket buffers come from a
 * thread-local prototype, so a socket made on another thread would allocate from that thread's
 * recycler, unsafely, for its whole life.
 */
static void worker_init(http_worker *w)
{
    http_server *srv = w->srv;
    h2o_context_init(&w->ctx, h2o_evloop_create(), &srv->config);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = srv->config.hosts;
    unsigned wt = srv->opts.write_timeout_ms ? srv->opts.write_timeout_ms : 30000;
    h2o_timeout_init(w->ctx.loop, &w->write_timeout, wt);
    h2o_timeout_init(w->ctx.loop, &w->linger_timeout, 2000);
    h2o_timeout_init(w->ctx.loop, &w->accept_backoff, 100);
    w->accept_resume.cb = on_accept_backoff;
    w->queue = h2o_multithread_create_queue(w->ctx.loop);
    h2o_multithread_register_receiver(w->queue, &w->wake, on_wake);
    h2o_multithread_register_receiver(w->queue, &w->done, on_done);
    http__defer_bind(&w->done);
    w->listener = h2o_evloop_socket_create(w->ctx.loop, w->fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
    w->fd = -1; /* the socket owns it now */
    http__evloop_init(w);
    if (srv->opts.loop_start != NULL)
        srv->opts.loop_start(srv->opts.loop_hook_arg, &w->ev);
    pthread_mutex_lock(&srv->ready_mu);
    srv->ready++;
    pthread_cond_broadcast(&srv->ready_cv);
    pthread_mutex_unlock(&srv->ready_mu);
}

static void *worker_main(void *arg)
{
    http_worker *w = arg;
    http_server *srv = w->srv;
    worker_init(w);
    while (!atomic_load(&srv->stopping))
        loop_run(w, INT32_MAX);
    drain_and_close(w);
    /* Nothing in flight, and no write of the last iteration's left pending, when the loop is taken
     * back from those it was lent to. */
    while (w->inflight > 0)
        loop_run(w, 10);
    uint64_t until = clock_mono_ns() + ((uint64_t)atomic_load(&srv->grace_ms) + 2000u) * 1000000u;
    while (srv->opts.loop_busy != NULL && srv->opts.loop_busy(srv->opts.loop_hook_arg) && clock_mono_ns() < until)
        loop_run(w, 10);
    h2o_evloop_run(w->ctx.loop, 0);
    if (srv->opts.loop_stop != NULL) {
        srv->opts.loop_stop(srv->opts.loop_hook_arg, &w->ev);
        h2o_evloop_run(w->ctx.loop, 0); /* frees the sockets of the streams it closed */
    }
    http__evloop_dispose(w);
    /* Torn down on the thread that made it, for the same reason it was made here. */
    h2o_multithread_unregister_receiver(w->queue, &w->wake);
    h2o_multithread_unregister_receiver(w->queue, &w->done);
    h2o_multithread_destroy_queue(w->queue);
    h2o_evloop_t *loop = w->ctx.loop;
    h2o_timeout_dispose(loop, &w->write_timeout);
    h2o_timeout_dispose(loop, &w->linger_timeout);
    h2o_timeout_dispose(loop, &w->accept_backoff);
    h2o_context_dispose(&w->ctx);
    h2o_evloop_destroy(loop);
    return NULL;
}

static int bind_listener(const struct addrinfo *ai, uint16_t port, app_err *err)
{
    int one = 1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        app_err_set(err, APP_INTERNAL_ERROR, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_storage ss;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        app_err_set(err, APP_INTERNAL_ERROR, "cannot listen on port %u: %s", port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Splits "host:port" or "[v6]:port" and resolves the host. */
static int resolve(const char *listen, struct addrinfo **out, uint16_t *port, app_err *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen)
        return app_err_set(err, APP_VALIDATION_ERROR, "listen address must be host:port, got \"%s\"", listen);
    size_t hlen = (size_t)(colon - listen);
    const char *h = listen;
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    int64_t p;
    if (hlen == 0 || hlen >= sizeof host || !str_to_i64(slice_make(colon + 1, strlen(colon + 1)), 0, 65535, &p))
        return app_err_set(err, APP_VALIDATION_ERROR, "listen address must be host:port, got \"%s\"", listen);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    int rc = getaddrinfo(host, NULL, &hints, out);
    if (rc != 0)
        return app_err_set(err, APP_VALIDATION_ERROR, "cannot resolve listen host \"%s\": %s", host, gai_strerror(rc));
    *port = (uint16_t)p;
    return 0;
}

http_server *http_server_start(const http_server_opts *opts, app_err *err)
{
    http_server *srv = xcalloc(1, sizeof *srv);
    srv->opts = *opts;
    srv->listen = xstrdup(opts->listen);
    srv->opts.listen = srv->listen;
    srv->nworkers = opts->threads ? opts->threads : 1;
    srv->workers = xcalloc(srv->nworkers, sizeof *srv->workers);
    for (size_t i = 0; i < srv->nworkers; i++)
        srv->workers[i].fd = -1;
    atomic_init(&srv->stopping, false);
    pthread_mutex_init(&srv->ready_mu, NULL);
    pthread_cond_init(&srv->ready_cv, NULL);

    h2o_config_init(&srv->config);
    srv->config.server_name = h2o_iovec_init(H2O_STRLIT(""));
    /* h2o's own limit only matters for chunked bodies (the gate judges announced lengths): the
     * largest body a route takes. */
    for (size_t i = 0; i < opts->nroutes; i++)
        if (opts->routes[i].max_body > srv->entity_cap)
            srv->entity_cap = opts->routes[i].max_body;
    if (srv->entity_cap > opts->max_body_hard)
        srv->entity_cap = opts->max_body_hard;
    srv->config.max_request_entity_size = srv->entity_cap;
    atomic_init(&srv->body_bytes, 0);
    /* HTTP/1.1 only: a request's arena must outlive deferred work, which HTTP/1 guarantees (the
     * connection is not read, so not torn down, until the response is sent). */
    srv->config.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&srv->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    server_handler *handler = (server_handler *)h2o_create_handler(path, sizeof *handler);
    handler->super.on_req = on_req;
    handler->srv = srv;

    struct addrinfo *ai = NULL;
    uint16_t port;
    if (resolve(opts->listen, &ai, &port, err) != 0)
        goto fail;
    for (size_t i = 0; i < srv->nworkers; i++) {
        srv->workers[i].fd = bind_listener(ai, port, err);
        if (srv->workers[i].fd < 0)
            goto fail;
        if (i == 0)
            port = bound_port(srv->workers[0].fd); /* port 0: every listener shares the one picked */
    }
    srv->port = port;
    freeaddrinfo(ai);
    ai = NULL;

    atomic_init(&srv->nconns, 0);
    for (size_t i = 0; i < srv->nworkers; i++) {
        srv->workers[i].srv = srv;
        h2o_linklist_init_anchor(&srv->workers[i].conns);
    }
    srv->pool = http__pool_start(opts->pool_threads, opts->pool_thread_exit);
    for (size_t i = 0; i < srv->nworkers; i++) {
        int prc = pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]);
        if (prc != 0) {
            app_err_set(err, APP_INTERNAL_ERROR, "cannot start thread: %s", strerror(prc));
            /* The loops already started must have their queues before they can be told to stop. */
            pthread_mutex_lock(&srv->ready_mu);
            while (srv->ready < i)
                pthread_cond_wait(&srv->ready_cv, &srv->ready_mu);
            pthread_mutex_unlock(&srv->ready_mu);
            http_server_stop(srv, 0);
            http_server_free(srv);
            return NULL;
        }
        srv->workers[i].started = true;
    }
    pthread_mutex_lock(&srv->ready_mu);
    while (srv->ready < srv->nworkers)
        pthread_cond_wait(&srv->ready_cv, &srv->ready_mu);
    pthread_mutex_unlock(&srv->ready_mu);
    return srv;

fail:
    if (ai != NULL)
        freeaddrinfo(ai);
    for (size_t i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].fd >= 0)
            close(srv->workers[i].fd);
    h2o_config_dispose(&srv->config);
    free(srv->workers);
    free(srv->listen);
    free(srv);
    return NULL;
}

uint16_t http_server_port(const http_server *srv)
{
    return srv->port;
}

void http_server_stop(http_server *srv, unsigned grace_ms)
{
    /* The grace is published before the flag the loops read it after. */
    atomic_store(&srv->grace_ms, grace_ms);
    if (atomic_exchange(&srv->stopping, true))
        return;
    for (size_t i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].started)
            h2o_multithread_send_message(&srv->workers[i].wake, NULL);
    for (size_t i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].started)
            pthread_join(srv->workers[i].thread, NULL);
    http__pool_stop(srv->pool);
    srv->pool = NULL;
}

void http_server_free(http_server *srv)
{
    if (srv == NULL)
        return;
    for (size_t i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].fd >= 0) /* a listener no loop took over */
            close(srv->workers[i].fd);
    h2o_config_dispose(&srv->config);
    pthread_mutex_destroy(&srv->ready_mu);
    pthread_cond_destroy(&srv->ready_cv);
    free(srv->workers);
    free(srv->listen);
    free(srv);
}

void http__request_done(http_ctx *ctx)
{
    ctx->worker->inflight--;
}
