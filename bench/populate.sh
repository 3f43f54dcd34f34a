#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Fills a fresh database with N accounts, each with a contract on one plan, and M API keys spread
# over them, through the real admin HTTP API of a starmeter server started here on loopback: wrk
# with bench/populate.lua issues the requests over keep-alive connections (curl per request would
# take minutes). Account ids are sequential from the first one created. Counts are checked in the
# database afterwards and the time taken is printed.
#
# Usage: bench/populate.sh path/to/starmeter path/to/fresh.db [N_ACCOUNTS [N_KEYS]]
# Environment: ACCOUNTS (10000), KEYS (100000), PORT (18490), CONNECTIONS (8), PLAN_CODE (bench),
#              SERVER_THREADS (2), POOL_THREADS (2)
set -euo pipefail

bin=${1:?usage: bench/populate.sh path/to/starmeter path/to/fresh.db [accounts [keys]]}
db=${2:?usage: bench/populate.sh path/to/starmeter path/to/fresh.db [accounts [keys]]}
naccounts=${3:-${ACCOUNTS:-10000}}
nkeys=${4:-${KEYS:-100000}}
port=${PORT:-18490}
conns=${CONNECTIONS:-8}
plan=${PLAN_CODE:-bench}
here=$(cd "$(dirname "$0")" && pwd)
base="http://127.0.0.1:$port"

if [ -e "$db" ]; then
  echo "populate: $db exists; give the path of a fresh database" >&2
  exit 2
fi
[ "$naccounts" -ge 1 ] && [ "$nkeys" -ge 0 ] || { echo "populate: bad counts" >&2; exit 2; }
command -v wrk >/dev/null || { echo "populate: wrk is missing (apt-get install -y wrk)" >&2; exit 2; }

start_ns=$(date +%s%N)
work=$(mktemp -d /tmp/starmeter-populate-XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A throwaway admin token, given through the environment (never on a command line).
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export POPULATE_TOKEN=$token POPULATE_PLAN=$plan
STARMETER_ADMIN_TOKEN=$token "$bin" serve --listen "127.0.0.1:$port" --db "$db" --threads "${SERVER_THREADS:-2}" \
  --pool-threads "${POOL_THREADS:-2}" --log-level warn 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do curl -sf -o /dev/null "$base/healthz" && break; sleep 0.1; done
curl -sf -o /dev/null "$base/healthz" || { echo "populate: the server did not come up" >&2; cat "$work/server.log" >&2; exit 1; }

admin() { # method path body -> body on stdout; fails on a non-2xx
  curl -sf -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$base$2" -d "$3"
}
# A plan with rate limits far above any benchmark load, so that keys made here can be loaded.
admin POST /v1/admin/plans '{"code":"'"$plan"'","name":"Bench","daily_limit":null,"monthly_limit":null,
  "rate_per_second":1000000,"burst":10000000,"credential_rate_per_second":1000000,"credential_burst":10000000}' \
  >/dev/null
# The first account through curl, to learn where the ids start; wrk makes the rest.
first=$(admin POST /v1/admin/accounts '{"name":"bench account 0"}' | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
[ -n "$first" ] || { echo "populate: no account id in the answer" >&2; exit 1; }

phase() { # mode first total
  [ "$3" -gt 0 ] || return 0
  local t0 wpid
  t0=$(date +%s%N)
  rm -f "$work/done"
  POPULATE_DONE="$work/done" wrk -t1 -c"$conns" -d3600s -s "$here/populate.lua" "$base" -- "$1" "$2" "$3" \
    "$naccounts" >"$work/wrk.out" 2>&1 &
  wpid=$!
  # wrk sleeps for its whole -d duration; the script writes $work/done when the last answer is in.
  while [ ! -e "$work/done" ] && kill -0 "$wpid" 2>/dev/null; do sleep 0.05; done
  kill -INT "$wpid" 2>/dev/null || true
  wait "$wpid" || true
  if ! grep -q "populate-result answered=$3 failed=0" "$work/wrk.out"; then
    echo "populate: $1 failed:" >&2
    cat "$work/wrk.out" >&2
    exit 1
  fi
  printf 'populate: %-11s %7d in %5.1f s\n' "$1" "$3" "$(( ($(date +%s%N) - t0) / 1000000 ))e-3"
}
phase accounts "$first" $((naccounts - 1))
phase contracts "$first" "$naccounts"
phase credentials "$first" "$nkeys"

# Stop the server cleanly (it writes what it holds), then count in the database itself.
kill -TERM "$pid"
wait "$pid" || true
pid=
if command -v sqlite3 >/dev/null; then
  counts=$(sqlite3 "$db" "SELECT (SELECT count(*) FROM accounts WHERE id BETWEEN $first AND $first + $naccounts - 1),
    (SELECT count(*) FROM contracts WHERE account_id BETWEEN $first AND $first + $naccounts - 1),
    (SELECT count(*) FROM credentials WHERE account_id BETWEEN $first AND $first + $naccounts - 1),
    (SELECT count(DISTINCT account_id) FROM credentials)")
  expect_with_keys=$((nkeys < naccounts ? nkeys : naccounts))
  if [ "$counts" != "$naccounts|$naccounts|$nkeys|$expect_with_keys" ]; then
    echo "populate: counts in $db are accounts|contracts|keys|accounts with keys = $counts," \
      "expected $naccounts|$naccounts|$nkeys|$expect_with_keys" >&2
    exit 1
  fi
else
  echo "populate: sqlite3 missing: counts not checked" >&2
fi
printf 'populate: %d accounts (ids %d..%d), %d contracts, %d keys in %s: %.1f s\n' "$naccounts" "$first" \
  $((first + naccounts - 1)) "$naccounts" "$nkeys" "$db" "$(( ($(date +%s%N) - start_ns) / 1000000 ))e-3"
