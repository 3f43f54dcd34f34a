#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Redis's own CPU per run of the reservation script (RESERVE_LUA, src/infra/counters_redis.c), by
# batch size: what a run costs Redis whatever it holds, and what each reservation adds. The figure
# is Redis's own (INFO commandstats, usec per evalsha call), so the load of the rest of a shared
# machine moves it little; only Redis's share of a core does.
#
# For each build given, bench/lua_driver.c is compiled against that build's library (the counters
# as that build formats, sends and reads them), then one private Redis (scripts/redis.sh) serves
# every run: for each round, batch size and build in turn, FLUSHALL and CONFIG RESETSTAT, then RUNS
# batches of that many reservations of one account and credential (three rate limits, a daily and
# a monthly limit, every call served), one batch at a time. Builds alternate within a round, so
# two builds are compared under the same conditions. Prints one line per run, then the medians:
# microseconds per EVALSHA and per reservation.
#
# Usage: bench/lua.sh BUILD_DIR... (RelWithDebInfo builds without STARMETER_SANITIZE; each one's
#        sources are those its CMakeCache.txt names)
# Environment: ROUNDS (3), RUNS (2000 batches per run), BATCHES ("1 2 8 32 128")
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: bench/lua.sh BUILD_DIR..." >&2; exit 2; }
rounds=${ROUNDS:-3}
runs=${RUNS:-2000}
read -r -a batches <<<"${BATCHES:-1 2 8 32 128}"
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d /tmp/starmeter-lua-XXXXXX)
redis_dir=
cleanup() {
  [ -n "$redis_dir" ] && { "$here/../scripts/redis.sh" stop "$redis_dir" || true; }
  rm -rf "$work"
}
trap cleanup EXIT

libs=$(pkg-config --libs libh2o-evloop jansson sqlite3 libpq libsodium glib-2.0 hiredis libcurl)
names=()
for b in "$@"; do
  build=$(cd "$b" && pwd)
  src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
  [ -f "$build/libstarmeter_lib.a" ] || { echo "lua.sh: $build has no libstarmeter_lib.a" >&2; exit 1; }
  i=${#names[@]}
  # shellcheck disable=SC2086 # $libs is a list of flags
  cc -std=c17 -O2 -D_GNU_SOURCE -I"$src/src" -o "$work/driver$i" "$here/lua_driver.c" "$build/libstarmeter_lib.a" \
    $libs -lswe -lpthread -lm
  names+=("$build")
done

redis_dir=$(mktemp -d /tmp/starmeter-lua-redis-XXXXXX)
uri=$("$here/../scripts/redis.sh" start "$redis_dir")
port=${uri##*:}
port=${port%%/*}
cli() { redis-cli -p "$port" "$@"; }

printf '%-40s %6s %6s %10s %10s\n' build batch round us/run us/call
for ((r = 1; r <= rounds; r++)); do
  for n in "${batches[@]}"; do
    for i in "${!names[@]}"; do
      cli FLUSHALL >/dev/null
      cli CONFIG RESETSTAT >/dev/null
      "$work/driver$i" "$uri" "$n" "$runs"
      line=$(cli INFO commandstats | tr -d '\r' | grep '^cmdstat_evalsha:')
      calls=$(sed 's/^[^:]*:calls=\([0-9]*\),.*/\1/' <<<"$line")
      usec=$(sed 's/.*,usec=\([0-9]*\),.*/\1/' <<<"$line")
      per_run=$(awk -v u="$usec" -v c="$calls" 'BEGIN { printf "%.2f", u / c }')
      per_call=$(awk -v u="$usec" -v c="$calls" -v n="$n" 'BEGIN { printf "%.2f", u / c / n }')
      printf '%-40s %6s %6s %10s %10s\n' "${names[$i]}" "$n" "$r" "$per_run" "$per_call" | tee -a "$work/results"
    done
  done
done

echo
echo "medians of $rounds rounds ($runs runs each): Redis microseconds per EVALSHA, per reservation"
printf '%-40s %6s %10s %10s\n' build batch us/run us/call
for i in "${!names[@]}"; do
  for n in "${batches[@]}"; do
    awk -v b="${names[$i]}" -v n="$n" '$1 == b && $2 == n { print $4, $5 }' "$work/results" | sort -n |
      awk -v b="${names[$i]}" -v n="$n" '{ r[NR] = $1; c[NR] = $2 }
        END { m = int((NR + 1) / 2); printf "%-40s %6s %10s %10s\n", b, n, r[m], c[m] }'
  done
done
