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

/*
 * `starmeter store copy --from URI --to URI`: copies a whole store into a new, empty one (see
 * app/store_copy.h). Exit 0 copied, 1 refused (target not empty, source journal not folded),
 * 2 usage, 3 store failure.
 */
int cli_store(int argc, char **argv);

/*
 * `starmeter backup --to FILE [--db PATH | --store sqlite:PATH] [--force]`: an online copy of the
 * SQLite database (see infra/backup.h), summarised in one line of JSON on stdout. Exit 0 done,
 * 1 refused (FILE exists, no such database), 2 usage (a PostgreSQL store), 3 failure.
 */
int cli_backup(int argc, char **argv);

#endif
