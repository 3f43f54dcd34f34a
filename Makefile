# SPDX-License-Identifier: AGPL-3.0-or-later
# The commands people type. Everything else is CMake (build/) and scripts/.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
TEST_BUILD ?= build-test
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all build run cluster test fuzz bench deps format clean web web-test

all: build

deps:
	scripts/deps.sh build

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTARMETER_TESTS=OFF >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# Serves on 127.0.0.1:8080 with ./data/starmeter.db, the demo account and an admin token.
run: build web
	scripts/run.sh $(BUILD)/starmeter

# Two nodes (127.0.0.1:8081 and :8082) on a private PostgreSQL and Redis, the demo account in
# ./data/cluster/; Ctrl-C stops everything and throws the databases away.
cluster: build web
	scripts/deps.sh cluster
	scripts/cluster.sh $(BUILD)/starmeter

# The usage panel (web/): installed from the lockfile, built into web/dist, served by starmeter at /.
web:
	scripts/deps.sh web
	cd web && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build

# Installs what is missing, builds under ASan+UBSan, runs every test (the store's on SQLite and on a
# private PostgreSQL that scripts/test-c.sh starts and stops), then replays the fuzzers' seed corpora.
# The release build (make run, make bench) is built too: its optimiser warns where the test build's
# does not.
test:
	scripts/deps.sh test
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTARMETER_SANITIZE=ON -DSTARMETER_TESTS=ON >/dev/null
	cmake --build $(TEST_BUILD) -j$(JOBS)
	$(MAKE) build
	scripts/check-format.sh
	scripts/test-c.sh $(TEST_BUILD)
	tests/fuzz/run.sh regress $(FUZZ_BUILD)
	$(MAKE) web-test

# The libFuzzer targets of tests/fuzz/, built with clang under ASan+UBSan into $(FUZZ_BUILD), each
# run for FUZZ_SECONDS (the release check: FUZZ_SECONDS=600). Inputs that add coverage are kept in
# $(FUZZ_BUILD)/corpus/, a crashing input in $(FUZZ_BUILD)/artifacts/.
fuzz:
	scripts/deps.sh test
	tests/fuzz/run.sh fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The panel's lint, type check, unit tests, build, and end-to-end test in Chromium against the
# server of the test build.
web-test:
	scripts/deps.sh web
	cd web && npm ci --no-audit --no-fund
	cd web && npm run lint && npm run typecheck && npm test && npm run build
	cd web && STARMETER_BIN=../$(TEST_BUILD)/starmeter WEB_DIST=dist ASAN_OPTIONS=detect_leaks=0 npm run e2e

bench: build
	scripts/deps.sh bench
	bench/run.sh $(BUILD)/starmeter

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD) web/dist web/node_modules
