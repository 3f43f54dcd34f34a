/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * A small, deterministic fuzzer of the whole server, run by `make test`: raw HTTP requests built
 * from seeds by a seeded mutator (byte flips, insertions of protocol tokens, deletions,
 * duplications, splices, truncations), sent to a server in this process (under ASan and UBSan in
 * the test build), each on its own connection. Every answer must be a well-formed HTTP/1.x
 * response carrying X-Request-Id, an error as the JSON envelope whose request_id is that header,
 * a JSON success with its data; a request left incomplete may get no answer at all. The only
 * answers allowed outside the envelope are the two docs/openapi.yaml lists (a broken chunked body:
 * 400 or 413 in text/plain). STARMETER_FUZZ_SEED and STARMETER_FUZZ_CASES (per thread) change the
 * run; a failure prints the seed, the case and its bytes, so that it replays.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "integration/harness.h"

#define THREADS 4
#define DEFAULT_CASES 750 /* per thread */
#define DEFAULT_SEED 20261201u
#define CASE_MAX 24576
#define ANSWER_MAX (2u << 20)
#define IDLE_MS 50 /* at a response boundary, silence this long ends a case */
#define CASE_DEADLINE_MS 5000
#define BUDGET_MS 30000 /* the run stops early (without failing) past this */

static th_server srv;
static char seeds[16][1024];
static size_t seed_len[16];
static size_t nseeds;

/* xorshift64*: the same seed gives the same cases on every machine. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static const char *const tokens[] = {
    "\r\n",
    "\r\n\r\n",
    " ",
    ":",
    "/",
    "%2e",
    "%2F",
    "%00",
    "..",
    "?",
    "&",
    "=",
    "\t",
    "\x00",
    "\xff",
    "{",
    "}",
    "\"",
    "[",
    "-1",
    "+1",
    "01",
    "99999999999999999999",
    "HTTP/1.0",
    "HTTP/2.0",
    "Content-Length: 5\r\n",
    "Content-Length: 0\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Expect: 100-continue\r\n",
    "0\r\n\r\n",
    "5\r\nhello\r\n",
    "Connection: close\r\n",
    "X-API-Key: ",
    "Authorization: Bearer ",
    "Idempotency-Key: k\r\n",
    "X-Request-Id: r\r\n",
    "sign=leo",
    "week=2026-W53",
    "lang=de",
    "from=2026-02-30",
    "\"name\":",
    "null",
    "true",
    "1e400",
    "\\u0000",
    "\xe2\x80\xae",
    "HEAD",
    "OPTIONS",
    "GET",
    "POST",
};

/*
 * The seeds: @KEY@ is the fuzzed account's API key, @TOKEN@ the admin token, @LEN@ the length of
 * what follows the head.
 */
static const char *const seed_templates[] = {
    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/b2b/me HTTP/1.1\r\nHost: x\r\nX-API-Key: @KEY@\r\n\r\n",
    "GET /v1/b2b/astrology/weekly-by-sign?sign=aries&week=2026-W47&lang=en HTTP/1.1\r\nHost: x\r\n"
    "X-API-Key: @KEY@\r\n\r\n",
    "GET /v1/b2b/usage/summary HTTP/1.1\r\nHost: x\r\nX-API-Key: @KEY@\r\nConnection: close\r\n\r\n",
    "GET /v1/b2b/usage/history?from=2026-11-01&to=2026-11-30 HTTP/1.1\r\nHost: x\r\nX-API-Key: @KEY@\r\n\r\n",
    "GET /v1/b2b/me HTTP/1.1\r\nHost: x\r\nX-API-Key: @KEY@\r\nIdempotency-Key: fuzz-1\r\n\r\n",
    "HEAD /v1/b2b/me HTTP/1.1\r\nHost: x\r\nX-API-Key: @KEY@\r\n\r\n",
    "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer @TOKEN@\r\n"
    "Content-Type: application/json\r\nContent-Length: @LEN@\r\n\r\n{\"name\":\"Fuzz\"}",
    "PATCH /v1/admin/accounts/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer @TOKEN@\r\n"
    "Content-Length: @LEN@\r\n\r\n{\"status\":\"active\"}",
    "PUT /v1/admin/accounts/1/contract HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer @TOKEN@\r\n"
    "Content-Length: @LEN@\r\n\r\n{\"plan_code\":\"fz\",\"timezone\":\"Europe/Paris\"}",
    "POST /v1/admin/plans HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer @TOKEN@\r\nContent-Length: @LEN@\r\n\r\n"
    "{\"code\":\"p1\",\"name\":\"P\",\"daily_limit\":10,\"limit_mode\":\"overage\",\"overage_cap\":5}",
    "POST /v1/admin/accounts/1/credentials HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer @TOKEN@\r\n"
    "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\nd\r\n{\"label\":\"f\"}\r\n0\r\n\r\n",
    "GET /v1/admin/audit?limit=5&action=account.create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer @TOKEN@\r\n\r\n",
    "GET /metrics HTTP/1.0\r\n\r\n",
};

/* Appends `text` (n bytes) to the seed being built; the seeds are small, their buffer is checked. */
static void seed_put(const char *text, size_t n)
{
    cr_assert(seed_len[nseeds] + n < sizeof seeds[0]);
    memcpy(seeds[nseeds] + seed_len[nseeds], text, n);
    seed_len[nseeds] += n;
}

static void make_seeds(const char *key)
{
    nseeds = 0;
    for (size_t t = 0; t < sizeof seed_templates / sizeof seed_templates[0]; t++) {
        cr_assert(nseeds < sizeof seeds / sizeof seeds[0]);
        const char *in = seed_templates[t];
        const char *body = strstr(in, "\r\n\r\n");
        seed_len[nseeds] = 0;
        while (*in) {
            if (strncmp(in, "@KEY@", 5) == 0) {
                seed_put(key, strlen(key));
                in += 5;
            } else if (strncmp(in, "@TOKEN@", 7) == 0) {
                seed_put(TH_ADMIN_TOKEN, strlen(TH_ADMIN_TOKEN));
                in += 7;
            } else if (strncmp(in, "@LEN@", 5) == 0) {
                char len[24];
                int n = snprintf(len, sizeof len, "%zu", strlen(body + 4));
                seed_put(len, (size_t)n);
                in += 5;
            } else {
                seed_put(in++, 1);
            }
        }
        nseeds++;
    }
}

/* One mutation of buf[*len] (capacity CASE_MAX). */
static void mutate(uint64_t *s, char *buf, size_t *len)
{
    size_t n = *len;
    size_t at = n ? (size_t)(rnd(s) % (n + 1)) : 0;
    switch (rnd(s) % 8) {
    case 0: /* flip a bit */
        if (n)
            buf[at % n] ^= (char)(1u << (rnd(s) % 8));
        break;
    case 1: /* a random byte in */
        if (n < CASE_MAX) {
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = (char)rnd(s);
            n++;
        }
        break;
    case 2: /* a range out */
        if (n) {
            size_t k = 1 + (size_t)(rnd(s) % 16);
            at %= n;
            if (k > n - at)
                k = n - at;
            memmove(buf + at, buf + at + k, n - at - k);
            n -= k;
        }
        break;
    case 3:
    case 4: { /* a protocol token in */
        const char *t = tokens[rnd(s) % (sizeof tokens / sizeof tokens[0])];
        size_t k = t[0] == '\0' ? 1 : strlen(t);
        if (n + k <= CASE_MAX) {
            memmove(buf + at + k, buf + at, n - at);
            memcpy(buf + at, t, k);
            n += k;
        }
        break;
    }
    case 5: { /* a range doubled */
        if (!n)
            break;
        at %= n;
        size_t k = 1 + (size_t)(rnd(s) % 64);
        if (k > n - at)
            k = n - at;
        if (rnd(s) % 16 == 0)
            k = n - at; /* sometimes the whole tail: a pipelined second request */
        if (n + k <= CASE_MAX) {
            memmove(buf + at + k, buf + at, n - at); /* [at, at + k) is left as it was: now twice */
            n += k;
        }
        break;
    }
    case 6: { /* another seed spliced in */
        size_t i = (size_t)(rnd(s) % nseeds);
        size_t from = (size_t)(rnd(s) % (seed_len[i] + 1));
        size_t k = seed_len[i] - from;
        if (at + k <= CASE_MAX) {
            memcpy(buf + at, seeds[i] + from, k);
            n = at + k;
        }
        break;
    }
    default: /* cut, or rarely a long run (headers too large) */
        if (rnd(s) % 8 == 0 && n + 17000 <= CASE_MAX) {
            memmove(buf + at + 17000, buf + at, n - at);
            memset(buf + at, 'A', 17000);
            n += 17000;
        } else {
            n = at;
        }
        break;
    }
    *len = n;
}

typedef struct parsed {
    size_t used;     /* bytes of complete responses */
    int responses;   /* complete responses */
    bool incomplete; /* the stream ends inside a response */
    char why[256];   /* the first violation; "" when none */
} parsed;

/* The value of header `name` in head[0, len) into v[cap]; false when absent. */
static bool head_value(const char *head, size_t len, const char *name, char *v, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = memchr(head, '\n', len); p != NULL && (size_t)(p - head) + 1 < len;
         p = memchr(p + 1, '\n', len - (size_t)(p + 1 - head))) {
        const char *line = p + 1;
        if ((size_t)(head + len - line) > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *s = line + n + 1;
            while (*s == ' ')
                s++;
            size_t k = strcspn(s, "\r\n");
            if (k >= cap)
                k = cap - 1;
            memcpy(v, s, k);
            v[k] = '\0';
            return true;
        }
    }
    return false;
}

/* Checks an error or success body against the envelope. */
static void check_body(int status, const char *body, size_t len, const char *rid, parsed *p)
{
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    if (j == NULL) {
        snprintf(p->why, sizeof p->why, "%d: body is not JSON: %s", status, je.text);
        return;
    }
    if (status >= 400) {
        json_t *e = json_object_get(j, "error");
        if (!json_is_string(json_object_get(e, "code")) || !json_is_string(json_object_get(e, "message")) ||
            !json_is_object(json_object_get(e, "details")) || !json_is_string(json_object_get(e, "request_id")))
            snprintf(p->why, sizeof p->why, "%d: not the error envelope", status);
        else if (strcmp(json_string_value(json_object_get(e, "request_id")), rid) != 0)
            snprintf(p->why, sizeof p->why, "%d: request_id differs from X-Request-Id", status);
    } else if (json_object_get(j, "data") == NULL) {
        snprintf(p->why, sizeof p->why, "%d: success without data", status);
    }
    json_decref(j);
}

/* Parses the responses in out[0, len); `closed`: the server closed the connection after them. */
static void parse_answers(const char *out, size_t len, bool closed, bool head_seen, bool chunked_sent, parsed *p)
{
    memset(p, 0, sizeof *p);
    size_t at = 0;
    while (at < len && p->why[0] == '\0') {
        const char *r = out + at;
        size_t left = len - at;
        const char *end = NULL;
        for (size_t i = 0; i + 3 < left && end == NULL; i++)
            if (memcmp(r + i, "\r\n\r\n", 4) == 0)
                end = r + i;
        if (end == NULL) {
            p->incomplete = true;
            if (left >= 9 && strncmp(r, "HTTP/1.", 7) != 0)
                snprintf(p->why, sizeof p->why, "not an HTTP response");
            return;
        }
        size_t hlen = (size_t)(end - r) + 4;
        if (hlen < 13 || strncmp(r, "HTTP/1.", 7) != 0 || (r[7] != '0' && r[7] != '1') || r[8] != ' ' || r[9] < '1' ||
            r[9] > '5' || r[10] < '0' || r[10] > '9' || r[11] < '0' || r[11] > '9' || r[12] != ' ') {
            snprintf(p->why, sizeof p->why, "malformed status line");
            return;
        }
        int status = (r[9] - '0') * 100 + (r[10] - '0') * 10 + (r[11] - '0');
        if (status == 100) {
            at += hlen;
            p->used = at;
            continue;
        }
        char rid[128], ctype[128], clen[32];
        bool has_rid = head_value(r, hlen, "x-request-id", rid, sizeof rid);
        bool has_ctype = head_value(r, hlen, "content-type", ctype, sizeof ctype);
        bool has_clen = head_value(r, hlen, "content-length", clen, sizeof clen);
        bool plain = has_ctype && strncmp(ctype, "text/plain", 10) == 0;
        if (plain && chunked_sent && (status == 400 || status == 413)) {
            /* h2o's own refusals of a broken chunked body (docs/openapi.yaml); it closes after them. */
            p->used = len;
            p->responses++;
            return;
        }
        if (!has_rid) {
            snprintf(p->why, sizeof p->why, "%d without X-Request-Id", status);
            return;
        }
        if (head_seen) { /* a HEAD answer has no body, whatever its Content-Length: stop here */
            p->used = len;
            p->responses++;
            return;
        }
        size_t blen;
        if (has_clen) {
            char *e;
            unsigned long long v = strtoull(clen, &e, 10);
            if (*e != '\0' || v > ANSWER_MAX) {
                snprintf(p->why, sizeof p->why, "%d: Content-Length %s", status, clen);
                return;
            }
            blen = (size_t)v;
        } else if (closed) {
            blen = left - hlen;
        } else {
            p->incomplete = true;
            return;
        }
        if (left - hlen < blen) {
            p->incomplete = true;
            return;
        }
        if (status >= 400 || (has_ctype && strncmp(ctype, "application/json", 16) == 0)) {
            if (!has_ctype || strncmp(ctype, "application/json", 16) != 0) {
                snprintf(p->why, sizeof p->why, "%d answered as %s", status, has_ctype ? ctype : "no type");
                return;
            }
            check_body(status, r + hlen, blen, rid, p);
        }
        at += hlen + blen;
        p->used = at;
        p->responses++;
    }
}

typedef struct failure {
    bool failed;
    unsigned long long seed;
    int index;
    char why[256];
    char bytes[CASE_MAX * 4 + 1]; /* the case, escaped */
} failure;

static void escape_into(char *dst, size_t cap, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            dst[o++] = (char)c;
        else
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
    }
    dst[o] = '\0';
}

/* Sends one case and reads its answers; "" in why when they are well-formed. */
static void run_case(const char *req, size_t len, char *answer, char *why, size_t cap)
{
    why[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        snprintf(why, cap, "socket: %s", strerror(errno));
        return;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(app_port(srv.app))};
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(why, cap, "connect: %s", strerror(errno));
        close(fd);
        return;
    }
    /* The server may answer and close before it has read everything: a failed send is no finding. */
    for (size_t sent = 0; sent < len;) {
        ssize_t k = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        sent += (size_t)k;
    }
    bool head_seen = false, chunked_sent = false;
    for (size_t i = 0; i + 4 <= len && !head_seen; i++)
        head_seen = memcmp(req + i, "HEAD", 4) == 0;
    for (size_t i = 0; i + 7 <= len && !chunked_sent; i++)
        chunked_sent = strncasecmp(req + i, "chunked", 7) == 0;
    size_t got = 0;
    bool closed = false;
    parsed p = {0};
    uint64_t deadline = clock_mono_ns() + (uint64_t)CASE_DEADLINE_MS * 1000000u;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int ready = poll(&pf, 1, IDLE_MS);
        if (ready > 0) {
            ssize_t k = recv(fd, answer + got, ANSWER_MAX - got, 0);
            if (k <= 0) {
                closed = true;
                break;
            }
            got += (size_t)k;
            if (got == ANSWER_MAX)
                break;
            continue;
        }
        parse_answers(answer, got, false, head_seen, chunked_sent, &p);
        if (p.why[0] != '\0' || !p.incomplete || clock_mono_ns() > deadline)
            break;
    }
    close(fd);
    parse_answers(answer, got, closed, head_seen, chunked_sent, &p);
    if (p.why[0] != '\0')
        snprintf(why, cap, "%s", p.why);
    else if (p.incomplete)
        snprintf(why, cap, "an incomplete response (%zu bytes, %s)", got, closed ? "closed" : "open");
}

typedef struct worker {
    unsigned long long seed;
    int cases;
    uint64_t stop_at;
    int ran;
    failure *f;
} worker;

static void *fuzz_main(void *arg)
{
    worker *w = arg;
    char *buf = malloc(CASE_MAX);
    char *answer = malloc(ANSWER_MAX);
    uint64_t s = w->seed * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < w->cases && clock_mono_ns() < w->stop_at; i++) {
        size_t k = (size_t)(rnd(&s) % nseeds);
        size_t len = seed_len[k];
        memcpy(buf, seeds[k], len);
        int ops = 1 + (int)(rnd(&s) % 4);
        for (int m = 0; m < ops; m++)
            mutate(&s, buf, &len);
        char why[256];
        run_case(buf, len, answer, why, sizeof why);
        w->ran++;
        if (why[0] != '\0') {
            w->f->failed = true;
            w->f->seed = w->seed;
            w->f->index = i;
            snprintf(w->f->why, sizeof w->f->why, "%s", why);
            escape_into(w->f->bytes, sizeof w->f->bytes, buf, len);
            break;
        }
    }
    free(buf);
    free(answer);
    return NULL;
}

static unsigned long long env_number(const char *name, unsigned long long def)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return def;
    char *e;
    unsigned long long n = strtoull(v, &e, 10);
    return *e == '\0' ? n : def;
}

Test(fuzz_http, mutated_requests_get_well_formed_answers, .timeout = 120)
{
    if (th_store_is_postgres())
        cr_skip_test("the HTTP edge does not depend on the store: run once, on SQLite");
    th_start(&srv, NULL);
    th_response r;
    cr_assert_eq(th_admin(&srv, "POST", "/v1/admin/plans",
                          "{\"code\":\"fz\",\"name\":\"F\",\"daily_limit\":100000000,\"rate_per_second\":100000,"
                          "\"burst\":100000,\"credential_rate_per_second\":100000,\"credential_burst\":100000}",
                          &r),
                 201, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"Fuzz\"}", &r), 201, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(th_admin(&srv, "PUT", "/v1/admin/accounts/1/contract", "{\"plan_code\":\"fz\"}", &r), 200, "%s",
                 r.body);
    th_response_free(&r);
    cr_assert_eq(th_admin(&srv, "POST", "/v1/admin/accounts/1/credentials", "{\"label\":\"k\"}", &r), 201, "%s",
                 r.body);
    char key[80];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    th_response_free(&r);
    make_seeds(key);

    /* The seeds themselves pass, so that the checks are known to accept what is right. */
    char *answer = malloc(ANSWER_MAX);
    for (size_t i = 0; i < nseeds; i++) {
        char why[256];
        run_case(seeds[i], seed_len[i], answer, why, sizeof why);
        cr_assert_eq(why[0], '\0', "seed %zu: %s", i, why);
    }
    free(answer);

    unsigned long long seed = env_number("STARMETER_FUZZ_SEED", DEFAULT_SEED);
    int cases = (int)env_number("STARMETER_FUZZ_CASES", DEFAULT_CASES);
    pthread_t t[THREADS];
    worker w[THREADS];
    failure *f = calloc(THREADS, sizeof *f);
    uint64_t stop_at = clock_mono_ns() + (uint64_t)BUDGET_MS * 1000000u;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.seed = seed + (unsigned long long)i, .cases = cases, .stop_at = stop_at, .f = &f[i]};
        pthread_create(&t[i], NULL, fuzz_main, &w[i]);
    }
    int ran = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ran += w[i].ran;
    }
    for (int i = 0; i < THREADS; i++)
        cr_assert(!f[i].failed, "STARMETER_FUZZ_SEED=%llu, case %d: %s\n%s", f[i].seed, f[i].index, f[i].why,
                  f[i].bytes);
    free(f);
    cr_log_info("%d fuzzed requests", ran);
    th_request(&srv, "GET", "/healthz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "the server no longer answers after the fuzz");
    th_response_free(&r);
    th_stop(&srv);
}
