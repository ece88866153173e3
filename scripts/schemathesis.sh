#!/usr/bin/env bash
# Fuzz every operation of /swagger.json with schemathesis, as an admin with a valid token, on a
# throwaway SQLite database: no operation may answer 5xx. MAX_EXAMPLES sets examples per operation.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh" --dev
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
WORK="$(mktemp -d)"
PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export APP_ENV=development INSTANCE_PATH="$WORK" SQL_DATABASE_URI="sqlite:///$WORK/fuzz.db"
unset DATABASE_BACKEND JWT_SECRET_KEY JWT_JWKS_URI JWT_ISSUER JWT_AUDIENCE

"$PY" -m flask --app "time_tracker_api:create_app()" run --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
TOKEN="$("$PY" cli.py create_token --tenant-id fuzz-tenant --user-id fuzzer --role admin)"

"$ROOT/.venv/bin/schemathesis" run "http://127.0.0.1:$PORT/swagger.json" \
  --wait-for-schema 30 \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error \
  --max-examples "${MAX_EXAMPLES:-50}" \
  --seed "${SEED:-20261121}" \
  --no-color
