"""The AMQP publisher and consumer against the real RabbitMQ of this machine (tests/conftest.py:
`amqp_url`), each test on an exchange of its own."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import pika
import pytest

from commons.messaging.amqp import (
    AmqpPublisher,
    Delivery,
    ListenFailed,
    Message,
    PublishFailed,
    listen,
    redacted,
    routing_key,
    routing_word,
    tenant_binding,
)

UNREACHABLE = "amqp://guest:guest@127.0.0.1:1/"
WAIT_S = 20


def event(tenant_id: str, container: str, action: str, **data: object) -> Message:
    """A message shaped as the dispatcher publishes a change."""
    event_id = str(uuid.uuid4())
    moment = datetime.now(UTC).replace(microsecond=0)
    body = {
        "id": event_id,
        "type": f"{container}.{action}",
        "timestamp": moment.isoformat(),
        "data": {"tenant_id": tenant_id, "container_id": container, "action": action, **data},
    }
    return Message(
        routing_key=routing_key(tenant_id, container, action),
        body=json.dumps(body).encode(),
        message_id=event_id,
        type=f"{container}.{action}",
        timestamp=moment,
    )


class Consumer:
    """`listen` running in a thread until it has `count` deliveries."""

    def __init__(self, url: str, exchange: str, bindings: Sequence[str], count: int, **options):
        self.deliveries: list[Delivery] = []
        self.ready = threading.Event()
        self.error: BaseException | None = None

        def run() -> None:
            try:
                listen(
                    url,
                    exchange,
                    bindings,
                    count=count,
                    on_message=self.deliveries.append,
                    on_ready=lambda _queue: self.ready.set(),
                    idle_timeout=WAIT_S,
                    **options,
                )
            except BaseException as error:  # reported by wait()
                self.error = error
                self.ready.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.ready.wait(WAIT_S), "the consumer did not bind in time"
        assert self.error is None, self.error

    def wait(self) -> list[Delivery]:
        self.thread.join(WAIT_S + 5)
        assert not self.thread.is_alive(), "the consumer did not finish"
        assert self.error is None, self.error
        return self.deliveries


@contextmanager
def channel(url: str) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        yield connection.channel()
    finally:
        connection.close()


@pytest.fixture
def publisher(amqp_url: str, amqp_exchange: str) -> Iterator[AmqpPublisher]:
    with AmqpPublisher(amqp_url, amqp_exchange) as publisher:
        yield publisher


@pytest.fixture
def bound_queue(amqp_url: str, amqp_exchange: str, publisher: AmqpPublisher) -> Iterator[str]:
    """A durable queue of the test's own bound to every message of the test's exchange."""
    name = f"tt-test.{uuid.uuid4().hex[:12]}"
    with channel(amqp_url) as ch:
        ch.exchange_declare(amqp_exchange, exchange_type="topic", durable=True)
        ch.queue_declare(name, durable=True)
        ch.queue_bind(name, amqp_exchange, routing_key="#")
    yield name
    with channel(amqp_url) as ch:
        ch.queue_delete(name)


# Routing keys


@pytest.mark.parametrize(
    ("value", "word"),
    [
        ("tenant-1", "tenant-1"),
        ("a.b", "a%2Eb"),
        ("*", "%2A"),
        ("#", "%23"),
        ("100%", "100%25"),
        ("%2E", "%252E"),
        ("", ""),
    ],
)
def test_a_routing_word_escapes_dots_wildcards_and_the_escape_itself(value, word):
    assert routing_word(value) == word


def test_a_routing_key_has_three_words_whatever_the_tenant_id_holds():
    assert routing_key("acme.eu", "time_entry", "stop") == "acme%2Eeu.time_entry.stop"
    assert routing_key("#", "project", "archive").split(".") == ["%23", "project", "archive"]
    assert tenant_binding("acme.eu") == "acme%2Eeu.#"


def test_where_names_the_broker_without_its_password():
    publisher = AmqpPublisher("amqp://user:s3cret@broker.example:5673/vhost", "events")
    assert "s3cret" not in publisher.where
    assert publisher.where == "amqp://user@broker.example:5673/vhost exchange events"
    assert redacted("amqp://broker.example/") == "amqp://broker.example/"


# Publishing and consuming with bindings


def test_a_container_binding_receives_that_container_of_every_tenant(
    amqp_url, amqp_exchange, publisher
):
    consumer = Consumer(amqp_url, amqp_exchange, ["*.time_entry.*"], count=3)
    wanted = [
        event("tenant-a", "time_entry", "start"),
        event("tenant.b", "time_entry", "stop"),
        event("tenant-a", "time_entry", "update"),
    ]
    publisher.publish(
        [
            event("tenant-a", "project", "create"),
            wanted[0],
            event("tenant.b", "customer", "archive"),
            wanted[1],
            wanted[2],
        ]
    )
    received = consumer.wait()
    assert [d.message_id for d in received] == [m.message_id for m in wanted]
    assert [d.routing_key for d in received] == [m.routing_key for m in wanted]


@pytest.mark.parametrize("tenant_id", ["tenant-a", "acme.eu", "*", "#", "50%.off"])
def test_a_tenant_binding_receives_that_tenants_events_only(
    amqp_url, amqp_exchange, publisher, tenant_id
):
    consumer = Consumer(amqp_url, amqp_exchange, [tenant_binding(tenant_id)], count=2)
    # Tenants whose ids a naive key would confuse with this one, or match with a wildcard.
    others = ["acme", "eu", "tenant-a.x", "x", "50%2Eoff", "%2A"]
    mine = [event(tenant_id, "time_entry", "stop"), event(tenant_id, "project", "archive")]
    publisher.publish(
        [event(other, "time_entry", "stop") for other in others if other != tenant_id]
        + mine
        + [event(other, "project", "create") for other in others if other != tenant_id]
    )
    received = consumer.wait()
    assert [d.message_id for d in received] == [m.message_id for m in mine]
    assert {json.loads(d.body)["data"]["tenant_id"] for d in received} == {tenant_id}


def test_several_bindings_receive_each_matching_message_once(amqp_url, amqp_exchange, publisher):
    consumer = Consumer(
        amqp_url, amqp_exchange, ["*.time_entry.*", "tenant-a.#", "#.stop"], count=3
    )
    messages = [
        event("tenant-a", "time_entry", "stop"),
        event("tenant-b", "project", "create"),
        event("tenant-a", "project", "create"),
        event("tenant-b", "customer", "stop"),
    ]
    publisher.publish(messages)
    received = consumer.wait()
    assert sorted(d.message_id for d in received) == sorted(
        m.message_id for m in (messages[0], messages[2], messages[3])
    )


def test_messages_are_persistent_json_with_their_id_type_and_timestamp(
    amqp_url, publisher, bound_queue
):
    message = event("tenant-a", "time_entry", "stop", item={"id": "entry-1"})
    publisher.publish([message])
    with channel(amqp_url) as ch:
        method, properties, body = ch.basic_get(bound_queue, auto_ack=True)
    assert method is not None
    assert method.routing_key == "tenant-a.time_entry.stop"
    assert properties.delivery_mode == 2
    assert properties.content_type == "application/json"
    assert properties.message_id == message.message_id
    assert properties.type == "time_entry.stop"
    assert properties.timestamp == int(message.timestamp.timestamp())
    assert json.loads(body)["data"]["item"] == {"id": "entry-1"}


def test_the_exchange_is_a_durable_topic_exchange(amqp_url, amqp_exchange, publisher):
    publisher.publish([event("tenant-a", "time_entry", "stop")])
    with channel(amqp_url) as ch:
        # A passive declaration with other properties would close the channel: these match.
        ch.exchange_declare(amqp_exchange, exchange_type="topic", durable=True, passive=True)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="PRECONDITION_FAILED"):
            ch.exchange_declare(amqp_exchange, exchange_type="topic", durable=False)


# Confirms


def test_publish_returns_once_every_message_of_a_large_batch_is_in_the_queue(
    amqp_url, publisher, bound_queue
):
    publisher.publish([event("tenant-a", "time_entry", "stop") for _ in range(2000)])
    with channel(amqp_url) as ch:
        assert ch.queue_declare(bound_queue, passive=True).method.message_count == 2000
    publisher.publish([event("tenant-a", "time_entry", "start") for _ in range(10)])
    with channel(amqp_url) as ch:
        assert ch.queue_declare(bound_queue, passive=True).method.message_count == 2010


def test_an_empty_batch_needs_no_broker():
    AmqpPublisher(UNREACHABLE, "events").publish([])


def test_a_batch_the_broker_refuses_in_part_says_how_many_leading_messages_were_confirmed(
    amqp_url, amqp_exchange, publisher
):
    queue = f"tt-test.{uuid.uuid4().hex[:12]}"
    with channel(amqp_url) as ch:
        ch.exchange_declare(amqp_exchange, exchange_type="topic", durable=True)
        # A full queue refusing publishes makes the broker nack what it cannot route there.
        ch.queue_declare(
            queue, durable=True, arguments={"x-max-length": 3, "x-overflow": "reject-publish"}
        )
        ch.queue_bind(queue, amqp_exchange, routing_key="#")
    try:
        messages = [event("tenant-a", "time_entry", "stop") for _ in range(5)]
        with pytest.raises(PublishFailed) as failed:
            publisher.publish(messages)
        assert failed.value.confirmed == 3
        assert "refused (nacked) message 4 of 5" in str(failed.value)
        with channel(amqp_url) as ch:
            ch.queue_purge(queue)
        # The caller retries the rest with the same publisher, which connects again.
        publisher.publish(messages[failed.value.confirmed :])
        with channel(amqp_url) as ch:
            assert ch.queue_declare(queue, passive=True).method.message_count == 2
    finally:
        with channel(amqp_url) as ch:
            ch.queue_delete(queue)


def test_a_publisher_whose_exchange_was_deleted_fails_then_declares_it_again(
    amqp_url, amqp_exchange, publisher
):
    publisher.publish([event("tenant-a", "time_entry", "stop")])
    with channel(amqp_url) as ch:
        ch.exchange_delete(amqp_exchange)
    with pytest.raises(PublishFailed) as failed:
        publisher.publish([event("tenant-a", "time_entry", "stop")])
    assert failed.value.confirmed == 0
    assert "NOT_FOUND" in str(failed.value)
    consumer = Consumer(amqp_url, amqp_exchange, ["#"], count=1)
    message = event("tenant-a", "time_entry", "start")
    publisher.publish([message])
    assert [d.message_id for d in consumer.wait()] == [message.message_id]


def test_a_publisher_connects_only_when_it_first_publishes():
    publisher = AmqpPublisher(UNREACHABLE, "events", connect_timeout=2)
    with pytest.raises(PublishFailed) as failed:
        publisher.publish([event("tenant-a", "time_entry", "stop")])
    assert failed.value.confirmed == 0
    assert "cannot reach amqp://guest@127.0.0.1:1/" in str(failed.value)
    assert "guest:guest" not in str(failed.value)
    assert failed.value.cause is not None


def test_an_exchange_of_another_type_fails_the_publish_with_the_brokers_reason(
    amqp_url, amqp_exchange
):
    with channel(amqp_url) as ch:
        ch.exchange_declare(amqp_exchange, exchange_type="fanout", durable=True)
    with pytest.raises(PublishFailed, match="cannot use .*PRECONDITION_FAILED") as failed:
        AmqpPublisher(amqp_url, amqp_exchange).publish([event("tenant-a", "time_entry", "stop")])
    assert failed.value.confirmed == 0


def test_a_server_that_never_answers_fails_the_publish_within_the_connect_timeout():
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"amqp://guest:guest@127.0.0.1:{silent.getsockname()[1]}/"
        publisher = AmqpPublisher(url, "events", connect_timeout=1)
        started = time.monotonic()
        with pytest.raises(PublishFailed, match="cannot reach") as failed:
            publisher.publish([event("tenant-a", "time_entry", "stop")])
        assert time.monotonic() - started < 5
        assert failed.value.confirmed == 0


def test_wrong_credentials_fail_the_publish(amqp_url, amqp_exchange):
    url = amqp_url.replace("guest:guest@", "guest:not-the-password@")
    with pytest.raises(PublishFailed, match="cannot reach") as failed:
        AmqpPublisher(url, amqp_exchange).publish([event("tenant-a", "time_entry", "stop")])
    assert "not-the-password" not in str(failed.value)


def test_a_closed_publisher_reconnects_on_the_next_publish(amqp_url, amqp_exchange, publisher):
    publisher.publish([event("tenant-a", "time_entry", "stop")])
    publisher.close()
    consumer = Consumer(amqp_url, amqp_exchange, ["#"], count=1)
    message = event("tenant-a", "time_entry", "start")
    publisher.publish([message])
    assert [d.message_id for d in consumer.wait()] == [message.message_id]


def test_a_publisher_idle_past_its_heartbeat_timeout_publishes_again(amqp_url, amqp_exchange):
    # Between batches nobody answers the broker's heartbeats, so it closes the connection.
    publisher = AmqpPublisher(f"{amqp_url}?heartbeat=1", amqp_exchange)
    publisher.publish([event("tenant-a", "time_entry", "stop")])
    time.sleep(3.5)
    consumer = Consumer(amqp_url, amqp_exchange, ["#"], count=1)
    message = event("tenant-a", "time_entry", "restart")
    publisher.publish([message])
    publisher.close()
    assert [d.message_id for d in consumer.wait()] == [message.message_id]


# The consumer


def test_a_named_queue_keeps_the_events_published_while_nobody_listened(
    amqp_url, amqp_exchange, publisher
):
    queue = f"tt-test.{uuid.uuid4().hex[:12]}"
    try:
        Consumer(amqp_url, amqp_exchange, ["*.time_entry.*"], count=0, queue=queue).wait()
        messages = [event("tenant-a", "time_entry", "stop") for _ in range(3)]
        publisher.publish(messages)
        first = Consumer(amqp_url, amqp_exchange, ["*.time_entry.*"], count=2, queue=queue)
        assert [d.message_id for d in first.wait()] == [m.message_id for m in messages[:2]]
        rest = Consumer(amqp_url, amqp_exchange, ["*.time_entry.*"], count=1, queue=queue)
        received = rest.wait()
        # Acknowledged messages are gone; the third waited for the next run.
        assert [d.message_id for d in received] == [messages[2].message_id]
    finally:
        with channel(amqp_url) as ch:
            ch.queue_delete(queue)


def test_a_delivery_carries_the_messages_properties(amqp_url, amqp_exchange, publisher):
    consumer = Consumer(amqp_url, amqp_exchange, ["#"], count=1)
    message = event("tenant-a", "time_entry", "stop")
    publisher.publish([message])
    (delivery,) = consumer.wait()
    assert delivery.routing_key == message.routing_key
    assert delivery.message_id == message.message_id
    assert delivery.type == "time_entry.stop"
    assert delivery.timestamp == message.timestamp
    assert delivery.body == message.body
    assert delivery.json()["id"] == message.message_id
    assert delivery.redelivered is False


def test_listening_to_an_unreachable_broker_fails_with_its_address():
    with pytest.raises(ListenFailed, match="cannot reach amqp://guest@127.0.0.1:1/"):
        listen(UNREACHABLE, "events", ["#"], on_message=lambda _d: None, connect_timeout=2)
