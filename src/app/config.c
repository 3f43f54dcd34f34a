/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "app/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/str.h"

typedef enum opt_type { OPT_STR, OPT_INT, OPT_LOG_LEVEL, OPT_FLAG, OPT_CHOICE } opt_type;

/* One table of options (as Redis's config.c): the parser, the help and the docs all read it. */
static const struct option_def {
    const char *name;
    const char *env;
    opt_type type;
    size_t offset;
    size_t cap; /* OPT_STR: buffer size */
    int64_t min, max;
    const char *def;
    unsigned commands;
    const char *help;
    bool env_only;     /* secrets: never taken from argv, where `ps` would show them */
    const char *words; /* OPT_CHOICE: the words allowed, "a|b", stored as their index */
} options[] = {
    {"listen", "STARMETER_LISTEN", OPT_STR, offsetof(app_config, listen), sizeof(((app_config *)0)->listen), 0, 0,
     "127.0.0.1:8080", CMD_SERVE, "address to listen on, host:port (port 0 picks a free one)"},
    {"db", "STARMETER_DB", OPT_STR, offsetof(app_config, db), sizeof(((app_config *)0)->db), 0, 0,
     "./data/starmeter.db", CMD_SERVE | CMD_MIGRATE | CMD_ADMIN | CMD_AUDIT,
     "SQLite database file (created with its directory)"},
    {"store", "STARMETER_STORE", OPT_STR, offsetof(app_config, store), sizeof(((app_config *)0)->store), 0, 0, "",
     CMD_SERVE | CMD_MIGRATE | CMD_ADMIN | CMD_AUDIT,
     "the store: sqlite:PATH, or a PostgreSQL URI postgres://user@host:port/db; default SQLite at --db"},
    {"store-connections", "STARMETER_STORE_CONNECTIONS", OPT_INT, offsetof(app_config, store_connections), 0, 1, 64,
     "4", CMD_SERVE | CMD_MIGRATE | CMD_ADMIN | CMD_AUDIT, "PostgreSQL connections this process keeps open"},
    {"counters", "STARMETER_COUNTERS", OPT_STR, offsetof(app_config, counters), sizeof(((app_config *)0)->counters), 0,
     0, "", CMD_SERVE,
     "the counters that decide limits: redis://host:port/db, shared by every process; default in-process"},
    {"journal-dir", "STARMETER_JOURNAL_DIR", OPT_STR, offsetof(app_config, journal_dir),
     sizeof(((app_config *)0)->journal_dir), 0, 0, "", CMD_SERVE,
     "the usage journal (counts written before their answers leave); default <db>-usage beside the database"},
    {"pepper-file", "STARMETER_PEPPER_FILE", OPT_STR, offsetof(app_config, pepper_file),
     sizeof(((app_config *)0)->pepper_file), 0, 0, "", CMD_SERVE | CMD_ADMIN,
     "key-hashing pepper (32 random bytes, created mode 0600 on first start); default <db dir>/pepper"},
    {"admin-token-file", "STARMETER_ADMIN_TOKEN_FILE", OPT_STR, offsetof(app_config, admin_token_file),
     sizeof(((app_config *)0)->admin_token_file), 0, 0, "", CMD_SERVE,
     "file holding the admin bearer token (or set STARMETER_ADMIN_TOKEN); none: admin API disabled"},
    {"admin-token", "STARMETER_ADMIN_TOKEN", OPT_STR, offsetof(app_config, admin_token),
     sizeof(((app_config *)0)->admin_token), 0, 0, "", CMD_SERVE, "admin bearer token, at least 16 characters", true},
    {"demo", "STARMETER_DEMO", OPT_FLAG, offsetof(app_config, demo), 0, 0, 1, "0", CMD_SERVE,
     "create once a demo plan, account and key, written to <db dir>/demo.key"},
    {"recreate-db", "STARMETER_RECREATE_DB", OPT_FLAG, offsetof(app_config, recreate_db), 0, 0, 1, "0", CMD_SERVE,
     "create an empty SQLite database even though its journal, WAL or pepper remain from an earlier one "
     "(without it, such a start fails: the database was deleted)"},
    {"threads", "STARMETER_THREADS", OPT_INT, offsetof(app_config, threads), 0, 0, 256, "0", CMD_SERVE,
     "event-loop threads; 0 means one per core"},
    {"log-level", "STARMETER_LOG_LEVEL", OPT_LOG_LEVEL, offsetof(app_config, log_level), 0, 0, 0, "info",
     CMD_SERVE | CMD_MIGRATE, "debug, info, warn, error or off (JSON lines on stderr)"},
    {"max-header-bytes", "STARMETER_MAX_HEADER_BYTES", OPT_INT, offsetof(app_config, max_header_bytes), 0, 1024, 262144,
     "16384", CMD_SERVE, "request line and headers beyond this size get 431"},
    {"max-body-bytes", "STARMETER_MAX_BODY_BYTES", OPT_INT, offsetof(app_config, max_body_bytes), 0, 1024, 67108864,
     "1048576", CMD_SERVE, "bodies beyond this are refused before being read (routes set lower limits)"},
    {"max-connections", "STARMETER_MAX_CONNECTIONS", OPT_INT, offsetof(app_config, max_connections), 0, 1, 1000000,
     "4096", CMD_SERVE,
     "open connections at most (further ones wait in the listen backlog); kept below the descriptor limit"},
    {"max-body-memory", "STARMETER_MAX_BODY_MEMORY", OPT_INT, offsetof(app_config, max_body_memory), 0, 1024,
     17179869184LL, "67108864", CMD_SERVE,
     "bytes of request bodies held at once, all connections together; beyond it 429 before reading"},
    {"write-timeout-ms", "STARMETER_WRITE_TIMEOUT_MS", OPT_INT, offsetof(app_config, write_timeout_ms), 0, 100, 600000,
     "30000", CMD_SERVE, "a response its client has not read after this is abandoned and the connection closed"},
    {"shutdown-grace-ms", "STARMETER_SHUTDOWN_GRACE_MS", OPT_INT, offsetof(app_config, shutdown_grace_ms), 0, 0, 600000,
     "10000", CMD_SERVE, "on SIGINT/SIGTERM, how long in-flight requests may take to finish"},
    {"pool-threads", "STARMETER_POOL_THREADS", OPT_INT, offsetof(app_config, pool_threads), 0, 1, 64, "2", CMD_SERVE,
     "threads for work that may wait on the store (admin routes, usage reports)"},
    {"sync-interval-ms", "STARMETER_SYNC_INTERVAL_MS", OPT_INT, offsetof(app_config, sync_interval_ms), 0, 50, 60000,
     "1000", CMD_SERVE,
     "how often changes made by other processes (the CLI) are picked up, and last-used times written"},
    {"global-rate", "STARMETER_GLOBAL_RATE", OPT_INT, offsetof(app_config, global_rate), 0, 1, 100000000, "20000",
     CMD_SERVE, "B2B calls per second for the whole server (the global rate limit)"},
    {"global-burst", "STARMETER_GLOBAL_BURST", OPT_INT, offsetof(app_config, global_burst), 0, 1, 100000000, "40000",
     CMD_SERVE, "B2B calls the whole server lets through at once"},
    {"auth-fail-rate", "STARMETER_AUTH_FAIL_RATE", OPT_INT, offsetof(app_config, auth_fail_rate), 0, 1, 1000000, "1",
     CMD_SERVE, "failed authentications (API key or admin token) per second and client address before 429"},
    {"auth-fail-burst", "STARMETER_AUTH_FAIL_BURST", OPT_INT, offsetof(app_config, auth_fail_burst), 0, 1, 1000000,
     "20", CMD_SERVE, "failed authentications a client address may make at once"},
    {"ephemeris-path", "STARMETER_EPHEMERIS_PATH", OPT_STR, offsetof(app_config, ephemeris_path),
     sizeof(((app_config *)0)->ephemeris_path), 0, 0, "/usr/share/libswe/ephe", CMD_SERVE,
     "Swiss Ephemeris data files (Debian's swe-basic-data); without them the Moshier model answers"},
    {"rate-limits", "STARMETER_RATE_LIMITS", OPT_INT, offsetof(app_config, rate_limits), 0, 0, 1, "1", CMD_SERVE,
     "1: enforce the global, account and credential rate limits; 0 only to measure their cost"},
    {"web-root", "STARMETER_WEB_ROOT", OPT_STR, offsetof(app_config, web_root), sizeof(((app_config *)0)->web_root), 0,
     0, "./web/dist", CMD_SERVE, "the built usage panel, served at /; when missing, the panel is off"},
    {"durability", "STARMETER_DURABILITY", OPT_CHOICE, offsetof(app_config, durability), 0, 0, 1, "process", CMD_SERVE,
     "process: a metered answer leaves once its count survives a crash of the process, fsynced within 5 ms; "
     "fsync: once it is fsynced (survives power loss)",
     false, "process|fsync"},
    {"counters-unavailable", "STARMETER_COUNTERS_UNAVAILABLE", OPT_CHOICE, offsetof(app_config, counters_unavailable),
     0, 0, 1, "closed", CMD_SERVE,
     "when the shared counters (--counters) cannot be reached: closed answers metered calls 503 "
     "counters_unavailable; open lets each process decide alone (limits may be exceeded: see the README)",
     false, "closed|open"},
    {"webhooks-allow-private", "STARMETER_WEBHOOKS_ALLOW_PRIVATE", OPT_FLAG,
     offsetof(app_config, webhooks_allow_private), 0, 0, 1, "0", CMD_SERVE,
     "let webhook endpoints be on loopback, private, link-local and other non-public addresses (tests, "
     "closed networks); without it they are refused at creation and at every delivery"},
    {"webhooks-retry-base-ms", "STARMETER_WEBHOOKS_RETRY_BASE_MS", OPT_INT,
     offsetof(app_config, webhooks_retry_base_ms), 0, 1, 3600000, "5000", CMD_SERVE,
     "webhook retries: the first waits up to this, each next one up to twice as long (full jitter)"},
    {"webhooks-retry-max-ms", "STARMETER_WEBHOOKS_RETRY_MAX_MS", OPT_INT, offsetof(app_config, webhooks_retry_max_ms),
     0, 1, 86400000, "3600000", CMD_SERVE, "webhook retries: the longest wait between two attempts"},
    {"webhooks-timeout-ms", "STARMETER_WEBHOOKS_TIMEOUT_MS", OPT_INT, offsetof(app_config, webhooks_timeout_ms), 0, 100,
     60000, "5000", CMD_SERVE, "one webhook attempt, from connecting to the last byte of the answer"},
};
#define NOPTIONS (sizeof options / sizeof options[0])

static int set_value(app_config *cfg, const struct option_def *o, const char *value, const char *source, app_err *err)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case OPT_STR:
        if (value[0] == '\0')
            return app_err_field(err, o->name, "%s: must not be empty", source);
        if (str_copy(field, o->cap, value) < 0)
            return app_err_field(err, o->name, "%s: longer than %zu bytes", source, o->cap - 1);
        return 0;
    case OPT_FLAG:
    case OPT_INT: {
        int64_t v;
        if (!str_to_i64(slice_make(value, strlen(value)), o->min, o->max, &v))
            return app_err_field(err, o->name, "%s: must be an integer from %lld to %lld", source, (long long)o->min,
                                 (long long)o->max);
        memcpy(field, &v, sizeof v);
        return 0;
    }
    case OPT_CHOICE: {
        int64_t v = 0;
        size_t n = strlen(value);
        for (const char *w = o->words; *w != '\0'; v++) {
            size_t wl = strcspn(w, "|");
            if (wl == n && strncmp(w, value, n) == 0) {
                memcpy(field, &v, sizeof v);
                return 0;
            }
            w += wl + (w[wl] == '|');
        }
        const char *bar = strchr(o->words, '|');
        return app_err_field(err, o->name, "%s: must be %.*s or %s", source, (int)(bar - o->words), o->words, bar + 1);
    }
    case OPT_LOG_LEVEL: {
        log_level l;
        if (!log_level_parse(value, &l))
            return app_err_field(err, o->name, "%s: must be one of debug, info, warn, error, off", source);
        memcpy(field, &l, sizeof l);
        return 0;
    }
    }
    return app_err_set(err, APP_INTERNAL_ERROR, "unknown option type");
}

void config_defaults(app_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NOPTIONS; i++) {
        int rc = set_value(cfg, &options[i], options[i].def, "default", NULL);
        (void)rc;
    }
}

static const struct option_def *find(const char *name, size_t len, unsigned command)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if ((options[i].commands & command) && strlen(options[i].name) == len &&
            memcmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

int config_parse(app_config *cfg, unsigned command, int argc, char **argv, int *help, app_err *err)
{
    *help = 0;
    for (size_t i = 0; i < NOPTIONS; i++) {
        const char *v = getenv(options[i].env);
        if ((options[i].commands & command) && v != NULL)
            set_value(cfg, &options[i], v, options[i].env, err);
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            app_err_field(err, arg, "unexpected argument");
            continue;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct option_def *o = find(name, nlen, command);
        if (o == NULL || o->env_only) {
            app_err_field(err, name, o ? "is only read from %s" : "unknown option (see --help)", o ? o->env : "");
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (o->type == OPT_FLAG && value == NULL)
            value = "1";
        if (value == NULL) {
            if (i + 1 >= argc) {
                app_err_field(err, o->name, "needs a value");
                continue;
            }
            value = argv[++i];
        }
        set_value(cfg, o, value, "flag", err);
    }
    if (cfg->store[0] != '\0' && strncmp(cfg->store, "sqlite:", 7) != 0 && !config_store_is_postgres(cfg))
        app_err_field(err, "store", "must be sqlite:PATH or a PostgreSQL URI (postgres://user@host:port/db)");
    else if (strcmp(cfg->store, "sqlite:") == 0)
        app_err_field(err, "store", "sqlite: needs a path");
    if (cfg->counters[0] != '\0' && strncmp(cfg->counters, "redis://", 8) != 0)
        app_err_field(err, "counters", "must be a Redis URI (redis://host:port/db)");
    return err->code == APP_OK ? 0 : err->code;
}

void config_print_help(FILE *out, unsigned command)
{
    fprintf(out, "Options (flags override environment variables):\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (!(options[i].commands & command))
            continue;
        fprintf(out, "  --%-20s %s\n  %-22s env %s, default %s\n", options[i].name, options[i].help, "", options[i].env,
                options[i].def);
    }
}

void config_data_path(const app_config *cfg, const char *name, char *out, size_t cap)
{
    const char *slash = strrchr(cfg->db, '/');
    if (slash == NULL)
        snprintf(out, cap, "%s", name);
    else
        snprintf(out, cap, "%.*s/%s", (int)(slash - cfg->db), cfg->db, name);
}

void config_pepper_path(const app_config *cfg, char *out, size_t cap)
{
    if (cfg->pepper_file[0] != '\0')
        snprintf(out, cap, "%s", cfg->pepper_file);
    else
        config_data_path(cfg, "pepper", out, cap);
}

bool config_is_option(const char *name, unsigned command)
{
    return find(name, strlen(name), command) != NULL;
}

bool config_store_is_postgres(const app_config *cfg)
{
    return strncmp(cfg->store, "postgres://", 11) == 0 || strncmp(cfg->store, "postgresql://", 13) == 0;
}

const char *config_sqlite_path(const app_config *cfg)
{
    return strncmp(cfg->store, "sqlite:", 7) == 0 ? cfg->store + 7 : cfg->db;
}

void config_journal_dir(const app_config *cfg, char *out, size_t cap)
{
    if (cfg->journal_dir[0] != '\0')
        snprintf(out, cap, "%s", cfg->journal_dir);
    else
        snprintf(out, cap, "%s-usage", config_sqlite_path(cfg));
}

unsigned config_threads(const app_config *cfg)
{
    if (cfg->threads > 0)
        return (unsigned)cfg->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}
