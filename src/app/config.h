/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_APP_CONFIG_H
#define STARMETER_APP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/log.h"

/* The commands that take options; an option lists the commands it applies to. */
enum { CMD_SERVE = 1 << 0, CMD_MIGRATE = 1 << 1, CMD_ADMIN = 1 << 2, CMD_AUDIT = 1 << 3 };

/* Typed, validated configuration, parsed once (defaults, then STARMETER_* variables, then flags). */
typedef struct app_config {
    char listen[256];
    char db[1024];
    int64_t threads; /* 0: one per core */
    log_level log_level;
    int64_t max_header_bytes;
    int64_t max_body_bytes;
    int64_t shutdown_grace_ms;
    int64_t max_connections;  /* open connections; app_start keeps it below RLIMIT_NOFILE */
    int64_t max_body_memory;  /* bytes of request bodies in flight, all connections */
    int64_t write_timeout_ms; /* deadline for a client to read a response */
    char admin_token[256];    /* from STARMETER_ADMIN_TOKEN only: a flag would show in `ps` */
    char admin_token_file[1024];
    char pepper_file[1024]; /* "" means <directory of db>/pepper */
    int64_t demo;           /* 1: create the demo plan, account and key once */
    int64_t recreate_db;    /* 1: create an empty SQLite database even where files of an earlier one remain */
    int64_t pool_threads;
    int64_t sync_interval_ms;
    int64_t global_rate; /* all B2B calls of this server, per second */
    int64_t global_burst;
    int64_t auth_fail_rate; /* failed authentications per client address, per second */
    int64_t auth_fail_burst;
    char ephemeris_path[256];
    int64_t rate_limits;            /* 0 turns the global, account and credential limits off (benchmarks only) */
    char web_root[1024];            /* the built panel; "" or a missing directory: no panel */
    char store[1024];               /* "" (SQLite at `db`), "sqlite:PATH", or a postgres:// URI */
    int64_t store_connections;      /* PostgreSQL connections per process */
    char journal_dir[1024];         /* the usage journal; "" means <db>-usage */
    char counters[512];             /* "" (in-process counters) or redis://host:port/db (shared) */
    int64_t counters_unavailable;   /* 0 (closed): 503 while the shared counters are away; 1 (open): decide alone */
    int64_t durability;             /* 0: a count survives a crash of the process before its answer leaves,
                                       and power loss within METERING_SYNC_DELAY_MS; 1 (fsync): power loss too */
    int64_t webhooks_allow_private; /* 1: webhook endpoints may be on loopback and private addresses */
    int64_t webhooks_retry_base_ms; /* the first retry of a webhook delivery waits up to this */
    int64_t webhooks_retry_max_ms;  /* no wait between two attempts is longer */
    int64_t webhooks_timeout_ms;    /* one attempt, connection to last byte */
} app_config;

/* Sets every option to its default. */
void config_defaults(app_config *cfg);

/*
 * Reads STARMETER_* variables and then argv (flags `--name value` or `--name=value`) for the options
 * of `command`. Returns 0, or validation_error with one entry per bad option in `err`. Sets
 * *help when --help or -h was given.
 */
int config_parse(app_config *cfg, unsigned command, int argc, char **argv, int *help, app_err *err);

/* Prints the options of `command` with their variables, defaults and meaning. */
void config_print_help(FILE *out, unsigned command);

/* The pepper file `cfg` asks for, resolving "" to <directory of db>/pepper, into out[cap]. */
void config_pepper_path(const app_config *cfg, char *out, size_t cap);
/* A file beside the database ("demo.key"), into out[cap]. */
void config_data_path(const app_config *cfg, const char *name, char *out, size_t cap);

/* Whether `name` ("db", without dashes) is an option of `command`. */
bool config_is_option(const char *name, unsigned command);

/* Whether `cfg` asks for PostgreSQL (--store postgres://... or postgresql://...). */
bool config_store_is_postgres(const app_config *cfg);
/* The SQLite database file `cfg` asks for: --store sqlite:PATH, else --db. */
const char *config_sqlite_path(const app_config *cfg);
/* The usage journal's directory, resolving "" to <sqlite path>-usage, into out[cap]. */
void config_journal_dir(const app_config *cfg, char *out, size_t cap);

/* The number of event-loop threads `cfg` asks for, resolving 0 to the number of cores. */
unsigned config_threads(const app_config *cfg);

#endif
