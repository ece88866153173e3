"""How fast reports are on the large PostgreSQL timeline of bench/time_entries.py.

Run on demand, never in tests, after `bench/time_entries.py` has seeded `tt_bench` (1M entries):

    .venv/bin/python bench/reports.py                      # every scenario, 50 requests each
    .venv/bin/python bench/reports.py --requests 10

Scenarios (through the real app, in-process, as bench/time_entries.py measures):
- a tenant's last full month grouped by project and user (an admin, `user_id=*`), p50 and p95;
- one member's last full month grouped by project, p50 and p95;
- the CSV (and the XLSX) of the tenant's month: rows per second, and the peak RSS of a fresh
  process that only serves that export (a worker's memory for it: the interpreter and the app
  included).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import jwt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.time_entries import TENANT, percentile  # noqa: E402
from commons.data_access_layer.sql.engine import normalized_url  # noqa: E402
from commons.domain.principal import ADMIN_GROUP  # noqa: E402
from time_tracker_api import create_app  # noqa: E402
from time_tracker_api.config import TEST_JWT_SECRET, config_for_tests  # noqa: E402

MEMBER = "seed-user-00001"


def last_full_month(today: date) -> tuple[str, str]:
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1).isoformat(), last.isoformat()


def headers(user_id: str, groups: tuple[str, ...] = ()) -> dict[str, str]:
    token = jwt.encode(
        {"tid": TENANT, "oid": user_id, "roles": list(groups), "exp": int(time.time()) + 3600},
        TEST_JWT_SECRET,
        algorithm="HS256",
    )
    return {"Authorization": f"Bearer {token}"}


def app_client(url: str):
    return create_app(config_for_tests(url, ROOT / "instance")).test_client()


def timed(client, path: str, sent: dict[str, str], requests: int) -> list[float]:
    client.get(path, headers=sent)  # warm up caches and the connection pool
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, headers=sent)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.data[:300]
    return timings


def export(client, path: str, sent: dict[str, str]) -> tuple[int, int, float]:
    """Rows, bytes and seconds of one export, read chunk by chunk as a client would."""
    started = time.perf_counter()
    response = client.get(path, headers=sent, buffered=False)
    assert response.status_code == 200
    rows = size = 0
    for chunk in response.response:
        rows += chunk.count(b"\r\n")
        size += len(chunk)
    response.close()
    return rows - 1, size, time.perf_counter() - started  # the header row aside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/tt_bench"
    )
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--csv-only", action="store_true", help="(the RSS measurement)")
    parser.add_argument(
        "--format", default="csv", choices=("csv", "xlsx"), help="(with --csv-only)"
    )
    args = parser.parse_args()
    url = normalized_url(args.database_url).render_as_string(False)
    start, end = last_full_month(datetime.now(UTC).date())
    month = {"start_date": start, "end_date": end}
    admin = headers("bench-admin", (ADMIN_GROUP,))
    csv_path = "/reports/entries?" + urlencode({**month, "user_id": "*", "format": args.format})
    client = app_client(url)
    if args.csv_only:
        rows, size, seconds = export(client, csv_path, admin)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{rows} {size} {seconds} {peak}")
        return

    scenarios = {
        f"tenant month {start}..{end} by project,user": (
            "/reports/summary?" + urlencode({**month, "user_id": "*", "group_by": "project,user"}),
            admin,
        ),
        "one member's month by project": (
            "/reports/summary?" + urlencode({**month, "group_by": "project"}),
            headers(MEMBER),
        ),
        "one member's month by day": (
            "/reports/summary?" + urlencode({**month, "group_by": "day"}),
            headers(MEMBER),
        ),
    }
    for name, (path, sent) in scenarios.items():
        timings = timed(client, path, sent, args.requests)
        print(
            f"summary, {name}: p50 {percentile(timings, 50):.1f} ms,"
            f" p95 {percentile(timings, 95):.1f} ms,"
            f" mean {statistics.mean(timings):.1f} ms over {len(timings)} requests"
        )
    rows = 0
    for kind, attempt in [("csv", n) for n in range(3)] + [("xlsx", n) for n in range(2)]:
        measured = subprocess.run(  # noqa: S603 - this script, in a fresh process
            [sys.executable, __file__, "--database-url", args.database_url, "--csv-only"]
            + ["--format", kind],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        size, seconds, peak = int(measured[1]), float(measured[2]), float(measured[3])
        # The CSV's row count stands for the XLSX's (a zip archive, whose lines mean nothing).
        rows = int(measured[0]) if kind == "csv" else rows
        print(
            f"{kind.upper()} of the tenant's month, run {attempt + 1}: {rows:,} rows,"
            f" {size / 1e6:.1f} MB in {seconds:.2f} s = {rows / seconds:,.0f} rows/s;"
            f" peak RSS {peak:.0f} MB"
        )


if __name__ == "__main__":
    main()
