#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# The benchmark runner. On loopback it starts:
#   - starmeter (default durability) on a fresh database holding a metered account and an account on
#     an internal plan (metered: false), both with rate limits far above the load;
#   - a second starmeter with --durability fsync on its own copy of that database (same accounts and
#     keys; two processes writing one SQLite file would contend), when the binary has the flag;
#   - optionally a third starmeter with --rate-limits 0 on a third copy (RATE_LIMITS_OFF=1);
#   - a starmeter on PostgreSQL (--store URI): a private cluster (scripts/pg.sh) with a database
#     migrated and given the same plans and accounts through the CLI, its keys issued with the same
#     pepper, when the binary has --store and PostgreSQL is installed (POSTGRES=0 skips it);
#   - a second starmeter on PostgreSQL with --counters (the limit decisions on Redis): a private
#     Redis (scripts/redis.sh) and a second database in the same cluster, set up like the first, so
#     that its count is checked alone, when the PostgreSQL scenario runs, the binary has --counters
#     and redis-server is installed (REDIS=0 skips it);
#   - nginx serving the very bytes of the metered answer of the route, with the same content type.
# wrk (keep-alive, a second process) loads every scenario at each connection count, rounds
# interleaved so that all see the same machine; the table gives the median of the rounds, each
# row's ratio to nginx at the same connection count, and the ratios the metering targets. The
# store's count of metered calls is checked against the 2xx wrk saw. Then, unless FOOTPRINT=0, the
# memory of a server on a database of FP_ACCOUNTS accounts and FP_KEYS keys (bench/populate.sh):
# start-up time and VmRSS, before and after metered traffic.
#
# Usage: bench/run.sh path/to/starmeter
# Environment: ROUNDS (3), DURATION (5s), CONNECTIONS ("64 8"), WRK_THREADS (1), SERVER_THREADS (2),
#              RATE_LIMITS_OFF (1: also the internal plan with rate limits off, at the first count),
#              FOOTPRINT (1), FP_ACCOUNTS (10000), FP_KEYS (100000), FP_TRAFFIC_KEYS (20),
#              FP_DURATION (DURATION), PORT_BASE (18581: eight ports from there), POSTGRES (1), REDIS (1),
#              KEEP_WORK (0: 1 keeps the temporary directory with the databases, logs and nginx.conf)
set -euo pipefail

bin=${1:?usage: bench/run.sh path/to/starmeter}
rounds=${ROUNDS:-3}
duration=${DURATION:-5s}
read -r -a conns_list <<<"${CONNECTIONS:-64 8}"
wrk_threads=${WRK_THREADS:-1}
server_threads=${SERVER_THREADS:-2}
norl=${RATE_LIMITS_OFF:-1}
footprint=${FOOTPRINT:-1}
fp_accounts=${FP_ACCOUNTS:-10000}
fp_keys=${FP_KEYS:-100000}
fp_traffic_keys=${FP_TRAFFIC_KEYS:-20}
fp_duration=${FP_DURATION:-$duration}
here=$(cd "$(dirname "$0")" && pwd)
postgres=${POSTGRES:-1}
redis=${REDIS:-1}
port_base=${PORT_BASE:-18581}
sm_port=$port_base
nginx_port=$((port_base + 1))
sm_port_norl=$((port_base + 2))
sm_port_fsync=$((port_base + 3))
fp_port=$((port_base + 4))
fp_populate_port=$((port_base + 5))
sm_port_pg=$((port_base + 6))
sm_port_redis=$((port_base + 7))
for p in $(seq "$port_base" $((port_base + 7))); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "bench: port $p is in use (another benchmark?); set PORT_BASE to a free range of 8 ports" >&2
    exit 1
  fi
done
work=$(mktemp -d /tmp/starmeter-bench-XXXXXX)
pids=()
pg_dir=
redis_dir=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null || true
  wait 2>/dev/null || true
  # the private PostgreSQL, after the server using it (pg.sh stop also removes its directory)
  [ -n "$pg_dir" ] && { "$here/../scripts/pg.sh" stop "$pg_dir" || true; }
  [ -n "$redis_dir" ] && { "$here/../scripts/redis.sh" stop "$redis_dir" || true; }
  [ "${KEEP_WORK:-0}" = 1 ] && echo "bench: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

wait_http() { # url [log file to show if it does not come up]
  for _ in $(seq 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "bench: $1 did not come up" >&2
  [ -n "${2:-}" ] && tail -n 20 "$2" >&2
  exit 1
}
json_field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",]*\).*/\1/p" | head -n 1; }
stored_calls() { # SQLite file or PostgreSQL URI
  local q='SELECT coalesce(sum(requests),0) FROM enterprise_daily_usages'
  case "$1" in
    postgres://*) psql "$1" -tAc "$q" 2>/dev/null || echo '?' ;;
    *) sqlite3 "$1" "$q" 2>/dev/null || echo '?' ;;
  esac
}
rss_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
serve_common=(--threads "$server_threads" --log-level warn --global-rate 100000000 --global-burst 100000000)

# Does this binary know --durability? (The fsync scenario is skipped otherwise, with a note.)
serve_help=$("$bin" serve --help 2>&1 || true)
has_fsync=0
grep -q -- '--durability' <<<"$serve_help" && has_fsync=1
# The PostgreSQL scenario needs --store and an installed PostgreSQL (skipped otherwise, with a note).
has_pg=0
pg_note=
if [ "$postgres" != 1 ]; then
  pg_note="POSTGRES=$postgres"
elif ! grep -q -- '--store' <<<"$serve_help"; then
  pg_note="this binary has no --store flag"
elif ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v psql >/dev/null; then
  pg_note="PostgreSQL is not installed (scripts/deps.sh bench)"
else
  has_pg=1
fi
# The Redis-counters scenario: a second PostgreSQL server with --counters, so it needs the PostgreSQL
# scenario, --counters and an installed redis-server (skipped otherwise, with a note).
has_redis=0
redis_note=
if [ "$redis" != 1 ]; then
  redis_note="REDIS=$redis"
elif ! grep -q -- '--counters' <<<"$serve_help"; then
  redis_note="this binary has no --counters flag"
elif ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  redis_note="redis-server is not installed (scripts/deps.sh bench)"
elif [ "$has_pg" != 1 ]; then
  redis_note="it runs on PostgreSQL, whose scenario is skipped ($pg_note)"
else
  has_redis=1
fi

# The accounts, made with the CLI: one metered (counted, no daily or monthly limit), one on an
# internal plan (metered: false). Rate limits are far above the load so that none trips.
mkdir -p "$work/db" "$work/db-fsync" "$work/db-norl"
db="$work/db/bench.db"
db_fsync="$work/db-fsync/bench.db"
db_norl="$work/db-norl/bench.db"
admin() { "$bin" admin "$@" --db "$db"; }
fast=(--rate-per-second 1000000 --burst 10000000 --credential-rate-per-second 1000000 --credential-burst 10000000)
make_accounts() { # admin-command key-file-suffix
  local adm=$1 suffix=$2 id plan
  $adm plan create --code metered --name Metered --daily-limit null --monthly-limit null "${fast[@]}" >/dev/null
  $adm plan create --code internal --name Internal --metered false --daily-limit null --monthly-limit null \
    "${fast[@]}" >/dev/null
  for plan in metered internal; do
    id=$($adm account create --name "bench $plan" | json_field id)
    $adm contract set --account "$id" --plan-code "$plan" >/dev/null
    $adm key issue --account "$id" | json_field api_key >"$work/$plan$suffix.key"
    [ -s "$work/$plan$suffix.key" ] || { echo "bench: no $plan key issued ($adm)" >&2; exit 1; }
  done
}
make_accounts admin ""
metered_key=$(cat "$work/metered.key")
internal_key=$(cat "$work/internal.key")
# The other servers' databases: copies made before any server runs, with the same pepper, so the
# same keys authenticate on all (each process has its own file, ledger and usage journal).
for copy in "$db_fsync" "$db_norl"; do
  sqlite3 "$db" ".backup '$copy'"
  cp "$work/db/pepper" "$(dirname "$copy")/pepper"
done
# PostgreSQL: a private cluster, a database migrated with the CLI, the same plans and accounts made
# through the CLI with --store. --db only locates the pepper (a copy of the SQLite one, put there
# before the keys are issued, so that the server started with the same --db verifies them); the
# server's usage journal gets its own directory.
if [ "$has_pg" = 1 ]; then
  pg_dir=$(mktemp -d /tmp/starmeter-bench-pg-XXXXXX)
  pg_admin_uri=$(PG_DURABLE=1 "$here/../scripts/pg.sh" start "$pg_dir")
  psql "$pg_admin_uri" -qc 'CREATE DATABASE bench' >/dev/null
  pg_uri="${pg_admin_uri%/*}/bench"
  db_pg="$work/db-pg/bench.db"
  mkdir -p "$work/db-pg" "$work/journal-pg"
  cp "$work/db/pepper" "$work/db-pg/pepper"
  "$bin" migrate --store "$pg_uri" --db "$db_pg" --log-level warn >/dev/null
  admin_pg() { "$bin" admin "$@" --store "$pg_uri" --db "$db_pg"; }
  make_accounts admin_pg -pg
  metered_key_pg=$(cat "$work/metered-pg.key")
  internal_key_pg=$(cat "$work/internal-pg.key")
  pg_version=$(psql "$pg_uri" -tAc 'SHOW server_version' | awk '{print $1}')
fi
# Redis counters: a private Redis, and a second database in the same cluster set up exactly like the
# first (migrated, same plans, accounts made with the CLI, keys issued with the same pepper), served
# by its own starmeter with its own journal; a database of its own keeps its count check separate.
if [ "$has_redis" = 1 ]; then
  redis_dir=$(mktemp -d /tmp/starmeter-bench-redis-XXXXXX)
  redis_uri=$("$here/../scripts/redis.sh" start "$redis_dir")
  redis_version=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
  psql "$pg_admin_uri" -qc 'CREATE DATABASE bench_redis' >/dev/null
  pg_uri_redis="${pg_admin_uri%/*}/bench_redis"
  db_redis="$work/db-redis/bench.db"
  mkdir -p "$work/db-redis" "$work/journal-redis"
  cp "$work/db/pepper" "$work/db-redis/pepper"
  "$bin" migrate --store "$pg_uri_redis" --db "$db_redis" --log-level warn >/dev/null
  admin_redis() { "$bin" admin "$@" --store "$pg_uri_redis" --db "$db_redis"; }
  make_accounts admin_redis -redis
  metered_key_redis=$(cat "$work/metered-redis.key")
  internal_key_redis=$(cat "$work/internal-redis.key")
fi

"$bin" serve --listen "127.0.0.1:$sm_port" --db "$db" "${serve_common[@]}" 2>"$work/starmeter.log" &
pids+=($!)
sm_pid=$!
if [ "$has_fsync" = 1 ]; then
  "$bin" serve --listen "127.0.0.1:$sm_port_fsync" --db "$db_fsync" "${serve_common[@]}" --durability fsync \
    2>"$work/starmeter-fsync.log" &
  pids+=($!)
  fsync_pid=$!
fi
if [ "$norl" = 1 ]; then
  "$bin" serve --listen "127.0.0.1:$sm_port_norl" --db "$db_norl" "${serve_common[@]}" --rate-limits 0 \
    2>"$work/starmeter-norl.log" &
  pids+=($!)
fi
if [ "$has_pg" = 1 ]; then
  "$bin" serve --listen "127.0.0.1:$sm_port_pg" --store "$pg_uri" --db "$db_pg" --journal-dir "$work/journal-pg" \
    "${serve_common[@]}" 2>"$work/starmeter-pg.log" &
  pids+=($!)
  pg_pid=$!
fi
if [ "$has_redis" = 1 ]; then
  "$bin" serve --listen "127.0.0.1:$sm_port_redis" --store "$pg_uri_redis" --db "$db_redis" \
    --journal-dir "$work/journal-redis" --counters "$redis_uri" "${serve_common[@]}" 2>"$work/starmeter-redis.log" &
  pids+=($!)
  redis_pid=$!
fi
wait_http "http://127.0.0.1:$sm_port/healthz" "$work/starmeter.log"
[ "$has_fsync" = 1 ] && wait_http "http://127.0.0.1:$sm_port_fsync/healthz" "$work/starmeter-fsync.log"
[ "$norl" = 1 ] && wait_http "http://127.0.0.1:$sm_port_norl/healthz" "$work/starmeter-norl.log"
[ "$has_pg" = 1 ] && wait_http "http://127.0.0.1:$sm_port_pg/healthz" "$work/starmeter-pg.log"
[ "$has_redis" = 1 ] && wait_http "http://127.0.0.1:$sm_port_redis/healthz" "$work/starmeter-redis.log"
small_rss_kb=$(rss_kb "$sm_pid" VmRSS)
small_hwm_kb=$(rss_kb "$sm_pid" VmHWM)

weekly="/v1/b2b/astrology/weekly-by-sign?sign=aries&week=2026-W48"
# Warm the week caches with the internal key (not counted): the benchmark measures cached calls.
for p in $sm_port $sm_port_fsync $sm_port_norl; do
  curl -sf -o /dev/null -H "X-API-Key: $internal_key" "http://127.0.0.1:$p$weekly" 2>/dev/null || true
done
# The PostgreSQL server: its own keys (same pepper); the metered one is tried once (1 counted call).
extra_metered_pg=0
if [ "$has_pg" = 1 ]; then
  curl -sf -o /dev/null -H "X-API-Key: $internal_key_pg" "http://127.0.0.1:$sm_port_pg$weekly" ||
    { echo "bench: the PostgreSQL server does not answer the internal key" >&2; tail -n 20 "$work/starmeter-pg.log" >&2; exit 1; }
  curl -sf -o /dev/null -H "X-API-Key: $metered_key_pg" "http://127.0.0.1:$sm_port_pg$weekly" ||
    { echo "bench: the PostgreSQL server does not answer the metered key" >&2; tail -n 20 "$work/starmeter-pg.log" >&2; exit 1; }
  extra_metered_pg=1
fi
# The same for the Redis-counters server (its metered key's first call seeds its counters in Redis).
extra_metered_redis=0
if [ "$has_redis" = 1 ]; then
  curl -sf -o /dev/null -H "X-API-Key: $internal_key_redis" "http://127.0.0.1:$sm_port_redis$weekly" ||
    { echo "bench: the Redis-counters server does not answer the internal key" >&2; tail -n 20 "$work/starmeter-redis.log" >&2; exit 1; }
  curl -sf -o /dev/null -H "X-API-Key: $metered_key_redis" "http://127.0.0.1:$sm_port_redis$weekly" ||
    { echo "bench: the Redis-counters server does not answer the metered key" >&2; tail -n 20 "$work/starmeter-redis.log" >&2; exit 1; }
  extra_metered_redis=1
fi

# nginx serves the exact bytes of one metered answer of the route (this call is counted: 1 metered
# call on the first server), with its content type and its other response headers (fixed values).
mkdir -p "$work/nginx" "$work/www"
# nginx's workers may run as another user (www-data when started as root): let them reach the body.
chmod 711 "$work"
chmod 755 "$work/www"
curl -sf -D "$work/answer.headers" -o "$work/www/weekly.json" -H "X-API-Key: $metered_key" \
  "http://127.0.0.1:$sm_port$weekly"
chmod 644 "$work/www/weekly.json"
extra_metered=1
ctype=$(awk -F': ' 'tolower($1) == "content-type" {sub(/\r$/, "", $2); print $2}' "$work/answer.headers")
extra_headers=$(tr -d '\r' <"$work/answer.headers" | awk -F': ' -v q="'" '
  NR > 1 && NF >= 2 && tolower($1) !~ /^(date|connection|content-length|content-type|server|transfer-encoding)$/ &&
  index($0, q) == 0 && index($0, "\\") == 0 && index($0, "$") == 0 {
    name = $1; sub(/^[^:]*: /, ""); printf "      add_header %s %s%s%s;\n", name, q, $0, q }')
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
  # a 4.5 KB body: reading it (cached descriptor) and one writev beats sendfile on loopback by ~30%;
  # nginx cannot hold it in a "return" string (a configuration token is at most 4 KB)
  sendfile off;
  open_file_cache max=16 inactive=3600s;
  open_file_cache_valid 3600s;
  server_tokens off;
  server {
    listen 127.0.0.1:$nginx_port reuseport;
    location / {
      root $work/www;
      types { }
      default_type "$ctype";
      etag off;
      if_modified_since off;
$extra_headers
      try_files /weekly.json =404;
    }
  }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work/nginx" &
pids+=($!)
wait_http "http://127.0.0.1:$nginx_port/" "$work/nginx/error.log"
curl -sf -o "$work/nginx.body" "http://127.0.0.1:$nginx_port$weekly"
cmp -s "$work/nginx.body" "$work/www/weekly.json" || { echo "bench: nginx does not serve the same bytes" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{content_type}' "http://127.0.0.1:$nginx_port$weekly")" = "$ctype" ] ||
  { echo "bench: nginx does not answer the same content type" >&2; exit 1; }
body_bytes=$(wc -c <"$work/www/weekly.json")

# tag|name|url|API key (or empty)
scenarios=("nginx|nginx, same bytes as the metered answer|http://127.0.0.1:$nginx_port$weekly|")
[ "$norl" = 1 ] && scenarios+=("norl|starmeter, internal plan (unmetered), rate limits off|http://127.0.0.1:$sm_port_norl$weekly|$internal_key")
scenarios+=(
  "unmetered|starmeter, internal plan (unmetered)|http://127.0.0.1:$sm_port$weekly|$internal_key"
  "metered|starmeter, metered, default durability|http://127.0.0.1:$sm_port$weekly|$metered_key"
)
[ "$has_fsync" = 1 ] && scenarios+=("fsync|starmeter, metered, --durability fsync|http://127.0.0.1:$sm_port_fsync$weekly|$metered_key")
[ "$has_pg" = 1 ] && scenarios+=("pg|starmeter, metered, PostgreSQL|http://127.0.0.1:$sm_port_pg$weekly|$metered_key_pg")
[ "$has_redis" = 1 ] && scenarios+=("redis|starmeter, metered, Redis counters|http://127.0.0.1:$sm_port_redis$weekly|$metered_key_redis")

results="$work/results.tsv"
: >"$results"
for round in $(seq "$rounds"); do
  for c in "${conns_list[@]}"; do
    for s in "${scenarios[@]}"; do
      IFS='|' read -r tag name url key <<<"$s"
      # rate limits off only at the first connection count: it is the cheap, optional row
      [ "$tag" = norl ] && [ "$c" != "${conns_list[0]}" ] && continue
      hdr=()
      [ -n "$key" ] && hdr=(-H "X-API-Key: $key")
      out=$(wrk -t"$wrk_threads" -c"$c" -d"$duration" --latency "${hdr[@]}" "$url")
      rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
      p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
      p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
      reqs=$(awk '/ requests in / {print $1}' <<<"$out")
      non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
      sock=$(awk '/Socket errors:/ {$1 = $2 = ""; gsub(/^ +/, ""); gsub(/ /, "_"); print}' <<<"$out")
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tag" "$name" "$c" "$round" "$rps" "$p50" "$p99" \
        "$reqs" "${non2xx:-0}" "${sock:-}" >>"$results"
      echo "round $round, $c conns: $name: $rps req/s p50 $p50 p99 $p99 (${reqs} requests, non-2xx ${non2xx:-0}${sock:+, socket errors $sock})" >&2
    done
  done
done

echo "$(date -u +%F), $(. /etc/os-release && echo "$PRETTY_NAME"), $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), shared by wrk and the servers."
echo "Settings: ROUNDS=$rounds DURATION=$duration CONNECTIONS=\"${conns_list[*]}\" WRK_THREADS=$wrk_threads SERVER_THREADS=$server_threads; $("$bin" version 2>/dev/null | head -n 1)"
echo "Response: GET $weekly, $body_bytes bytes, $ctype; nginx serves the same bytes."
[ "$has_fsync" = 1 ] || echo "Note: this binary has no --durability flag: the fsync scenario is skipped."
if [ "$has_pg" = 1 ]; then
  echo "PostgreSQL: $pg_version, private cluster on loopback (scripts/pg.sh with PG_DURABLE=1: fsync and synchronous commits on), default --store-connections."
else
  echo "Note: the PostgreSQL scenario is skipped: $pg_note."
fi
if [ "$has_redis" = 1 ]; then
  echo "Redis counters: Redis $redis_version, private on loopback (scripts/redis.sh: no persistence); the row \"metered, Redis counters\" is a second starmeter on PostgreSQL (its own database in the same cluster, set up like the first, its own journal and port) with --counters $redis_uri, compared with \"metered, PostgreSQL\" (in-process counters)."
else
  echo "Note: the Redis-counters scenario is skipped: $redis_note."
fi
echo
# Median per scenario and connection count (rounds are few; the median keeps one noisy round from
# deciding); ratios are between medians of the same run.
awk -F'\t' -v rounds="$rounds" -v has_fsync="$has_fsync" -v has_pg="$has_pg" -v pg_note="$pg_note" -v has_redis="$has_redis" -v redis_note="$redis_note" -v c1="${conns_list[0]}" -v c2="${conns_list[1]:-0}" '
  function to_ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
  function median(arr, key, cnt,   i, j, t, v) {
    for (i = 1; i <= cnt; i++) v[i] = arr[key, i]
    for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (cnt % 2) ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
  }
  { key = $1 SUBSEP $3
    if (!(key in seen)) { order[++k] = key; seen[key] = 1; name[key] = $2; tag[key] = $1; conns[key] = $3 }
    n = ++cnt[key]; rps[key, n] = $5; p50[key, n] = to_ms($6); p99[key, n] = to_ms($7)
    if ($9 > 0) bad[key] = bad[key] " non-2xx " $9
    if ($10 != "" && $10 !~ /^connect_0,_read_0,_write_0,_timeout_0$/) bad[key] = bad[key] " socket " $10 }
  function ratio(a, ca, b, cb) { return ((a, ca) in med && (b, cb) in med) ? sprintf("**%.2f**", med[a, ca] / med[b, cb]) : "n/a" }
  END {
    for (i = 1; i <= k; i++) med[tag[order[i]], conns[order[i]]] = median(rps, order[i], cnt[order[i]])
    printf "| scenario | connections | requests/s (median of %d) | p50 ms | p99 ms | ratio to nginx |\n", rounds
    printf "| --- | ---: | ---: | ---: | ---: | ---: |\n"
    for (i = 1; i <= k; i++) {
      key = order[i]; r = med[tag[key], conns[key]]; ng = med["nginx", conns[key]]
      printf "| %s%s | %d | %.0f | %.3f | %.3f | %.2f |\n", name[key], (key in bad) ? " (errors:" bad[key] ")" : "",
             conns[key], r, median(p50, key, cnt[key]), median(p99, key, cnt[key]), ng ? r / ng : 0
    }
    printf "\nSide by side (ratios of medians, same run):\n\n"
    printf "- metered / unmetered: %s at %d connections, %s at %d\n", ratio("metered", c1, "unmetered", c1), c1, ratio("metered", c2, "unmetered", c2), c2
    printf "- metered / nginx at %d connections: %s (at %d: %s)\n", c1, ratio("metered", c1, "nginx", c1), c2, ratio("metered", c2, "nginx", c2)
    if (has_fsync) {
      printf "- fsync-metered / unmetered at %d connections: %s (at %d: %s)\n", c1, ratio("fsync", c1, "unmetered", c1), c2, ratio("fsync", c2, "unmetered", c2)
      printf "- fsync-metered / metered at %d connections: %s (at %d: %s)\n", c1, ratio("fsync", c1, "metered", c1), c2, ratio("fsync", c2, "metered", c2)
    } else printf "- fsync-metered: skipped, this binary has no --durability flag\n"
    if (has_pg) printf "- PostgreSQL-metered / SQLite-metered (default durability) at %d connections: %s (at %d: %s); aim: at least 0.80\n", c1, ratio("pg", c1, "metered", c1), c2, ratio("pg", c2, "metered", c2)
    else printf "- PostgreSQL-metered: skipped, %s\n", pg_note
    if (has_redis) printf "- Redis-counters-metered / local-counters-metered (both on PostgreSQL) at %d connections: %s (at %d: %s); aim: at least 0.70\n", c1, ratio("redis", c1, "pg", c1), c2, ratio("redis", c2, "pg", c2)
    else printf "- Redis-counters-metered: skipped, %s\n", redis_note
    if (("norl", c1) in med) printf "- rate limiting, unmetered, limits on / off at %d connections: %s\n", c1, ratio("unmetered", c1, "norl", c1)
  }' "$results"

# Every 2xx wrk saw on a metered scenario must be on the books (answers in flight when wrk stops
# are counted by the server but not by wrk, hence >=). The store is read twice: while the server
# runs (the ledger, into which the usage journal is folded every few ms), and after a clean stop
# (SIGTERM: the server folds what it holds); the check is on the second.
seen_2xx() { awk -F'\t' -v t="$1" '$1 == t {s += $8 - $9} END {print s + 0}' "$results"; }
stop_server() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
check_count() { # label db live-count seen
  local stored
  stored=$(stored_calls "$2")
  if [ "$stored" != '?' ] && [ "$stored" -ge "$4" ]; then
    echo "- $1: $4 2xx answered; stored: $3 while running, $stored after a clean stop: OK"
  else
    echo "- $1: $4 2xx answered; stored: $3 while running, $stored after a clean stop: MISSING CALLS"
    count_failed=1
  fi
}
count_failed=0
sleep 0.1
live=$(stored_calls "$db")
[ "$has_fsync" = 1 ] && live_fsync=$(stored_calls "$db_fsync")
[ "$has_pg" = 1 ] && live_pg=$(stored_calls "$pg_uri")
[ "$has_redis" = 1 ] && live_redis=$(stored_calls "$pg_uri_redis")
stop_server "$sm_pid"
[ "$has_fsync" = 1 ] && stop_server "$fsync_pid"
[ "$has_pg" = 1 ] && stop_server "$pg_pid"
[ "$has_redis" = 1 ] && stop_server "$redis_pid"
echo
echo "Metered calls in the store (SUM(requests) of enterprise_daily_usages), against the 2xx answered (wrk's count, plus the one answer fetched for nginx, and on each PostgreSQL server the one call that checks its key):"
echo
check_count "starmeter (default durability)" "$db" "$live" $(($(seen_2xx metered) + extra_metered))
[ "$has_fsync" = 1 ] && check_count "starmeter --durability fsync" "$db_fsync" "$live_fsync" "$(seen_2xx fsync)"
[ "$has_pg" = 1 ] && check_count "starmeter on PostgreSQL" "$pg_uri" "$live_pg" $(($(seen_2xx pg) + extra_metered_pg))
[ "$has_redis" = 1 ] && check_count "starmeter on PostgreSQL, Redis counters" "$pg_uri_redis" "$live_redis" \
  $(($(seen_2xx redis) + extra_metered_redis))
# the PostgreSQL cluster and Redis are no longer needed: they stop before the footprint measurement
if [ -n "$redis_dir" ]; then
  "$here/../scripts/redis.sh" stop "$redis_dir" || true
  redis_dir=
fi
if [ -n "$pg_dir" ]; then
  "$here/../scripts/pg.sh" stop "$pg_dir" || true
  pg_dir=
fi

# Memory with many accounts and keys: a database made through the admin API by bench/populate.sh,
# plus FP_TRAFFIC_KEYS accounts with one key each (CLI) to load it with metered calls.
if [ "$footprint" = 1 ]; then
  # the throughput servers and nginx stop first, so that the populating server gets the machine
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null || true
  wait 2>/dev/null || true
  pids=()
  echo >&2
  mkdir -p "$work/fp"
  fp_db="$work/fp/bench.db"
  t0=$(date +%s%N)
  PORT=$fp_populate_port CONNECTIONS=${POPULATE_CONNECTIONS:-8} SERVER_THREADS=$server_threads PLAN_CODE=bench \
    "$here/populate.sh" "$bin" "$fp_db" "$fp_accounts" "$fp_keys" >&2
  populate_s=$(( ($(date +%s%N) - t0) / 1000000 ))
  : >"$work/fp.keys"
  for i in $(seq "$fp_traffic_keys"); do
    id=$("$bin" admin account create --name "bench traffic $i" --db "$fp_db" | json_field id)
    "$bin" admin contract set --account "$id" --plan-code bench --db "$fp_db" >/dev/null
    "$bin" admin key issue --account "$id" --db "$fp_db" | json_field api_key >>"$work/fp.keys"
  done
  accounts_total=$(sqlite3 "$fp_db" 'SELECT count(*) FROM accounts')
  keys_total=$(sqlite3 "$fp_db" 'SELECT count(*) FROM credentials')
  db_mb=$(du -sm "$work/fp" | cut -f1)
  t0=$(date +%s%N)
  "$bin" serve --listen "127.0.0.1:$fp_port" --db "$fp_db" "${serve_common[@]}" 2>"$work/starmeter-fp.log" &
  fp_pid=$!
  pids+=("$fp_pid")
  for _ in $(seq 6000); do curl -sf -o /dev/null "http://127.0.0.1:$fp_port/healthz" && break; sleep 0.01; done
  curl -sf -o /dev/null "http://127.0.0.1:$fp_port/healthz" || { echo "bench: the footprint server did not come up" >&2; exit 1; }
  startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  rss_start=$(rss_kb "$fp_pid" VmRSS)
  hwm_start=$(rss_kb "$fp_pid" VmHWM)
  out=$(wrk -t"$wrk_threads" -c"${conns_list[0]}" -d"$fp_duration" -s "$here/keys.lua" \
    "http://127.0.0.1:$fp_port$weekly" -- "$work/fp.keys")
  fp_rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  fp_2xx=$(awk '/ requests in / {r = $1} /Non-2xx or 3xx responses:/ {n = $5} END {print r - n}' <<<"$out")
  rss_after=$(rss_kb "$fp_pid" VmRSS)
  hwm_after=$(rss_kb "$fp_pid" VmHWM)
  sleep 0.1
  fp_live=$(stored_calls "$fp_db")
  stop_server "$fp_pid"
  echo
  echo "Footprint: $accounts_total accounts, $keys_total keys (bench/populate.sh: $fp_accounts accounts and" \
    "$fp_keys keys through the admin API in $(awk -v m="$populate_s" 'BEGIN {printf "%.1f", m / 1000}') s;" \
    "database $db_mb MB):"
  echo
  echo "| server | start-up to /healthz | VmRSS | VmHWM (peak) |"
  echo "| --- | ---: | ---: | ---: |"
  awk -v kb="$small_rss_kb" -v hwm="$small_hwm_kb" \
    'BEGIN {printf "| 2 accounts, 2 keys (the throughput server), at start | | %.1f MB | %.1f MB |\n", kb / 1024, hwm / 1024}'
  awk -v kb="$rss_start" -v hwm="$hwm_start" -v ms="$startup_ms" -v a="$accounts_total" -v k="$keys_total" \
    'BEGIN {printf "| %d accounts, %d keys, at start | %d ms | %.1f MB | %.1f MB |\n", a, k, ms, kb / 1024, hwm / 1024}'
  awk -v kb="$rss_after" -v hwm="$hwm_after" -v d="$fp_duration" -v c="${conns_list[0]}" -v n="$fp_traffic_keys" \
    -v r="$fp_rps" 'BEGIN {printf "| the same, after %s of metered calls (%d connections, %d keys round robin, %.0f req/s) | | %.1f MB | %.1f MB |\n", d, c, n, r, kb / 1024, hwm / 1024}'
  echo
  check_count "footprint server" "$fp_db" "$fp_live" "$fp_2xx"
fi
echo "bench: done in $SECONDS s" >&2
exit "$count_failed"
