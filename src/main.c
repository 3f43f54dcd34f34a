/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * starmeter: a B2B astrology API server with metering. This file is the command line and the only
 * place that picks concrete backends (through app/).
 */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "app/cli.h"
#include "app/config.h"

static void usage(FILE *out)
{
    fprintf(out,
            "starmeter %s: B2B astrology API with contract metering\n\n"
            "Usage:\n"
            "  starmeter serve [options]     serve the HTTP API (see starmeter serve --help)\n"
            "  starmeter migrate [options]   apply pending database migrations\n"
            "  starmeter admin ...           manage accounts, plans, contracts and keys (starmeter admin --help)\n"
            "  starmeter audit verify        recompute the audit chain\n"
            "  starmeter store copy --from URI --to URI\n"
            "                                copy a whole store into a new, empty one (sqlite:PATH, postgres://...)\n"
            "  starmeter backup --db PATH --to FILE\n"
            "                                an online copy of the SQLite database (starmeter backup --help)\n"
            "  starmeter version             print the version\n"
            "  starmeter --help              this text\n\n"
            "Every option can also be set through its STARMETER_* environment variable.\n",
            STARMETER_VERSION);
}

static int run(unsigned command, int argc, char **argv, const char *name)
{
    app_config cfg;
    app_err err;
    int help;
    config_defaults(&cfg);
    app_err_clear(&err);
    if (config_parse(&cfg, command, argc, argv, &help, &err) != 0 && !help) {
        for (size_t i = 0; i < err.nfields; i++)
            fprintf(stderr, "starmeter %s: --%s: %s\n", name, err.fields[i].field, err.fields[i].issue);
        fprintf(stderr, "Try 'starmeter %s --help'.\n", name);
        return 2;
    }
    if (help) {
        printf("Usage: starmeter %s [options]\n\n", name);
        config_print_help(stdout, command);
        return 0;
    }
    return command == CMD_SERVE ? app_serve(&cfg) : app_migrate(&cfg);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return run(CMD_SERVE, argc - 2, argv + 2, "serve");
    if (strcmp(argv[1], "migrate") == 0)
        return run(CMD_MIGRATE, argc - 2, argv + 2, "migrate");
    if (strcmp(argv[1], "admin") == 0)
        return cli_admin(argc - 2, argv + 2);
    if (strcmp(argv[1], "audit") == 0)
        return cli_audit(argc - 2, argv + 2);
    if (strcmp(argv[1], "store") == 0)
        return cli_store(argc - 2, argv + 2);
    if (strcmp(argv[1], "backup") == 0)
        return cli_backup(argc - 2, argv + 2);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("starmeter %s\n", STARMETER_VERSION);
        return 0;
    }
    fprintf(stderr, "starmeter: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
