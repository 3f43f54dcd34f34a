/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Start, stop and the built binary, run as a user runs it. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <curl/curl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/embedded.h"
#include "integration/harness.h"

extern char **environ;

Test(lifecycle, stop_closes_idle_keep_alive_connections_promptly)
{
    th_server s;
    th_start(&s, NULL);
    int fd = th_dial(&s, 0);
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(send(fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    char b[2048];
    cr_assert_gt(recv(fd, b, sizeof b, 0), 0);

    uint64_t t0 = clock_mono_ns();
    app_stop(s.app);
    s.app = NULL;
    uint64_t took_ms = (clock_mono_ns() - t0) / 1000000;
    cr_assert_lt(took_ms, 3000, "stop waited for the idle connection's timeout (%llu ms)", (unsigned long long)took_ms);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 2000), 1);
    cr_assert_eq(recv(fd, b, sizeof b, 0), 0, "the idle connection is closed");
    close(fd);
    close(s.log_fd);
    th_rmdir(s.dir);
}

/* Runs the binary with args; returns its pid with stderr (and stdout) on *out_fd. */
static pid_t spawn(const char *const *args, int *out_fd)
{
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, STARMETER_BIN, &fa, NULL, (char *const *)args, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    *out_fd = pipefd[0];
    return pid;
}

/* Reads from fd until `needle` shows up or the timeout passes; returns the text (owned). */
static char *read_until(int fd, const char *needle, int timeout_ms)
{
    size_t cap = 1 << 16, len = 0;
    char *text = calloc(1, cap);
    uint64_t deadline = clock_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    while (strstr(text, needle) == NULL && clock_mono_ns() < deadline && len < cap - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, text + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        text[len] = '\0';
    }
    return text;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
    for (int i = 0; i < timeout_ms / 10; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static int run_to_end(const char *const *args, char **output)
{
    int fd;
    pid_t pid = spawn(args, &fd);
    *output = read_until(fd, "\x01never", 20000);
    close(fd);
    return wait_exit(pid, 20000);
}

Test(binary, serve_answers_then_stops_cleanly_on_sigterm, .timeout = 60)
{
    char dir[256], db[300];
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/sub/dir/starmeter.db", dir);
    const char *args[] = {"starmeter", "serve", "--listen", "127.0.0.1:0", "--db", db, "--threads", "2", NULL};
    int fd;
    pid_t pid = spawn(args, &fd);
    char *out = read_until(fd, "\"msg\":\"listening\"", 20000);
    const char *p = strstr(out, "\"port\":");
    cr_assert_not_null(p, "no listening line: %s", out);
    int port = atoi(p + 7);
    cr_assert_gt(port, 0);

    th_server fake = {0};
    snprintf(fake.base_url, sizeof fake.base_url, "http://127.0.0.1:%d", port);
    th_response r;
    th_request(&fake, "GET", "/healthz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
    th_request(&fake, "GET", "/nope", NULL, NULL, &r);
    cr_assert_eq(r.status, 404);
    th_response_free(&r);

    kill(pid, SIGTERM);
    cr_assert_eq(wait_exit(pid, 15000), 0, "exit code after SIGTERM");
    char *rest = read_until(fd, "\"msg\":\"stopped\"", 5000);
    cr_assert(strstr(rest, "\"msg\":\"stopped\"") != NULL || strstr(out, "\"msg\":\"stopped\"") != NULL, "%s%s", out,
              rest);
    close(fd);
    free(out);
    free(rest);
    cr_assert_eq(access(db, F_OK), 0, "the database and its directories were created");
    th_rmdir(dir);
}

Test(binary, sigint_also_stops_cleanly, .timeout = 60)
{
    char dir[256], db[300];
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/starmeter.db", dir);
    const char *args[] = {"starmeter", "serve", "--listen", "127.0.0.1:0", "--db", db, NULL};
    int fd;
    pid_t pid = spawn(args, &fd);
    free(read_until(fd, "\"msg\":\"listening\"", 20000));
    kill(pid, SIGINT);
    cr_assert_eq(wait_exit(pid, 15000), 0);
    close(fd);
    th_rmdir(dir);
}

Test(binary, migrate_on_empty_then_on_migrated_database)
{
    char dir[256], db[300], *out;
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/m.db", dir);
    const char *args[] = {"starmeter", "migrate", "--db", db, "--log-level", "warn", NULL};
    char want[96];
    snprintf(want, sizeof want, "migrations applied: %zu, schema version: %d", embedded_migrations_sqlite_count,
             th_schema_version(false));
    cr_assert_eq(run_to_end(args, &out), 0, "%s", out);
    cr_assert(strstr(out, want) != NULL, "%s", out);
    free(out);
    snprintf(want, sizeof want, "migrations applied: 0, schema version: %d", th_schema_version(false));
    cr_assert_eq(run_to_end(args, &out), 0, "%s", out);
    cr_assert(strstr(out, want) != NULL, "%s", out);
    free(out);
    th_rmdir(dir);
}

Test(binary, help_and_bad_flags)
{
    char *out;
    const char *help[] = {"starmeter", "--help", NULL};
    cr_assert_eq(run_to_end(help, &out), 0);
    cr_assert(strstr(out, "serve") && strstr(out, "migrate"), "%s", out);
    free(out);
    const char *shelp[] = {"starmeter", "serve", "--help", NULL};
    cr_assert_eq(run_to_end(shelp, &out), 0);
    cr_assert(strstr(out, "--listen") && strstr(out, "STARMETER_DB") && strstr(out, "--threads") &&
                  strstr(out, "--log-level"),
              "%s", out);
    free(out);
    const char *bad[] = {"starmeter", "serve", "--threads", "many", "--nope", "1", NULL};
    cr_assert_eq(run_to_end(bad, &out), 2);
    cr_assert(strstr(out, "--threads") && strstr(out, "--nope"), "%s", out);
    free(out);
    const char *unknown[] = {"starmeter", "frobnicate", NULL};
    cr_assert_eq(run_to_end(unknown, &out), 2);
    free(out);
}

Test(binary, an_unreachable_postgres_fails_at_start_with_exit_1)
{
    char dir[256], db[300], *out;
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/x.db", dir);
    const char *args[] = {"starmeter", "serve", "--listen", "127.0.0.1:0",
                          "--db",      db,      "--store",  "postgres://starmeter:s3cret-pw@127.0.0.1:1/none",
                          NULL};
    cr_assert_eq(run_to_end(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "cannot start") && strstr(out, "store_unavailable"), "%s", out);
    cr_assert_null(strstr(out, "s3cret-pw"), "the password never reaches the log: %s", out);
    free(out);
    th_rmdir(dir);
}

Test(binary, unusable_listen_address_fails_with_exit_1)
{
    char dir[256], db[300], *out;
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/x.db", dir);
    const char *args[] = {"starmeter", "serve", "--listen", "256.1.1.1:80", "--db", db, NULL};
    cr_assert_eq(run_to_end(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "cannot start") != NULL, "%s", out);
    free(out);
    th_rmdir(dir);
}

/* Runs `starmeter admin ...` on db and returns its parsed JSON output (owned). */
/* `starmeter admin WORDS --db DB [--store STORE]`, its output parsed. */
static json_t *cli_json_on(const char *db, const char *store_uri, const char *const *words)
{
    const char *args[32] = {"starmeter", "admin"};
    size_t n = 2;
    for (size_t i = 0; words[i] != NULL; i++)
        args[n++] = words[i];
    args[n++] = "--db";
    args[n++] = db;
    if (store_uri != NULL) {
        args[n++] = "--store";
        args[n++] = store_uri;
    }
    args[n] = NULL;
    char *out;
    int rc = run_to_end(args, &out);
    cr_assert_eq(rc, 0, "starmeter admin %s %s: %s", words[0], words[1], out);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "not JSON: %s", out);
    free(out);
    return j;
}

static json_t *cli_json(const char *db, const char *const *words)
{
    return cli_json_on(db, NULL, words);
}

Test(binary, cli_bootstraps_and_a_running_server_sees_its_changes, .timeout = 90)
{
    char dir[256], db[300];
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/starmeter.db", dir);
    json_t *acc = cli_json(db, (const char *[]){"account", "create", "--name", "CLI Corp", NULL});
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(acc, "id")));
    json_decref(acc);
    json_decref(cli_json(db, (const char *[]){"plan", "create", "--code", "basic", "--name", "Basic", "--daily-limit",
                                              "100", "--monthly-limit", "null", NULL}));
    json_t *ct = cli_json(db, (const char *[]){"contract", "set", "--account", id, "--plan-code", "basic", "--timezone",
                                               "Europe/Paris", "--daily-limit", "10", NULL});
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(ct, "effective"), "daily_limit")), 10);
    json_decref(ct);
    json_t *key = cli_json(db, (const char *[]){"key", "issue", "--account", id, "--label", "ops", NULL});
    char api_key[80], key_id[16];
    snprintf(api_key, sizeof api_key, "%s", json_string_value(json_object_get(key, "api_key")));
    snprintf(key_id, sizeof key_id, "%s", json_string_value(json_object_get(key, "key_id")));
    json_decref(key);
    json_t *list = cli_json(db, (const char *[]){"key", "list", "--account", id, NULL});
    cr_assert_eq(json_array_size(json_object_get(list, "items")), 1);
    json_decref(list);

    /* A server on the same database accepts the key, then sees the CLI's revoke. */
    const char *args[] = {"starmeter",          "serve", "--listen", "127.0.0.1:0", "--db", db,
                          "--sync-interval-ms", "100",   NULL};
    int fd;
    pid_t pid = spawn(args, &fd);
    char *out = read_until(fd, "\"msg\":\"listening\"", 20000);
    const char *p = strstr(out, "\"port\":");
    cr_assert_not_null(p, "%s", out);
    th_server fake = {0};
    snprintf(fake.base_url, sizeof fake.base_url, "http://127.0.0.1:%d", atoi(p + 7));
    free(out);
    th_response r;
    cr_assert_eq(th_keyed(&fake, "/v1/b2b/me", api_key, &r), 200, "%s", r.body);
    th_response_free(&r);
    json_decref(cli_json(db, (const char *[]){"key", "revoke", "--key-id", key_id, NULL}));
    long status = 0;
    for (int i = 0; i < 100 && status != 401; i++) {
        usleep(50000);
        th_keyed(&fake, "/v1/b2b/me", api_key, &r);
        status = r.status;
        if (status == 401)
            th_assert_error(&r, 401, "revoked_api_key");
        th_response_free(&r);
    }
    cr_assert_eq(status, 401, "the running server never saw the revoke");
    kill(pid, SIGTERM);
    cr_assert_eq(wait_exit(pid, 15000), 0);
    close(fd);

    const char *verify[] = {"starmeter", "audit", "verify", "--db", db, NULL};
    cr_assert_eq(run_to_end(verify, &out), 0, "%s", out);
    /* Five changes, and the revoked key's refusal (auth.failure, written as the server stopped). */
    cr_assert(strstr(out, "intact: 6 events") != NULL, "%s", out);
    free(out);

    const char *bad[] = {"starmeter", "admin", "plan", "create", "--code", "X Y", "--db", db, NULL};
    cr_assert_eq(run_to_end(bad, &out), 1);
    cr_assert(strstr(out, "validation_error") && strstr(out, "code:"), "%s", out);
    free(out);
    th_rmdir(dir);
}

/* ---- kill -9 under load: no served call is lost ---- */

static size_t discard(char *p, size_t size, size_t n, void *userdata)
{
    (void)p;
    (void)userdata;
    return size * n;
}

static th_server crash_srv;
static atomic_int crash_ok;
static atomic_bool crash_stop;
static char crash_key[80];

/* Loads the server at base URL `arg` (crash_srv's when NULL) until crash_stop. */
static void *crash_load(void *arg)
{
    const char *base = arg != NULL ? arg : crash_srv.base_url;
    while (!atomic_load(&crash_stop)) {
        char hdr[128];
        snprintf(hdr, sizeof hdr, "X-API-Key: %s", crash_key);
        const char *h[] = {hdr, NULL};
        /* th_request asserts on transport errors; a killed server is one, so use curl directly. */
        CURL *c = curl_easy_init();
        char url[160];
        snprintf(url, sizeof url, "%s/v1/b2b/astrology/weekly-by-sign?sign=virgo&week=2026-W47", base);
        struct curl_slist *list = curl_slist_append(NULL, h[0]);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        long status = 0;
        if (curl_easy_perform(c) == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
            status == 200)
            atomic_fetch_add(&crash_ok, 1);
        curl_slist_free_all(list);
        curl_easy_cleanup(c);
    }
    return NULL;
}

/* The metered calls the store counts: SQLite's file, or PostgreSQL's database. */
static long long stored_requests(const char *db, const char *pg)
{
    const char *sql = "SELECT coalesce(sum(requests), 0) FROM enterprise_daily_usages";
    long long n = -1;
    if (pg != NULL) {
        PGconn *c = PQconnectdb(pg);
        cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
        PGresult *r = PQexec(c, sql);
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
        n = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
        return n;
    }
    sqlite3 *raw;
    cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(raw, sql, -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return n;
}

/* Through the CLI: a plan far above any load, an account on it, and its key into crash_key. */
static void load_account(const char *db, const char *store_uri)
{
    json_decref(cli_json_on(db, store_uri,
                            (const char *[]){"plan", "create", "--code", "load", "--name", "Load", "--rate-per-second",
                                             "1000000", "--burst", "1000000", "--credential-rate-per-second", "1000000",
                                             "--credential-burst", "1000000", NULL}));
    json_t *acc = cli_json_on(db, store_uri, (const char *[]){"account", "create", "--name", "Load Corp", NULL});
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(acc, "id")));
    json_decref(acc);
    json_decref(
        cli_json_on(db, store_uri, (const char *[]){"contract", "set", "--account", id, "--plan-code", "load", NULL}));
    json_t *key = cli_json_on(db, store_uri, (const char *[]){"key", "issue", "--account", id, NULL});
    snprintf(crash_key, sizeof crash_key, "%s", json_string_value(json_object_get(key, "api_key")));
    json_decref(key);
}

/* Spawns `starmeter serve` with args and points crash_srv at it; returns its pid and output fd. */
static pid_t serve_for_crash(const char *const *args, int *fd)
{
    pid_t pid = spawn(args, fd);
    char *out = read_until(*fd, "\"msg\":\"listening\"", 20000);
    const char *p = strstr(out, "\"port\":");
    cr_assert_not_null(p, "%s", out);
    snprintf(crash_srv.base_url, sizeof crash_srv.base_url, "http://127.0.0.1:%d", atoi(p + 7));
    free(out);
    return pid;
}

/*
 * Loads crash_srv from `conns` connections until `ok_calls` calls were answered 200 (or about 6 s
 * passed) and `settle_ms` more, then kills `pid` without warning and stops the load. Returns the
 * calls answered 200.
 */
static int kill_under_load(pid_t pid, int fd, int conns, int ok_calls, int settle_ms)
{
    pthread_t t[64];
    cr_assert_leq(conns, 64);
    atomic_store(&crash_ok, 0);
    atomic_store(&crash_stop, false);
    for (int i = 0; i < conns; i++)
        pthread_create(&t[i], NULL, crash_load, NULL);
    for (int i = 0; i < 3000 && atomic_load(&crash_ok) < ok_calls; i++)
        usleep(2000);
    usleep((useconds_t)settle_ms * 1000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    atomic_store(&crash_stop, true);
    for (int i = 0; i < conns; i++)
        pthread_join(t[i], NULL);
    close(fd);
    return atomic_load(&crash_ok);
}

/*
 * Loads a spawned server with `durability` from 8 connections, kills it, restarts it (which
 * replays its journal) and counts the store: SQLite, or PostgreSQL when `postgres`.
 */
static void sigkill_under_load(const char *durability, bool postgres)
{
    char dir[256], db[300], pg[512] = "";
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/starmeter.db", dir);
    if (postgres)
        th_pg_new_database(pg, sizeof pg);
    const char *store_uri = postgres ? pg : NULL;
    load_account(db, store_uri);

    const char *args[] = {"starmeter",
                          "serve",
                          "--listen",
                          "127.0.0.1:0",
                          "--db",
                          db,
                          "--durability",
                          durability,
                          postgres ? "--store" : NULL,
                          pg,
                          NULL};
    int fd;
    pid_t pid = serve_for_crash(args, &fd);
    enum { CONNS = 8 };
    /* Let the load run, including the first computation of the week, then kill without warning. */
    int ok = kill_under_load(pid, fd, CONNS, 200, 300);
    cr_assert_gt(ok, 0, "the load made no successful call");
    /* The counts the crash left in the usage journal are replayed into the ledger at the next
     * start, before it listens; a clean stop then leaves no journal behind. */
    pid = spawn(args, &fd);
    char *out = read_until(fd, "\"msg\":\"listening\"", 20000);
    cr_assert_not_null(strstr(out, "\"msg\":\"listening\""), "%s", out);
    free(out);
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);
    char journal_dir[320];
    snprintf(journal_dir, sizeof journal_dir, "%s-usage", db);
    DIR *jd = opendir(journal_dir);
    cr_assert_not_null(jd);
    int leftovers = 0;
    for (struct dirent *de; (de = readdir(jd)) != NULL;)
        leftovers += de->d_name[0] != '.';
    closedir(jd);
    cr_assert_eq(leftovers, 0, "the journal is folded and removed at a clean stop");
    long long stored = stored_requests(db, store_uri);
    cr_assert_geq(stored, ok, "every 2xx is in the store: %lld stored, %d answered", stored, ok);
    cr_assert_leq(stored, ok + CONNS, "at most one in-flight call per connection more: %lld stored, %d answered",
                  stored, ok);
    th_rmdir(dir);
}

/* One integer a query on the SQLite file `db` answers. */
static long long sqlite_count(const char *db, const char *sql)
{
    sqlite3 *raw;
    cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(raw, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(raw));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return n;
}

/*
 * Alerts across a kill -9 under load: four thresholds of a daily limit of 400, the server killed
 * while calls reach them and restarted (its journal replayed), then the rest of the day's calls.
 * Each threshold is raised once, with its audit event, none lost to the crash.
 */
Test(binary, sigkill_under_load_raises_each_threshold_once, .timeout = 120)
{
    char dir[256], db[300];
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/starmeter.db", dir);
    json_decref(cli_json_on(db, NULL,
                            (const char *[]){"plan", "create", "--code", "th", "--name", "Th", "--daily-limit", "400",
                                             "--alert-thresholds", "[25,50,75,100]", "--rate-per-second", "1000000",
                                             "--burst", "1000000", "--credential-rate-per-second", "1000000",
                                             "--credential-burst", "1000000", NULL}));
    json_t *acc = cli_json_on(db, NULL, (const char *[]){"account", "create", "--name", "Alert Corp", NULL});
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(acc, "id")));
    json_decref(acc);
    json_decref(cli_json_on(db, NULL, (const char *[]){"contract", "set", "--account", id, "--plan-code", "th", NULL}));
    json_t *key = cli_json_on(db, NULL, (const char *[]){"key", "issue", "--account", id, NULL});
    snprintf(crash_key, sizeof crash_key, "%s", json_string_value(json_object_get(key, "api_key")));
    json_decref(key);

    const char *args[] = {"starmeter", "serve", "--listen", "127.0.0.1:0", "--db", db, NULL};
    int fd;
    pid_t pid = serve_for_crash(args, &fd);
    /* Killed between the second and the third threshold, with calls in flight around them. */
    cr_assert_gt(kill_under_load(pid, fd, 8, 240, 0), 100, "the load did not pass the first threshold before the kill");

    /* Restarted: the rest of the day's 400 calls, until the limit refuses. */
    pid = serve_for_crash(args, &fd);
    long st = 200;
    for (int i = 0; i < 1000 && st == 200; i++) {
        th_response r;
        st = th_keyed(&crash_srv, "/v1/b2b/astrology/weekly-by-sign?sign=virgo&week=2026-W47", crash_key, &r);
        th_response_free(&r);
    }
    cr_assert_eq(st, 429, "the limit was never reached");
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);

    cr_assert_eq(sqlite_count(db, "SELECT coalesce(sum(requests), 0) FROM enterprise_daily_usages"), 400);
    cr_assert_eq(sqlite_count(db, "SELECT count(*) FROM usage_alerts WHERE period = 'day'"), 4);
    cr_assert_eq(sqlite_count(db, "SELECT count(*) FROM usage_alerts WHERE period = 'day' AND threshold IN "
                                  "(25, 50, 75, 100) AND used = threshold * 4"),
                 4);
    cr_assert_eq(sqlite_count(db, "SELECT count(*) FROM audit_events WHERE action = 'usage.threshold'"), 4);
    th_rmdir(dir);
}

Test(binary, sigkill_under_load_loses_no_served_call, .timeout = 120)
{
    sigkill_under_load("process", false);
}

Test(binary, sigkill_under_load_loses_no_served_call_with_fsync, .timeout = 120)
{
    sigkill_under_load("fsync", false);
}

Test(binary, sigkill_under_load_loses_no_served_call_on_postgres, .timeout = 120)
{
    sigkill_under_load("process", true);
}

/* Starts `starmeter serve` with `args` and points a client at it. */
static pid_t serve_on(const char *const *args, int *fd, th_server *client)
{
    pid_t pid = spawn(args, fd);
    char *out = read_until(*fd, "\"msg\":\"listening\"", 20000);
    const char *p = strstr(out, "\"port\":");
    cr_assert_not_null(p, "%s", out);
    memset(client, 0, sizeof *client);
    snprintf(client->base_url, sizeof client->base_url, "http://127.0.0.1:%d", atoi(p + 7));
    free(out);
    return pid;
}

/* Reads a server's output until it closes, so a server that logs a lot never blocks on the pipe. */
static void *drain(void *arg)
{
    char buf[4096];
    while (read(*(int *)arg, buf, sizeof buf) > 0)
        ;
    return NULL;
}

/*
 * Two nodes on one PostgreSQL database and one Redis, 8 connections split between them; node A
 * is killed (-9) under load and B goes on. Once B stops and A restarts (replaying its journal),
 * the ledger holds every call answered 2xx by either node, and at most one more per connection
 * (a call counted whose answer the kill lost).
 */
Test(binary, sigkill_of_one_node_under_load_loses_no_served_call, .timeout = 120)
{
    const char *redis = getenv("STARMETER_TEST_REDIS");
    cr_assert(redis != NULL && redis[0] != '\0', "STARMETER_TEST_REDIS is not set: run `make test`");
    char dir[256], dba[300], dbb[300], pg[512], counters[600], cmd[800];
    th_tmpdir(dir);
    snprintf(dba, sizeof dba, "%s/a.db", dir);
    snprintf(dbb, sizeof dbb, "%s/b.db", dir);
    th_pg_new_database(pg, sizeof pg);
    const char *slash = strrchr(redis, '/');
    snprintf(counters, sizeof counters, "%.*s/40", (int)(slash - redis), redis); /* this test's own database */
    snprintf(cmd, sizeof cmd, "redis-cli -u '%s' FLUSHDB >/dev/null", counters);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    load_account(dba, pg);

    const char *args_a[] = {"starmeter", "serve", "--listen",   "127.0.0.1:0", "--db", dba,
                            "--store",   pg,      "--counters", counters,      NULL};
    const char *args_b[] = {"starmeter", "serve", "--listen",   "127.0.0.1:0", "--db", dbb,
                            "--store",   pg,      "--counters", counters,      NULL};
    int fa, fb;
    th_server a, b;
    pid_t pa = serve_on(args_a, &fa, &a), pb = serve_on(args_b, &fb, &b);
    pthread_t da, dbt;
    pthread_create(&da, NULL, drain, &fa);
    pthread_create(&dbt, NULL, drain, &fb);

    enum { CONNS = 8 };
    pthread_t t[CONNS];
    atomic_store(&crash_ok, 0);
    atomic_store(&crash_stop, false);
    for (int i = 0; i < CONNS; i++)
        pthread_create(&t[i], NULL, crash_load, i % 2 ? b.base_url : a.base_url);
    for (int i = 0; i < 300 && atomic_load(&crash_ok) < 200; i++)
        usleep(10000);
    usleep(300000);
    kill(pa, SIGKILL);
    waitpid(pa, NULL, 0);
    pthread_join(da, NULL);
    close(fa);
    int at_kill = atomic_load(&crash_ok);
    usleep(500000); /* B goes on alone */
    atomic_store(&crash_stop, true);
    for (int i = 0; i < CONNS; i++)
        pthread_join(t[i], NULL);
    int ok = atomic_load(&crash_ok);
    cr_assert_gt(ok, at_kill, "node B kept serving after A was killed");

    kill(pb, SIGTERM);
    int status;
    waitpid(pb, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pthread_join(dbt, NULL);
    close(fb);
    pa = serve_on(args_a, &fa, &a); /* replays what A journaled before it died */
    kill(pa, SIGTERM);
    waitpid(pa, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fa);

    long long stored = stored_requests(NULL, pg);
    cr_assert_geq(stored, ok, "every 2xx is in the ledger: %lld stored, %d answered", stored, ok);
    cr_assert_leq(stored, ok + CONNS, "at most one in-flight call per connection more: %lld stored, %d answered",
                  stored, ok);
    th_rmdir(dir);
}

Test(binary, two_processes_on_one_postgres_database_share_keys_and_rows, .timeout = 90)
{
    char dir[256], db[300], pg[512];
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/starmeter.db", dir);
    th_pg_new_database(pg, sizeof pg);
    json_decref(cli_json_on(
        db, pg, (const char *[]){"plan", "create", "--code", "two", "--name", "Two", "--daily-limit", "1000", NULL}));
    json_t *acc = cli_json_on(db, pg, (const char *[]){"account", "create", "--name", "Two Nodes", NULL});
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(acc, "id")));
    json_decref(acc);
    json_decref(cli_json_on(db, pg, (const char *[]){"contract", "set", "--account", id, "--plan-code", "two", NULL}));
    json_t *key = cli_json_on(db, pg, (const char *[]){"key", "issue", "--account", id, NULL});
    char api_key[80], key_id[16];
    snprintf(api_key, sizeof api_key, "%s", json_string_value(json_object_get(key, "api_key")));
    snprintf(key_id, sizeof key_id, "%s", json_string_value(json_object_get(key, "key_id")));
    json_decref(key);

    /* Two nodes: their own journals (as on two machines), one database, one pepper. */
    char jb[320];
    snprintf(jb, sizeof jb, "%s/node-b-usage", dir);
    setenv("STARMETER_ADMIN_TOKEN", TH_ADMIN_TOKEN, 1);
    /* Default intervals: the revoke reaches node B through LISTEN/NOTIFY, not its 1 s poll. */
    const char *a_args[] = {"starmeter", "serve", "--listen", "127.0.0.1:0", "--db", db, "--store", pg, NULL};
    const char *b_args[] = {"starmeter", "serve",         "--listen", "127.0.0.1:0", "--db", db, "--store",
                            pg,          "--journal-dir", jb,         NULL};
    int fa, fb;
    th_server a, b;
    pid_t pa = serve_on(a_args, &fa, &a), pb = serve_on(b_args, &fb, &b);
    unsetenv("STARMETER_ADMIN_TOKEN");
    const char *weekly = "/v1/b2b/astrology/weekly-by-sign?sign=leo&week=2026-W47";
    th_response r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(th_keyed(&a, weekly, api_key, &r), 200, "%s", r.body);
        th_response_free(&r);
        cr_assert_eq(th_keyed(&b, weekly, api_key, &r), 200, "%s", r.body);
        th_response_free(&r);
    }
    /* Both nodes' counts land in the same rows: node A's summary shows its own calls at once and
     * node B's once B has folded them (every 5 ms). */
    json_int_t used = 0;
    for (int i = 0; i < 200 && used != 6; i++) {
        cr_assert_eq(th_keyed(&a, "/v1/b2b/usage/summary", api_key, &r), 200, "%s", r.body);
        used = json_integer_value(json_object_get(json_object_get(th_data(&r), "daily"), "used"));
        th_response_free(&r);
        if (used != 6)
            usleep(10000);
    }
    cr_assert_eq(used, 6);

    /* A revoke through node A is refused by node B within a second. */
    char path[64];
    snprintf(path, sizeof path, "/v1/admin/credentials/%s", key_id);
    cr_assert_eq(th_admin(&a, "DELETE", path, NULL, &r), 200, "%s", r.body);
    th_response_free(&r);
    uint64_t start = clock_mono_ns();
    long status = 0;
    while (status != 401 && clock_mono_ns() - start < 3000000000u) {
        th_keyed(&b, "/v1/b2b/me", api_key, &r);
        status = r.status;
        th_response_free(&r);
        if (status != 401)
            usleep(20000);
    }
    double took_ms = (double)(clock_mono_ns() - start) / 1e6;
    cr_assert_eq(status, 401, "node B never saw the revoke");
    cr_assert_lt(took_ms, 1000.0, "node B refused the revoked key only after %.0f ms", took_ms);

    kill(pa, SIGTERM);
    kill(pb, SIGTERM);
    cr_assert_eq(wait_exit(pa, 15000), 0);
    cr_assert_eq(wait_exit(pb, 15000), 0);
    close(fa);
    close(fb);
    cr_assert_eq(stored_requests(db, pg), 6);
    th_rmdir(dir);
}

/* ---- store copy: SQLite to PostgreSQL ---- */

/* The "N events" of `starmeter audit verify` on `db` (or `store_uri`), asserting it passes. */
static long audit_verified(const char *db, const char *store_uri)
{
    const char *args[] = {"starmeter", "audit", "verify", "--db", db, store_uri ? "--store" : NULL, store_uri, NULL};
    char *out;
    cr_assert_eq(run_to_end(args, &out), 0, "audit verify: %s", out);
    const char *p = strstr(out, "intact: ");
    cr_assert_not_null(p, "%s", out);
    long n = atol(p + 8);
    free(out);
    return n;
}

/* The daily usage of `api_key`'s account as its summary reports it. */
static json_int_t daily_used(th_server *srv, const char *api_key)
{
    th_response r;
    cr_assert_eq(th_keyed(srv, "/v1/b2b/usage/summary", api_key, &r), 200, "%s", r.body);
    json_int_t used = json_integer_value(json_object_get(json_object_get(th_data(&r), "daily"), "used"));
    th_response_free(&r);
    return used;
}

Test(binary, store_copy_moves_a_sqlite_store_to_postgres_with_keys_usage_and_audit_chain, .timeout = 120)
{
    char dir[256], db[300], src[310], pg[512];
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/starmeter.db", dir);
    snprintf(src, sizeof src, "sqlite:%s", db);
    json_decref(cli_json(
        db, (const char *[]){"plan", "create", "--code", "basic", "--name", "Basic", "--daily-limit", "100", NULL}));
    json_decref(cli_json(db, (const char *[]){"account", "create", "--name", "First Corp", NULL}));
    json_t *acc = cli_json(db, (const char *[]){"account", "create", "--name", "Copy Corp", NULL});
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(acc, "id")));
    json_decref(acc);
    json_decref(cli_json(
        db, (const char *[]){"contract", "set", "--account", id, "--plan-code", "basic", "--daily-limit", "50", NULL}));
    json_t *key = cli_json(db, (const char *[]){"key", "issue", "--account", id, "--label", "kept", NULL});
    char api_key[80], revoked_key[80], revoked_id[16];
    snprintf(api_key, sizeof api_key, "%s", json_string_value(json_object_get(key, "api_key")));
    json_decref(key);
    key = cli_json(db, (const char *[]){"key", "issue", "--account", id, "--label", "gone", NULL});
    snprintf(revoked_key, sizeof revoked_key, "%s", json_string_value(json_object_get(key, "api_key")));
    snprintf(revoked_id, sizeof revoked_id, "%s", json_string_value(json_object_get(key, "key_id")));
    json_decref(key);
    json_decref(cli_json(db, (const char *[]){"key", "revoke", "--key-id", revoked_id, NULL}));

    /* Some usage: metered calls on the SQLite store, then a clean stop (which folds the journal). */
    const char *sqlite_args[] = {"starmeter", "serve", "--listen", "127.0.0.1:0", "--db", db, NULL};
    int fd;
    th_server srv;
    pid_t pid = serve_on(sqlite_args, &fd, &srv);
    th_response r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(th_keyed(&srv, "/v1/b2b/astrology/weekly-by-sign?sign=leo&week=2026-W47", api_key, &r), 200, "%s",
                     r.body);
        th_response_free(&r);
    }
    json_int_t used = daily_used(&srv, api_key);
    cr_assert_eq(used, 3);
    kill(pid, SIGTERM);
    cr_assert_eq(wait_exit(pid, 15000), 0);
    close(fd);
    long events = audit_verified(db, NULL);

    th_pg_new_database(pg, sizeof pg);
    const char *copy[] = {"starmeter", "store", "copy", "--from", src, "--to", pg, NULL};
    char *out;
    cr_assert_eq(run_to_end(copy, &out), 0, "%s", out);
    cr_assert(strstr(out, "2 accounts") && strstr(out, "2 API keys") && strstr(out, "pepper"), "%s", out);
    free(out);
    cr_assert_eq(audit_verified(db, pg), events, "the copy holds the same chain");

    /* A server on the copy, with the same --db (so the same pepper): the key works, the revoked
     * one stays revoked, the day's usage is the same. */
    const char *pg_args[] = {"starmeter", "serve", "--listen", "127.0.0.1:0", "--db", db, "--store", pg, NULL};
    pid = serve_on(pg_args, &fd, &srv);
    cr_assert_eq(th_keyed(&srv, "/v1/b2b/me", api_key, &r), 200, "%s", r.body);
    th_response_free(&r);
    th_keyed(&srv, "/v1/b2b/me", revoked_key, &r);
    th_assert_error(&r, 401, "revoked_api_key");
    th_response_free(&r);
    cr_assert_eq(daily_used(&srv, api_key), used);
    kill(pid, SIGTERM);
    cr_assert_eq(wait_exit(pid, 15000), 0);
    close(fd);

    /* New rows on the copy take ids past the copied ones. */
    acc = cli_json_on(db, pg, (const char *[]){"account", "create", "--name", "After Copy", NULL});
    cr_assert_eq(json_integer_value(json_object_get(acc, "id")), 3);
    json_decref(acc);

    /* The target is no longer empty: a second copy is refused. */
    cr_assert_eq(run_to_end(copy, &out), 1, "%s", out);
    cr_assert(strstr(out, "not empty") != NULL, "%s", out);
    free(out);
    th_rmdir(dir);
}

/* ---- database files deleted under a running server ---- */

static void remove_database_files(const char *dir)
{
    static const char *const names[] = {"starmeter.db", "starmeter.db-wal", "starmeter.db-shm"};
    char path[400];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cr_assert(unlink(path) == 0 || i > 0, "cannot remove %s", path);
    }
}

/* How many lines of the server's log hold `needle`. */
static int log_lines_with(const th_server *s, const char *needle)
{
    char *text = th_read_file(s->log_path, NULL);
    int n = 0;
    for (const char *p = text ? text : ""; (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(text);
    return n;
}

#define DELETED_WEEKLY "/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2026-W47"

/* A metered key on a fresh account of server `s`, into key[80]. */
static void metered_key(th_server *s, char key[80])
{
    th_response r;
    cr_assert_eq(th_admin(s, "POST", "/v1/admin/plans",
                          "{\"code\":\"m\",\"name\":\"M\",\"daily_limit\":100000,\"rate_per_second\":100000,"
                          "\"burst\":100000,\"credential_rate_per_second\":100000,\"credential_burst\":100000}",
                          &r),
                 201, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(th_admin(s, "POST", "/v1/admin/accounts", "{\"name\":\"Acme\"}", &r), 201, "%s", r.body);
    long long id = (long long)json_integer_value(json_object_get(th_data(&r), "id"));
    th_response_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/contract", id);
    cr_assert_eq(th_admin(s, "PUT", path, "{\"plan_code\":\"m\"}", &r), 200, "%s", r.body);
    th_response_free(&r);
    snprintf(path, sizeof path, "/v1/admin/accounts/%lld/credentials", id);
    cr_assert_eq(th_admin(s, "POST", path, "{\"label\":\"k\"}", &r), 201, "%s", r.body);
    snprintf(key, 80, "%s", json_string_value(json_object_get(th_data(&r), "api_key")));
    th_response_free(&r);
}

Test(deleted_db, the_server_stops_counting_and_says_so_once, .timeout = 60)
{
    th_server s;
    th_start(&s, NULL);
    char key[80];
    metered_key(&s, key);
    th_response r;
    cr_assert_eq(th_keyed(&s, DELETED_WEEKLY, key, &r), 200, "%s", r.body);
    th_response_free(&r);
    th_request(&s, "GET", "/readyz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);

    remove_database_files(s.dir);

    th_request(&s, "GET", "/readyz", NULL, NULL, &r);
    th_assert_error(&r, 503, "store_unavailable");
    th_response_free(&r);
    th_admin(&s, "POST", "/v1/admin/accounts", "{\"name\":\"Lost\"}", &r);
    th_assert_error(&r, 503, "store_unavailable");
    th_response_free(&r);
    /* The journal absorbs the first calls of any store outage (METERING_LEDGER_GRACE_MS); past
     * it, metered calls are refused. */
    long st = 200;
    for (int i = 0; i < 1000 && st == 200; i++) {
        st = th_keyed(&s, DELETED_WEEKLY, key, &r);
        if (st != 200)
            th_assert_error(&r, 503, "store_unavailable");
        th_response_free(&r);
        if (st == 200)
            usleep(10000);
    }
    cr_assert_eq(st, 503, "metered calls were never refused");
    /* One critical line for the outage, not one per refused call. */
    for (int i = 0; i < 500 && log_lines_with(&s, "\"severity\":\"critical\"") == 0; i++)
        usleep(10000);
    for (int i = 0; i < 5; i++) {
        th_admin(&s, "PATCH", "/v1/admin/plans/m", "{\"burst\":5}", &r);
        th_assert_error(&r, 503, "store_unavailable");
        th_response_free(&r);
        th_request(&s, "GET", "/readyz", NULL, NULL, &r);
        th_assert_error(&r, 503, "store_unavailable");
        th_response_free(&r);
        usleep(100000); /* a sync interval of the harness */
    }
    cr_assert_eq(log_lines_with(&s, "\"severity\":\"critical\""), 1);
    th_stop(&s);
}

/* The database and its journal on a small tmpfs of their own, the log outside it. */
static char full_disk_db[320];
static void on_small_disk(app_config *cfg)
{
    snprintf(cfg->db, sizeof cfg->db, "%s", full_disk_db);
}

/* Fills the file system of `dir` with one file until it refuses a write; returns its path's fd. */
static int fill_disk(const char *dir, char path[400])
{
    snprintf(path, 400, "%s/filler", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert(fd >= 0);
    static const char block[65536];
    while (write(fd, block, sizeof block) > 0)
        ;
    while (write(fd, block, 1) > 0) /* the last partial block */
        ;
    cr_assert_eq(errno, ENOSPC);
    return fd;
}

/*
 * A full disk (issue: "/readyz is 200 while every write fails; 26 MB of logs in 30 s"): readiness
 * says the server cannot count, each failing write is logged once per interval rather than with
 * every refused call, nothing is counted, and all of it ends by itself once space is back.
 */
Test(full_disk, readiness_follows_writes_and_the_failure_is_logged_once_per_interval, .timeout = 90)
{
    char dir[256], disk[300], filler[400];
    th_tmpdir(dir);
    snprintf(disk, sizeof disk, "%s/disk", dir);
    cr_assert_eq(mkdir(disk, 0700), 0);
    if (mount("tmpfs", disk, "tmpfs", 0, "size=4m") != 0) {
        th_rmdir(dir);
        cr_skip_test("a tmpfs cannot be mounted here (%s): the test needs root", strerror(errno));
    }
    snprintf(full_disk_db, sizeof full_disk_db, "%s/starmeter.db", disk);
    th_server s;
    th_start(&s, &(th_opts){.dir = dir, .tune = on_small_disk});
    char key[80];
    metered_key(&s, key);
    th_response r;
    cr_assert_eq(th_keyed(&s, DELETED_WEEKLY, key, &r), 200, "%s", r.body);
    th_response_free(&r);
    int served = 1;
    th_request(&s, "GET", "/readyz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);

    int fd = fill_disk(disk, filler);
    /* What the journal's last pages (one segment per event loop) still hold is used up first:
     * calls are served while their count finds room, refused once it does not. */
    int refused_in_a_row = 0, calls = 0;
    for (; calls < 3000 && refused_in_a_row < 200; calls++) {
        long st = th_keyed(&s, DELETED_WEEKLY, key, &r);
        if (st == 200) {
            served++;
            refused_in_a_row = 0;
        } else {
            th_assert_error(&r, 503, "store_unavailable");
            refused_in_a_row++;
        }
        th_response_free(&r);
        if (refused_in_a_row == 1) {
            th_request(&s, "GET", "/readyz", NULL, NULL, &r);
            th_assert_error(&r, 503, "store_unavailable");
            th_response_free(&r);
        }
    }
    cr_assert_eq(refused_in_a_row, 200, "calls still served on a full disk after %d", calls);
    /* Hundreds of refused calls within one interval: one line for the failed appends, one for the
     * refusals (before, two lines per refused call). */
    cr_assert_leq(log_lines_with(&s, "usage journal append failed"), 1);
    cr_assert_leq(log_lines_with(&s, "\"request failed\""), 1);

    /* Space is back: ready again within a few probes, and calls are counted again. */
    close(fd);
    cr_assert_eq(unlink(filler), 0);
    long ready = 0;
    for (int i = 0; i < 100 && ready != 200; i++) {
        th_request(&s, "GET", "/readyz", NULL, NULL, &r);
        ready = r.status;
        th_response_free(&r);
        if (ready != 200)
            usleep(50000);
    }
    cr_assert_eq(ready, 200, "not ready again once space was back");
    cr_assert_eq(th_keyed(&s, DELETED_WEEKLY, key, &r), 200, "%s", r.body);
    th_response_free(&r);
    served++;

    /* The ledger holds exactly the calls answered 200: the refused ones counted nothing. */
    th_stop(&s);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(full_disk_db, &db), SQLITE_OK);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT coalesce(sum(requests), 0) FROM enterprise_daily_usages", -1, &q, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int64(q, 0), served, "ledger %lld, answered 200: %d",
                 (long long)sqlite3_column_int64(q, 0), served);
    sqlite3_finalize(q);
    sqlite3_close(db);
    cr_assert_eq(umount2(disk, MNT_DETACH), 0);
    th_rmdir(dir);
}

/* Starts a server on `dir` as th_start would and returns the start's error code (0: started, stopped). */
static int start_on(const char *dir, bool recreate, app_err *err)
{
    th_server s;
    memset(&s, 0, sizeof s);
    config_defaults(&s.cfg);
    snprintf(s.cfg.listen, sizeof s.cfg.listen, "127.0.0.1:0");
    snprintf(s.cfg.db, sizeof s.cfg.db, "%s/starmeter.db", dir);
    s.cfg.recreate_db = recreate;
    s.cfg.web_root[0] = '\0';
    log_init(&s.log, LOG_OFF, STDERR_FILENO);
    app_err_clear(err);
    app *a = app_start(&s.cfg, NULL, &s.log, err);
    app_stop(a);
    return a != NULL ? 0 : (int)err->code;
}

Test(deleted_db, a_restart_does_not_create_an_empty_database_unless_asked, .timeout = 60)
{
    char dir[256], db[300], journal[320], *out;
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/starmeter.db", dir);
    snprintf(journal, sizeof journal, "%s-usage", db);
    th_server s;
    th_opts o = {.dir = dir};
    th_start(&s, &o);
    th_response r;
    cr_assert_eq(th_admin(&s, "POST", "/v1/admin/accounts", "{\"name\":\"Kept\"}", &r), 201, "%s", r.body);
    th_response_free(&r);
    remove_database_files(dir);
    th_stop(&s);
    cr_assert_neq(access(db, F_OK), 0, "the stopping server recreated the file");

    /* The journal and the pepper remain: a database was here. */
    const char *args[] = {"starmeter", "serve", "--listen", "127.0.0.1:0", "--db", db, NULL};
    cr_assert_eq(run_to_end(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "store_unavailable") && strstr(out, "--recreate-db"), "%s", out);
    free(out);
    cr_assert_neq(access(db, F_OK), 0, "a refused start left a database behind");
    /* Without the journal, the pepper beside it is trace enough. */
    th_rmdir(journal);
    app_err err;
    cr_assert_eq(start_on(dir, false, &err), APP_STORE_UNAVAILABLE, "%s", err.message);
    cr_assert(strstr(err.message, "/pepper") != NULL, "%s", err.message);
    cr_assert_neq(access(db, F_OK), 0);
    /* Asked for, it starts empty: with the flag, or after `migrate`. */
    cr_assert_eq(start_on(dir, true, &err), 0, "%s", err.message);
    remove_database_files(dir);
    cr_assert_eq(start_on(dir, false, &err), APP_STORE_UNAVAILABLE, "%s", err.message);
    const char *migrate[] = {"starmeter", "migrate", "--db", db, "--log-level", "warn", NULL};
    cr_assert_eq(run_to_end(migrate, &out), 0, "%s", out);
    free(out);
    th_start(&s, &o);
    cr_assert_eq(th_admin(&s, "GET", "/v1/admin/accounts", NULL, &r), 200, "%s", r.body);
    cr_assert_eq(json_array_size(json_object_get(th_data(&r), "items")), 0, "%s", r.body);
    th_response_free(&r);
    th_stop(&s);

    /* Starting empty where the lost database's journal remains moves the journal aside, kept,
     * rather than replaying it into the new database. */
    remove_database_files(dir);
    cr_assert_eq(access(journal, F_OK), 0, "the journal directory outlives a clean stop");
    cr_assert_eq(start_on(dir, true, &err), 0, "%s", err.message);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls -d '%s'.orphaned-* >/dev/null 2>&1", journal);
    cr_assert_eq(system(cmd), 0, "the old journal is kept beside, renamed");
    th_rmdir(dir);
}

/* ---- backup: an online copy of the SQLite database ---- */

/* Copies the file `from` to `to` byte for byte. */
static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in != NULL && out != NULL, "%s -> %s", from, to);
    char b[4096];
    for (size_t n; (n = fread(b, 1, sizeof b, in)) > 0;)
        cr_assert_eq(fwrite(b, 1, n, out), n);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
}

/* How many entries of `dir` have `needle` in their name. */
static int files_named(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        n += strstr(de->d_name, needle) != NULL;
    closedir(d);
    return n;
}

/*
 * A backup taken while a spawned server answers metered calls from four connections: it takes
 * many steps (a few pages each) while the server commits, yet it is one snapshot. It verifies,
 * holds the account and its key, and its usage lies between what the server had stored before
 * the backup began and what it stored in the end. Restored as README says (the file and the
 * pepper), it serves the same key.
 */
Test(binary, backup_under_load_is_one_consistent_snapshot_that_restores, .timeout = 120)
{
    char dir[256], db[300], bk[300];
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/starmeter.db", dir);
    snprintf(bk, sizeof bk, "%s/backup.db", dir);
    load_account(db, NULL);
    const char *args[] = {"starmeter", "serve", "--listen", "127.0.0.1:0", "--db", db, NULL};
    int fd;
    th_server srv;
    pid_t pid = serve_on(args, &fd, &srv);
    pthread_t drainer;
    pthread_create(&drainer, NULL, drain, &fd);

    enum { CONNS = 4 };
    pthread_t t[CONNS];
    atomic_store(&crash_ok, 0);
    atomic_store(&crash_stop, false);
    for (int i = 0; i < CONNS; i++)
        pthread_create(&t[i], NULL, crash_load, srv.base_url);
    for (int i = 0; i < 500 && atomic_load(&crash_ok) < 200; i++)
        usleep(10000);
    /* The journal is folded every few milliseconds; a busy machine may take longer. */
    long long before = 0;
    for (int i = 0; i < 100 && (before = stored_requests(db, NULL)) == 0; i++)
        usleep(100000);
    cr_assert_gt(before, 0, "the load was folded into the database before the backup");

    const char *backup[] = {"starmeter", "backup", "--db", db, "--to", bk, "--pages-per-step", "4", NULL};
    char *out;
    cr_assert_eq(run_to_end(backup, &out), 0, "%s", out);
    json_t *summary = json_loads(out, 0, NULL);
    cr_assert_not_null(summary, "one line of JSON: %s", out);
    cr_assert(strchr(out, '\n') == out + strlen(out) - 1, "one line: %s", out);
    json_int_t pages = json_integer_value(json_object_get(summary, "pages"));
    json_int_t page_size = json_integer_value(json_object_get(summary, "page_size"));
    cr_assert_gt(pages, 8, "%s", out);
    cr_assert_eq(json_integer_value(json_object_get(summary, "bytes")), pages * page_size, "%s", out);
    cr_assert_gt(json_integer_value(json_object_get(summary, "steps")), 2, "the copy took several steps: %s", out);
    cr_assert(json_is_real(json_object_get(summary, "seconds")), "%s", out);
    cr_assert_str_eq(json_string_value(json_object_get(summary, "backup")), bk);
    json_decref(summary);
    free(out);

    usleep(300000); /* the server goes on serving after the backup */
    atomic_store(&crash_stop, true);
    for (int i = 0; i < CONNS; i++)
        pthread_join(t[i], NULL);
    kill(pid, SIGTERM);
    cr_assert_eq(wait_exit(pid, 15000), 0);
    pthread_join(drainer, NULL);
    close(fd);

    long long after = stored_requests(db, NULL), backed = stored_requests(bk, NULL);
    cr_assert_geq(backed, before, "the backup holds what was stored before it began: %lld < %lld", backed, before);
    cr_assert_leq(backed, after, "the backup holds no more than the server stored: %lld > %lld", backed, after);
    cr_assert_gt(audit_verified(bk, NULL), 0);
    cr_assert_eq(files_named(dir, ".tmp-"), 0, "no temporary file is left");

    json_t *accounts = cli_json(bk, (const char *[]){"account", "list", NULL});
    json_t *items = json_object_get(accounts, "items");
    cr_assert_eq(json_array_size(items), 1);
    json_t *acc = json_array_get(items, 0);
    cr_assert_str_eq(json_string_value(json_object_get(acc, "name")), "Load Corp");
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(acc, "id")));
    json_decref(accounts);
    json_t *keys = cli_json(bk, (const char *[]){"key", "list", "--account", id, NULL});
    cr_assert_eq(json_array_size(json_object_get(keys, "items")), 1);
    json_decref(keys);

    /* Restore: the file in place of a lost database, its pepper beside it, then start. */
    char rdir[300], rdb[340], pepper[300], rpepper[340];
    snprintf(rdir, sizeof rdir, "%s/restored", dir);
    cr_assert_eq(mkdir(rdir, 0700), 0);
    snprintf(rdb, sizeof rdb, "%s/starmeter.db", rdir);
    snprintf(pepper, sizeof pepper, "%s/pepper", dir);
    snprintf(rpepper, sizeof rpepper, "%s/pepper", rdir);
    copy_file(bk, rdb);
    copy_file(pepper, rpepper);
    const char *rargs[] = {"starmeter", "serve", "--listen", "127.0.0.1:0", "--db", rdb, NULL};
    pid = serve_on(rargs, &fd, &srv);
    th_response r;
    cr_assert_eq(th_keyed(&srv, "/v1/b2b/me", crash_key, &r), 200, "%s", r.body);
    th_response_free(&r);
    kill(pid, SIGTERM);
    cr_assert_eq(wait_exit(pid, 15000), 0);
    close(fd);
    cr_assert_eq(audit_verified(rdb, NULL), audit_verified(bk, NULL));
    th_rmdir(dir);
}

Test(binary, backup_refuses_an_existing_file_without_force_and_the_database_itself, .timeout = 60)
{
    char dir[256], db[300], dest[300], *out;
    th_tmpdir(dir);
    snprintf(db, sizeof db, "%s/starmeter.db", dir);
    snprintf(dest, sizeof dest, "%s/existing.db", dir);
    json_decref(cli_json(db, (const char *[]){"account", "create", "--name", "Kept Corp", NULL}));
    FILE *f = fopen(dest, "w");
    cr_assert_not_null(f);
    fputs("keep me", f);
    fclose(f);

    const char *plain[] = {"starmeter", "backup", "--db", db, "--to", dest, NULL};
    cr_assert_eq(run_to_end(plain, &out), 1, "%s", out);
    cr_assert(strstr(out, "exists") && strstr(out, "--force"), "%s", out);
    free(out);
    char text[32] = "";
    f = fopen(dest, "r");
    cr_assert_not_null(fgets(text, sizeof text, f));
    fclose(f);
    cr_assert_str_eq(text, "keep me", "the existing file is untouched");

    char store_uri[320];
    snprintf(store_uri, sizeof store_uri, "sqlite:%s", db);
    const char *forced[] = {"starmeter", "backup", "--store", store_uri, "--to", dest, "--force", NULL};
    cr_assert_eq(run_to_end(forced, &out), 0, "%s", out);
    free(out);
    cr_assert_eq(audit_verified(dest, NULL), 1);

    /* Never the database itself, even with --force; never a database that is not there. */
    const char *self[] = {"starmeter", "backup", "--db", db, "--to", db, "--force", NULL};
    cr_assert_eq(run_to_end(self, &out), 1, "%s", out);
    cr_assert(strstr(out, "database's own file") != NULL, "%s", out);
    free(out);
    cr_assert_eq(audit_verified(db, NULL), 1);
    char missing[300], to[300];
    snprintf(missing, sizeof missing, "%s/missing.db", dir);
    snprintf(to, sizeof to, "%s/never.db", dir);
    const char *none[] = {"starmeter", "backup", "--db", missing, "--to", to, NULL};
    cr_assert_eq(run_to_end(none, &out), 1, "%s", out);
    cr_assert(strstr(out, "no database") != NULL, "%s", out);
    free(out);
    cr_assert_neq(access(missing, F_OK), 0, "the backup creates no database");
    cr_assert_neq(access(to, F_OK), 0);
    cr_assert_eq(files_named(dir, ".tmp-"), 0, "no temporary file is left");
    const char *no_to[] = {"starmeter", "backup", "--db", db, NULL};
    cr_assert_eq(run_to_end(no_to, &out), 2, "%s", out);
    free(out);
    th_rmdir(dir);
}

Test(binary, backup_of_a_postgres_store_points_to_pg_dump, .timeout = 60)
{
    char dir[256], to[300], *out;
    th_tmpdir(dir);
    snprintf(to, sizeof to, "%s/pg.db", dir);
    const char *args[] = {"starmeter", "backup", "--store", "postgres://starmeter:s3cret-pw@127.0.0.1:1/none",
                          "--to",      to,       NULL};
    cr_assert_eq(run_to_end(args, &out), 2, "%s", out);
    cr_assert(strstr(out, "PostgreSQL") && strstr(out, "pg_dump"), "%s", out);
    cr_assert_null(strstr(out, "s3cret-pw"), "the password is not echoed: %s", out);
    free(out);
    cr_assert_neq(access(to, F_OK), 0);
    th_rmdir(dir);
}
