#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# `make cluster`: two starmeter nodes (127.0.0.1:8081 and :8082; CLUSTER_PORTS="8081 8082" to
# change) on one private PostgreSQL (the ledger) and one private Redis (the counters that decide
# limits), both started in temporary directories and thrown away at the end. The nodes share
# ./data/cluster/ for the pepper (so one key works on every node), the demo key and the admin token;
# each has its own usage journal. Ctrl-C, SIGTERM or the death of a node stops everything.
set -euo pipefail
bin=${1:?usage: scripts/cluster.sh path/to/starmeter}
here=$(cd "$(dirname "$0")" && pwd)
read -r -a ports <<<"${CLUSTER_PORTS:-8081 8082}"
data=./data/cluster
db=$data/starmeter.db # with --store postgres, only locates the pepper and the demo key

for port in "${ports[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "cluster: port $port is in use; set CLUSTER_PORTS to free ports" >&2
    exit 1
  fi
done

(umask 027; mkdir -p "$data")
rm -f "$data/demo.key" # a new database gets a new demo key
if [ -z "${STARMETER_ADMIN_TOKEN:-}" ] && [ -z "${STARMETER_ADMIN_TOKEN_FILE:-}" ]; then
  if [ ! -s "$data/admin.token" ]; then
    (umask 077; head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > "$data/admin.token")
  fi
  export STARMETER_ADMIN_TOKEN_FILE="$data/admin.token"
fi

# Everything started below is stopped here, whatever happens: the nodes first (SIGTERM folds their
# journals into PostgreSQL), then Redis and PostgreSQL (their stop also removes their directories).
pids=()
pg_dir=
redis_dir=
work=
cleanup() {
  set +e
  trap '' INT TERM HUP # a second Ctrl-C must not cut the clean-up short
  echo "cluster: stopping" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  [ -n "$redis_dir" ] && "$here/redis.sh" stop "$redis_dir"
  [ -n "$pg_dir" ] && "$here/pg.sh" stop "$pg_dir"
  [ -n "$work" ] && rm -rf "$work"
  echo "cluster: stopped" >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

pg_dir=$(mktemp -d /tmp/starmeter-cluster-pg-XXXXXX)
redis_dir=$(mktemp -d /tmp/starmeter-cluster-redis-XXXXXX)
work=$(mktemp -d /tmp/starmeter-cluster-XXXXXX) # the nodes' usage journals
pg_admin_uri=$(PG_DURABLE=1 "$here/pg.sh" start "$pg_dir")
psql "$pg_admin_uri" -qc 'CREATE DATABASE starmeter' >/dev/null
store=${pg_admin_uri%/*}/starmeter
counters=$("$here/redis.sh" start "$redis_dir")
"$bin" migrate --store "$store" --db "$db" --log-level warn >/dev/null

# The first node seeds the demo account (and creates the pepper); the others start once it is up.
start_node() { # port [extra flags...]
  local port=$1
  shift
  "$bin" serve --listen "127.0.0.1:$port" --db "$db" --store "$store" --counters "$counters" \
    --journal-dir "$work/journal-$port" "$@" >"$data/node-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "cluster: the node on port $port did not come up; its log ($data/node-$port.log) ends with:" >&2
  tail -n 20 "$data/node-$port.log" >&2
  exit 1
}
start_node "${ports[0]}" --demo
for port in "${ports[@]:1}"; do start_node "$port"; done

echo "starmeter cluster: ${#ports[@]} nodes on one PostgreSQL ledger and one Redis for the counters"
for port in "${ports[@]}"; do echo "  node        http://127.0.0.1:$port   (log: $data/node-$port.log)"; done
cat <<MSG
  demo key:    $(cat "$data/demo.key")   ($data/demo.key)
  admin token: ${STARMETER_ADMIN_TOKEN_FILE:-\$STARMETER_ADMIN_TOKEN}
  PostgreSQL:  $store
  Redis:       $counters
Try a metered call on the first node, then the usage it counted, as any other node sees it:
  curl -H "X-API-Key: \$(cat $data/demo.key)" "http://127.0.0.1:${ports[0]}/v1/b2b/astrology/weekly-by-sign?sign=aries&lang=en"
MSG
for port in "${ports[@]:1}"; do
  echo "  curl -H \"X-API-Key: \$(cat $data/demo.key)\" http://127.0.0.1:$port/v1/b2b/usage/summary"
done
echo "Ctrl-C stops the nodes, Redis and PostgreSQL (their data is thrown away)."

# Until a signal (the traps above) or the first node to die.
status=0
wait -n "${pids[@]}" || status=$?
echo "cluster: a node stopped (exit status $status); see $data/node-*.log" >&2
exit 1
