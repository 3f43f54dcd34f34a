/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * A whole request through the server: a real starmeter (app_start) runs in this process on a
 * loopback port with a SQLite database in a temporary directory, an admin token and one account
 * whose plan has no quota, so that keyed calls reach their handlers. Each input is sent as raw
 * bytes on its own connection, whose sending side is then shut; the answer is read until the
 * server closes. "$KEY" in the input becomes the account's API key, and the admin token is
 * ADMIN_TOKEN below (the seeds use both). Whatever comes back must start as an HTTP/1.x response;
 * the sanitizers watch the server meanwhile.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "app/config.h"
#include "core/mem.h"
#include "domain/apikey.h"
#include "services/services.h"

#define ADMIN_TOKEN "fuzz-admin-token-0123456789"
#define KEY_MARK "$KEY"
#define ANSWER_DEADLINE_MS 2000
#define SERVER_LOG_NAME "server.log"

static char dir[64];
static app_config cfg;
static app_log lg;
static app *server;
static uint16_t port;
static char api_key[APIKEY_LEN + 1];

static void fail(const char *what, const app_err *err)
{
    fprintf(stderr, "fuzz_request: %s: %s\n", what, err ? err->message : "");
    abort();
}

static json_t *call(int rc, json_t *out, json_t *body, const app_err *err, const char *what)
{
    json_decref(body);
    if (rc != 0)
        fail(what, err);
    return out;
}

/* The plan, account, contract and key, made through the services before the server starts. */
static void seed(void)
{
    app_err err;
    app_err_clear(&err);
    store *st = store_sqlite_open(cfg.db, &err);
    int applied;
    if (st == NULL || store_migrate(st, &applied, &err) != 0)
        fail("store", &err);
    keycache *keys = keycache_new();
    services sv;
    if (app_services_init(&sv, keys, st, &cfg, clock_system(), &lg, &err) != 0)
        fail("services", &err);
    actor a = {.name = "fuzz", .request_id = NULL};
    json_t *out = NULL, *body = json_pack("{s:s, s:s}", "code", "open", "name", "Open");
    json_decref(call(admin_plan_create(&sv, &a, body, &out, &err), out, body, &err, "plan"));
    body = json_pack("{s:s}", "name", "Fuzz");
    out = call(admin_account_create(&sv, &a, body, &out, &err), out, body, &err, "account");
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    body = json_pack("{s:s}", "plan_code", "open");
    json_decref(call(admin_contract_put(&sv, &a, id, body, &out, &err), out, body, &err, "contract"));
    body = json_pack("{s:s}", "label", "fuzz");
    out = call(admin_credential_issue(&sv, &a, id, body, &out, &err), out, body, &err, "credential");
    snprintf(api_key, sizeof api_key, "%s", json_string_value(json_object_get(out, "api_key")));
    json_decref(out);
    store_close(st);
    keycache_free(keys);
}

static void on_exit_stop(void)
{
    app_stop(server);
    log_close(&lg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_request: could not remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "%s/starmeter-fuzz-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(dir) == NULL)
        abort();
    config_defaults(&cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    snprintf(cfg.db, sizeof cfg.db, "%s/starmeter.db", dir);
    snprintf(cfg.admin_token, sizeof cfg.admin_token, "%s", ADMIN_TOKEN);
    cfg.web_root[0] = '\0';
    cfg.threads = 1;
    cfg.rate_limits = 0;
    cfg.auth_fail_burst = 1000000000;
    cfg.shutdown_grace_ms = 1000;
    /* The server's own log goes to a file: the fuzzer's output stays readable. */
    char log_path[128];
    snprintf(log_path, sizeof log_path, "%s/" SERVER_LOG_NAME, dir);
    FILE *f = fopen(log_path, "a");
    if (f == NULL)
        abort();
    log_init(&lg, LOG_ERROR, dup(fileno(f)));
    fclose(f);
    seed();
    app_err err;
    app_err_clear(&err);
    server = app_start(&cfg, NULL, &lg, &err);
    if (server == NULL)
        fail("app_start", &err);
    port = app_port(server);
    atexit(on_exit_stop);
    return 0;
}

/* The input with every KEY_MARK replaced by the API key; the caller frees it. */
static char *expand(const uint8_t *data, size_t size, size_t *len)
{
    size_t mark = strlen(KEY_MARK), keylen = strlen(api_key), n = 0;
    char *out = xmalloc(size / mark * keylen + size + 1);
    for (size_t i = 0; i < size;) {
        if (size - i >= mark && memcmp(data + i, KEY_MARK, mark) == 0) {
            memcpy(out + n, api_key, keylen);
            n += keylen;
            i += mark;
        } else {
            out[n++] = (char)data[i++];
        }
    }
    *len = n;
    return out;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    char *req = expand(data, size, &len);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Thousands of connections a second for minutes: each is closed with a reset (no TIME_WAIT
     * left to exhaust the client's ports), and a connect that still fails is tried again before
     * the run stops on it. */
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 50; attempt++) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            close(fd);
            fd = -1;
            poll(NULL, 0, 20);
        }
    }
    if (fd < 0) {
        fprintf(stderr, "fuzz_request: cannot connect to the server: %s\n", strerror(errno));
        abort();
    }
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    /* The server may answer and close before it has read everything: a short send is fine. */
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    char head[16], buf[16384];
    size_t got = 0;
    int64_t deadline = now_ms() + ANSWER_DEADLINE_MS;
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r && got < sizeof head; i++)
            head[got++] = buf[i];
    }
    close(fd);
    free(req);
    if (got > 0 && (got < 8 || memcmp(head, "HTTP/1.", 7) != 0)) {
        fprintf(stderr, "fuzz_request: the answer does not start as an HTTP/1.x response\n");
        abort();
    }
    return 0;
}
