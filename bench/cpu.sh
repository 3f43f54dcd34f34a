#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# CPU cost per metered call, local counters against Redis counters, measured in a way the noise
# of a shared machine moves little: over a fixed wrk run, the CPU time (utime + stime, from
# /proc/PID/stat) of the starmeter process and of redis-server, and the server's context switches
# (voluntary and involuntary, summed over its threads), divided by the calls served. On a
# saturated machine throughput goes roughly as the inverse of the total CPU a call costs, so the
# ratio of those totals projects the requests/s ratio that bench/run.sh measures.
#
# It starts, like bench/run.sh: a private PostgreSQL (PG_DURABLE=1 scripts/pg.sh) with two
# databases set up by the CLI (a metered account each, rate limits far above the load), a private
# Redis (scripts/redis.sh), and two servers on PostgreSQL with the same flags, one with in-process
# counters, one with --counters redis://... . Then, for each round and connection count, it loads
# each server for DURATION and prints one line per run, and at the end the medians per scenario.
# Redis's own figure per call for the reservation script comes from INFO commandstats (evalsha).
#
# With BASE=path/to/another/starmeter, a third database and server, that build with Redis
# counters (its own Redis database on the same Redis), runs after the two in each round ("base"
# rows): two builds' Redis paths compared under the same conditions.
#
# Usage: bench/cpu.sh path/to/starmeter
# Environment: ROUNDS (3), DURATION (10s), CONNECTIONS ("64 8"), SERVER_THREADS (2), PORT_BASE
#              (18681: three ports from there), BASE (none), PERF (0: 1 also records `perf stat` of the Redis
#              server's process: context switches, cpu-clock), KEEP (0: 1 leaves everything
#              running and prints how to reach it, for perf record; stop it with Ctrl-C)
set -euo pipefail

bin=${1:?usage: bench/cpu.sh path/to/starmeter}
rounds=${ROUNDS:-3}
duration=${DURATION:-10s}
read -r -a conns_list <<<"${CONNECTIONS:-64 8}"
server_threads=${SERVER_THREADS:-2}
port_base=${PORT_BASE:-18681}
here=$(cd "$(dirname "$0")" && pwd)
port_local=$port_base
port_redis=$((port_base + 1))
port_other=$((port_base + 2))
base_bin=${BASE:-}
scenarios=(local redis)
[ -n "$base_bin" ] && scenarios+=(base)
hz=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/starmeter-cpu-XXXXXX)
pids=()
pg_dir=
redis_dir=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$pg_dir" ] && { "$here/../scripts/pg.sh" stop "$pg_dir" || true; }
  [ -n "$redis_dir" ] && { "$here/../scripts/redis.sh" stop "$redis_dir" || true; }
  rm -rf "$work"
}
trap cleanup EXIT

json_field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",]*\).*/\1/p" | head -n 1; }
fast=(--rate-per-second 1000000 --burst 10000000 --credential-rate-per-second 1000000 --credential-burst 10000000)
make_account() { # uri dir key-file binary
  local id bin=$4
  "$bin" migrate --store "$1" --db "$2/bench.db" --log-level warn >/dev/null
  "$bin" admin plan create --code metered --name Metered --daily-limit null --monthly-limit null "${fast[@]}" \
    --store "$1" --db "$2/bench.db" >/dev/null
  id=$("$bin" admin account create --name "bench metered" --store "$1" --db "$2/bench.db" | json_field id)
  "$bin" admin contract set --account "$id" --plan-code metered --store "$1" --db "$2/bench.db" >/dev/null
  "$bin" admin key issue --account "$id" --store "$1" --db "$2/bench.db" | json_field api_key >"$3"
}

pg_dir=$(mktemp -d /tmp/starmeter-cpu-pg-XXXXXX)
pg_admin=$(PG_DURABLE=1 "$here/../scripts/pg.sh" start "$pg_dir")
redis_dir=$(mktemp -d /tmp/starmeter-cpu-redis-XXXXXX)
redis_uri=$("$here/../scripts/redis.sh" start "$redis_dir")
redis_port=${redis_uri##*:}
redis_port=${redis_port%%/*}
redis_pid=$(cat "$redis_dir/redis.pid")
for s in "${scenarios[@]}"; do
  psql "$pg_admin" -qc "CREATE DATABASE cpu_$s" >/dev/null
  mkdir -p "$work/$s/journal"
  if [ "$s" = base ]; then b=$base_bin; else b=$bin; fi
  make_account "${pg_admin%/*}/cpu_$s" "$work/$s" "$work/$s.key" "$b"
done
common=(--threads "$server_threads" --log-level warn --global-rate 100000000 --global-burst 100000000)
"$bin" serve --listen "127.0.0.1:$port_local" --store "${pg_admin%/*}/cpu_local" --db "$work/local/bench.db" \
  --journal-dir "$work/local/journal" "${common[@]}" 2>"$work/local.log" &
pids+=($!)
pid_local=$!
"$bin" serve --listen "127.0.0.1:$port_redis" --store "${pg_admin%/*}/cpu_redis" --db "$work/redis/bench.db" \
  --journal-dir "$work/redis/journal" --counters "$redis_uri" "${common[@]}" 2>"$work/redis.log" &
pids+=($!)
pid_redis=$!
if [ -n "$base_bin" ]; then
  "$base_bin" serve --listen "127.0.0.1:$port_other" --store "${pg_admin%/*}/cpu_base" --db "$work/base/bench.db" \
    --journal-dir "$work/base/journal" --counters "${redis_uri%/*}/1" "${common[@]}" 2>"$work/base.log" &
  pids+=($!)
  pid_other=$!
fi
weekly="/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2026-W48"
for p in $port_local $port_redis ${base_bin:+$port_other}; do
  for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$p/healthz" && break; sleep 0.05; done
done
curl -sf -o /dev/null -H "X-API-Key: $(cat "$work/local.key")" "http://127.0.0.1:$port_local$weekly"
curl -sf -o /dev/null -H "X-API-Key: $(cat "$work/redis.key")" "http://127.0.0.1:$port_redis$weekly"
[ -z "$base_bin" ] || curl -sf -o /dev/null -H "X-API-Key: $(cat "$work/base.key")" "http://127.0.0.1:$port_other$weekly"

if [ "${KEEP:-0}" = 1 ]; then
  echo "local counters: pid $pid_local, http://127.0.0.1:$port_local$weekly, key $(cat "$work/local.key")"
  echo "Redis counters: pid $pid_redis, http://127.0.0.1:$port_redis$weekly, key $(cat "$work/redis.key")"
  [ -z "$base_bin" ] ||
    echo "Redis counters (BASE): pid $pid_other, http://127.0.0.1:$port_other$weekly, key $(cat "$work/base.key")"
  echo "redis-server: pid $redis_pid, port $redis_port"
  echo "Ctrl-C (or kill $$) stops everything."
  while :; do sleep 3600; done
fi

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, all threads
switches() { cat /proc/"$1"/task/*/status | awk '/_ctxt_switches:/ {s += $2} END {print s}'; }
evalsha_usec() { redis-cli -p "$redis_port" INFO commandstats | tr -d '\r' |
  awk -F'[:,=]' '$1 == "cmdstat_evalsha" {print $3 " " $5}'; } # calls usec

results="$work/results.tsv"
: >"$results"
for round in $(seq "$rounds"); do
  for c in "${conns_list[@]}"; do
    for s in "${scenarios[@]}"; do
      case $s in
      local) pid=$pid_local port=$port_local ;;
      redis) pid=$pid_redis port=$port_redis ;;
      *) pid=$pid_other port=$port_other ;;
      esac
      redis-cli -p "$redis_port" CONFIG RESETSTAT >/dev/null
      t0=$(ticks "$pid")
      r0=$(ticks "$redis_pid")
      x0=$(switches "$pid")
      perf_out=
      if [ "${PERF:-0}" = 1 ]; then
        perf stat -e context-switches,cpu-clock -p "$pid" -o "$work/perf.txt" -- sleep "${duration%s}" &
        perf_pid=$!
      fi
      out=$(wrk -t1 -c"$c" -d"$duration" -H "X-API-Key: $(cat "$work/$s.key")" "http://127.0.0.1:$port$weekly")
      [ "${PERF:-0}" = 1 ] && { wait "$perf_pid" || true; perf_out=$(awk '/context-switches/ {print $1}' "$work/perf.txt"); }
      t1=$(ticks "$pid")
      r1=$(ticks "$redis_pid")
      x1=$(switches "$pid")
      reqs=$(awk '/ requests in / {print $1}' <<<"$out")
      rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
      read -r ecalls eusec <<<"$(evalsha_usec)"
      awk -v s="$s" -v c="$c" -v rd="$round" -v n="$reqs" -v rps="$rps" -v st=$((t1 - t0)) -v rt=$((r1 - r0)) \
        -v x=$((x1 - x0)) -v hz="$hz" -v ec="${ecalls:-0}" -v eu="${eusec:-0}" -v pc="${perf_out:-}" 'BEGIN {
          srv = st * 1e6 / hz / n; red = rt * 1e6 / hz / n
          printf "%s\t%d\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%s\n", s, c, rd, rps, srv, red, srv + red, x / n,
            s != "local" && ec ? eu / ec : 0, s != "local" && ec ? sprintf("%.2f", n / ec) : "-" }' >>"$results"
      tail -n 1 "$results" | awk -F'\t' '{printf "round %s, %s conns, %s counters: %s req/s, server %s us/call, redis %s us/call, total %s us/call, %s context switches/call, evalsha %s us (%s calls per evalsha)\n", $3, $2, $1, $4, $5, $6, $7, $8, $9, $10}' >&2
    done
  done
done
echo
echo "| counters | connections | requests/s | server CPU us/call | Redis CPU us/call | total us/call | server context switches/call | Redis us per EVALSHA | calls per EVALSHA |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
awk -F'\t' '
  function median(list,   n, v, i, j, t) { n = split(list, v, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
  { k = $1 SUBSEP $2; if (!(k in seen)) { order[++m] = k; seen[k] = 1 }
    for (i = 4; i <= 10; i++) col[k, i] = col[k, i] " " $i }
  END { for (i = 1; i <= m; i++) { split(order[i], kk, SUBSEP)
      printf "| %s | %s | %.0f | %.1f | %.1f | %.1f | %.2f | %s | %s |\n", kk[1], kk[2], median(col[order[i], 4]),
        median(col[order[i], 5]), median(col[order[i], 6]), median(col[order[i], 7]), median(col[order[i], 8]),
        kk[1] != "local" ? sprintf("%.1f", median(col[order[i], 9])) : "-", kk[1] != "local" ? median(col[order[i], 10]) : "-"
      tot[kk[1], kk[2]] = median(col[order[i], 7]); rq[kk[1], kk[2]] = median(col[order[i], 4]) }
    print ""
    for (i = 1; i <= m; i++) { split(order[i], kk, SUBSEP)
      if (kk[1] != "local" && (("local", kk[2]) in tot))
        printf "- %s / local requests/s (medians) at %s connections: %.2f\n", kk[1] == "redis" ? "Redis" : "Redis (BASE)", kk[2], median(col[order[i], 4]) / rq["local", kk[2]] }
    for (i = 1; i <= m; i++) { split(order[i], kk, SUBSEP)
      if (kk[1] != "local" && (("local", kk[2]) in tot))
        printf "- local / %s total CPU per call at %s connections: %.2f (the requests/s ratio it projects on a saturated machine)\n",
          kk[1] == "redis" ? "Redis" : "Redis (BASE)", kk[2], tot["local", kk[2]] / tot[kk[1], kk[2]] } }' "$results"
