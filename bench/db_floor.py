"""The database floor: the SQL a scenario needs, run directly with psycopg, without the API.

For S1, S3 and S4 the harness asks the real application (in process, on the same database) to
answer the scenario's request once to warm up, then once more while a SQLAlchemy
`before_cursor_execute` listener records every statement and its bound parameters. Those
statements, verbatim, are then replayed with psycopg 3 (the API's driver, same default
auto-prepare threshold) in one transaction per "request", every row fetched, by 1 or 16
client processes in a closed loop. So the floor follows the code: whatever the API sends for a
scenario is what the floor measures, and nothing else (no HTTP, no JWT, no ORM, no JSON).
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

Statement = tuple[str, Any]


@contextmanager
def _recording() -> Iterator[list[Statement]]:
    import sqlalchemy as sa

    statements: list[Statement] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)


def capture(database_url: str, path: str, claims: dict[str, Any]) -> list[Statement]:
    """The statements the API sends to answer GET `path` for a caller with these claims."""
    import jwt

    from time_tracker_api import create_app
    from time_tracker_api.config import TEST_JWT_SECRET, config_for_tests

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(config_for_tests(database_url, Path(instance)))
        bearer = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
        headers = {"Authorization": f"Bearer {bearer}"}
        client = app.test_client()
        first = client.get(path, headers=headers)  # warm: caches, first-call bookkeeping
        if first.status_code != 200:
            raise SystemExit(f"GET {path} answered {first.status_code}: {first.get_data(True)}")
        with _recording() as statements:
            client.get(path, headers=headers)
        return list(statements)


def _client(
    libpq_url: str, statements: list[Statement], seconds: float
) -> tuple[list[float], float]:
    """One client: replay the statements in a transaction until the time is up."""
    latencies: list[float] = []
    started_cpu = time.process_time()
    with psycopg.connect(libpq_url) as connection:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for statement, parameters in statements:
                    cursor.execute(statement, parameters)
                    if cursor.description is not None:
                        cursor.fetchall()
            connection.commit()
            latencies.append(time.perf_counter() - started)
    return latencies, time.process_time() - started_cpu


def replay(
    libpq_url: str, statements: list[Statement], clients: int, seconds: float
) -> dict[str, Any]:
    """Replay with `clients` processes for `seconds`: requests, latencies and client CPU."""
    context = multiprocessing.get_context("fork")
    with context.Pool(clients) as pool:
        outcomes = pool.starmap(_client, [(libpq_url, statements, seconds)] * clients)
    latencies = sorted(latency for found, _ in outcomes for latency in found)
    return {
        "requests": len(latencies),
        "duration_s": seconds,  # each client loops this long once connected
        "errors": 0,
        "latencies": latencies,
        "loadgen_cpu_s": sum(cpu for _, cpu in outcomes),
    }
