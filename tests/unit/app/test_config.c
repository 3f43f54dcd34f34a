/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"

static int parse(app_config *cfg, unsigned cmd, int argc, const char **argv, app_err *err)
{
    int help;
    config_defaults(cfg);
    app_err_clear(err);
    return config_parse(cfg, cmd, argc, (char **)argv, &help, err);
}

Test(config, defaults)
{
    app_config c;
    config_defaults(&c);
    cr_assert_str_eq(c.listen, "127.0.0.1:8080");
    cr_assert_str_eq(c.db, "./data/starmeter.db");
    cr_assert_eq(c.threads, 0);
    cr_assert_eq(c.log_level, LOG_INFO);
    cr_assert_gt(config_threads(&c), 0);
}

Test(config, flags_override_environment)
{
    setenv("STARMETER_LISTEN", "0.0.0.0:9000", 1);
    setenv("STARMETER_THREADS", "3", 1);
    app_config c;
    app_err e;
    const char *argv[] = {"--threads=5", "--log-level", "warn", "--db", "/tmp/x.db"};
    cr_assert_eq(parse(&c, CMD_SERVE, 5, argv, &e), 0, "%s", e.message);
    cr_assert_str_eq(c.listen, "0.0.0.0:9000");
    cr_assert_eq(c.threads, 5);
    cr_assert_eq(c.log_level, LOG_WARN);
    cr_assert_str_eq(c.db, "/tmp/x.db");
    unsetenv("STARMETER_LISTEN");
    unsetenv("STARMETER_THREADS");
}

Test(config, every_bad_option_is_reported)
{
    app_config c;
    app_err e;
    const char *argv[] = {"--threads", "-1", "--log-level", "loud", "--bogus", "x", "stray", "--listen"};
    cr_assert_eq(parse(&c, CMD_SERVE, 8, argv, &e), APP_VALIDATION_ERROR);
    /* threads, log-level, bogus, then "x" and "stray" as stray arguments, listen without value */
    cr_assert_eq(e.nfields, 6);
    cr_assert_str_eq(e.fields[0].field, "threads");
    cr_assert_str_eq(e.fields[1].field, "log-level");
    cr_assert_str_eq(e.fields[2].field, "bogus");
}

Test(config, options_belong_to_their_commands)
{
    app_config c;
    app_err e;
    const char *argv[] = {"--listen", "127.0.0.1:1"};
    cr_assert_eq(parse(&c, CMD_MIGRATE, 2, argv, &e), APP_VALIDATION_ERROR, "migrate does not listen");
}

Test(config, hardening_limits_have_defaults_and_bounds)
{
    app_config c;
    config_defaults(&c);
    cr_assert_eq(c.max_connections, 4096);
    cr_assert_eq(c.max_body_memory, 67108864);
    cr_assert_eq(c.write_timeout_ms, 30000);
    app_err e;
    const char *ok[] = {"--max-connections", "10", "--max-body-memory=2048", "--write-timeout-ms", "500"};
    cr_assert_eq(parse(&c, CMD_SERVE, 5, ok, &e), 0, "%s", e.message);
    cr_assert_eq(c.max_connections, 10);
    cr_assert_eq(c.max_body_memory, 2048);
    cr_assert_eq(c.write_timeout_ms, 500);
    const char *bad[] = {"--max-connections", "0", "--max-body-memory=1", "--write-timeout-ms", "0"};
    cr_assert_eq(parse(&c, CMD_SERVE, 5, bad, &e), APP_VALIDATION_ERROR);
    cr_assert_eq(e.nfields, 3);
}

Test(config, webhooks_allow_private_is_a_flag_and_a_variable)
{
    app_config c;
    app_err e;
    config_defaults(&c);
    cr_assert_eq(c.webhooks_allow_private, 0, "refused by default");
    cr_assert_eq(c.webhooks_retry_base_ms, 5000);
    cr_assert_eq(c.webhooks_retry_max_ms, 3600000);
    cr_assert_eq(c.webhooks_timeout_ms, 5000);
    const char *flag[] = {"--webhooks-allow-private"};
    cr_assert_eq(parse(&c, CMD_SERVE, 1, flag, &e), 0, "%s", e.message);
    cr_assert_eq(c.webhooks_allow_private, 1);
    setenv("STARMETER_WEBHOOKS_ALLOW_PRIVATE", "1", 1);
    cr_assert_eq(parse(&c, CMD_SERVE, 0, NULL, &e), 0, "%s", e.message);
    cr_assert_eq(c.webhooks_allow_private, 1);
    setenv("STARMETER_WEBHOOKS_ALLOW_PRIVATE", "yes", 1);
    cr_assert_neq(parse(&c, CMD_SERVE, 0, NULL, &e), 0);
    cr_assert_str_eq(e.fields[0].field, "webhooks-allow-private");
    unsetenv("STARMETER_WEBHOOKS_ALLOW_PRIVATE");
    const char *zero[] = {"--webhooks-retry-base-ms=0"};
    cr_assert_neq(parse(&c, CMD_SERVE, 1, zero, &e), 0);
}
