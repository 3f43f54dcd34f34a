#!/usr/bin/env bash
# Fails when a C file is not formatted as .clang-format says (fix with `make format`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format is missing (scripts/deps.sh test)" >&2; exit 1; }
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "check-format: $f is not formatted (run: make format)" >&2
    bad=1
  fi
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find src tests -name '*.[ch]')
exit $bad
