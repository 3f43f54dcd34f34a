/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The admin documents, through the same service entry points the HTTP admin API and the CLI call.
 * Input: one byte choosing the entry point, then the request body, parsed as the API parses it.
 * The services run over a real SQLite store (on tmpfs when there is one) holding one account, one
 * plan and one contract, so that a valid document goes all the way to the store. Every answer is
 * either a result document or an error of the table with its fields; the store is made afresh
 * every RESET_EVERY inputs so that it stays small.
 */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "app/config.h"
#include "services/services.h"

#define RESET_EVERY 2000

static char dir[64];
static app_config cfg;
static app_log lg;
static store *st;
static keycache *keys;
static services sv;
static int64_t account_id;
static unsigned runs;

static void must(int rc, const app_err *err, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "fuzz_admin_json: %s: %s\n", what, err->message);
        abort();
    }
}

static json_t *doc(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert(j != NULL);
    return j;
}

static void remove_files(void)
{
    static const char *const names[] = {"fuzz.db", "fuzz.db-wal", "fuzz.db-shm", "pepper"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
}

static void store_open(void)
{
    app_err err;
    app_err_clear(&err);
    remove_files();
    st = store_sqlite_open(cfg.db, &err);
    must(st == NULL, &err, "open");
    int applied;
    must(store_migrate(st, &applied, &err), &err, "migrate");
    keys = keycache_new();
    must(app_services_init(&sv, keys, st, &cfg, clock_system(), &lg, &err), &err, "services");
    actor a = {.name = "fuzz", .request_id = NULL};
    json_t *out = NULL, *body = doc("{\"code\":\"basic\",\"name\":\"Basic\",\"daily_limit\":1000}");
    must(admin_plan_create(&sv, &a, body, &out, &err), &err, "plan");
    json_decref(body);
    json_decref(out);
    body = doc("{\"name\":\"Fuzz\"}");
    must(admin_account_create(&sv, &a, body, &out, &err), &err, "account");
    account_id = json_integer_value(json_object_get(out, "id"));
    json_decref(body);
    json_decref(out);
    body = doc("{\"plan_code\":\"basic\"}");
    must(admin_contract_put(&sv, &a, account_id, body, &out, &err), &err, "contract");
    json_decref(body);
    json_decref(out);
}

static void store_drop(void)
{
    store_close(st);
    keycache_free(keys);
    remove_files();
}

static void on_exit_cleanup(void)
{
    store_drop();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "%s/starmeter-fuzz-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(dir) == NULL)
        abort();
    config_defaults(&cfg);
    snprintf(cfg.db, sizeof cfg.db, "%s/fuzz.db", dir);
    log_init(&lg, LOG_ERROR, STDERR_FILENO);
    store_open();
    atexit(on_exit_cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (++runs % RESET_EVERY == 0) {
        store_drop();
        store_open();
    }
    json_error_t jerr;
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL)
        return 0;
    actor a = {.name = "fuzz", .request_id = NULL};
    json_t *out = NULL;
    app_err err;
    app_err_clear(&err);
    int rc;
    switch (data[0] % 7) {
    case 0: rc = admin_account_create(&sv, &a, body, &out, &err); break;
    case 1: rc = admin_account_patch(&sv, &a, account_id, body, &out, &err); break;
    case 2: rc = admin_plan_create(&sv, &a, body, &out, &err); break;
    case 3: rc = admin_plan_patch(&sv, &a, "basic", body, &out, &err); break;
    case 4: rc = admin_contract_put(&sv, &a, account_id, body, &out, &err); break;
    case 5: rc = admin_credential_issue(&sv, &a, account_id, body, &out, &err); break;
    default: rc = admin_credential_rotate(&sv, &a, "000000000000", body, &out, &err); break;
    }
    if (rc == 0) {
        assert(err.code == APP_OK && out != NULL);
        char *text = json_dumps(out, JSON_COMPACT);
        assert(text != NULL);
        free(text);
    } else {
        assert((int)err.code == rc && out == NULL);
        assert(strlen(err.message) < sizeof err.message);
    }
    json_decref(out);
    json_decref(body);
    return 0;
}
