#!/usr/bin/env bash
# Fuzz every operation of /swagger.json with schemathesis, as an admin with a valid token, on a
# throwaway database of each backend in BACKENDS (default: "sqlite cosmos"): no operation may
# answer 5xx. MAX_EXAMPLES sets examples per operation, SEED the generator's seed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh" --dev --node
cd "$ROOT"
PY="$ROOT/.venv/bin/python"

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

fuzz() {
  local backend="$1" work port server emulator="" token
  work="$(mktemp -d)"
  port="$(free_port)"
  unset DATABASE_BACKEND SQL_DATABASE_URI DATABASE_ACCOUNT_URI DATABASE_MASTER_KEY COSMOS_VERIFY_TLS
  unset JWT_SECRET_KEY JWT_JWKS_URI JWT_ISSUER JWT_AUDIENCE
  export APP_ENV=development INSTANCE_PATH="$work"
  if [ "$backend" = cosmos ]; then
    local emulator_port
    emulator_port="$(free_port)"
    node scripts/cosmos-emulator.js "$emulator_port" >"$work/emulator.log" 2>&1 &
    emulator=$!
    for _ in $(seq 100); do grep -q Ready "$work/emulator.log" && break; sleep 0.1; done
    export DATABASE_BACKEND=cosmos DATABASE_ACCOUNT_URI="https://127.0.0.1:$emulator_port"
    export DATABASE_MASTER_KEY=dGVzdA== COSMOS_VERIFY_TLS=false DATABASE_NAME=fuzz
  else
    export SQL_DATABASE_URI="sqlite:///$work/fuzz.db"
  fi
  "$PY" cli.py migrate >"$work/migrate.log" 2>&1
  "$PY" -m flask run --port "$port" >"$work/server.log" 2>&1 &
  server=$!
  token="$("$PY" cli.py create_token --tenant-id fuzz-tenant --user-id fuzzer --role admin)"
  echo "== schemathesis on $backend"
  local status=0
  "$ROOT/.venv/bin/schemathesis" run "http://127.0.0.1:$port/swagger.json" \
    --wait-for-schema 30 \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error \
    --max-examples "${MAX_EXAMPLES:-50}" \
    --seed "${SEED:-20261121}" \
    --no-color || status=$?
  kill "$server" ${emulator:+"$emulator"} 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
  return "$status"
}

for backend in ${BACKENDS:-sqlite cosmos}; do
  fuzz "$backend"
done
