#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Runs the C test suites of build directory $1 with a private PostgreSQL started for them
# (STARMETER_TEST_PG holds its URI), and stops it whatever the outcome.
set -euo pipefail
build=${1:?usage: scripts/test-c.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
pgdir=$(mktemp -d /tmp/starmeter-pg-XXXXXX)
trap '"$here/pg.sh" stop "$pgdir"' EXIT
STARMETER_TEST_PG=$("$here/pg.sh" start "$pgdir")
export STARMETER_TEST_PG
cd "$build"
ctest --output-on-failure -j"$(nproc)"
