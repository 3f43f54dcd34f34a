/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_APP_CONFIG_H
#define STARMETER_APP_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/log.h"

/* The commands that take options; an option lists the commands it applies to. */
enum { CMD_SERVE = 1 << 0, CMD_MIGRATE = 1 << 1 };

/* Typed, validated configuration, parsed once (defaults, then STARMETER_* variables, then flags). */
typedef struct app_config {
    char listen[256];
    char db[1024];
    int64_t threads; /* 0: one per core */
    log_level log_level;
    int64_t max_header_bytes;
    int64_t max_body_bytes;
    int64_t shutdown_grace_ms;
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

/* The number of event-loop threads `cfg` asks for, resolving 0 to the number of cores. */
unsigned config_threads(const app_config *cfg);

#endif
