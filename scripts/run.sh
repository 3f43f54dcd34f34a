#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# `make run`: serves on 127.0.0.1:8080 with ./data/starmeter.db, seeds the demo account once and
# keeps an admin token in data/admin.token (created mode 0600 on first run).
set -euo pipefail
bin=${1:?usage: scripts/run.sh path/to/starmeter}
db=${STARMETER_DB:-./data/starmeter.db}
data=$(dirname "$db")
mkdir -p -m 0750 "$data"
if [ -z "${STARMETER_ADMIN_TOKEN:-}" ] && [ -z "${STARMETER_ADMIN_TOKEN_FILE:-}" ]; then
  if [ ! -s "$data/admin.token" ]; then
    (umask 077; head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > "$data/admin.token")
  fi
  export STARMETER_ADMIN_TOKEN_FILE="$data/admin.token"
fi
cat <<MSG
starmeter on http://${STARMETER_LISTEN:-127.0.0.1:8080}
  demo key:    $data/demo.key   (curl -H "X-API-Key: \$(cat $data/demo.key)" ...)
  admin token: ${STARMETER_ADMIN_TOKEN_FILE:-\$STARMETER_ADMIN_TOKEN}   (curl -H "Authorization: Bearer \$(cat $data/admin.token)" ...)
MSG
exec "$bin" serve --listen "${STARMETER_LISTEN:-127.0.0.1:8080}" --db "$db" --demo
