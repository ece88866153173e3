"""Dispatch throughput with events going out: changes/s from the outbox into one webhook
receiver and into RabbitMQ, on PostgreSQL, against the audit log alone and against what Python
itself does (bare POSTs into the same receiver, bare confirmed publishes).

Run on demand, never in tests:

    .venv/bin/python bench/events_out.py                  # 5,000 changes a run, 3 rounds
    .venv/bin/python bench/events_out.py --changes 2000 --rounds 2

Each round runs every scenario once, in turn, on a freshly emptied outbox of the same changes
(a time entry each, with its record, one tenant):

- `audit`: the relay alone (audit events, nothing goes out): the baseline;
- `webhook`: relay, then deliver to one subscribed webhook;
- `amqp`: relay, then publish to the `time_tracker.events` exchange with one bound queue;
- `both`: a webhook and AMQP.

The receiver is a separate process (a threaded `http.server` answering 204 with keep-alive),
so that it does not share the dispatcher's interpreter. Floors: `post floor` sends the same
bodies, signed, with urllib3 into that receiver from as many threads as the dispatcher sends to
one webhook at once (and from 16); `publish floor` publishes them with `AmqpPublisher` alone.
Figures are medians over the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commons.bootstrap import create_storage  # noqa: E402
from commons.data_access_layer.sql import tables  # noqa: E402
from commons.data_access_layer.sql.engine import normalized_url  # noqa: E402
from commons.domain.webhooks import Webhook, new_secret  # noqa: E402
from commons.services.deliveries import PER_WEBHOOK, Dispatcher  # noqa: E402
from commons.settings import DEFAULT_AMQP_EXCHANGE, OutboundSettings, StorageSettings  # noqa: E402

TENANT = "bench-tenant"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
QUEUE = "bench-events-out"
RECEIVER = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)


def item(number: int) -> dict[str, Any]:
    """A time entry as the API returns it."""
    return {
        "id": str(uuid.uuid4()),
        "tenant_id": TENANT,
        "owner_id": f"user-{number % 50}",
        "owner_email": f"user-{number % 50}@example.com",
        "project_id": str(uuid.uuid4()),
        "project_name": "Website relaunch",
        "activity_id": str(uuid.uuid4()),
        "activity_name": "Development",
        "customer_id": str(uuid.uuid4()),
        "customer_name": "Acme Corporation",
        "description": f"Ticket {number}: review and merge",
        "uri": f"https://tracker.example.com/T-{number}",
        "technologies": ["python", "postgresql"],
        "start_date": "2026-12-01T09:00:00+00:00",
        "end_date": "2026-12-01T10:30:00+00:00",
        "running": False,
        "deleted": None,
    }


class Bench:
    def __init__(self, url: str, changes: int):
        self.changes = changes
        url_ = normalized_url(url)
        admin = sa.create_engine(url_.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {url_.database} WITH (FORCE)")
            connection.exec_driver_sql(f"CREATE DATABASE {url_.database}")
        admin.dispose()
        self.storage: Any = create_storage(
            StorageSettings(sql_url=url_.render_as_string(False)), ""
        )
        self.storage.migrate()
        now = datetime.now(UTC)
        self.rows = [
            {
                "id": str(uuid.uuid4()),
                "tenant_id": TENANT,
                "container_id": "time_entry",
                "item_id": str(uuid.uuid4()),
                "action": "stop",
                "user_id": f"user-{i % 50}",
                "description": "Time entry",
                "session_id": None,
                "occurred_at": now,
                "status": "pending",
                "attempts": 0,
                "item": orjson.dumps(item(i)).decode(),
            }
            for i in range(changes)
        ]
        self.receiver = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True
        )
        assert self.receiver.stdout is not None
        self.port = int(self.receiver.stdout.readline())
        self.webhook = Webhook(
            id=str(uuid.uuid4()),
            tenant_id=TENANT,
            url=f"http://127.0.0.1:{self.port}/hooks",
            events=("*",),
            secret=new_secret(),
            created_at=now,
            updated_at=now,
        )
        self._bind_queue()

    def _bind_queue(self) -> None:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = connection.channel()
        channel.exchange_declare(DEFAULT_AMQP_EXCHANGE, "topic", durable=True)
        channel.queue_declare(QUEUE, durable=True)
        channel.queue_bind(QUEUE, DEFAULT_AMQP_EXCHANGE, routing_key=f"{TENANT}.#")
        channel.queue_purge(QUEUE)
        connection.close()

    def _purge_queue(self) -> None:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        connection.channel().queue_purge(QUEUE)
        connection.close()

    def reset(self, webhook: bool) -> None:
        with self.storage.engine.begin() as connection:
            for table in ("delivery_attempts", "deliveries", "webhooks", "events", "outbox"):
                connection.execute(sa.delete(tables.metadata.tables[table]))
            connection.execute(sa.insert(tables.outbox), self.rows)
        if webhook:
            with self.storage.unit_of_work(write=True) as uow:
                uow.webhooks.add(self.webhook)
                uow.commit()
        self._purge_queue()

    def run(self, webhook: bool, amqp: bool) -> tuple[float, float]:
        """Seconds to relay every change, and to deliver them."""
        self.reset(webhook)
        settings = OutboundSettings(
            amqp_url=AMQP_URL if amqp else None, webhooks_allow_private=True
        )
        dispatcher = Dispatcher(self.storage, settings)
        try:
            started = time.perf_counter()
            while dispatcher.relay(500).delivered:
                pass
            relayed = time.perf_counter()
            if webhook or amqp:
                result = dispatcher.run_once()
                expected = self.changes * (int(webhook) + int(amqp))
                assert result.sent + result.published == expected, result
            delivered = time.perf_counter()
        finally:
            dispatcher.close()
        return relayed - started, delivered - relayed

    def post_floor(self, threads_: int) -> float:
        """Seconds for `threads_` threads of urllib3 to POST every body, signed, into the
        receiver."""
        import urllib3
        from standardwebhooks.webhooks import Webhook as Signer

        http = urllib3.PoolManager(maxsize=threads_)
        signer = Signer(self.webhook.secret)
        bodies = [row["item"] for row in self.rows]
        url = self.webhook.url

        def send(part: list[str]) -> None:
            for body in part:
                now = datetime.now(UTC)
                message_id = str(uuid.uuid4())
                headers = {
                    "Content-Type": "application/json",
                    "webhook-id": message_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signer.sign(message_id, now, body),
                }
                assert http.request("POST", url, body=body, headers=headers).status == 204

        threads = [
            threading.Thread(target=send, args=(bodies[i::threads_],)) for i in range(threads_)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    def publish_floor(self) -> float:
        """Seconds for AmqpPublisher to publish every body, confirmed, in batches of 500."""
        from commons.messaging.amqp import AmqpPublisher, Message

        self._purge_queue()
        publisher = AmqpPublisher(AMQP_URL, DEFAULT_AMQP_EXCHANGE)
        now = datetime.now(UTC)
        messages = [
            Message(f"{TENANT}.time_entry.stop", row["item"].encode(), row["id"], "x", now)
            for row in self.rows
        ]
        try:
            started = time.perf_counter()
            for start in range(0, len(messages), 500):
                publisher.publish(messages[start : start + 500])
            return time.perf_counter() - started
        finally:
            publisher.close()

    def close(self) -> None:
        self.receiver.kill()
        self.storage.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/tt_events_out"
    )
    parser.add_argument("--changes", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bench = Bench(args.database_url, args.changes)
    scenarios = {
        "audit": (False, False),
        "webhook": (True, False),
        "amqp": (False, True),
        "both": (True, True),
    }
    relay: dict[str, list[float]] = {name: [] for name in scenarios}
    deliver: dict[str, list[float]] = {name: [] for name in scenarios}
    floors: dict[str, list[float]] = {"post 4": [], "post 16": [], "publish": []}
    try:
        for _ in range(args.rounds):
            for name, (webhook, amqp) in scenarios.items():
                relayed, delivered = bench.run(webhook, amqp)
                relay[name].append(relayed)
                deliver[name].append(delivered)
            floors["post 4"].append(bench.post_floor(PER_WEBHOOK))
            floors["post 16"].append(bench.post_floor(16))
            floors["publish"].append(bench.publish_floor())
    finally:
        bench.close()
    n = args.changes
    base = statistics.median(relay["audit"])
    print(f"{n:,} changes a run, median of {args.rounds} rounds, PostgreSQL, one tenant\n")
    print(f"{'scenario':<10} {'relay/s':>9} {'deliver/s':>10} {'end to end/s':>13} {'vs audit':>9}")
    for name in scenarios:
        r, d = statistics.median(relay[name]), statistics.median(deliver[name])
        deliver_rate = f"{n / d:,.0f}" if d > 0.001 and name != "audit" else "-"
        print(
            f"{name:<10} {n / r:>9,.0f} {deliver_rate:>10} {n / (r + d):>13,.0f} "
            f"{base / (r + d):>9.2f}"
        )
    post_4, post_16 = statistics.median(floors["post 4"]), statistics.median(floors["post 16"])
    publish = statistics.median(floors["publish"])
    webhook_rate = n / statistics.median(deliver["webhook"])
    amqp_rate = n / statistics.median(deliver["amqp"])
    print(
        f"\npost floor: {n / post_4:,.0f} POSTs/s from {PER_WEBHOOK} threads (the dispatcher's "
        f"cap per webhook), {n / post_16:,.0f} from 16; the dispatcher's webhook sends reach "
        f"{webhook_rate / (n / post_4):.2f} of the first"
    )
    print(
        f"publish floor: {n / publish:,.0f} messages/s; the dispatcher's AMQP deliveries reach "
        f"{amqp_rate / (n / publish):.2f} of it"
    )


if __name__ == "__main__":
    main()
