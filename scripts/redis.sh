#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# A private Redis for tests and benchmarks: loopback only, a free port, no persistence, no
# system service.
#
#   scripts/redis.sh start DIR   creates DIR, starts the server, prints its URI (redis://127.0.0.1:PORT/0)
#   scripts/redis.sh stop DIR    stops it and removes DIR
set -euo pipefail

cmd=${1:?usage: scripts/redis.sh start|stop DIR}
dir=${2:?usage: scripts/redis.sh start|stop DIR}
command -v redis-server >/dev/null || { echo "redis.sh: redis-server is not installed (scripts/deps.sh test)" >&2; exit 1; }

case "$cmd" in
  start)
    mkdir -p "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --databases 64 \
      --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
    for _ in $(seq 100); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && { echo "redis://127.0.0.1:$port/0"; exit 0; }
      sleep 0.05
    done
    cat "$dir/redis.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/redis.pid" ]; then
      pid=$(cat "$dir/redis.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: scripts/redis.sh start|stop DIR" >&2; exit 2 ;;
esac
