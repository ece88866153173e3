#!/usr/bin/env bash
# The benchmark, in one command: installs what it needs (the dev requirements, wrk, and
# TimeTagger in its own virtualenv), seeds PostgreSQL through `cli.py seed` when the databases
# are missing (tt_bench: 1M entries, tt_bench_100k: 100k), then runs bench/harness.py: S1-S6,
# the framework and database floors, S1 and S3 at 100k, and the TimeTagger peer. Arguments go to
# the harness (see `bench/run.sh --help`). Figures: bench/results/<timestamp>.{json,md}.
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and about 15 minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh" --dev --bench
cd "$ROOT"
exec "$ROOT/.venv/bin/python" bench/harness.py "$@"
