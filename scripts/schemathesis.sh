#!/usr/bin/env bash
# Fuzz every operation of /swagger.json with schemathesis, as an admin with a valid token, on a
# throwaway database of each backend in BACKENDS (default: "sqlite postgresql cosmos"), with every
# check and every phase (examples, coverage, fuzzing, and stateful: chains of operations linked
# by the ids their responses return). schemathesis.toml says which checks are tuned and why.
# MAX_EXAMPLES sets examples per operation (default 200), SEED the generator's seed, WORKERS
# schemathesis's worker threads (default 1: generating cases is CPU-bound Python, so a second
# thread gains little under the GIL, and CPython 3.11.7's ast module is not thread-safe, which
# hypothesis meets as "AST constructor recursion depth mismatch"). PostgreSQL is the server of
# POSTGRES_URL (default: trust auth as postgres on 127.0.0.1:5432); the run creates a database
# there and drops it afterwards.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh" --dev --node
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
POSTGRES_URL="${POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}"

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# `postgres_database create|drop NAME`: a database on the POSTGRES_URL server; create prints its URL.
postgres_database() {
  "$PY" - "$POSTGRES_URL" "$1" "$2" <<'PY'
import sys

import sqlalchemy as sa

server, action, name = sys.argv[1:]
url = sa.make_url(server)
engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
with engine.connect() as connection:
    if action == "create":
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
        print(url.set(database=name).render_as_string(hide_password=False))
    else:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
engine.dispose()
PY
}

# `seeded_config URL TOKEN`: schemathesis.toml plus a customer, a project and an activity created
# through the API, whose ids fill half of the generated customer_id, project_id and activity_id
# values: random UUIDs reference nothing, so without them nearly every time entry is refused and
# the stateful phase never stops, restarts or edits one.
seeded_config() {
  cat "$ROOT/schemathesis.toml"
  "$PY" - "$1" "$2" <<'PY'
import json
import sys
import time
import urllib.request

base, token = sys.argv[1:]
for _ in range(300):
    try:
        urllib.request.urlopen(f"{base}/health", timeout=5)
        break
    except OSError:
        time.sleep(0.1)


def create(path, body):
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["id"]


customer = create("/customers", {"name": "Seeded customer"})
seeded = {
    "customer_id": customer,
    "project_id": create("/projects", {"name": "Seeded project", "customer_id": customer}),
    "activity_id": create("/activities", {"name": "Seeded activity"}),
}
print("\n# Written by scripts/schemathesis.sh for this run: records it created first.")
for field, value in seeded.items():
    print(f'[dictionaries.{field}]\nvalues = ["{value}"]')
print("[parameters]")
for field in seeded:
    print(f'"body.{field}" = {{ dictionary = "{field}", probability = 0.5 }}')
PY
}

SERVER="" EMULATOR="" WORK="" PG_DATABASE=""
cleanup() {
  local pid
  for pid in $SERVER $EMULATOR; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$PG_DATABASE" ]; then postgres_database drop "$PG_DATABASE" || true; fi
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  SERVER="" EMULATOR="" WORK="" PG_DATABASE=""
}

fuzz() {
  local backend="$1" port token
  WORK="$(mktemp -d)"
  port="$(free_port)"
  unset DATABASE_BACKEND SQL_DATABASE_URI DATABASE_ACCOUNT_URI DATABASE_MASTER_KEY COSMOS_VERIFY_TLS
  unset JWT_SECRET_KEY JWT_JWKS_URI JWT_ISSUER JWT_AUDIENCE
  export APP_ENV=development INSTANCE_PATH="$WORK"
  # The fuzzer sends thousands of requests a minute with one token: a rate limit would answer
  # most of them 429 and leave the operations untested (tests/api/test_rate_limits.py covers it).
  export RATE_LIMIT=off
  case "$backend" in
    sqlite) export SQL_DATABASE_URI="sqlite:///$WORK/fuzz.db" ;;
    postgresql)
      PG_DATABASE="tt_fuzz_$("$PY" -c 'import uuid; print(uuid.uuid4().hex[:12])')"
      SQL_DATABASE_URI="$(postgres_database create "$PG_DATABASE")"
      export SQL_DATABASE_URI
      ;;
    cosmos)
      local emulator_port
      emulator_port="$(free_port)"
      node scripts/cosmos-emulator.js "$emulator_port" >"$WORK/emulator.log" 2>&1 &
      EMULATOR=$!
      for _ in $(seq 100); do grep -q Ready "$WORK/emulator.log" && break; sleep 0.1; done
      export DATABASE_BACKEND=cosmos DATABASE_ACCOUNT_URI="https://127.0.0.1:$emulator_port"
      export DATABASE_MASTER_KEY=dGVzdA== COSMOS_VERIFY_TLS=false DATABASE_NAME=fuzz
      ;;
    *) echo "schemathesis.sh: unknown backend $backend (use sqlite, postgresql, cosmos)" >&2; return 2 ;;
  esac
  "$PY" cli.py migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log" >&2; return 1; }
  "$PY" -m flask run --port "$port" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  token="$("$PY" cli.py create_token --tenant-id fuzz-tenant --user-id fuzzer --role admin)"
  seeded_config "http://127.0.0.1:$port" "$token" >"$WORK/schemathesis.toml"
  echo "== schemathesis on $backend"
  local status=0 started=$SECONDS
  "$ROOT/.venv/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run \
    "http://127.0.0.1:$port/swagger.json" \
    --wait-for-schema 30 \
    --header "Authorization: Bearer $token" \
    --checks all \
    --max-examples "${MAX_EXAMPLES:-200}" \
    --workers "${WORKERS:-1}" \
    --seed "${SEED:-20261121}" \
    --no-color || status=$?
  echo "== schemathesis on $backend: exit $status in $((SECONDS - started)) s"
  if [ "$status" -ne 0 ] && grep -q Traceback "$WORK/server.log"; then
    echo "-- server log (tracebacks) of $backend:"
    grep -B2 -A30 Traceback "$WORK/server.log" | head -200
  fi
  return "$status"
}

# The backends run side by side, each in its own subshell (its own environment, server and
# cleanup): schemathesis is bound by one core, so this takes about half the time on two cores.
# Each run's output is printed whole once all have finished.
LOGS="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$LOGS"' EXIT
trap "exit 143" INT TERM
backends=(${BACKENDS:-sqlite postgresql cosmos})
for backend in "${backends[@]}"; do
  (
    trap cleanup EXIT
    trap "exit 143" INT TERM
    fuzz "$backend"
  ) >"$LOGS/$backend.log" 2>&1 &
  pids+=($!)
done
status=0
for index in "${!backends[@]}"; do
  wait "${pids[$index]}" || status=1
  cat "$LOGS/${backends[$index]}.log"
done
echo "== schemathesis summary (total $SECONDS s):"
grep -h "^== schemathesis on .*: exit" "$LOGS"/*.log || true
pids=()
exit "$status"
