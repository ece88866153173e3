#!/usr/bin/env bash
# The benchmark, in one command: installs what it needs (the dev requirements, the MariaDB ODBC
# driver, wrk; TimeTagger in its own virtualenv), brings the benchmark databases up to now
# through `cli.py seed` (PostgreSQL tt_bench and tt_bench_100k, SQLite bench/.data/tt_bench.sqlite,
# MariaDB tt_bench_100k: seeded when missing, extended to now when older), then runs
# bench/harness.py: S1-S6 with the framework, Python and database floors and TimeTagger, their
# runs alternating, S1-S3 on SQLite and MariaDB too, and S1, S3 at 100k entries. Arguments go to
# the harness: `bench/run.sh --help` lists them. Figures: bench/results/<timestamp>.{json,md}.
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and MariaDB on 127.0.0.1:3306
# (root, no password; or --backends postgresql,sqlite); about 25 minutes on 2 cores once the
# databases are seeded (seeding them the first time: about 5-8 minutes more).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for arg in "$@"; do
  if [ "$arg" = "--help" ] || [ "$arg" = "-h" ]; then
    sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    echo
    if [ -x "$ROOT/.venv/bin/python" ]; then
      cd "$ROOT" && exec "$ROOT/.venv/bin/python" bench/harness.py --help
    fi
    echo "(run scripts/bootstrap.sh --dev first to see the harness's options)"
    exit 0
  fi
done
"$ROOT/scripts/bootstrap.sh" --dev --system --bench
cd "$ROOT"
exec "$ROOT/.venv/bin/python" bench/harness.py "$@"
