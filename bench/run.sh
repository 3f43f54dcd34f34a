#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# The benchmark runner: starts starmeter and an nginx ceiling on loopback, loads each with wrk
# (keep-alive, a second process), rounds interleaved so both see the same machine, and prints
# requests/s, latency percentiles and each scenario's ratio to the ceiling.
#
# Usage: bench/run.sh path/to/starmeter
# Environment: ROUNDS (3), DURATION (5s), CONNECTIONS (64), WRK_THREADS (1), SERVER_THREADS (2)
set -euo pipefail

bin=${1:?usage: bench/run.sh path/to/starmeter}
rounds=${ROUNDS:-3}
duration=${DURATION:-5s}
conns=${CONNECTIONS:-64}
wrk_threads=${WRK_THREADS:-1}
server_threads=${SERVER_THREADS:-2}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/starmeter-bench-XXXXXX)
sm_port=18481
nginx_port=18482
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_http() {
  for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench: $1 did not come up" >&2; exit 1
}

# starmeter
"$bin" serve --listen "127.0.0.1:$sm_port" --db "$work/bench.db" --threads "$server_threads" \
  --log-level warn 2>"$work/starmeter.log" &
pids+=($!)
wait_http "http://127.0.0.1:$sm_port/healthz"

# The ceiling: nginx returning a fixed body of the size starmeter's /healthz returns.
size=$(curl -s "http://127.0.0.1:$sm_port/healthz" | wc -c)
body=$(printf '{"data":{"status":"ok"},"meta":{"request_id":"%s"}}' "$(head -c 200 /dev/zero | tr '\0' x)")
body=${body:0:$((size - 3))}'"}}'
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<NGINX
worker_processes $server_threads;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port reuseport;
    location / {
      default_type "application/json; charset=utf-8";
      add_header X-Request-Id 01a20cc5-2b6e-7686-9da9-8855c310d177;
      return 200 '$body';
    }
  }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work/nginx" &
pids+=($!)
wait_http "http://127.0.0.1:$nginx_port/"

# name|url|extra wrk args — later capabilities add their scenarios here.
scenarios=(
  "nginx ceiling (same body size)|http://127.0.0.1:$nginx_port/healthz|"
  "starmeter GET /healthz|http://127.0.0.1:$sm_port/healthz|"
)
[ -f "$here/scenarios.sh" ] && source "$here/scenarios.sh"

results="$work/results.tsv"
: >"$results"
for round in $(seq "$rounds"); do
  for s in "${scenarios[@]}"; do
    IFS='|' read -r name url extra <<<"$s"
    # shellcheck disable=SC2086
    out=$(wrk -t"$wrk_threads" -c"$conns" -d"$duration" --latency $extra "$url")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(awk '/Non-2xx or 3xx responses:/ {print $5} /Socket errors/ {print "sock"}' <<<"$out" | tr '\n' ' ')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$rps" "$p50" "$p99" "${errs:-}" >>"$results"
    echo "round $round: $name: $rps req/s p50 $p50 p99 $p99 ${errs:-}" >&2
  done
done

# Median per scenario (rounds are few; the median keeps one noisy round from deciding).
awk -F'\t' -v rounds="$rounds" '
  function to_ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
  { n = $1; if (!(n in seen)) { order[++k] = n; seen[n] = 1 }
    c[n]++; rps[n, c[n]] = $3; p50[n, c[n]] = to_ms($4); p99[n, c[n]] = to_ms($5); if ($6 != "") bad[n] = $6 }
  function median(arr, n, cnt,   i, j, t, v) {
    for (i = 1; i <= cnt; i++) v[i] = arr[n, i]
    for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (cnt % 2) ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
  }
  END {
    ceiling = median(rps, order[1], c[order[1]])
    printf "| scenario | requests/s (median of %d) | p50 ms | p99 ms | ratio to ceiling |\n", rounds
    printf "| --- | ---: | ---: | ---: | ---: |\n"
    for (i = 1; i <= k; i++) {
      n = order[i]; r = median(rps, n, c[n])
      printf "| %s%s | %.0f | %.3f | %.3f | %.2f |\n", n, (n in bad) ? " (errors: " bad[n] ")" : "", r,
             median(p50, n, c[n]), median(p99, n, c[n]), r / ceiling
    }
  }' "$results"
