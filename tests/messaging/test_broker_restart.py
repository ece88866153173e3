"""A broker restart, on a RabbitMQ node of the tests' own (tests/private_rabbitmq.py): the
publisher reports what it could not deliver and works again, with the same object, once the
broker is back; persistent messages survive the restart."""

from __future__ import annotations

import threading
import time
import uuid

import pika
import pytest

from commons.messaging.amqp import AmqpPublisher, PublishFailed
from tests.messaging.test_amqp import event

EXCHANGE = "time_tracker.events"


def bound_queue(url: str, quorum: bool = False) -> str:
    """A durable queue bound to every event; a quorum queue (a replicated log, which recovers
    from a crash at any point) when `quorum`."""
    name = f"tt-test.{uuid.uuid4().hex[:12]}"
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
        arguments = {"x-queue-type": "quorum"} if quorum else None
        channel.queue_declare(name, durable=True, arguments=arguments)
        channel.queue_bind(name, EXCHANGE, routing_key="#")
    finally:
        connection.close()
    return name


def drain(url: str, queue: str) -> list[str]:
    """The message ids in the queue, in order, taken out of it."""
    ids = []
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        while True:
            method, properties, _body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return ids
            ids.append(properties.message_id)
    finally:
        connection.close()


def crash_once_queued(node, queue: str, count: int, publisher: AmqpPublisher, size: int) -> None:
    """Kill the node as soon as `count` messages are in the queue (the batch is in flight) and
    the publisher has read a confirm of the batch of `size`: a crash that comes first leaves it
    none to account for, as a connection reset drops what the socket had not read yet."""
    connection = pika.BlockingConnection(pika.URLParameters(node.url))
    deadline = time.monotonic() + 60
    try:
        channel = connection.channel()
        while channel.queue_declare(queue, passive=True).method.message_count < count:
            time.sleep(0.01)
        while publisher._waiting == size and time.monotonic() < deadline:  # none confirmed yet
            time.sleep(0.005)
    finally:
        node.kill()


def test_publish_fails_while_the_broker_is_down_and_works_again_once_it_is_back(
    private_rabbitmq,
):
    queue = bound_queue(private_rabbitmq.url)
    publisher = AmqpPublisher(private_rabbitmq.url, EXCHANGE, connect_timeout=3)
    before, during, after = (event("tenant-a", "time_entry", action) for action in "abc")
    publisher.publish([before])

    private_rabbitmq.stop()
    with pytest.raises(PublishFailed) as failed:
        publisher.publish([during])
    assert failed.value.confirmed == 0
    assert "guest:guest" not in str(failed.value)

    private_rabbitmq.start()
    publisher.publish([during, after])
    publisher.close()
    # `before` was confirmed, hence on disk: it outlived the restart.
    assert drain(private_rabbitmq.url, queue) == [m.message_id for m in (before, during, after)]


def test_a_publisher_idle_through_a_restart_reconnects_without_failing(private_rabbitmq):
    queue = bound_queue(private_rabbitmq.url)
    publisher = AmqpPublisher(private_rabbitmq.url, EXCHANGE, connect_timeout=3)
    first, second = event("tenant-a", "project", "create"), event("tenant-a", "project", "archive")
    publisher.publish([first])
    private_rabbitmq.stop()
    private_rabbitmq.start()
    # The old connection's end is read before the batch is sent: a new one carries it.
    publisher.publish([second])
    publisher.close()
    assert drain(private_rabbitmq.url, queue) == [first.message_id, second.message_id]


def test_a_publisher_works_again_after_the_broker_crashed(private_rabbitmq):
    publisher = AmqpPublisher(private_rabbitmq.url, EXCHANGE, connect_timeout=3)
    publisher.publish([event("tenant-a", "time_entry", "stop")])
    private_rabbitmq.kill()
    with pytest.raises(PublishFailed):
        publisher.publish([event("tenant-a", "time_entry", "stop")])
    private_rabbitmq.start()
    queue = bound_queue(private_rabbitmq.url)
    message = event("tenant-a", "time_entry", "start")
    publisher.publish([message])
    publisher.close()
    assert drain(private_rabbitmq.url, queue) == [message.message_id]


def test_a_broker_that_stops_confirming_fails_the_batch_after_the_confirm_timeout(
    private_rabbitmq,
):
    queue = bound_queue(private_rabbitmq.url)
    publisher = AmqpPublisher(private_rabbitmq.url, EXCHANGE, connect_timeout=3, confirm_timeout=2)
    publisher.publish([event("tenant-a", "time_entry", "stop")])
    # A memory alarm: the broker stops reading from publishing connections.
    private_rabbitmq.ctl("set_vm_memory_high_watermark", "0.0000001")
    try:
        with pytest.raises(PublishFailed, match="unconfirmed after 2 s") as failed:
            publisher.publish([event("tenant-a", "time_entry", "stop") for _ in range(3)])
        assert failed.value.confirmed == 0
    finally:
        private_rabbitmq.ctl("set_vm_memory_high_watermark", "0.4")
    message = event("tenant-a", "time_entry", "start")
    publisher.publish([message])
    publisher.close()
    assert drain(private_rabbitmq.url, queue)[-1] == message.message_id


def test_the_messages_confirmed_before_a_crash_mid_batch_are_on_disk_after_it(private_rabbitmq):
    # A classic queue killed mid-write may not recover its index (RabbitMQ 3.10 fails to start
    # then, seen here): the broker's confirms are what is tested, on the queue type for that.
    queue = bound_queue(private_rabbitmq.url, quorum=True)
    publisher = AmqpPublisher(private_rabbitmq.url, EXCHANGE, connect_timeout=3)
    publisher.publish([event("tenant-a", "time_entry", "create")])  # connected, before the clock
    # The crash comes once a sixth is queued: the rest is still being sent when it does.
    batch = [event("tenant-a", "time_entry", "stop") for _ in range(30_000)]
    crash = threading.Thread(
        target=crash_once_queued, args=(private_rabbitmq, queue, 5_000, publisher, len(batch))
    )
    crash.start()
    try:
        with pytest.raises(PublishFailed) as failed:
            publisher.publish(batch)
    finally:
        crash.join()
    confirmed = failed.value.confirmed
    assert 0 < confirmed < len(batch)

    private_rabbitmq.start()
    deadline = time.monotonic() + 60
    while True:  # the queue answers once its log is recovered
        try:
            stored = drain(private_rabbitmq.url, queue)
            break
        except pika.exceptions.AMQPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    # What the broker confirmed survived the crash, in order: the caller may mark it delivered
    # (some of what it had not confirmed yet may be there too).
    assert stored[1 : 1 + confirmed] == [message.message_id for message in batch[:confirmed]]
