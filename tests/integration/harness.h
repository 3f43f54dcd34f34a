/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_TESTS_HARNESS_H
#define STARMETER_TESTS_HARNESS_H

/*
 * Integration-test harness: a real starmeter (app_start) in the test process on an ephemeral port,
 * with its own temporary directory, database and log file, and real HTTP requests through libcurl.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "app/app.h"

typedef struct th_server {
    app *app;
    app_config cfg;
    app_log log;
    char dir[256];
    char log_path[300];
    int log_fd;
    char base_url[64];
    bool keep_dir;
} th_server;

typedef struct th_opts {
    store *store;                  /* optional: replaces the store th_start would open (see th_store_is_postgres) */
    const app_clock *clock;        /* optional */
    bool demo;                     /* serve --demo */
    const char *dir;               /* optional: reuse this directory (a restart); it is then not removed */
    int64_t global_burst;          /* optional: the global rate-limit burst (rate 1/s) */
    const char *web_root;          /* optional: the panel's files */
    int durability;                /* optional: 1 for --durability fsync */
    const char *store_uri;         /* optional: serve this store (--store), e.g. a database another server uses */
    const char *counters;          /* optional: --counters redis://... */
    bool counters_open;            /* optional: --counters-unavailable open */
    const char *pepper;            /* optional: --pepper-file, for servers that must accept the same keys */
    void (*tune)(app_config *cfg); /* optional: adjusts the configuration last, before the start */
} th_opts;

/* The admin token every test server accepts, and its Authorization header. */
#define TH_ADMIN_TOKEN "test-admin-token-0123456789"
#define TH_ADMIN_AUTH "Authorization: Bearer " TH_ADMIN_TOKEN

/*
 * Starts a server; aborts the test on failure. `opts` may be NULL. Without opts->store the server
 * opens SQLite at <dir>/starmeter.db, or, when th_store_is_postgres(), a fresh database on the test
 * PostgreSQL (th_pg_new_database) whose URI is kept in <dir>/pg.uri so that a restart on the same
 * opts->dir finds the same data again.
 */
void th_start(th_server *s, const th_opts *opts);
/* Stops it and removes the temporary directory. */
void th_stop(th_server *s);

typedef struct th_response {
    long status;
    char *body; /* NUL-terminated, owned */
    size_t body_len;
    char *headers; /* raw response header block, owned */
    json_t *json;  /* parsed body or NULL */
} th_response;

/*
 * Sends `method path` with `headers` (a NULL-terminated list of "Name: value", may be NULL) and an
 * optional body. Aborts the test on transport failure.
 */
void th_request(th_server *s, const char *method, const char *path, const char *const *headers, const char *body,
                th_response *out);
void th_response_free(th_response *r);

/* The value of response header `name` (case-insensitive) copied into out; false if absent. */
bool th_header(const th_response *r, const char *name, char *out, size_t cap);

/*
 * A new TCP connection to the server, its receive buffer set to `rcvbuf` bytes first when above 0
 * (a small one makes the server's writes wait on the client). Aborts the test if it cannot connect.
 */
int th_dial(th_server *s, int rcvbuf);

/*
 * Reads what arrives on `fd` into `out` (NUL-terminated, at most cap - 1 bytes) until the peer
 * closes, `ms` pass with nothing new, or, when `answers` is above 0, that many answers' status
 * lines came. Returns the bytes read.
 */
size_t th_read(int fd, char *out, size_t cap, int ms, int answers);

/*
 * Sends raw bytes on a new connection and reads until the peer closes or `timeout_ms` passes;
 * returns the bytes read (owned, NUL-terminated).
 */
char *th_raw(th_server *s, const char *bytes, size_t len, int timeout_ms);

/*
 * Admin call with the admin token: method, path, optional JSON body. Returns the status; *out
 * gets the response (free with th_response_free).
 */
long th_admin(th_server *s, const char *method, const char *path, const char *body, th_response *out);
/* GET path with X-API-Key: key. */
long th_keyed(th_server *s, const char *path, const char *key, th_response *out);
/* Asserts the error envelope: status, code, message, details, request_id equal to the header, JSON. */
void th_assert_error(const th_response *r, long status, const char *code);
/* The "data" member of a success body. */
json_t *th_data(const th_response *r);

/* Reads a whole file (owned, NUL-terminated) or NULL. */
char *th_read_file(const char *path, size_t *len);

/*
 * Creates a fresh, empty database on the private PostgreSQL whose URI `make test` puts in
 * STARMETER_TEST_PG (scripts/test-c.sh) and writes its URI into out[cap]. Fails the test with a
 * clear message when the variable is not set.
 */
void th_pg_new_database(char *out, size_t cap);

/*
 * Whether the suite runs on PostgreSQL: STARMETER_TEST_STORE=postgres, which tests/CMakeLists.txt
 * sets for the <name>_postgres variant of every integration test that can run on either store.
 */
bool th_store_is_postgres(void);
/* Opens the store server `s` uses (its database, not its process): SQLite at cfg.db or cfg.store. */
store *th_store_open(const th_server *s);
/* Runs `sql` (statements the store's dialect accepts) directly on the database of server `s`. */
void th_store_exec(const th_server *s, const char *sql);
/*
 * The text of every row of every table of the PostgreSQL database at `uri` (ROW::text, bytea as
 * \x hex), owned and NUL-terminated: what a byte-for-byte search of a SQLite file is for PostgreSQL.
 */
char *th_pg_dump(const char *uri, size_t *len);

/*
 * The schema version a fully migrated store reports: the number of its last migration file (numbers
 * may have gaps, so it is not their count).
 */
int th_schema_version(bool postgres);

/* Creates a fresh temporary directory under /tmp into dir[256]. */
void th_tmpdir(char dir[256]);
/* rm -rf dir. */
void th_rmdir(const char *dir);

#endif
