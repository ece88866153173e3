"""What the safety features cost a request: rate limits (memory, Redis) and Idempotency-Key.

Run on demand (never in tests), from the repository root:

    .venv/bin/python -m bench.write_safety                 # SQLite and PostgreSQL, 5 rounds
    .venv/bin/python -m bench.write_safety --rounds 3 --requests 200 --backends sqlite

The app runs in process (Flask's test client: no network, no server), so what is measured is
the request's own work. Each round runs every variant once, in turn, so that the machine's
drift affects them alike; the median over rounds of each variant's median request time is
reported, with its ratio to the variant without the feature:

- `GET /activities` with `RATE_LIMIT=off`, counted in memory, counted in Redis
  (`REDIS_URL`, default redis://127.0.0.1:6379);
- `POST /time-entries` (a logged hour, the next one each time) without and with an
  `Idempotency-Key` (a new key each request: the claim, then the answer stored with the write).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import sqlalchemy as sa

from time_tracker_api import create_app
from time_tracker_api.config import TEST_JWT_SECRET, config_for_tests

POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
GENEROUS = "1000000/minute"  # counted, never reached


def token(tenant: str, user: str) -> str:
    now = int(time.time())
    payload = {
        "oid": user,
        "tid": tenant,
        "iat": now,
        "exp": now + 3600,
        "roles": ["time-tracker-admin"],
    }
    return jwt.encode(payload, TEST_JWT_SECRET, algorithm="HS256")


def sql_url(backend: str, directory: Path) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        return f"sqlite:///{directory / 'bench.db'}", lambda: None
    name = f"tt_bench_safety_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()

    return POSTGRES.rsplit("/", 1)[0] + f"/{name}", drop


class Client:
    """One admin of a fresh tenant on an app with the given configuration changes."""

    def __init__(self, url: str, directory: Path, **changes: Any):
        config = dataclasses.replace(config_for_tests(url, directory), **changes)
        self.app = create_app(config)
        self.client = self.app.test_client()
        self.headers = {"Authorization": f"Bearer {token(f'bench-{uuid.uuid4()}', 'admin')}"}
        customer = self.post("/customers", {"name": "Acme"})
        project = self.post("/projects", {"name": "Web", "customer_id": customer["id"]})
        activity = self.post("/activities", {"name": "Coding"})
        self.work = {"project_id": project["id"], "activity_id": activity["id"]}
        self.next_start = datetime(2020, 1, 1, tzinfo=UTC)

    def post(self, path: str, body: dict) -> dict:
        response = self.client.post(path, json=body, headers=self.headers)
        assert response.status_code == 201, response.json
        return response.json

    def list_activities(self) -> None:
        response = self.client.get("/activities", headers=self.headers)
        assert response.status_code == 200, response.json

    def log_hour(self, key: bool) -> None:
        start, self.next_start = self.next_start, self.next_start + timedelta(hours=1)
        body = {
            **self.work,
            "start_date": start.isoformat(),
            "end_date": self.next_start.isoformat(),
        }
        headers = {**self.headers, **({"Idempotency-Key": str(uuid.uuid4())} if key else {})}
        response = self.client.post("/time-entries", json=body, headers=headers)
        assert response.status_code == 201, response.json

    def close(self) -> None:
        engine = getattr(self.app.extensions["storage"], "engine", None)
        if engine is not None:
            engine.dispose()


def median_ms(call: Callable[[], None], requests: int) -> float:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(backend: str, rounds: int, requests: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        url, drop = sql_url(backend, directory)
        try:
            clients = {
                "rate limit off": Client(url, directory / "a", rate_limit=None),
                "rate limit memory": Client(url, directory / "b", rate_limit=GENEROUS),
                "rate limit redis": Client(
                    url, directory / "c", rate_limit=GENEROUS, rate_limit_storage_uri=REDIS
                ),
            }
            plain = clients["rate limit off"]
            variants: dict[str, Callable[[], None]] = {
                name: client.list_activities for name, client in clients.items()
            }
            variants["create without key"] = lambda: plain.log_hour(key=False)
            variants["create with key"] = lambda: plain.log_hour(key=True)
            for call in variants.values():  # warm up
                median_ms(call, 20)
            results: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(rounds):
                for name, call in variants.items():
                    results[name].append(median_ms(call, requests))
            for client in clients.values():
                client.close()
        finally:
            drop()
    return {name: statistics.median(values) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    baselines = {"rate limit memory": "rate limit off", "rate limit redis": "rate limit off"}
    baselines["create with key"] = "create without key"
    print("| backend | variant | median ms | ratio |")
    print("|---|---|---|---|")
    for backend in args.backends.split(","):
        figures = measure(backend, args.rounds, args.requests)
        for name, value in figures.items():
            base = baselines.get(name)
            ratio = f"{value / figures[base]:.2f}× of {base}" if base else ""
            print(f"| {backend} | {name} | {value:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
