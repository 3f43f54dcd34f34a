/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_APP_CLI_H
#define STARMETER_APP_CLI_H

/*
 * `starmeter admin <resource> <verb> [--field value]...`: the admin API on the embedded store,
 * through the same services, printing the same JSON. Returns the process exit code.
 */
int cli_admin(int argc, char **argv);

/* `starmeter audit verify [--db PATH]`: recomputes the audit chain; exit 0 intact, 1 broken. */
int cli_audit(int argc, char **argv);

#endif
