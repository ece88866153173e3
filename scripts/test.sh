#!/usr/bin/env bash
# Run the test suite against SQLite, PostgreSQL, MariaDB (pyodbc) and the Cosmos DB emulator.
# Installs the Debian ODBC packages, Node.js with the emulator (npm ci) and the dev requirements
# first. Extra arguments go to pytest, e.g. `-k catalog`. The tests run in TEST_WORKERS pytest-xdist
# processes (default 2, one per core here), each with databases, an emulator and brokers of its
# own; TEST_WORKERS=0 runs them in this process.
# Under CI=true a backend that cannot be reached fails the run instead of skipping, and the
# coverage report is printed and enforced.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh" --dev --system --node
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
# worksteal: a worker that runs out of tests takes some of the other's, so a slow test (a broker
# restart, a load test) near the end does not leave a core idle.
set -- -n "${TEST_WORKERS:-2}" --dist worksteal "$@"
if [ "${CI:-}" != true ]; then
  exec "$PY" -m pytest "$@"
fi
# CI measures coverage too (subprocesses included) and fails below the floor in pyproject.toml.
rm -f .coverage .coverage.*
junit="$(mktemp --suffix=.xml)"
trap 'rm -f "$junit"' EXIT
status=0
"$PY" -m coverage run -m pytest --junitxml="$junit" "$@" || status=$?
"$PY" -m coverage combine -q
"$PY" -m coverage report || status=$((status ? status : 2))
# pytest's counts once more, after the coverage table, as the run's closing line.
"$PY" - "$junit" <<'PY' || status=$((status ? status : 2))
import sys
import xml.etree.ElementTree as ET

suites = ET.parse(sys.argv[1]).getroot().iter("testsuite")
tests = failed = skipped = 0
for suite in suites:
    tests += int(suite.get("tests", 0))
    failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped += int(suite.get("skipped", 0))
print(f"pytest: {tests - failed - skipped} passed, {failed} failed, {skipped} skipped")
sys.exit(0 if tests else 5)
PY
exit "$status"
