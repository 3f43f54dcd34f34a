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
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_http() {
  for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench: $1 did not come up" >&2; exit 1
}

# Accounts for the B2B scenarios, made with the CLI: one metered (counted, no limit reached), one on an
# internal plan (metered: false). Rates are high so that no rate limit trips.
db="$work/bench.db"
admin() { "$bin" admin "$@" --db "$db"; }
json_field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",]*\).*/\1/p" | head -n 1; }
fast="--rate-per-second 1000000 --burst 10000000 --credential-rate-per-second 1000000 --credential-burst 10000000"
# shellcheck disable=SC2086
admin plan create --code metered --name Metered --daily-limit null --monthly-limit null $fast >/dev/null
# shellcheck disable=SC2086
admin plan create --code internal --name Internal --metered false $fast >/dev/null
for plan in metered internal; do
  id=$(admin account create --name "bench $plan" | json_field id)
  admin contract set --account "$id" --plan-code "$plan" >/dev/null
  admin key issue --account "$id" | json_field api_key >"$work/$plan.key"
done
metered_key=$(cat "$work/metered.key")
internal_key=$(cat "$work/internal.key")

# starmeter, and a second instance with rate limits off to measure their cost
sm_port_norl=18483
"$bin" serve --listen "127.0.0.1:$sm_port" --db "$db" --threads "$server_threads" --global-rate 100000000 \
  --global-burst 100000000 --log-level warn 2>"$work/starmeter.log" &
pids+=($!)
"$bin" serve --listen "127.0.0.1:$sm_port_norl" --db "$db" --threads "$server_threads" --rate-limits 0 \
  --log-level warn 2>"$work/starmeter-norl.log" &
pids+=($!)
wait_http "http://127.0.0.1:$sm_port/healthz"
wait_http "http://127.0.0.1:$sm_port_norl/healthz"
weekly="/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2026-W48"
# Warm both week caches: the benchmark measures cached calls.
curl -sf -o /dev/null -H "X-API-Key: $internal_key" "http://127.0.0.1:$sm_port$weekly"
curl -sf -o /dev/null -H "X-API-Key: $internal_key" "http://127.0.0.1:$sm_port_norl$weekly"

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

# name|url|API key (or empty)
scenarios=(
  "nginx ceiling (same body size as /healthz)|http://127.0.0.1:$nginx_port/healthz|"
  "starmeter GET /healthz|http://127.0.0.1:$sm_port/healthz|"
  "weekly-by-sign cached, internal plan, rate limits off|http://127.0.0.1:$sm_port_norl$weekly|$internal_key"
  "weekly-by-sign cached, internal plan, rate limits on|http://127.0.0.1:$sm_port$weekly|$internal_key"
  "weekly-by-sign cached, metered plan (group commit)|http://127.0.0.1:$sm_port$weekly|$metered_key"
)

results="$work/results.tsv"
: >"$results"
for round in $(seq "$rounds"); do
  for s in "${scenarios[@]}"; do
    IFS='|' read -r name url key <<<"$s"
    hdr=()
    [ -n "$key" ] && hdr=(-H "X-API-Key: $key")
    out=$(wrk -t"$wrk_threads" -c"$conns" -d"$duration" --latency "${hdr[@]}" "$url")
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
      med[i] = r
    }
    if (k >= 5) {
      printf "\nSide by side (same run):\n"
      printf "- rate limiting: limits on / off = %.2f\n", med[4] / med[3]
      printf "- metering: metered / internal plan = %.2f\n", med[5] / med[4]
    }
  }' "$results"
echo
echo "Metered calls counted in the store during the run: $(sqlite3 "$db" 'SELECT coalesce(sum(requests),0) FROM enterprise_daily_usages' 2>/dev/null || echo '?')"
