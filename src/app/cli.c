/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "app/cli.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "app/config.h"
#include "app/store_copy.h"
#include "core/mem.h"
#include "core/str.h"
#include "domain/civil.h"
#include "infra/backup.h"
#include "services/keycache.h"
#include "services/services.h"

static const char usage_text[] =
    "Usage: starmeter admin <resource> <verb> [--field value]... [--db PATH] [--store URI] [--pepper-file PATH]\n\n"
    "  account create --name NAME\n"
    "  account list [--status active|suspended] [--limit N] [--cursor C]\n"
    "  account get|suspend|activate --id ID\n"
    "  plan create --code CODE --name NAME [--daily-limit N|null] [--monthly-limit N|null]\n"
    "              [--limit-mode block|overage] [--overage-cap N|null] [--rate-per-second N] [--burst N]\n"
    "              [--credential-rate-per-second N] [--credential-burst N] [--metered true|false]\n"
    "              [--alert-thresholds '[80,100]']\n"
    "  plan list [--limit N] [--cursor C]\n"
    "  plan get --code CODE\n"
    "  plan update --code CODE [any field of plan create but --code]\n"
    "  contract set --account ID --plan-code CODE [--timezone TZ] [override: --daily-limit N|null ...]\n"
    "  contract get --account ID\n"
    "  key issue --account ID [--label LABEL] [--expires-at 2027-01-31T00:00:00Z]\n"
    "  key list --account ID\n"
    "  key rotate --key-id KEY_ID [--grace-seconds N]\n"
    "  key revoke --key-id KEY_ID\n"
    "  audit list [--account-id ID] [--action ACTION] [--from T] [--to T] [--limit N] [--cursor C]\n\n"
    "Values: integers are numbers, null/true/false are JSON literals, [...] is a JSON list, anything\n"
    "else is a string.\n"
    "The output is the JSON the HTTP admin API answers. Options also read STARMETER_DB and\n"
    "STARMETER_PEPPER_FILE.\n";

typedef struct cli_args {
    json_t *fields; /* every --name value but the options below, names with '-' turned to '_' */
    app_config cfg;
} cli_args;

static json_t *value_json(const char *v)
{
    int64_t n;
    if (strcmp(v, "null") == 0)
        return json_null();
    if (strcmp(v, "true") == 0)
        return json_true();
    if (strcmp(v, "false") == 0)
        return json_false();
    if (str_to_i64(slice_make(v, strlen(v)), INT64_MIN, INT64_MAX, &n))
        return json_integer(n);
    if (v[0] == '[') { /* a list, such as --alert-thresholds '[80,100]' */
        json_t *list = json_loads(v, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_array(list))
            return list;
        json_decref(list);
    }
    return json_string(v);
}

static int parse(int argc, char **argv, cli_args *a)
{
    config_defaults(&a->cfg);
    app_err err;
    int help;
    app_err_clear(&err);
    a->fields = json_object();
    /* --db, --store, --pepper-file...: the configuration, read like serve's (after the environment);
     * every other --name value is a field of the request document. */
    char **opts = xcalloc((size_t)argc + 1, sizeof *opts);
    int nopts = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
            fprintf(stderr, "starmeter admin: expected --name value, got '%s'\n", argv[i]);
            free(opts);
            return 2;
        }
        const char *name = argv[i] + 2, *value = argv[++i];
        if (config_is_option(name, CMD_ADMIN)) {
            opts[nopts++] = argv[i - 1];
            opts[nopts++] = argv[i];
            continue;
        }
        char key[64];
        if (str_copy(key, sizeof key, name) < 0) {
            fprintf(stderr, "starmeter admin: option name too long: %s\n", name);
            free(opts);
            return 2;
        }
        for (char *p = key; *p; p++)
            if (*p == '-')
                *p = '_';
        json_t *v = value_json(value);
        if (v == NULL) {
            fprintf(stderr, "starmeter admin: --%s: not valid UTF-8\n", name);
            free(opts);
            return 2;
        }
        json_object_set_new(a->fields, key, v);
    }
    int rc = config_parse(&a->cfg, CMD_ADMIN, nopts, opts, &help, &err);
    free(opts);
    if (rc != 0) {
        for (size_t i = 0; i < err.nfields; i++)
            fprintf(stderr, "starmeter admin: --%s: %s\n", err.fields[i].field, err.fields[i].issue);
        return 2;
    }
    return 0;
}

/* Takes a member out of the fields (the caller owns the result) or NULL. */
static json_t *take(cli_args *a, const char *name)
{
    json_t *v = json_object_get(a->fields, name);
    if (v == NULL)
        return NULL;
    json_incref(v);
    json_object_del(a->fields, name);
    return v;
}

static bool take_int(cli_args *a, const char *name, int64_t *out)
{
    json_t *v = take(a, name);
    bool ok = json_is_integer(v);
    if (ok)
        *out = json_integer_value(v);
    else
        fprintf(stderr, "starmeter admin: --%s needs an integer\n", name);
    json_decref(v);
    return ok;
}

/* A string option, copied into out; false (with a message) when missing or not a string. */
static bool take_str(cli_args *a, const char *name, char *out, size_t cap, bool required)
{
    json_t *v = take(a, name);
    bool ok = json_is_string(v) && str_copy(out, cap, json_string_value(v)) >= 0;
    if (v == NULL && !required) {
        out[0] = '\0';
        return true;
    }
    if (!ok)
        fprintf(stderr, "starmeter admin: --%s needs a value\n", name);
    json_decref(v);
    return ok;
}

static bool no_more(cli_args *a)
{
    const char *key;
    json_t *v;
    bool ok = true;
    json_object_foreach(a->fields, key, v)
    {
        fprintf(stderr, "starmeter admin: unexpected option --%s\n", key);
        ok = false;
    }
    return ok;
}

static int report(int rc, const app_err *err, json_t *out)
{
    if (rc == 0) {
        char *text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text ? text : "null");
        free(text);
        json_decref(out);
        return 0;
    }
    fprintf(stderr, "error: %s: %s\n", app_code_name(err->code), err->message);
    for (size_t i = 0; i < err->nfields; i++)
        fprintf(stderr, "  %s: %s\n", err->fields[i].field, err->fields[i].issue);
    return rc == APP_VALIDATION_ERROR || rc == APP_NOT_FOUND ? 1 : 3;
}

static int dispatch(services *sv, const char *res, const char *verb, cli_args *a, json_t **out, app_err *err)
{
    actor who = {.name = "cli", .request_id = NULL};
    char text[128], cursor[32];
    int64_t id;
    page_req page = {0};
#define NEED(x)                                                                                                        \
    do {                                                                                                               \
        if (!(x))                                                                                                      \
            return -2;                                                                                                 \
    } while (0)
#define PAGE()                                                                                                         \
    do {                                                                                                               \
        if (json_object_get(a->fields, "limit"))                                                                       \
            NEED(take_int(a, "limit", &page.limit));                                                                   \
        NEED(take_str(a, "cursor", cursor, sizeof cursor, false));                                                     \
        page.cursor = cursor[0] ? cursor : NULL;                                                                       \
    } while (0)

    if (strcmp(res, "account") == 0) {
        if (strcmp(verb, "create") == 0)
            return admin_account_create(sv, &who, a->fields, out, err);
        if (strcmp(verb, "list") == 0) {
            NEED(take_str(a, "status", text, sizeof text, false));
            PAGE();
            NEED(no_more(a));
            return admin_account_list(sv, text[0] ? text : NULL, &page, out, err);
        }
        NEED(take_int(a, "id", &id));
        NEED(no_more(a));
        if (strcmp(verb, "get") == 0)
            return admin_account_get(sv, id, out, err);
        if (strcmp(verb, "suspend") == 0 || strcmp(verb, "activate") == 0) {
            json_t *body = json_pack("{s:s}", "status", verb[0] == 's' ? "suspended" : "active");
            int rc = admin_account_patch(sv, &who, id, body, out, err);
            json_decref(body);
            return rc;
        }
    } else if (strcmp(res, "plan") == 0) {
        if (strcmp(verb, "create") == 0)
            return admin_plan_create(sv, &who, a->fields, out, err);
        if (strcmp(verb, "list") == 0) {
            PAGE();
            NEED(no_more(a));
            return admin_plan_list(sv, &page, out, err);
        }
        NEED(take_str(a, "code", text, sizeof text, true));
        if (strcmp(verb, "get") == 0) {
            NEED(no_more(a));
            return admin_plan_get(sv, text, out, err);
        }
        if (strcmp(verb, "update") == 0)
            return admin_plan_patch(sv, &who, text, a->fields, out, err);
    } else if (strcmp(res, "contract") == 0) {
        NEED(take_int(a, "account", &id));
        if (strcmp(verb, "get") == 0) {
            NEED(no_more(a));
            return admin_contract_get(sv, id, out, err);
        }
        if (strcmp(verb, "set") == 0) {
            json_t *body = json_object();
            json_t *v;
            if ((v = take(a, "plan_code")) != NULL)
                json_object_set_new(body, "plan_code", v);
            if ((v = take(a, "timezone")) != NULL)
                json_object_set_new(body, "timezone", v);
            if (json_object_size(a->fields) > 0)
                json_object_set(body, "overrides", a->fields);
            int rc = admin_contract_put(sv, &who, id, body, out, err);
            json_decref(body);
            return rc;
        }
    } else if (strcmp(res, "key") == 0) {
        if (strcmp(verb, "issue") == 0 || strcmp(verb, "list") == 0) {
            NEED(take_int(a, "account", &id));
            if (verb[0] == 'i')
                return admin_credential_issue(sv, &who, id, a->fields, out, err);
            NEED(no_more(a));
            return admin_credential_list(sv, id, out, err);
        }
        NEED(take_str(a, "key_id", text, sizeof text, true));
        if (strcmp(verb, "rotate") == 0)
            return admin_credential_rotate(sv, &who, text, a->fields, out, err);
        if (strcmp(verb, "revoke") == 0) {
            NEED(no_more(a));
            return admin_credential_revoke(sv, &who, text, out, err);
        }
    } else if (strcmp(res, "audit") == 0 && strcmp(verb, "list") == 0) {
        audit_filter f = {0};
        char action[64], from[40], to[40];
        if (json_object_get(a->fields, "account_id")) {
            NEED(take_int(a, "account_id", &id));
            f.account_id = opt_some(id);
        }
        NEED(take_str(a, "action", action, sizeof action, false));
        f.action = action[0] ? action : NULL;
        NEED(take_str(a, "from", from, sizeof from, false));
        NEED(take_str(a, "to", to, sizeof to, false));
        int64_t ms;
        if (from[0]) {
            if (!civil_parse_rfc3339_str(from, &ms))
                return app_err_field(err, "from", "must be an RFC 3339 timestamp");
            f.from_ms = opt_some(ms);
        }
        if (to[0]) {
            if (!civil_parse_rfc3339_str(to, &ms))
                return app_err_field(err, "to", "must be an RFC 3339 timestamp");
            f.to_ms = opt_some(ms);
        }
        PAGE();
        NEED(no_more(a));
        return admin_audit_list(sv, &f, &page, out, err);
    }
#undef NEED
#undef PAGE
    return -1;
}

int cli_admin(int argc, char **argv)
{
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    cli_args a;
    int rc = parse(argc - 2, argv + 2, &a);
    if (rc != 0) {
        json_decref(a.fields);
        return rc;
    }
    if (sodium_init() < 0)
        return 3;
    app_log log;
    log_init(&log, LOG_WARN, STDERR_FILENO);
    app_err err;
    app_err_clear(&err);
    store *st = app_store_open(&a.cfg, &err);
    int applied;
    services sv;
    keycache *keys = keycache_new();
    json_t *out = NULL;
    if (st == NULL || store_migrate(st, &applied, &err) != 0 ||
        app_services_init(&sv, keys, st, &a.cfg, clock_system(), &log, &err) != 0) {
        rc = report(err.code ? (int)err.code : APP_INTERNAL_ERROR, &err, NULL);
    } else {
        rc = dispatch(&sv, argv[0], argv[1], &a, &out, &err);
        if (rc == -1) {
            fprintf(stderr, "starmeter admin: unknown command '%s %s'\n\n%s", argv[0], argv[1], usage_text);
            rc = 2;
        } else if (rc == -2) {
            rc = 2;
        } else {
            rc = report(rc, &err, out);
        }
        sodium_memzero(sv.pepper, sizeof sv.pepper);
    }
    keycache_free(keys);
    store_close(st);
    json_decref(a.fields);
    return rc;
}

int cli_audit(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "verify") != 0) {
        fprintf(stderr, "Usage: starmeter audit verify [--db PATH | --store URI]\n");
        return 2;
    }
    app_config cfg;
    app_err err;
    int help;
    config_defaults(&cfg);
    app_err_clear(&err);
    if (config_parse(&cfg, CMD_AUDIT, argc - 1, argv + 1, &help, &err) != 0 || help) {
        fprintf(stderr, "Usage: starmeter audit verify [--db PATH | --store URI]\n");
        return help ? 0 : 2;
    }
    if (sodium_init() < 0)
        return 3;
    store *st = app_store_open(&cfg, &err);
    int applied;
    if (st == NULL || store_migrate(st, &applied, &err) != 0) {
        fprintf(stderr, "error: %s: %s\n", app_code_name(err.code), err.message);
        store_close(st);
        return 3;
    }
    int64_t checked, broken;
    char why[160];
    int rc = audit_verify(st, &checked, &broken, why, &err);
    store_close(st);
    if (rc != 0) {
        fprintf(stderr, "error: %s: %s\n", app_code_name(err.code), err.message);
        return 3;
    }
    if (broken != 0) {
        printf("audit chain BROKEN at event %lld: %s (%lld events checked)\n", (long long)broken, why,
               (long long)checked);
        return 1;
    }
    printf("audit chain intact: %lld events verified\n", (long long)checked);
    return 0;
}

static const char store_usage_text[] =
    "Usage: starmeter store copy --from URI --to URI [--store-connections N]\n\n"
    "Copies every account, plan, contract, API key, usage row, unexpired idempotent answer and audit\n"
    "event, with their ids and the audit chain as it is, into a new, empty store (migrated first).\n"
    "URI is sqlite:PATH or postgres://user@host:port/db. Stop the source's server cleanly first.\n"
    "Keys are copied as hashes peppered with the source's pepper file: serve the target with it.\n";

/*
 * Opens and migrates the store `uri` names, as --store would; NULL with `err` set. `create`: an
 * empty SQLite database may be made where files of an earlier one remain (the copy's target).
 */
static store *open_uri(const char *uri, int64_t connections, bool create, app_config *cfg, app_err *err)
{
    int help = 0, applied = 0;
    char *argv[] = {"--store", (char *)uri};
    config_defaults(cfg);
    if (config_parse(cfg, CMD_AUDIT, 2, argv, &help, err) != 0)
        return NULL;
    cfg->store_connections = connections;
    cfg->recreate_db = create;
    store *st = app_store_open(cfg, err);
    if (st != NULL && store_migrate(st, &applied, err) != 0) {
        store_close(st);
        st = NULL;
    }
    return st;
}

/* The error of a store command, as `admin` prints it; returns the exit code. */
static int store_fail(const char *what, const app_err *err)
{
    fprintf(stderr, "starmeter store copy: %s: %s: %s\n", what, app_code_name(err->code), err->message);
    for (size_t i = 0; i < err->nfields; i++)
        fprintf(stderr, "  %s: %s\n", err->fields[i].field, err->fields[i].issue);
    return err->code == APP_VALIDATION_ERROR ? 1 : 3;
}

int cli_store(int argc, char **argv)
{
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(store_usage_text, stdout);
        return 0;
    }
    const char *from = NULL, *to = NULL;
    int64_t connections = 2;
    bool ok = argc >= 1 && strcmp(argv[0], "copy") == 0;
    for (int i = 1; ok && i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (value != NULL && strcmp(argv[i], "--from") == 0)
            from = value;
        else if (value != NULL && strcmp(argv[i], "--to") == 0)
            to = value;
        else if (value != NULL && strcmp(argv[i], "--store-connections") == 0)
            ok = str_to_i64(slice_make(value, strlen(value)), 1, 64, &connections);
        else
            ok = false;
    }
    if (!ok || from == NULL || to == NULL) {
        fputs(store_usage_text, stderr);
        return 2;
    }
    if (sodium_init() < 0)
        return 3;
    app_err err;
    app_err_clear(&err);
    app_config from_cfg, to_cfg;
    store *src = NULL, *dst = NULL;
    store_copy_counts n;
    int rc = 0;
    if ((src = open_uri(from, connections, false, &from_cfg, &err)) == NULL) {
        rc = store_fail("--from", &err);
        goto out;
    }
    /* Counts a server wrote to its journal but had not folded would be left behind. */
    char journal[1100];
    if (!config_store_is_postgres(&from_cfg)) {
        config_journal_dir(&from_cfg, journal, sizeof journal);
        if (store_copy_check_journal(journal, &err) != 0) {
            rc = store_fail("--from", &err);
            goto out;
        }
    }
    if ((dst = open_uri(to, connections, true, &to_cfg, &err)) == NULL) {
        rc = store_fail("--to", &err);
        goto out;
    }
    if (store_copy(src, dst, clock_now_ms(clock_system()), &n, &err) != 0) {
        rc = store_fail("copy", &err);
        if (n.plans || n.accounts)
            fprintf(stderr,
                    "The target holds the rows copied so far: empty it (a new database) before copying again.\n");
        goto out;
    }
    int64_t checked = 0, broken = 0;
    char why[160];
    if (audit_verify(dst, &checked, &broken, why, &err) != 0) {
        rc = store_fail("verify the copy", &err);
        goto out;
    }
    if (broken != 0) {
        fprintf(stderr, "starmeter store copy: the copy's audit chain is BROKEN at event %lld: %s\n", (long long)broken,
                why);
        rc = 3;
        goto out;
    }
    printf("copied from %s to %s: %lld plans, %lld accounts, %lld contracts, %lld API keys, %lld usage rows, "
           "%lld idempotent answers, %lld audit events, %lld usage alerts, %lld webhook endpoints, "
           "%lld pending webhook deliveries\n",
           src->ops->name, dst->ops->name, (long long)n.plans, (long long)n.accounts, (long long)n.contracts,
           (long long)n.credentials, (long long)n.usage_rows, (long long)n.idem_records, (long long)n.audit_events,
           (long long)n.usage_alerts, (long long)n.webhooks, (long long)n.webhook_deliveries);
    printf("audit chain of the copy intact: %lld events verified\n", (long long)checked);
    printf("API keys are copied as hashes peppered with the source's pepper file: serve the target with that same "
           "file (--pepper-file, default <directory of --db>/pepper), or no key will authenticate.\n");
    printf("Usage journal marks are not copied: the source's journal must be folded (its server stopped cleanly)%s.\n",
           config_store_is_postgres(&from_cfg) ? "; a PostgreSQL source's servers each keep their own journal" : "");
out:
    store_close(src);
    store_close(dst);
    return rc;
}

static const char backup_usage_text[] =
    "Usage: starmeter backup --to FILE [--db PATH | --store sqlite:PATH] [--force] [--pages-per-step N]\n\n"
    "Copies the SQLite database into FILE while a server keeps serving from it: one consistent\n"
    "snapshot taken with SQLite's online backup API, N pages at a time (default 1024) with a short\n"
    "pause between steps. The copy is written beside FILE under a temporary name, checked, fsynced\n"
    "and renamed; an existing FILE is refused unless --force. Prints one line of JSON.\n\n"
    "The backup holds the usage folded into the database at its moment: counts a running server\n"
    "has answered but not yet folded (its usage journal, <db>-usage/, a few milliseconds' worth) are\n"
    "not in it. The pepper file (default <db dir>/pepper) is not copied: keep it with the backups.\n"
    "A PostgreSQL store is backed up with pg_dump. Exit 0 done, 1 refused, 2 usage, 3 failure.\n";

int cli_backup(int argc, char **argv)
{
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(backup_usage_text, stdout);
        return 0;
    }
    /* --to, --force and --pages-per-step are the command's own; the rest is configuration. */
    const char *to = NULL;
    backup_opts opts = {0};
    char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, rc = 0;
    bool ok = true;
    for (int i = 0; ok && i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--force") == 0) {
            opts.force = true;
        } else if (strcmp(argv[i], "--to") == 0 && value != NULL) {
            to = value;
            i++;
        } else if (strcmp(argv[i], "--pages-per-step") == 0 && value != NULL) {
            ok = str_to_i64(slice_make(value, strlen(value)), 1, INT32_MAX, &opts.pages_per_step);
            if (!ok)
                fprintf(stderr, "starmeter backup: --pages-per-step needs an integer from 1 to %d\n", INT32_MAX);
            i++;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    app_config cfg;
    app_err err;
    int help = 0;
    config_defaults(&cfg);
    app_err_clear(&err);
    if (ok && config_parse(&cfg, CMD_AUDIT, nrest, rest, &help, &err) != 0 && !help) {
        for (size_t i = 0; i < err.nfields; i++)
            fprintf(stderr, "starmeter backup: --%s: %s\n", err.fields[i].field, err.fields[i].issue);
        ok = false;
    }
    free(rest);
    if (help) {
        fputs(backup_usage_text, stdout);
        return 0;
    }
    if (ok && to == NULL)
        fprintf(stderr, "starmeter backup: --to FILE is required\n");
    if (!ok || to == NULL) {
        fputs(backup_usage_text, stderr);
        return 2;
    }
    /* The URI is not echoed: it may carry a password. */
    if (config_store_is_postgres(&cfg)) {
        fprintf(stderr, "starmeter backup: the store is PostgreSQL; this command copies SQLite databases only.\n"
                        "Back PostgreSQL up with its own tools: pg_dump --format=custom --file=FILE URI (then\n"
                        "pg_restore), or continuous archiving. Keep the pepper file with the dump.\n");
        return 2;
    }
    const char *db = config_sqlite_path(&cfg);
    backup_stats n;
    if ((rc = backup_sqlite_take(db, to, &opts, &n, &err)) != 0) {
        if (err.nfields == 0)
            fprintf(stderr, "starmeter backup: %s: %s\n", app_code_name(err.code), err.message);
        for (size_t i = 0; i < err.nfields; i++)
            fprintf(stderr, "starmeter backup: --%s: %s\n", err.fields[i].field, err.fields[i].issue);
        return rc == APP_VALIDATION_ERROR || rc == APP_NOT_FOUND ? 1 : 3;
    }
    json_t *out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I}", "backup", to, "source", db, "pages",
                            (json_int_t)n.pages, "page_size", (json_int_t)n.page_size, "bytes", (json_int_t)n.bytes,
                            "seconds", n.seconds, "steps", (json_int_t)n.steps, "busy_retries",
                            (json_int_t)n.busy_retries, "schema_version", (json_int_t)n.schema_version);
    char *text = out ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    printf("%s\n", text ? text : "null");
    free(text);
    json_decref(out);
    return 0;
}
