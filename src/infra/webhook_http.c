/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "infra/webhook_http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/str.h"

/* What a response body may bring before it is cut off (it is discarded anyway). */
#define RESPONSE_MAX (64 * 1024)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void webhook_http_global_init(void)
{
    pthread_once(&global_once, global_init);
}

/* The bytes of a socket address, for the address rules. */
static bool sockaddr_bytes(const struct sockaddr *sa, const uint8_t **bytes, size_t *len)
{
    if (sa->sa_family == AF_INET) {
        *bytes = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        *len = 4;
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        *bytes = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        *len = 16;
        return true;
    }
    return false;
}

int webhook_http_check_host(const webhook_url *u, bool allow_private, app_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)u->port);
    int gai = getaddrinfo(u->host, port, &hints, &res);
    if (gai != 0)
        return app_err_field(err, "url", "its host %s does not resolve (%s)", u->host, gai_strerror(gai));
    int rc = 0;
    for (struct addrinfo *ai = res; ai != NULL && rc == 0 && !allow_private; ai = ai->ai_next) {
        const uint8_t *bytes;
        size_t len;
        const char *why = "not an internet address";
        if (!sockaddr_bytes(ai->ai_addr, &bytes, &len) || !webhook_addr_is_public(bytes, len, &why))
            rc = app_err_field(err, "url",
                               "its host %s has a %s address; private addresses are refused unless the server "
                               "runs with --webhooks-allow-private",
                               u->host, why);
    }
    freeaddrinfo(res);
    return rc;
}

/* One transfer in flight. */
typedef struct transfer {
    webhook_request *req;
    CURL *easy;
    struct curl_slist *headers;
    bool allow_private;
    const char *refused; /* the range of an address the socket callback refused, or NULL */
    size_t received;
    bool cut; /* the response body passed RESPONSE_MAX: the transfer was ended there */
    char errbuf[CURL_ERROR_SIZE];
} transfer;

/*
 * Opens the socket of each connection curl makes, after its resolution: the address is the one
 * connected to, so checking it here pins the check to the connection (no DNS rebinding between a
 * check and a connect).
 */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    transfer *t = arg;
    (void)purpose;
    const uint8_t *bytes;
    size_t len;
    const char *why = "not an internet address";
    if (!t->allow_private &&
        (!sockaddr_bytes(&address->addr, &bytes, &len) || !webhook_addr_is_public(bytes, len, &why))) {
        t->refused = why;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    transfer *t = arg;
    (void)p;
    t->received += size * n;
    if (t->received > RESPONSE_MAX) {
        t->cut = true;
        return 0; /* ends the transfer: what came is enough to know the status */
    }
    return size * n;
}

/* Adds "name: value" (value NULL: `name` is the whole line). */
static void header_add(transfer *t, const char *name, const char *value)
{
    char line[256];
    if (value != NULL)
        snprintf(line, sizeof line, "%s: %s", name, value);
    else
        snprintf(line, sizeof line, "%s", name);
    struct curl_slist *l = curl_slist_append(t->headers, line);
    if (l != NULL)
        t->headers = l;
}

static void transfer_setup(transfer *t, webhook_request *r, int64_t timeout_ms, bool allow_private)
{
    memset(t, 0, sizeof *t);
    t->req = r;
    t->allow_private = allow_private;
    r->http_status = 0;
    r->latency_ms = 0;
    r->error[0] = '\0';
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)r->timestamp);
    header_add(t, "Content-Type", "application/json");
    header_add(t, "webhook-id", r->msg_id);
    header_add(t, "webhook-timestamp", ts);
    header_add(t, "webhook-signature", r->signatures);
    header_add(t, "User-Agent", "starmeter-webhooks/" STARMETER_VERSION);
    /* No "Expect: 100-continue" wait on larger bodies. */
    header_add(t, "Expect:", NULL);
    CURL *e = t->easy = curl_easy_init();
    if (e == NULL)
        return;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* A proxy from the environment would be what is connected to, past the address check. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
}

/* Fills the request's outcome from a finished (or abandoned) transfer. */
static void transfer_finish(transfer *t, CURLcode rc)
{
    webhook_request *r = t->req;
    long status = 0;
    curl_off_t total_us = 0;
    if (t->easy != NULL) {
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    }
    r->http_status = (int)status;
    r->latency_ms = (int64_t)(total_us / 1000);
    char msg[CURL_ERROR_SIZE + 64];
    if (t->easy == NULL)
        snprintf(msg, sizeof msg, "could not start the request");
    else if (t->refused != NULL)
        snprintf(msg, sizeof msg, "refused to connect to a %s address (see --webhooks-allow-private)", t->refused);
    else if (rc != CURLE_OK && !(t->cut && status != 0))
        snprintf(msg, sizeof msg, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        snprintf(msg, sizeof msg, "HTTP %ld", status);
    else
        msg[0] = '\0';
    if (rc != CURLE_OK && !(t->cut && status != 0))
        r->http_status = 0;
    /* Library text may quote the peer's bytes: stored and shown escaped. */
    str_escape_ctl(r->error, sizeof r->error, msg, strlen(msg));
}

static void transfer_cleanup(transfer *t)
{
    if (t->easy != NULL)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
}

void webhook_http_post_all(webhook_request *reqs, size_t n, int64_t timeout_ms, bool allow_private,
                           const atomic_bool *stop)
{
    if (n == 0)
        return;
    webhook_http_global_init();
    transfer *ts = xcalloc(n, sizeof *ts);
    bool *done = xcalloc(n, sizeof *done);
    CURLM *multi = curl_multi_init();
    for (size_t i = 0; i < n; i++) {
        transfer_setup(&ts[i], &reqs[i], timeout_ms, allow_private);
        if (ts[i].easy == NULL || multi == NULL || curl_multi_add_handle(multi, ts[i].easy) != CURLM_OK) {
            transfer_finish(&ts[i], CURLE_FAILED_INIT);
            done[i] = true;
        }
    }
    int running = 1;
    while (multi != NULL && running > 0 && !atomic_load(stop)) {
        if (curl_multi_perform(multi, &running) != CURLM_OK)
            break;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            transfer *t = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            transfer_finish(t, m->data.result);
            done[t - ts] = true;
        }
        /* At most 100 ms per wait, so that a stop is seen soon. */
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        reqs[i].completed = done[i];
        if (!done[i]) {
            transfer_finish(&ts[i], CURLE_ABORTED_BY_CALLBACK);
            str_copy(reqs[i].error, sizeof reqs[i].error, "stopped: the server shut down during the attempt");
            reqs[i].http_status = 0;
        }
        if (multi != NULL && ts[i].easy != NULL)
            curl_multi_remove_handle(multi, ts[i].easy);
        transfer_cleanup(&ts[i]);
    }
    curl_multi_cleanup(multi);
    free(done);
    free(ts);
}
