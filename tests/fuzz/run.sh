#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Builds the libFuzzer targets with clang into BUILD and runs them.
# Usage: tests/fuzz/run.sh fuzz BUILD SECONDS   each target for SECONDS (new inputs kept in BUILD/corpus/)
#        tests/fuzz/run.sh regress BUILD        each target once over its seed corpus (make test)
# Without clang and libFuzzer, `regress` skips with a message and `fuzz` fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:?usage: run.sh fuzz|regress BUILD [SECONDS]}
build=${2:?usage: run.sh fuzz|regress BUILD [SECONDS]}
seconds=${3:-60}

if ! command -v clang >/dev/null ||
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
     clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
  msg="clang with libFuzzer is missing (Debian: clang libfuzzer-14-dev; scripts/deps.sh test)"
  if [ "$mode" = regress ]; then
    echo "fuzz: SKIPPED, $msg" >&2
    exit 0
  fi
  echo "fuzz: $msg" >&2
  exit 1
fi

CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTARMETER_SANITIZE=ON -DSTARMETER_TESTS=OFF \
  -DSTARMETER_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_targets >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for src in tests/fuzz/fuzz_*.c; do
  target=$(basename "$src" .c)
  seeds=tests/fuzz/corpus/${target#fuzz_}
  bin=$build/tests/fuzz/$target
  log=$build/$target.log
  mkdir -p "$build/artifacts"
  if [ "$mode" = regress ]; then
    args=(-runs=0 "$seeds")
  else
    mkdir -p "$build/corpus/${target#fuzz_}"
    args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1 "$build/corpus/${target#fuzz_}" "$seeds")
  fi
  if "$bin" -artifact_prefix="$build/artifacts/$target-" "${args[@]}" >"$log" 2>&1; then
    echo "fuzz: $target ok ($(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#') runs)"
  else
    echo "fuzz: $target FAILED (log: $log, input in $build/artifacts/)" >&2
    tail -n 40 "$log" >&2
    failed+=("$target")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failed: ${failed[*]}" >&2; exit 1; }
