#!/usr/bin/env bash
# Run the API in development on http://127.0.0.1:5000 (SQLite in ./instance, schema migrated
# at start, a development signing secret created on first start). Extra arguments go to
# `flask run`, e.g. `scripts/run.sh --port 8000`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m flask run "$@"  # finds create_app through wsgi.py
