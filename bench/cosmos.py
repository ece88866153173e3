"""Cosmos DB on the emulator: seeding, S1 (a member's month) through the API against the
emulator's own floor, at 1 and 16 clients.

Run on demand (never in tests), from the repository root:

    .venv/bin/python -m bench.cosmos                        # 20 users x 90 days, 10 s a run
    .venv/bin/python -m bench.cosmos --users 5 --days 30 --seconds 3

It launches the emulator (`scripts/cosmos-emulator.js`, as the tests do), migrates a fresh
database and seeds it with `seed_tenant` (what `cli.py seed` runs), reporting entries/s. Then,
interleaved, each for `--seconds` in a closed loop at 1 and at 16 client threads:

- **API**: `GET /time-entries` (S1) as a seeded member, over HTTP to the app served in this
  process by Werkzeug's threaded server;
- **floor, query**: the query S1 sends for the entries (the same SQL and parameters, captured
  from the API's own requests), through the SDK alone;
- **floor, point read**: one time entry read by id and partition key through the SDK;
- **API S2**: start a timer and stop it, each client a seeded user of its own (the writes take
  the user's timeline lock, a document in the `user` container).

Reported: requests/s and median latency of each, and the API's throughput as a ratio of the
query floor. The emulator is one Node.js process: it, not the API, bounds what 16 clients get.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import requests
from azure.cosmos import CosmosClient
from werkzeug.serving import make_server

from commons.bootstrap import create_storage
from commons.services.seeding import seed_tenant
from commons.settings import StorageSettings
from tests.cosmos_emulator import start_emulator
from time_tracker_api import create_app
from time_tracker_api.config import TEST_JWT_SECRET, config_for_tests

TENANT = "bench-tenant"
MEMBER = "seed-user-00001"


def token(user: str = MEMBER) -> str:
    now = int(time.time())
    payload = {"oid": user, "tid": TENANT, "iat": now, "exp": now + 7200}
    return jwt.encode(payload, TEST_JWT_SECRET, algorithm="HS256")


def closed_loop(call: Callable[[], None], clients: int, seconds: float) -> tuple[float, float]:
    """Requests/s and median latency (ms) of `clients` threads calling `call` for `seconds`."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            call()
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, statistics.median(latencies) * 1000


def captured_queries(storage: Any, send: Callable[[], None]) -> list[dict[str, Any]]:
    """The queries (SQL and parameters) the storage sends while `send` runs."""
    import json

    # Each thread has a client of its own: record at the transport class, for every client.
    transport = type(storage.client.client_connection.pipeline_client._pipeline._transport)
    original = transport.send
    seen: list[dict[str, Any]] = []

    def recording(self: Any, request: Any, **kwargs: Any) -> Any:
        if request.headers.get("x-ms-documentdb-isquery", "").lower() == "true":
            seen.append({"url": request.url, **json.loads(request.body or b"{}")})
        return original(self, request, **kwargs)

    transport.send = recording  # type: ignore[method-assign]
    try:
        send()
    finally:
        transport.send = original  # type: ignore[method-assign]
    return seen


def session_get(base: str, path: str, headers: dict[str, str]) -> Any:
    response = requests.get(f"{base}{path}", headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    emulator = start_emulator()
    try:
        settings = StorageSettings(
            backend="cosmos",
            cosmos_account_uri=emulator.endpoint,
            cosmos_master_key=emulator.key,
            cosmos_verify_tls=False,
            cosmos_database=f"bench-{uuid.uuid4().hex[:8]}",
        )
        storage = create_storage(settings, "")
        storage.migrate()
        started = time.perf_counter()
        report = seed_tenant(storage, TENANT, args.users, args.days)
        seeded = time.perf_counter() - started
        print(f"seed: {report.entries} entries in {seeded:.1f} s, {report.entries / seeded:.0f}/s")

        with tempfile.TemporaryDirectory() as folder:
            config = config_for_tests(settings, Path(folder))
            app = create_app(config)
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            server = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            base = f"http://127.0.0.1:{server.server_port}"
            headers = {"Authorization": f"Bearer {token()}"}
            session = threading.local()

            def s1() -> None:
                if not hasattr(session, "http"):
                    session.http = requests.Session()
                response = session.http.get(f"{base}/time-entries", headers=headers, timeout=60)
                assert response.status_code == 200, response.text

            s1()
            queries = captured_queries(app.extensions["storage"], s1)
            entries_query = max(queries, key=lambda q: "ORDER BY" in q["query"])
            print(f"S1 sends {len(queries)} queries; the entries': {entries_query['query']}")
            client = CosmosClient(
                emulator.endpoint, credential=emulator.key, connection_verify=False
            )
            container = client.get_database_client(settings.cosmos_database).get_container_client(
                "time_entry"
            )
            sample = next(
                iter(
                    container.query_items(
                        "SELECT TOP 1 c.id FROM c WHERE c.tenant_id = @t AND c.owner_id = @o",
                        parameters=[
                            {"name": "@t", "value": TENANT},
                            {"name": "@o", "value": MEMBER},
                        ],
                        partition_key=TENANT,
                    )
                )
            )

            work = {
                "project_id": session_get(base, "/projects", headers)[0]["id"],
                "activity_id": session_get(base, "/activities", headers)[0]["id"],
            }
            users = iter(f"seed-user-{number:05d}" for number in range(1, 1000))
            users_lock = threading.Lock()

            def s2() -> None:
                # Each client thread is a user of its own: start a timer, then stop it.
                if not hasattr(session, "timer"):
                    with users_lock:
                        user = next(users)
                    session.timer = requests.Session()
                    session.timer.headers["Authorization"] = f"Bearer {token(user)}"
                started = session.timer.post(f"{base}/time-entries", json=work, timeout=60)
                assert started.status_code == 201, started.text
                entry = started.json()["id"]
                stopped = session.timer.post(f"{base}/time-entries/{entry}/stop", timeout=60)
                assert stopped.status_code == 200, stopped.text

            def query() -> None:
                list(
                    container.query_items(
                        entries_query["query"],
                        parameters=entries_query.get("parameters"),
                        partition_key=TENANT,
                    )
                )

            def point_read() -> None:
                container.read_item(sample["id"], partition_key=TENANT)

            print("| variant | clients | requests/s | median ms |")
            print("|---|---|---|---|")
            results = {}
            for clients in (1, 16):
                for name, call in (
                    ("API S1", s1),
                    ("floor: query", query),
                    ("floor: point read", point_read),
                    ("API S2 (start + stop)", s2),
                ):
                    rate, median = closed_loop(call, clients, args.seconds)
                    results[(name, clients)] = rate
                    print(f"| {name} | {clients} | {rate:.1f} | {median:.1f} |")
            for clients in (1, 16):
                ratio = results[("API S1", clients)] / results[("floor: query", clients)]
                print(f"API S1 at {clients} client(s): {ratio:.2f}x the query floor's throughput")
            server.shutdown()
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
