#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Runs the C test suites of build directory $1 with a private PostgreSQL and a private Redis
# started for them (STARMETER_TEST_PG and STARMETER_TEST_REDIS hold their URIs), and stops both
# whatever the outcome.
set -euo pipefail
build=${1:?usage: scripts/test-c.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
pgdir=$(mktemp -d /tmp/starmeter-pg-XXXXXX)
redisdir=$(mktemp -d /tmp/starmeter-redis-XXXXXX)
trap '"$here/pg.sh" stop "$pgdir"; "$here/redis.sh" stop "$redisdir"' EXIT
STARMETER_TEST_PG=$("$here/pg.sh" start "$pgdir")
STARMETER_TEST_REDIS=$("$here/redis.sh" start "$redisdir")
export STARMETER_TEST_PG STARMETER_TEST_REDIS
cd "$build"
ctest --output-on-failure -j"$(nproc)"
