#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Installs the Debian packages starmeter needs, only those missing. Idempotent.
# Usage: scripts/deps.sh [build|test|bench|cluster|web]...   (default: build)
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail

build=(cmake make gcc pkg-config libh2o-evloop-dev libjansson-dev libsqlite3-dev libpq-dev libhiredis-dev libsodium-dev libcurl4-openssl-dev libglib2.0-dev tzdata libswe-dev swe-basic-data)
test=(clang-format clang libfuzzer-14-dev libcriterion-dev sqlite3 python3 postgresql redis-server)
bench=(wrk nginx-light curl sqlite3 postgresql redis-server)
web=(chromium fonts-dejavu-core)
cluster=(python3 curl postgresql redis-server)

want=()
[ $# -eq 0 ] && set -- build
for group in "$@"; do
  case "$group" in
    build) want+=("${build[@]}") ;;
    test)  want+=("${build[@]}" "${test[@]}") ;;
    bench) want+=("${build[@]}" "${bench[@]}") ;;
    cluster) want+=("${build[@]}" "${cluster[@]}") ;;
    web)   want+=("${web[@]}")
           # The panel needs Node.js 20 or later with npm (vite 7); the machine image provides it.
           if ! node -e 'process.exit(parseInt(process.versions.node) >= 20 ? 0 : 1)' 2>/dev/null; then
             echo "deps.sh: the panel needs Node.js >= 20 with npm on the PATH" >&2
             exit 1
           fi ;;
    *) echo "deps.sh: unknown group '$group' (build, test, bench, cluster, web)" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg") ;;
  esac
done

[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "starmeter needs these Debian packages: ${missing[*]}" >&2
  echo "Run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# nginx-light, postgresql and redis-server would start system services (ports 80, 5432, 6379);
# the benchmark, the tests and `make cluster` run their own private instances instead.
if [[ " ${missing[*]} " == *" nginx-light "* || " ${missing[*]} " == *" postgresql "* ||
      " ${missing[*]} " == *" redis-server "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
