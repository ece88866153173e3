"""Throughput of AmqpPublisher against plain pika publishing with a confirm per message.

Run on demand, never in tests, from the repository root:

    .venv/bin/python -m bench.amqp_publish                       # the local RabbitMQ
    .venv/bin/python -m bench.amqp_publish --amqp-url amqp://... --messages 20000

For batch sizes 100 and 1000, to an exchange with no queue bound (the broker confirms once it
has routed to nothing) and to one with a durable queue bound (confirms wait for the disk), it
publishes `--messages` persistent messages of about 1 KB, as the dispatcher would (batches,
every one confirmed before the next), with:

- **AmqpPublisher**: a batch written at once, its confirms awaited together;
- **pika, confirm each**: BlockingChannel with confirm_delivery, where each basic_publish waits
  for its own confirm (the straightforward use of pika).

It prints messages/s of both and their ratio. The exchange and queue are its own, deleted at
the end; nothing else on the broker is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pika

from commons.messaging.amqp import AmqpPublisher, Message, routing_key

BATCH_SIZES = (100, 1000)


def messages(count: int) -> list[Message]:
    """`count` change events shaped as the dispatcher publishes them (about 1 KB each)."""
    now = datetime.now(UTC)
    result = []
    for number in range(count):
        event_id = str(uuid.uuid4())
        body = {
            "id": event_id,
            "type": "time_entry.update",
            "timestamp": now.isoformat(),
            "data": {
                "tenant_id": "bench-tenant",
                "user_id": f"user-{number % 50}",
                "item_id": str(uuid.uuid4()),
                "container_id": "time_entry",
                "action": "update",
                "description": "A time entry was changed",
                "item": {
                    "id": str(uuid.uuid4()),
                    "start_date": now.isoformat(),
                    "end_date": now.isoformat(),
                    "description": "Reviewing the quarterly figures with the team " * 8,
                    "project_id": str(uuid.uuid4()),
                    "activity_id": str(uuid.uuid4()),
                    "technologies": ["python", "rabbitmq"],
                    "uri": "https://tickets.example/T-1234",
                },
            },
        }
        result.append(
            Message(
                routing_key("bench-tenant", "time_entry", "update"),
                json.dumps(body).encode(),
                event_id,
                "time_entry.update",
                now,
            )
        )
    return result


Publish = Callable[[Sequence[Message]], None]


@contextmanager
def with_publisher(url: str, exchange: str) -> Iterator[Publish]:
    with AmqpPublisher(url, exchange) as publisher:
        yield publisher.publish


@contextmanager
def with_plain_pika(url: str, exchange: str) -> Iterator[Publish]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.exchange_declare(exchange, exchange_type="topic", durable=True)
    channel.confirm_delivery()

    def publish(batch: Sequence[Message]) -> None:
        for message in batch:
            channel.basic_publish(
                exchange,
                message.routing_key,
                message.body,
                pika.BasicProperties(
                    content_type="application/json",
                    delivery_mode=2,
                    message_id=message.message_id,
                    type=message.type,
                    timestamp=int(message.timestamp.timestamp()),
                ),
            )

    try:
        yield publish
    finally:
        connection.close()


def rate(publisher: Any, batch_size: int, total: int) -> float:
    """Messages per second publishing `total` messages in batches of `batch_size`."""
    batches = [messages(batch_size) for _ in range(max(1, total // batch_size))]
    with publisher as publish:
        publish(messages(batch_size))  # connect and warm up
        started = time.perf_counter()
        for batch in batches:
            publish(batch)
        return len(batches) * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--amqp-url",
        default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        help="the broker (default: AMQP_URL or the local RabbitMQ)",
    )
    parser.add_argument(
        "--messages", type=int, default=10000, help="messages per measurement (default 10000)"
    )
    args = parser.parse_args()
    exchange = f"bench.amqp.{uuid.uuid4().hex[:8]}"
    queue = f"bench.amqp.{uuid.uuid4().hex[:8]}"
    admin = pika.BlockingConnection(pika.URLParameters(args.amqp_url)).channel()
    admin.exchange_declare(exchange, exchange_type="topic", durable=True)
    admin.queue_declare(queue, durable=True)  # bound only for the second target
    print(f"{'target':<22} {'batch':>6} {'AmqpPublisher':>14} {'pika each':>10} {'ratio':>7}")
    try:
        for target in ("no queue", "one durable queue"):
            if target == "one durable queue":
                admin.queue_bind(queue, exchange, routing_key="#")
            for batch_size in BATCH_SIZES:
                ours = rate(with_publisher(args.amqp_url, exchange), batch_size, args.messages)
                admin.queue_purge(queue)
                plain = rate(with_plain_pika(args.amqp_url, exchange), batch_size, args.messages)
                admin.queue_purge(queue)
                print(
                    f"{target:<22} {batch_size:>6} {ours:>12,.0f}/s {plain:>8,.0f}/s "
                    f"{ours / plain:>6.1f}x",
                    flush=True,
                )
    finally:
        admin.queue_delete(queue)
        admin.exchange_delete(exchange)
        admin.connection.close()


if __name__ == "__main__":
    main()
