#!/usr/bin/env bash
# Run the test suite against SQLite, PostgreSQL, MariaDB (pyodbc) and the Cosmos DB emulator.
# Installs the Debian ODBC packages, Node.js with the emulator (npm ci) and the dev requirements
# first. Extra arguments go to pytest, e.g. `-k catalog`.
# Under CI=true a backend that cannot be reached fails the run instead of skipping, and the
# coverage report is printed and enforced.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh" --dev --system --node
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
if [ "${CI:-}" != true ]; then
  exec "$PY" -m pytest "$@"
fi
# CI measures coverage too (subprocesses included) and fails below the floor in pyproject.toml.
rm -f .coverage .coverage.*
status=0
"$PY" -m coverage run -m pytest "$@" || status=$?
"$PY" -m coverage combine -q
"$PY" -m coverage report || status=$((status ? status : 2))
exit "$status"
