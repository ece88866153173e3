#!/usr/bin/env bash
# Run the test suite against SQLite, PostgreSQL, MariaDB (pyodbc) and the Cosmos DB emulator.
# Installs the Debian ODBC packages, Node.js with the emulator (npm ci) and the dev requirements
# first. Extra arguments go to pytest, e.g. `-k catalog`.
# Under CI=true a backend that cannot be reached fails the run instead of skipping.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh" --dev --system --node
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
