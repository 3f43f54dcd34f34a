/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "integration/harness.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/embedded.h"

void th_pg_new_database(char *out, size_t cap)
{
    static int counter;
    const char *base = getenv("STARMETER_TEST_PG");
    cr_assert(base != NULL && base[0] != '\0',
              "STARMETER_TEST_PG is not set: run `make test`, or scripts/test-c.sh BUILD_DIR, which start PostgreSQL");
    PGconn *c = PQconnectdb(base);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "PostgreSQL at STARMETER_TEST_PG: %s", PQerrorMessage(c));
    char name[64], sql[128];
    /* The instant too: a PostgreSQL kept between runs still holds the databases of an earlier
     * process that had the same pid. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(name, sizeof name, "th_%d_%d_%lld%09ld", (int)getpid(), ++counter, (long long)ts.tv_sec, ts.tv_nsec);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    /* The test URIs end with the database name after the last '/' (no query string). */
    const char *slash = strrchr(base, '/');
    cr_assert_not_null(slash);
    snprintf(out, cap, "%.*s/%s", (int)(slash - base), base, name);
}

bool th_store_is_postgres(void)
{
    const char *v = getenv("STARMETER_TEST_STORE");
    return v != NULL && strcmp(v, "postgres") == 0;
}

/* The PostgreSQL database of the server in `dir`: the one a previous start there made, else a new one. */
static void pg_database_for(const char *dir, bool reuse, char *out, size_t cap)
{
    char path[300];
    snprintf(path, sizeof path, "%s/pg.uri", dir);
    char *saved = reuse ? th_read_file(path, NULL) : NULL;
    if (saved != NULL && saved[0] != '\0') {
        snprintf(out, cap, "%s", saved);
        free(saved);
        return;
    }
    free(saved);
    th_pg_new_database(out, cap);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(out, f);
    cr_assert_eq(fclose(f), 0);
}

store *th_store_open(const th_server *s)
{
    app_err err;
    app_err_clear(&err);
    store *st = config_store_is_postgres(&s->cfg) ? store_pg_open(s->cfg.store, 1, &err)
                                                  : store_sqlite_open(config_sqlite_path(&s->cfg), &err);
    cr_assert_not_null(st, "opening the store: %s", err.message);
    return st;
}

void th_store_exec(const th_server *s, const char *sql)
{
    if (config_store_is_postgres(&s->cfg)) {
        PGconn *c = PQconnectdb(s->cfg.store);
        cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
        PGresult *r = PQexec(c, sql);
        ExecStatusType rs = PQresultStatus(r);
        cr_assert(rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return;
    }
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(config_sqlite_path(&s->cfg), &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(db);
}

char *th_pg_dump(const char *uri, size_t *len)
{
    PGconn *c = PQconnectdb(uri);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *tables = PQexec(c, "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) "
                                 "FROM information_schema.tables "
                                 "WHERE table_type = 'BASE TABLE' "
                                 "AND table_schema NOT IN ('pg_catalog', 'information_schema')");
    cr_assert_eq(PQresultStatus(tables), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    cr_assert(PQntuples(tables) > 0, "no tables in %s", uri);
    buf b;
    buf_init(&b, 256u << 20);
    for (int t = 0; t < PQntuples(tables); t++) {
        char sql[600];
        snprintf(sql, sizeof sql, "SELECT t::text FROM %s AS t", PQgetvalue(tables, t, 0));
        PGresult *rows = PQexec(c, sql);
        cr_assert_eq(PQresultStatus(rows), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
        for (int i = 0; i < PQntuples(rows); i++) {
            buf_append(&b, PQgetvalue(rows, i, 0), (size_t)PQgetlength(rows, i, 0));
            buf_append(&b, "\n", 1);
        }
        PQclear(rows);
    }
    PQclear(tables);
    PQfinish(c);
    buf_append(&b, "", 0);
    if (len)
        *len = b.len;
    return b.data ? b.data : calloc(1, 1);
}

int th_schema_version(bool postgres)
{
    size_t n = postgres ? embedded_migrations_postgres_count : embedded_migrations_sqlite_count;
    const embedded_file *last = postgres ? &embedded_migrations_postgres[n - 1] : &embedded_migrations_sqlite[n - 1];
    return (int)strtol(last->name, NULL, 10);
}

void th_tmpdir(char dir[256])
{
    snprintf(dir, 256, "/tmp/starmeter-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp");
}

void th_rmdir(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    int rc = system(cmd);
    (void)rc;
}

void th_start(th_server *s, const th_opts *opts)
{
    memset(s, 0, sizeof *s);
    if (opts != NULL && opts->dir != NULL) {
        snprintf(s->dir, sizeof s->dir, "%s", opts->dir);
        s->keep_dir = true;
    } else {
        th_tmpdir(s->dir);
    }
    config_defaults(&s->cfg);
    snprintf(s->cfg.listen, sizeof s->cfg.listen, "127.0.0.1:0");
    snprintf(s->cfg.db, sizeof s->cfg.db, "%s/starmeter.db", s->dir);
    s->cfg.threads = 2;
    s->cfg.shutdown_grace_ms = 5000;
    s->cfg.sync_interval_ms = 100;
    snprintf(s->cfg.admin_token, sizeof s->cfg.admin_token, "%s", TH_ADMIN_TOKEN);
    s->cfg.web_root[0] = '\0'; /* no panel unless a test asks */
    /* Tests of other things fail authentication on purpose, many times in a row; test_ratelimit
     * sets the production burst back. */
    s->cfg.auth_fail_burst = 100000;
    snprintf(s->log_path, sizeof s->log_path, "%s/server.log", s->dir);
    s->log_fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    cr_assert(s->log_fd >= 0);
    log_init(&s->log, LOG_DEBUG, s->log_fd);
    if (opts != NULL && opts->store_uri != NULL)
        snprintf(s->cfg.store, sizeof s->cfg.store, "%s", opts->store_uri);
    else if ((opts == NULL || opts->store == NULL) && th_store_is_postgres())
        pg_database_for(s->dir, s->keep_dir, s->cfg.store, sizeof s->cfg.store);
    if (opts != NULL && opts->counters != NULL)
        snprintf(s->cfg.counters, sizeof s->cfg.counters, "%s", opts->counters);
    if (opts != NULL && opts->pepper != NULL)
        snprintf(s->cfg.pepper_file, sizeof s->cfg.pepper_file, "%s", opts->pepper);
    app_parts parts = {0};
    if (opts != NULL) {
        parts.store = opts->store;
        parts.clock = opts->clock;
        s->cfg.demo = opts->demo;
        s->cfg.durability = opts->durability;
        s->cfg.counters_unavailable = opts->counters_open ? 1 : 0;
        if (opts->web_root != NULL)
            snprintf(s->cfg.web_root, sizeof s->cfg.web_root, "%s", opts->web_root);
        if (opts->global_burst > 0) {
            s->cfg.global_rate = 1;
            s->cfg.global_burst = opts->global_burst;
        }
    }
    if (opts != NULL && opts->tune != NULL)
        opts->tune(&s->cfg);
    app_err err;
    app_err_clear(&err);
    s->app = app_start(&s->cfg, &parts, &s->log, &err);
    cr_assert_not_null(s->app, "app_start failed: %s", err.message);
    snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%u", (unsigned)app_port(s->app));
}

void th_stop(th_server *s)
{
    app_stop(s->app);
    s->app = NULL;
    close(s->log_fd);
    if (!s->keep_dir)
        th_rmdir(s->dir);
}

long th_admin(th_server *s, const char *method, const char *path, const char *body, th_response *out)
{
    const char *h[] = {TH_ADMIN_AUTH, "Content-Type: application/json", NULL};
    th_request(s, method, path, h, body, out);
    return out->status;
}

long th_keyed(th_server *s, const char *path, const char *key, th_response *out)
{
    char hdr[256];
    snprintf(hdr, sizeof hdr, "X-API-Key: %s", key);
    const char *h[] = {hdr, NULL};
    th_request(s, "GET", path, h, NULL, out);
    return out->status;
}

json_t *th_data(const th_response *r)
{
    return json_object_get(r->json, "data");
}

void th_assert_error(const th_response *r, long status, const char *code)
{
    cr_assert_eq(r->status, status, "status %ld, body %s", r->status, r->body);
    cr_assert_not_null(r->json, "body is not JSON: %s", r->body);
    json_t *e = json_object_get(r->json, "error");
    cr_assert(json_is_object(e), "no error object: %s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), code, "body %s", r->body);
    cr_assert(json_string_length(json_object_get(e, "message")) > 0);
    cr_assert(json_is_object(json_object_get(e, "details")));
    char rid[128];
    cr_assert(th_header(r, "x-request-id", rid, sizeof rid));
    cr_assert_str_eq(json_string_value(json_object_get(e, "request_id")), rid);
    cr_assert_eq(json_object_size(r->json), 1, "only \"error\" at the top level");
    char ct[128];
    cr_assert(th_header(r, "content-type", ct, sizeof ct) && strstr(ct, "application/json") != NULL);
}

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
    buf_append(userdata, p, size * n);
    return size * n;
}

void th_request(th_server *s, const char *method, const char *path, const char *const *headers, const char *body,
                th_response *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    char url[1024];
    snprintf(url, sizeof url, "%s%s", s->base_url, path);
    buf b, h;
    buf_init(&b, 64u << 20);
    buf_init(&h, 1u << 20);
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    buf_append(&b, "", 0);
    buf_append(&h, "", 0);
    out->body = b.data ? b.data : calloc(1, 1);
    out->body_len = b.len;
    out->headers = h.data ? h.data : calloc(1, 1);
    out->json = json_loadb(out->body, out->body_len, 0, NULL);
}

void th_response_free(th_response *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

bool th_header(const th_response *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t vlen = (size_t)(line + len - v);
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return true;
        }
        line = eol ? eol + 2 : line + len;
    }
    return false;
}

size_t th_read(int fd, char *out, size_t cap, int ms, int answers)
{
    size_t n = 0;
    out[0] = '\0';
    while (n + 1 < cap) {
        int seen = 0;
        for (const char *q = out; answers > 0 && (q = strstr(q, "HTTP/1.1 ")) != NULL; q++)
            seen++;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if ((answers > 0 && seen >= answers) || poll(&p, 1, ms) <= 0)
            break;
        ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        out[n] = '\0';
    }
    return n;
}

int th_dial(th_server *s, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0, "socket");
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(app_port(s->app))};
    a.sin_addr.s_addr = htonl(0x7f000001);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

char *th_raw(th_server *s, const char *bytes, size_t len, int timeout_ms)
{
    int fd = th_dial(s, 0);
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, bytes + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close early (e.g. a refused body); read what it said */
        off += (size_t)w;
    }
    buf b;
    buf_init(&b, 1u << 20);
    char chunk[4096];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t r = recv(fd, chunk, sizeof chunk, 0);
        if (r <= 0)
            break;
        buf_append(&b, chunk, (size_t)r);
    }
    close(fd);
    buf_append(&b, "", 0);
    return b.data ? b.data : calloc(1, 1);
}

char *th_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    buf b;
    buf_init(&b, 256u << 20);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    buf_append(&b, "", 0);
    if (len)
        *len = b.len;
    return b.data ? b.data : calloc(1, 1);
}
