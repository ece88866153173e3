"""Throughput of the outbox dispatcher on PostgreSQL, in changes per second.

Run on demand, never in tests:

    .venv/bin/python bench/dispatcher.py                       # 20,000 changes, batches of 500
    .venv/bin/python bench/dispatcher.py --changes 5000 --batch-size 100 --dispatchers 2

It recreates the database named by --database-url, migrates it, writes the outbox rows in bulk
(as the API's units of work would have, one per change), then times `dispatch_changes` run by
one or more dispatchers at once until the outbox is empty.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commons.bootstrap import create_storage  # noqa: E402
from commons.data_access_layer.sql import tables  # noqa: E402
from commons.data_access_layer.sql.engine import normalized_url  # noqa: E402
from commons.settings import StorageSettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/tt_dispatch"
    )
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--dispatchers", type=int, default=1)
    args = parser.parse_args()

    url = normalized_url(args.database_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {url.database} WITH (FORCE)")
        connection.exec_driver_sql(f"CREATE DATABASE {url.database}")
    admin.dispose()
    storage = create_storage(StorageSettings(sql_url=url.render_as_string(False)), "")
    storage.migrate()
    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "tenant_id": f"tenant-{i % 10}",
            "container_id": "time_entry",
            "item_id": str(uuid.uuid4()),
            "action": "create",
            "user_id": f"user-{i % 500}",
            "description": "Time entry",
            "session_id": None,
            "occurred_at": now,
            "status": "pending",
            "attempts": 0,
        }
        for i in range(args.changes)
    ]
    with storage.engine.begin() as connection:
        connection.execute(sa.insert(tables.outbox), rows)

    reports = []
    started = time.perf_counter()
    threads = [
        threading.Thread(target=lambda: reports.append(storage.dispatch_changes(args.batch_size)))
        for _ in range(args.dispatchers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    delivered = sum(report.delivered for report in reports)
    with storage.engine.connect() as connection:
        recorded = connection.execute(sa.select(sa.func.count()).select_from(tables.events))
        total = recorded.scalar_one()
    print(
        f"{delivered:,} changes delivered by {args.dispatchers} dispatcher(s) in {elapsed:.1f} s:"
        f" {delivered / elapsed:,.0f} changes/s (batch {args.batch_size}; {total:,} audit events)"
    )


if __name__ == "__main__":
    main()
