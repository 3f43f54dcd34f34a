#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# A private PostgreSQL for tests and benchmarks: initdb into a temporary directory as an
# unprivileged user, listening on 127.0.0.1 at a free port only, no system service.
#
#   scripts/pg.sh start DIR   creates DIR, starts the server, prints its connection URI
#   scripts/pg.sh stop DIR    stops it and removes DIR
#
# PG_DURABLE=1 keeps PostgreSQL's durability settings (fsync, synchronous commits): benchmarks
# measure what production pays. By default the cluster is for tests and throws them away.
#
# As root the server runs as the `postgres` user the Debian package creates (PostgreSQL refuses
# to run as root); otherwise as the current user.
set -euo pipefail

cmd=${1:?usage: scripts/pg.sh start|stop DIR}
dir=${2:?usage: scripts/pg.sh start|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "pg.sh: PostgreSQL is not installed (scripts/deps.sh test)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U starmeter -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    # Tests throw the cluster away: no fsync, small shared buffers, enough connections for the
    # suites running in parallel.
    opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=32MB"
    [ "${PG_DURABLE:-0}" = 1 ] || opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start -o "$opts" >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://starmeter@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: scripts/pg.sh start|stop DIR" >&2; exit 2 ;;
esac
