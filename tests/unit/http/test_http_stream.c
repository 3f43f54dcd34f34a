/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Streamed answers (http_reply_stream) on a real server with routes of its own: a body of many
 * MiB in chunks, a client that goes away mid-stream, an error before and after the head, HEAD,
 * and a stop while a stream is in flight. Each stream's state counts its frees: exactly one.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/str.h"
#include "http/http.h"

#define CHUNK (64 * 1024)

static atomic_int frees, produced;

typedef struct gen {
    long long chunks;     /* to produce before the last (empty) one */
    long long fail_after; /* chunks after which `next` fails; -1: never */
    unsigned delay_us;    /* per chunk */
    long long done;
} gen;

/* Chunk k is CHUNK bytes of 'a' + k % 26, so that the client can check order and content. */
static int gen_next(void *state, buf *out, bool *last, app_err *err)
{
    gen *g = state;
    if (g->delay_us)
        usleep(g->delay_us);
    if (g->done == g->fail_after)
        return app_err_set(err, APP_STORE_UNAVAILABLE, "injected failure after %lld chunks", g->done);
    if (g->done == g->chunks) {
        *last = true;
        return 0;
    }
    char block[CHUNK];
    memset(block, 'a' + (int)(g->done % 26), sizeof block);
    buf_append(out, block, sizeof block);
    g->done++;
    atomic_fetch_add(&produced, 1);
    return 0;
}

static void gen_free(void *state)
{
    atomic_fetch_add(&frees, 1);
    free(state);
}

static long long query_num(http_ctx *ctx, const char *name, long long dflt)
{
    slice v;
    int64_t n;
    app_err err;
    app_err_clear(&err);
    if (!http_query(ctx, name, &v, &err) || !str_to_i64(v, -1, INT64_MAX, &n))
        return dflt;
    return n;
}

static void on_stream(http_ctx *ctx)
{
    gen *g = xcalloc(1, sizeof *g);
    g->chunks = query_num(ctx, "chunks", 16);
    g->fail_after = query_num(ctx, "fail_after", -1);
    g->delay_us = (unsigned)query_num(ctx, "delay_us", 0);
    http_add_header(ctx, "content-disposition", "attachment; filename=\"x.bin\"");
    http_reply_stream(ctx, 200, "application/octet-stream", gen_next, gen_free, g);
}

static void on_ping(http_ctx *ctx)
{
    http_reply_raw(ctx, 200, "text/plain", "pong", 4);
}

static const http_route routes[] = {
    {"GET", "/stream", on_stream, 0, HTTP_AUTH_NONE},
    {"GET", "/ping", on_ping, 0, HTTP_AUTH_NONE},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static http_server *srv;
static metrics *mx;
static app_log lg;
static char log_path[] = "/tmp/starmeter-stream-log-XXXXXX";
static int log_fd = -1;
static bool stopped;

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the server's process does: a write to a gone client fails instead */
    atomic_store(&frees, 0);
    atomic_store(&produced, 0);
    log_fd = mkstemp(log_path);
    cr_assert_geq(log_fd, 0);
    log_init(&lg, LOG_INFO, log_fd);
    const char *labels[NROUTES];
    for (size_t i = 0; i < NROUTES; i++)
        labels[i] = routes[i].path;
    mx = metrics_new(labels, NROUTES);
    http_server_opts o = {
        .listen = "127.0.0.1:0",
        .threads = 1,
        .max_header_bytes = 8192,
        .max_body_hard = 1 << 20,
        .write_timeout_ms = 2000,
        .routes = routes,
        .nroutes = NROUTES,
        .log = &lg,
        .metrics = mx,
        .pool_threads = 2,
    };
    app_err err;
    app_err_clear(&err);
    srv = http_server_start(&o, &err);
    cr_assert_not_null(srv, "%s", err.message);
    stopped = false;
}

static void stop_server(unsigned grace_ms)
{
    if (!stopped)
        http_server_stop(srv, grace_ms);
    stopped = true;
}

static void teardown(void)
{
    stop_server(1000);
    http_server_free(srv);
    metrics_free(mx);
    close(log_fd);
    unlink(log_path);
}

TestSuite(http_stream, .init = setup, .fini = teardown, .timeout = 60);

static void url(char *out, size_t cap, const char *target)
{
    snprintf(out, cap, "http://127.0.0.1:%u%s", (unsigned)http_server_port(srv), target);
}

typedef struct sink {
    long long bytes;
    long long bad; /* bytes not what chunk order says */
    char headers[4096];
    size_t hlen;
} sink;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    for (size_t i = 0; i < size * n; i++, s->bytes++)
        if (p[i] != 'a' + (char)((s->bytes / CHUNK) % 26))
            s->bad++;
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t len = size * n;
    if (s->hlen + len < sizeof s->headers) {
        memcpy(s->headers + s->hlen, p, len);
        s->hlen += len;
        s->headers[s->hlen] = '\0';
    }
    return len;
}

/* One request on `c` (a handle keeps its connection between requests). */
static CURLcode fetch_on(CURL *c, const char *target, bool head, long *status, sink *s)
{
    char u[256];
    url(u, sizeof u, target);
    memset(s, 0, sizeof *s);
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L);
    if (!head)
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return rc;
}

static CURLcode fetch(const char *target, bool head, long *status, sink *s)
{
    CURL *c = curl_easy_init();
    CURLcode rc = fetch_on(c, target, head, status, s);
    curl_easy_cleanup(c);
    return rc;
}

static bool has_header(const sink *s, const char *line)
{
    return strcasestr(s->headers, line) != NULL;
}

/* Polls until `n` streams have freed their state (or fails after 10 s). */
static void wait_frees(int n)
{
    for (int i = 0; i < 1000 && atomic_load(&frees) < n; i++)
        usleep(10000);
    cr_assert_eq(atomic_load(&frees), n, "state freed %d times, expected %d", atomic_load(&frees), n);
}

static bool log_has(const char *needle)
{
    static char text[1 << 20];
    ssize_t n = pread(log_fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return false;
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

Test(http_stream, a_body_of_many_mib_arrives_whole_in_order_chunked)
{
    long status;
    sink s;
    CURL *c = curl_easy_init();
    cr_assert_eq(fetch_on(c, "/stream?chunks=160", false, &status, &s), CURLE_OK); /* 10 MiB */
    cr_assert_eq(status, 200);
    cr_assert_eq(s.bytes, 160LL * CHUNK);
    cr_assert_eq(s.bad, 0);
    cr_assert(has_header(&s, "transfer-encoding: chunked"), "%s", s.headers);
    cr_assert(has_header(&s, "content-type: application/octet-stream"), "%s", s.headers);
    cr_assert(has_header(&s, "content-disposition: attachment; filename=\"x.bin\""), "%s", s.headers);
    cr_assert(has_header(&s, "x-request-id: "), "%s", s.headers);
    cr_assert(!has_header(&s, "content-length"), "%s", s.headers);
    wait_frees(1);
    cr_assert(log_has("\"outcome\":\"complete\""));
    cr_assert(log_has("\"bytes\":10485760"));
    /* The connection is kept: a second stream and a plain answer after it, on the same one. */
    cr_assert_eq(fetch_on(c, "/stream?chunks=0", false, &status, &s), CURLE_OK);
    cr_assert_eq(status, 200);
    cr_assert_eq(s.bytes, 0);
    cr_assert_eq(fetch_on(c, "/ping", false, &status, &s), CURLE_OK);
    cr_assert_eq(status, 200);
    long connects = -1;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    cr_assert_eq(connects, 0, "the last request reused the connection");
    curl_easy_cleanup(c);
    wait_frees(2);
}

/* A client that reads a little and goes away: the state is freed once and the server serves on. */
Test(http_stream, a_client_gone_mid_stream_frees_the_stream_once_and_the_server_serves_on)
{
    for (int round = 0; round < 4; round++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int small = 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(http_server_port(srv))};
        a.sin_addr.s_addr = htonl(0x7f000001);
        cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
        /* Half the rounds go while a chunk is being produced (slow producer), half while one is written. */
        const char *req = round % 2 ? "GET /stream?chunks=100000&delay_us=20000 HTTP/1.1\r\nHost: x\r\n\r\n"
                                    : "GET /stream?chunks=100000 HTTP/1.1\r\nHost: x\r\n\r\n";
        cr_assert_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
        char chunk[8192];
        size_t got = 0;
        while (got < 200000) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            cr_assert_gt(poll(&p, 1, 5000), 0);
            ssize_t r = recv(fd, chunk, sizeof chunk, 0);
            cr_assert_gt(r, 0);
            got += (size_t)r;
        }
        struct linger lin = {1, 0}; /* a reset, as a client that crashes sends */
        if (round >= 2)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
        close(fd);
        wait_frees(round + 1);
    }
    cr_assert_lt(atomic_load(&produced), 100000, "the producer stopped with its client");
    cr_assert(log_has("\"outcome\":\"aborted\""));
    long status;
    sink s;
    cr_assert_eq(fetch("/stream?chunks=3", false, &status, &s), CURLE_OK);
    cr_assert_eq(s.bytes, 3LL * CHUNK);
    wait_frees(5);
}

Test(http_stream, an_error_before_the_first_byte_is_an_error_envelope)
{
    long status;
    sink s;
    cr_assert_eq(fetch("/stream?fail_after=0", false, &status, &s), CURLE_OK);
    cr_assert_eq(status, 503);
    cr_assert(has_header(&s, "content-type: application/json"), "%s", s.headers);
    cr_assert(has_header(&s, "content-length: "), "%s", s.headers);
    wait_frees(1);
    cr_assert_eq(fetch("/ping", false, &status, &s), CURLE_OK);
}

Test(http_stream, an_error_after_the_head_truncates_the_body_visibly)
{
    long status;
    sink s;
    CURLcode rc = fetch("/stream?chunks=50&fail_after=5", false, &status, &s);
    cr_assert_neq(rc, CURLE_OK, "the client must see a broken body, got a complete one of %lld bytes", s.bytes);
    cr_assert_eq(status, 200);
    cr_assert_eq(s.bytes, 5LL * CHUNK);
    wait_frees(1);
    cr_assert(log_has("\"outcome\":\"failed\""));
    cr_assert(log_has("stream failed"));
    cr_assert_eq(fetch("/ping", false, &status, &s), CURLE_OK);
    cr_assert_eq(status, 200);
}

Test(http_stream, head_sends_the_head_only)
{
    long status;
    sink s;
    cr_assert_eq(fetch("/stream?chunks=5", true, &status, &s), CURLE_OK);
    cr_assert_eq(status, 200);
    cr_assert_eq(s.bytes, 0);
    cr_assert(has_header(&s, "transfer-encoding: chunked"), "%s", s.headers);
    cr_assert(has_header(&s, "content-disposition"), "%s", s.headers);
    cr_assert_leq(atomic_load(&produced), 1);
    wait_frees(1);
    cr_assert_eq(fetch("/stream?fail_after=0", true, &status, &s), CURLE_OK);
    cr_assert_eq(status, 503, "HEAD answers as GET would");
    wait_frees(2);
}

Test(http_stream, http_1_0_ends_the_body_by_closing)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(http_server_port(srv))};
    a.sin_addr.s_addr = htonl(0x7f000001);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /stream?chunks=2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    send(fd, req, strlen(req), MSG_NOSIGNAL);
    size_t total = 0;
    char chunk[8192];
    char head[512] = "";
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        cr_assert_gt(poll(&p, 1, 5000), 0, "the server closes after the body");
        ssize_t r = recv(fd, chunk, sizeof chunk, 0);
        if (r <= 0)
            break;
        if (total == 0)
            memcpy(head, chunk, (size_t)r < sizeof head - 1 ? (size_t)r : sizeof head - 1);
        total += (size_t)r;
    }
    close(fd);
    cr_assert(strstr(head, "Connection: close") != NULL, "%s", head);
    cr_assert(strcasestr(head, "transfer-encoding") == NULL, "%s", head);
    cr_assert_gt(total, 2u * CHUNK);
    wait_frees(1);
}

/* A stop while a client reads nothing: past the grace the stream ends, its state freed once. */
Test(http_stream, a_stop_mid_stream_ends_it_within_the_grace)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(http_server_port(srv))};
    a.sin_addr.s_addr = htonl(0x7f000001);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /stream?chunks=100000 HTTP/1.1\r\nHost: x\r\n\r\n";
    send(fd, req, strlen(req), MSG_NOSIGNAL);
    char chunk[4096];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_gt(poll(&p, 1, 5000), 0);
    cr_assert_gt(recv(fd, chunk, sizeof chunk, 0), 0);
    stop_server(300);
    cr_assert_eq(atomic_load(&frees), 1);
    close(fd);
}

/* A client that stops reading: the write deadline (2 s here) ends the stream, with no server stop. */
Test(http_stream, a_client_that_reads_nothing_is_cut_off_by_the_write_deadline)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(http_server_port(srv))};
    a.sin_addr.s_addr = htonl(0x7f000001);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /stream?chunks=100000 HTTP/1.1\r\nHost: x\r\n\r\n";
    send(fd, req, strlen(req), MSG_NOSIGNAL);
    wait_frees(1);
    cr_assert(log_has("write deadline passed"));
    cr_assert(log_has("\"outcome\":\"aborted\""));
    close(fd);
    long status;
    sink s;
    cr_assert_eq(fetch("/ping", false, &status, &s), CURLE_OK);
    cr_assert_eq(status, 200);
}
