"""How fast seeding, a month's list and the summary are on a large PostgreSQL timeline.

Run on demand, never in tests:

    .venv/bin/python bench/time_entries.py                 # 500 users x 730 days (~1M entries)
    .venv/bin/python bench/time_entries.py --users 50 --days 60 --requests 20   # a quick look

It creates (or reuses, with --reuse) the database named by --database-url, migrates it, seeds
one tenant with `python cli.py seed`, then times GET /time-entries (one user's current month)
and GET /time-entries/summary through the real app, and prints the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jwt
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from commons.data_access_layer.sql.engine import normalized_url  # noqa: E402
from time_tracker_api import create_app  # noqa: E402
from time_tracker_api.config import TEST_JWT_SECRET, config_for_tests  # noqa: E402

TENANT = "bench-tenant"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/tt_bench"
    )
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    args = parser.parse_args()

    url = normalized_url(args.database_url)
    if not args.reuse:
        recreate(url)
    env = {**os.environ, "APP_ENV": "development", "SQL_DATABASE_URI": url.render_as_string(False)}
    run([sys.executable, "cli.py", "migrate"], env)
    if not args.reuse:
        started = time.monotonic()
        run(
            [
                sys.executable,
                "cli.py",
                "seed",
                "--tenant-id",
                TENANT,
                "--users",
                str(args.users),
                "--days",
                str(args.days),
            ],
            env,
        )
        print(f"seed: {time.monotonic() - started:.1f} s for {count_entries(url):,} entries")
        analyze(url)

    app = create_app(config_for_tests(url.render_as_string(False), ROOT / "instance"))
    client = app.test_client()
    token = jwt.encode(
        {"tid": TENANT, "oid": "seed-user-00001", "exp": int(time.time()) + 3600},
        TEST_JWT_SECRET,
        algorithm="HS256",
    )
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/time-entries", "/time-entries/summary"):
        timings = measure(client, path, headers, args.requests)
        print(
            f"GET {path}: p50 {percentile(timings, 50):.1f} ms,"
            f" p95 {percentile(timings, 95):.1f} ms,"
            f" mean {statistics.mean(timings):.1f} ms over {len(timings)} requests"
        )


def recreate(url: sa.URL) -> None:
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {url.database} WITH (FORCE)")
        connection.exec_driver_sql(f"CREATE DATABASE {url.database}")
    admin.dispose()


def analyze(url: sa.URL) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def count_entries(url: sa.URL) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM time_entry").scalar_one())


def run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603 - our own CLI


def measure(client, path: str, headers: dict[str, str], requests: int) -> list[float]:
    client.get(path, headers=headers)  # warm up caches and the connection pool
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.json
    return timings


def percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()
