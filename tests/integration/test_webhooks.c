/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Webhooks end to end: a real server posts to a tiny HTTP receiver on loopback, written here, that
 * answers what each test tells it to (or nothing at all). Signatures are checked with libsodium
 * directly, not with the server's signing code. On a frozen test clock: a retry falls due only
 * when the test moves the clock, so backoff is shown without waiting for it.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "integration/harness.h"

/* 2026-11-18T11:06:40Z */
#define T0 1795000000000LL
#define HOUR_MS (3600LL * 1000)

/* ---- the receiver ---- */

#define RX_MAX 32

typedef struct rx_request {
    char id[128], timestamp[32], signature[256], content_type[64];
    char body[4096];
} rx_request;

typedef struct receiver {
    int fd;
    uint16_t port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    /* The status to answer request i with: statuses[i], the last one repeating; 0: never answer. */
    int statuses[8];
    size_t nstatuses;
    rx_request reqs[RX_MAX];
    size_t nreqs;
    int hung[RX_MAX]; /* connections left unanswered, closed at the end */
    size_t nhung;
} receiver;

/* Copies the value of header `name` (case-insensitive) from the header block into out. */
static void header_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = head; (p = strstr(p, "\r\n")) != NULL;) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)(len < cap ? len : cap - 1), v);
            return;
        }
    }
}

static void serve_one(receiver *rx, int c)
{
    char buf[16384];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof buf - 1 && (end = strstr(buf, "\r\n\r\n")) == NULL) {
        struct pollfd pfd = {c, POLLIN, 0};
        if (poll(&pfd, 1, 2000) <= 0)
            break;
        ssize_t n = read(c, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    if (end == NULL) {
        close(c);
        return;
    }
    *end = '\0';
    char cl[16];
    header_value(buf, "content-length", cl, sizeof cl);
    size_t want = strtoul(cl, NULL, 10), have = len - (size_t)(end + 4 - buf);
    while (have < want && len < sizeof buf - 1) {
        ssize_t n = read(c, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        have += (size_t)n;
    }
    buf[len] = '\0';
    pthread_mutex_lock(&rx->mu);
    size_t i = rx->nreqs;
    int status = rx->statuses[i < rx->nstatuses ? i : rx->nstatuses - 1];
    if (i < RX_MAX) {
        rx_request *r = &rx->reqs[i];
        header_value(buf, "webhook-id", r->id, sizeof r->id);
        header_value(buf, "webhook-timestamp", r->timestamp, sizeof r->timestamp);
        header_value(buf, "webhook-signature", r->signature, sizeof r->signature);
        header_value(buf, "content-type", r->content_type, sizeof r->content_type);
        snprintf(r->body, sizeof r->body, "%.*s", (int)want, end + 4);
        rx->nreqs++;
    }
    if (status == 0 && rx->nhung < RX_MAX) {
        rx->hung[rx->nhung++] = c;
        pthread_mutex_unlock(&rx->mu);
        return;
    }
    pthread_mutex_unlock(&rx->mu);
    char reply[128];
    int n = snprintf(reply, sizeof reply, "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);
    ssize_t w = write(c, reply, (size_t)n);
    (void)w;
    close(c);
}

static void *rx_main(void *arg)
{
    receiver *rx = arg;
    while (!atomic_load(&rx->stop)) {
        struct pollfd pfd = {rx->fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int c = accept(rx->fd, NULL, NULL);
        if (c >= 0)
            serve_one(rx, c);
    }
    return NULL;
}

static void rx_start(receiver *rx, int first_status)
{
    memset(rx, 0, sizeof *rx);
    rx->statuses[0] = first_status;
    rx->nstatuses = 1;
    pthread_mutex_init(&rx->mu, NULL);
    rx->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(rx->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(rx->fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(rx->fd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(rx->fd, (struct sockaddr *)&a, &al);
    rx->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&rx->thread, NULL, rx_main, rx), 0);
}

/* Answers the next requests with these statuses (the last repeating). */
static void rx_answer(receiver *rx, const int *statuses, size_t n)
{
    pthread_mutex_lock(&rx->mu);
    size_t base = rx->nreqs;
    for (size_t i = 0; i < sizeof rx->statuses / sizeof rx->statuses[0]; i++)
        rx->statuses[i] = i < base ? 200 : statuses[i - base < n ? i - base : n - 1];
    rx->nstatuses = sizeof rx->statuses / sizeof rx->statuses[0];
    pthread_mutex_unlock(&rx->mu);
}

static size_t rx_count(receiver *rx)
{
    pthread_mutex_lock(&rx->mu);
    size_t n = rx->nreqs;
    pthread_mutex_unlock(&rx->mu);
    return n;
}

static void rx_stop(receiver *rx)
{
    atomic_store(&rx->stop, true);
    pthread_join(rx->thread, NULL);
    for (size_t i = 0; i < rx->nhung; i++)
        close(rx->hung[i]);
    close(rx->fd);
    pthread_mutex_destroy(&rx->mu);
}

/* ---- the server ---- */

static th_server srv;
static app_clock tclock;
static store *st; /* the server's database, through a connection of the test's own */

static void tune_private(app_config *cfg)
{
    cfg->webhooks_allow_private = 1;
    cfg->webhooks_retry_base_ms = 50;
    cfg->webhooks_retry_max_ms = 100;
    cfg->webhooks_timeout_ms = 400;
}

static void start(bool allow_private)
{
    cr_assert_geq(sodium_init(), 0);
    clock_test_init(&tclock, T0);
    th_opts o = {.clock = &tclock, .tune = allow_private ? tune_private : NULL};
    th_start(&srv, &o);
    st = th_store_open(&srv);
}

static void setup_private(void)
{
    start(true);
}

static void setup_public(void)
{
    start(false);
}

static void teardown(void)
{
    store_close(st);
    th_stop(&srv);
}

TestSuite(webhooks, .init = setup_private, .fini = teardown, .timeout = 120);
TestSuite(webhooks_public_only, .init = setup_public, .fini = teardown, .timeout = 120);

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static int64_t make_account(void)
{
    th_response r;
    cr_assert_eq(th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"Hooked\"}", &r), 201, "%s", r.body);
    int64_t id = json_integer_value(json_object_get(th_data(&r), "id"));
    th_response_free(&r);
    return id;
}

/* Creates an endpoint on `url`; its id, and its secret into secret[96]. */
static int64_t make_webhook(int64_t acc, const char *url, char secret[96])
{
    char path[96], body[512];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/webhooks", (long long)acc);
    snprintf(body, sizeof body, "{\"url\":\"%s\",\"events\":[\"usage.threshold\"]}", url);
    th_response r;
    cr_assert_eq(th_admin(&srv, "POST", path, body, &r), 201, "%s", r.body);
    json_t *d = th_data(&r);
    snprintf(secret, 96, "%s", json_string_value(json_object_get(d, "secret")));
    cr_assert_eq(strncmp(secret, "whsec_", 6), 0, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(d, "status")), "active");
    int64_t id = json_integer_value(json_object_get(d, "id"));
    th_response_free(&r);
    return id;
}

static int64_t receiver_webhook(int64_t acc, const receiver *rx, char secret[96])
{
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/hooks/starmeter", (unsigned)rx->port);
    return make_webhook(acc, url, secret);
}

#define EVENT_BODY                                                                                                     \
    "{\"type\":\"usage.threshold\",\"timestamp\":\"2026-11-18T11:06:40Z\",\"data\":{\"account_id\":1,"                 \
    "\"period\":\"day\",\"period_start\":\"2026-11-18\",\"threshold\":80,\"used\":800,\"limit\":1000,"                 \
    "\"at\":\"2026-11-18T11:06:40Z\"}}"

/* Writes an event to the outbox as the threshold events will, and wakes the sender. */
static size_t enqueue(int64_t acc, const char *msg_id)
{
    app_err err;
    app_err_clear(&err);
    size_t n = 0;
    cr_assert_eq(store_webhook_enqueue(st, acc, "usage.threshold", msg_id, EVENT_BODY, clock_now_ms(&tclock), &n, &err),
                 0, "%s", err.message);
    app_webhooks_kick(srv.app);
    return n;
}

static void wait_requests(receiver *rx, size_t want)
{
    for (int i = 0; i < 1000 && rx_count(rx) < want; i++)
        sleep_ms(10);
    cr_assert_geq(rx_count(rx), want, "the receiver got %zu requests, expected %zu", rx_count(rx), want);
}

/* The endpoint's deliveries (a new reference), polled until the newest has `attempts` attempts recorded. */
static json_t *wait_attempts(int64_t wh, int64_t attempts)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/admin/webhooks/%lld/deliveries", (long long)wh);
    for (int i = 0; i < 1000; i++) {
        th_response r;
        cr_assert_eq(th_admin(&srv, "GET", path, NULL, &r), 200, "%s", r.body);
        json_t *items = json_incref(json_object_get(th_data(&r), "items"));
        th_response_free(&r);
        json_t *d = json_array_get(items, 0);
        if (d != NULL && json_integer_value(json_object_get(d, "attempt_count")) >= attempts)
            return items;
        json_decref(items);
        sleep_ms(10);
    }
    cr_assert_fail("no delivery of webhook %lld reached %lld attempts", (long long)wh, (long long)attempts);
    return NULL;
}

/* Moves the clock past any retry the sender scheduled (retries wait at most 100 ms here) and wakes it. */
static void next_retry(void)
{
    clock_test_advance(&tclock, 101);
    app_webhooks_kick(srv.app);
}

/* Checks one "v1,<b64>" signature of a received request, with libsodium, independently of the server's code. */
static bool signature_ok(const rx_request *r, const char *secret, const char *sig)
{
    unsigned char key[64], mac[crypto_auth_hmacsha256_BYTES];
    size_t klen;
    const char *b64 = secret + strlen("whsec_");
    if (sodium_base642bin(key, sizeof key, b64, strlen(b64), NULL, &klen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    char signed_content[8192];
    int n = snprintf(signed_content, sizeof signed_content, "%s.%s.%s", r->id, r->timestamp, r->body);
    crypto_auth_hmacsha256_state s;
    crypto_auth_hmacsha256_init(&s, key, klen);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)signed_content, (unsigned long long)n);
    crypto_auth_hmacsha256_final(&s, mac);
    char expected[128] = "v1,";
    sodium_bin2base64(expected + 3, sizeof expected - 3, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    return strcmp(expected, sig) == 0;
}

static json_t *attempt_at(json_t *deliveries, size_t i)
{
    return json_array_get(json_object_get(json_array_get(deliveries, 0), "attempts"), i);
}

/* ---- tests ---- */

Test(webhooks, a_delivery_is_signed_retried_after_500s_and_delivered)
{
    receiver rx;
    rx_start(&rx, 500);
    int answers[] = {500, 500, 200};
    rx_answer(&rx, answers, 3);
    int64_t acc = make_account();
    char secret[96];
    int64_t wh = receiver_webhook(acc, &rx, secret);
    cr_assert_eq(enqueue(acc, "msg_2SxHb5mT0A8cQ1"), 1);

    wait_requests(&rx, 1);
    json_t *d = wait_attempts(wh, 1);
    rx_request *r = &rx.reqs[0];
    cr_assert_str_eq(r->id, "msg_2SxHb5mT0A8cQ1");
    cr_assert_str_eq(r->content_type, "application/json");
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)(T0 / 1000));
    cr_assert_str_eq(r->timestamp, ts, "the attempt's time, in seconds, from the server's clock");
    cr_assert_str_eq(r->body, EVENT_BODY, "the body as written to the outbox");
    cr_assert_eq(strchr(r->signature, ' '), NULL, "one secret, one signature: %s", r->signature);
    cr_assert(signature_ok(r, secret, r->signature), "signature %s does not verify", r->signature);
    json_t *first = json_array_get(d, 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "status")), "pending");
    cr_assert_eq(json_integer_value(json_object_get(attempt_at(d, 0), "http_status")), 500);
    cr_assert_str_eq(json_string_value(json_object_get(attempt_at(d, 0), "error")), "HTTP 500");
    cr_assert(json_is_string(json_object_get(first, "next_attempt_at")));
    json_decref(d);

    /* Nothing more until the clock reaches the retry. */
    app_webhooks_kick(srv.app);
    sleep_ms(200);
    cr_assert_eq(rx_count(&rx), 1, "a retry waits for its time");

    next_retry();
    wait_requests(&rx, 2);
    json_decref(wait_attempts(wh, 2));
    cr_assert_str_eq(rx.reqs[1].id, "msg_2SxHb5mT0A8cQ1", "the same webhook-id on every attempt");
    cr_assert(signature_ok(&rx.reqs[1], secret, rx.reqs[1].signature));
    next_retry();
    wait_requests(&rx, 3);
    d = wait_attempts(wh, 3);
    first = json_array_get(d, 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "status")), "delivered");
    cr_assert(json_is_null(json_object_get(first, "next_attempt_at")));
    cr_assert_eq(json_array_size(json_object_get(first, "attempts")), 3);
    cr_assert_eq(json_integer_value(json_object_get(attempt_at(d, 2), "http_status")), 200);
    cr_assert(json_is_null(json_object_get(attempt_at(d, 2), "error")));
    cr_assert(json_is_integer(json_object_get(attempt_at(d, 2), "latency_ms")));
    json_decref(d);

    th_response m;
    th_request(&srv, "GET", "/metrics", NULL, NULL, &m);
    cr_assert(strstr(m.body, "b2b_webhook_deliveries_total{outcome=\"retry\"} 2") != NULL, "%s", m.body);
    cr_assert(strstr(m.body, "b2b_webhook_deliveries_total{outcome=\"delivered\"} 1") != NULL);
    cr_assert(strstr(m.body, "whsec_") == NULL);
    th_response_free(&m);
    sleep_ms(100);
    cr_assert_eq(rx_count(&rx), 3, "delivered: never sent again");
    rx_stop(&rx);
    char *log = th_read_file(srv.log_path, NULL);
    cr_assert(strstr(log, secret + 6) == NULL, "the secret is never logged");
    free(log);
}

Test(webhooks, a_receiver_that_never_answers_times_out_and_is_retried)
{
    receiver rx;
    rx_start(&rx, 0);
    int64_t acc = make_account();
    char secret[96];
    int64_t wh = receiver_webhook(acc, &rx, secret);
    enqueue(acc, "msg_timeout_1");
    json_t *d = wait_attempts(wh, 1);
    json_t *a = attempt_at(d, 0);
    cr_assert(json_is_null(json_object_get(a, "http_status")), "no response, no status");
    const char *error = json_string_value(json_object_get(a, "error"));
    cr_assert(error != NULL && strstr(error, "timed out") != NULL, "error: %s", error ? error : "(null)");
    cr_assert_geq(json_integer_value(json_object_get(a, "latency_ms")), 300);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, 0), "status")), "pending", "retried");
    json_decref(d);

    int ok[] = {204};
    rx_answer(&rx, ok, 1);
    next_retry();
    d = wait_attempts(wh, 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, 0), "status")), "delivered");
    json_decref(d);
    rx_stop(&rx);
}

Test(webhooks, during_a_rotation_both_secrets_sign_and_afterwards_only_the_new_one)
{
    receiver rx;
    rx_start(&rx, 200);
    int64_t acc = make_account();
    char old_secret[96], new_secret[96];
    int64_t wh = receiver_webhook(acc, &rx, old_secret);
    char path[96];
    snprintf(path, sizeof path, "/v1/admin/webhooks/%lld/rotate-secret", (long long)wh);
    th_response r;
    cr_assert_eq(th_admin(&srv, "POST", path, NULL, &r), 201, "%s", r.body);
    snprintf(new_secret, sizeof new_secret, "%s", json_string_value(json_object_get(th_data(&r), "secret")));
    cr_assert_str_neq(new_secret, old_secret);
    cr_assert(json_is_string(json_object_get(th_data(&r), "previous_secret_expires_at")));
    th_response_free(&r);

    enqueue(acc, "msg_rot_1");
    wait_requests(&rx, 1);
    char sigs[256], *space;
    snprintf(sigs, sizeof sigs, "%s", rx.reqs[0].signature);
    cr_assert_not_null(space = strchr(sigs, ' '), "two signatures during the window: %s", sigs);
    *space = '\0';
    cr_assert(signature_ok(&rx.reqs[0], new_secret, sigs), "the first is the new secret's");
    cr_assert(signature_ok(&rx.reqs[0], old_secret, space + 1), "the second is the old secret's");

    clock_test_advance(&tclock, 24 * HOUR_MS + 1000);
    enqueue(acc, "msg_rot_2");
    wait_requests(&rx, 2);
    cr_assert_eq(strchr(rx.reqs[1].signature, ' '), NULL, "after 24 h only one: %s", rx.reqs[1].signature);
    cr_assert(signature_ok(&rx.reqs[1], new_secret, rx.reqs[1].signature));
    cr_assert_not(signature_ok(&rx.reqs[1], old_secret, rx.reqs[1].signature));
    rx_stop(&rx);
}

Test(webhooks, a_disabled_endpoint_gets_nothing)
{
    receiver on, off;
    rx_start(&on, 200);
    rx_start(&off, 200);
    int64_t acc = make_account();
    char secret[96];
    receiver_webhook(acc, &on, secret);
    int64_t wh_off = receiver_webhook(acc, &off, secret);
    char path[96];
    snprintf(path, sizeof path, "/v1/admin/webhooks/%lld", (long long)wh_off);
    th_response r;
    cr_assert_eq(th_admin(&srv, "PATCH", path, "{\"status\":\"disabled\"}", &r), 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(th_data(&r), "status")), "disabled");
    th_response_free(&r);
    cr_assert_eq(enqueue(acc, "msg_dis_1"), 1, "only the active endpoint gets a delivery");
    wait_requests(&on, 1);
    sleep_ms(200);
    cr_assert_eq(rx_count(&off), 0);
    rx_stop(&on);
    rx_stop(&off);
}

Test(webhooks, a_failed_delivery_is_sent_again_on_request)
{
    receiver rx;
    rx_start(&rx, 503);
    int64_t acc = make_account();
    char secret[96];
    int64_t wh = receiver_webhook(acc, &rx, secret);
    enqueue(acc, "msg_fail_1");
    json_decref(wait_attempts(wh, 1));
    /* Past the retry window: the next attempt is the last. */
    clock_test_advance(&tclock, 25 * HOUR_MS);
    app_webhooks_kick(srv.app);
    json_t *d = wait_attempts(wh, 2);
    json_t *first = json_array_get(d, 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "status")), "failed");
    int64_t did = json_integer_value(json_object_get(first, "id"));
    json_decref(d);

    th_response m;
    th_request(&srv, "GET", "/metrics", NULL, NULL, &m);
    cr_assert(strstr(m.body, "b2b_webhook_deliveries_total{outcome=\"failed\"} 1") != NULL, "%s", m.body);
    th_response_free(&m);

    int ok[] = {200};
    rx_answer(&rx, ok, 1);
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/webhooks/%lld/deliveries/%lld/resend", (long long)wh, (long long)did);
    th_response r;
    cr_assert_eq(th_admin(&srv, "POST", path, NULL, &r), 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(th_data(&r), "id")), did);
    th_response_free(&r);
    d = wait_attempts(wh, 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, 0), "status")), "delivered");
    json_decref(d);
    cr_assert_eq(rx_count(&rx), 3);

    th_admin(&srv, "POST", path, NULL, &r);
    th_assert_error(&r, 422, "validation_error");
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/webhooks/%lld/deliveries/%lld/resend", (long long)wh, (long long)did + 99);
    th_admin(&srv, "POST", path, NULL, &r);
    th_assert_error(&r, 404, "not_found");
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/audit?action=webhook.resend");
    cr_assert_eq(th_admin(&srv, "GET", path, NULL, &r), 200);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 1, "one resend, one audit event");
    th_response_free(&r);
    rx_stop(&rx);
}

Test(webhooks, endpoints_are_listed_read_and_deleted_without_their_secret)
{
    int64_t acc = make_account();
    char secret[96];
    int64_t wh = make_webhook(acc, "http://127.0.0.1:9/a?token=abc", secret);
    make_webhook(acc, "https://[::1]:8443/b", secret);
    char path[96];
    th_response r;
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/webhooks", (long long)acc);
    cr_assert_eq(th_admin(&srv, "GET", path, NULL, &r), 200, "%s", r.body);
    json_t *items = json_object_get(th_data(&r), "items");
    cr_assert_eq(json_array_size(items), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "url")),
                     "http://127.0.0.1:9/a?token=abc");
    cr_assert(strstr(r.body, "whsec_") == NULL && strstr(r.body, "secret\"") == NULL, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(json_array_get(items, 0), "events"), 0)),
                     "usage.threshold");
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/webhooks/%lld", (long long)wh);
    cr_assert_eq(th_admin(&srv, "GET", path, NULL, &r), 200, "%s", r.body);
    cr_assert(strstr(r.body, "whsec_") == NULL);
    th_response_free(&r);
    cr_assert_eq(th_admin(&srv, "GET", "/v1/admin/audit?action=webhook.create", NULL, &r), 200);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 2);
    cr_assert(strstr(r.body, "token=abc") == NULL, "the audit keeps the origin, not a query's token");
    th_response_free(&r);
    cr_assert_eq(th_admin(&srv, "DELETE", path, NULL, &r), 200, "%s", r.body);
    th_response_free(&r);
    th_admin(&srv, "GET", path, NULL, &r);
    th_assert_error(&r, 404, "not_found");
    th_response_free(&r);
    th_admin(&srv, "DELETE", path, NULL, &r);
    th_assert_error(&r, 404, "not_found");
    th_response_free(&r);
    th_admin(&srv, "GET", "/v1/admin/webhooks/01", NULL, &r);
    th_assert_error(&r, 404, "not_found");
    th_response_free(&r);
    th_admin(&srv, "POST", "/v1/admin/accounts/999999/webhooks",
             "{\"url\":\"http://127.0.0.1:9/\",\"events\":[\"usage.threshold\"]}", &r);
    th_assert_error(&r, 404, "not_found");
    th_response_free(&r);
}

/* A body and the field its 422 must name. */
static void expect_refused(int64_t acc, const char *body, const char *field)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/webhooks", (long long)acc);
    th_response r;
    th_admin(&srv, "POST", path, body, &r);
    th_assert_error(&r, 422, "validation_error");
    json_t *fields = json_object_get(json_object_get(json_object_get(r.json, "error"), "details"), "fields");
    cr_assert(strstr(r.body, field) != NULL, "%s: %s", body, r.body);
    (void)fields;
    th_response_free(&r);
}

Test(webhooks_public_only, private_addresses_and_hostile_urls_are_refused)
{
    int64_t acc = make_account();
    static const char *const refused[] = {
        "http://127.0.0.1:9/hook", "http://localhost/hook",      "http://10.0.0.1/",  "http://169.254.169.254/latest",
        "http://[::1]/",           "http://100.64.0.1/",         "http://0.0.0.0/",   "http://[fe80::1]/",
        "http://2130706433/",      "http://[::ffff:127.0.0.1]/", "http://224.0.0.1/",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"url\":\"%s\",\"events\":[\"usage.threshold\"]}", refused[i]);
        expect_refused(acc, body, "url");
    }
    expect_refused(acc, "{\"url\":\"ftp://example.com/\",\"events\":[\"usage.threshold\"]}", "url");
    expect_refused(acc, "{\"url\":\"file:///etc/passwd\",\"events\":[\"usage.threshold\"]}", "url");
    expect_refused(acc, "{\"url\":\"https://user:pw@example.com/\",\"events\":[\"usage.threshold\"]}", "url");
    expect_refused(acc, "{\"url\":\"https://example.com/\\r\\nX: 1\",\"events\":[\"usage.threshold\"]}", "url");
    expect_refused(acc, "{\"url\":\"https://\",\"events\":[\"usage.threshold\"]}", "url");
    expect_refused(acc, "{\"url\":42,\"events\":[\"usage.threshold\"]}", "url");
    expect_refused(acc, "{\"events\":[\"usage.threshold\"]}", "url");
    expect_refused(acc, "{\"url\":\"https://example.com/\",\"events\":[\"usage.exploded\"]}", "events");
    expect_refused(acc, "{\"url\":\"https://example.com/\",\"events\":[]}", "events");
    expect_refused(acc, "{\"url\":\"https://example.com/\",\"events\":\"usage.threshold\"}", "events");
    expect_refused(acc, "{\"url\":\"https://example.com/\",\"events\":[\"usage.threshold\",\"usage.threshold\"]}",
                   "events");
    expect_refused(acc, "{\"url\":\"https://example.com/\",\"events\":[\"usage.threshold\"],\"x\":1}", "x");
    char *huge = malloc(2200);
    int n = snprintf(huge, 2200, "{\"url\":\"https://example.com/");
    memset(huge + n, 'a', 2100 - (size_t)n);
    snprintf(huge + 2100, 100, "\",\"events\":[\"usage.threshold\"]}");
    expect_refused(acc, huge, "url");
    free(huge);
    th_response r;
    cr_assert_eq(th_admin(&srv, "GET", "/v1/admin/audit?action=webhook.create", NULL, &r), 200);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 0, "nothing refused was created");
    th_response_free(&r);
}

Test(webhooks_public_only, a_private_address_is_refused_again_at_delivery_time)
{
    /* An endpoint written past the API's check (as if its name had resolved elsewhere when created). */
    receiver rx;
    rx_start(&rx, 200);
    int64_t acc = make_account();
    webhook w = {.account_id = acc, .status = WEBHOOK_ACTIVE, .created_at = T0, .updated_at = T0};
    snprintf(w.url, sizeof w.url, "http://localhost:%u/hook", (unsigned)rx.port);
    snprintf(w.events, sizeof w.events, "usage.threshold");
    snprintf(w.secret, sizeof w.secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    app_err err;
    app_err_clear(&err);
    cr_assert_eq(store_webhook_create(st, &w, NULL, &err), 0, "%s", err.message);
    enqueue(acc, "msg_rebind_1");
    json_t *d = wait_attempts(w.id, 1);
    const char *error = json_string_value(json_object_get(attempt_at(d, 0), "error"));
    cr_assert(error != NULL && strstr(error, "refused to connect to a loopback") != NULL, "%s",
              error ? error : "(null)");
    json_decref(d);
    cr_assert_eq(rx_count(&rx), 0, "no connection was made");
    rx_stop(&rx);
}

/* ---- the usage.threshold event, end to end ---- */

/*
 * Metered calls reach a contract's thresholds; each alert's event goes to the outbox with the count
 * that reached it and arrives once, signed, with the figures the audit trail has. A call past the
 * thresholds raises nothing more, and neither does a second endpoint created afterwards.
 */
Test(webhooks, a_threshold_reached_by_calls_is_delivered_once_signed)
{
    receiver rx;
    rx_start(&rx, 200);
    th_response r;
    cr_assert_eq(th_admin(&srv, "POST", "/v1/admin/plans",
                          "{\"code\":\"hook\",\"name\":\"Hook\",\"daily_limit\":4,\"alert_thresholds\":[50,100]}", &r),
                 201, "%s", r.body);
    th_response_free(&r);
    int64_t acc = make_account();
    char path[128], key[96], secret[96];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", (long long)acc);
    cr_assert_eq(th_admin(&srv, "PUT", path, "{\"plan_code\":\"hook\"}", &r), 200, "%s", r.body);
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", (long long)acc);
    cr_assert_eq(th_admin(&srv, "POST", path, "{\"label\":\"k\"}", &r), 201, "%s", r.body);
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    th_response_free(&r);
    int64_t wh = receiver_webhook(acc, &rx, secret);

    for (int i = 0; i < 5; i++) { /* 1..4 served (50 % at 2, 100 % at 4), the 5th refused */
        long want = i < 4 ? 200 : 429;
        cr_assert_eq(th_keyed(&srv, "/v1/b2b/astrology/weekly-by-sign?sign=leo&week=2026-W47", key, &r), want, "%s",
                     r.body);
        th_response_free(&r);
    }
    wait_requests(&rx, 2);
    json_decref(wait_attempts(wh, 1));
    sleep_ms(200);
    cr_assert_eq(rx_count(&rx), 2, "one delivery per threshold");
    char want_id[2][64], want_body[2][512];
    for (int k = 0; k < 2; k++) {
        int pct = k == 0 ? 50 : 100, used = k == 0 ? 2 : 4;
        snprintf(want_id[k], sizeof want_id[k], "thr_%lld_day_2026-11-18_%d", (long long)acc, pct);
        snprintf(want_body[k], sizeof want_body[k],
                 "{\"type\":\"usage.threshold\",\"timestamp\":\"2026-11-18T11:06:40Z\",\"data\":{\"account_id\":%lld,"
                 "\"period\":\"day\",\"period_start\":\"2026-11-18\",\"threshold\":%d,\"used\":%d,\"limit\":4,"
                 "\"at\":\"2026-11-18T11:06:40Z\"}}",
                 (long long)acc, pct, used);
    }
    for (size_t i = 0; i < 2; i++) {
        const rx_request *q = &rx.reqs[i];
        int k = strcmp(q->id, want_id[0]) == 0 ? 0 : 1;
        cr_assert_str_eq(q->id, want_id[k]);
        cr_assert_str_eq(q->body, want_body[k]);
        cr_assert(signature_ok(q, secret, q->signature), "signature %s does not verify", q->signature);
    }
    cr_assert_str_neq(rx.reqs[0].id, rx.reqs[1].id);

    /* Endpoints created later get the events raised later only. */
    char secret2[96];
    receiver_webhook(acc, &rx, secret2);
    cr_assert_eq(th_keyed(&srv, "/v1/b2b/astrology/weekly-by-sign?sign=leo&week=2026-W47", key, &r), 429);
    th_response_free(&r);
    app_webhooks_kick(srv.app);
    sleep_ms(200);
    cr_assert_eq(rx_count(&rx), 2);
    rx_stop(&rx);
}
