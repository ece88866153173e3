"""Changes published to the AMQP topic exchange by the dispatcher, on every backend, against
the real RabbitMQ: routing keys by tenant, container and action, the webhook body, confirmed
before a delivery is done, and nothing lost when the broker restarts between change and
dispatch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pika
import pytest

from commons.domain.deliveries import AMQP_DELAYS
from commons.messaging.amqp import AmqpPublisher, routing_word
from commons.services.deliveries import Dispatcher
from commons.settings import OutboundSettings
from tests.conftest import Caller, app_of_the_module
from tests.webhooks.conftest import MovingClock

pytestmark = pytest.mark.also_in_process  # the in-memory storage too
app = app_of_the_module()  # relays changes: on Cosmos DB, a database of its own


@pytest.fixture
def moving_clock() -> MovingClock:
    return MovingClock()


@pytest.fixture
def tenant() -> str:
    return f"tenant.{uuid.uuid4().hex[:8]}.a"  # dots: escaped in routing keys


def bind(url: str, exchange: str, binding: str, durable: bool = False) -> str:
    """A queue bound to the exchange; its name."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, "topic", durable=True)
        name = f"tt-test-{uuid.uuid4().hex[:10]}"
        channel.queue_declare(name, durable=durable, auto_delete=not durable)
        channel.queue_bind(name, exchange, routing_key=binding)
        return name
    finally:
        connection.close()


def drain(url: str, queue: str) -> list[tuple[Any, Any, bytes]]:
    """Every message in the queue: method, properties, body."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        messages = []
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return messages
            messages.append((method, properties, body))
    finally:
        connection.close()


@pytest.fixture
def amqp_dispatcher(
    storage: Any, amqp_url: str, amqp_exchange: str, moving_clock: MovingClock
) -> Iterator[Dispatcher]:
    publisher = AmqpPublisher(amqp_url, amqp_exchange)
    dispatcher = Dispatcher(storage, OutboundSettings(), publisher=publisher, clock=moving_clock)
    yield dispatcher
    dispatcher.close()


def dispatch(dispatcher: Dispatcher) -> Any:
    dispatcher.relay()
    return dispatcher.run_once()


def test_each_change_is_published_under_its_tenant_container_and_action(
    admin: Caller, member: Caller, amqp_url: str, amqp_exchange: str, amqp_dispatcher: Dispatcher
):
    entries = bind(amqp_url, amqp_exchange, "*.time_entry.*")
    everything = bind(amqp_url, amqp_exchange, f"{routing_word(admin.tenant_id)}.#")
    customer = admin.post("/customers", json={"name": "Acme"}).json
    project = admin.post("/projects", json={"name": "Web", "customer_id": customer["id"]}).json
    activity = admin.post("/activities", json={"name": "Coding"}).json
    entry = member.post(
        "/time-entries", json={"project_id": project["id"], "activity_id": activity["id"]}
    ).json
    stopped = member.post(f"/time-entries/{entry['id']}/stop").json
    result = dispatch(amqp_dispatcher)
    assert result.published >= 5 and result.unpublished == 0
    word = routing_word(admin.tenant_id)
    published = drain(amqp_url, everything)
    assert sorted(method.routing_key for method, _, _ in published) == sorted(
        [
            f"{word}.customer.create",
            f"{word}.project.create",
            f"{word}.activity.create",
            f"{word}.time_entry.create",
            f"{word}.time_entry.stop",
        ]
    )
    timeline = [
        orjson.loads(body)
        for method, _, body in drain(amqp_url, entries)
        if method.routing_key.startswith(word)
    ]
    assert sorted(p["type"] for p in timeline) == ["time_entry.create", "time_entry.stop"]
    last = max(timeline, key=lambda p: p["timestamp"])
    assert last["data"]["item"] == stopped
    logged = admin.get(f"/events?item_id={entry['id']}").json["data"]
    assert {event["id"] for event in logged} == {p["id"] for p in timeline}


def test_messages_are_persistent_json_with_the_event_id(
    admin: Caller, amqp_url: str, amqp_exchange: str, amqp_dispatcher: Dispatcher
):
    queue = bind(amqp_url, amqp_exchange, f"{routing_word(admin.tenant_id)}.#")
    activity = admin.post("/activities", json={"name": "Design"}).json
    dispatch(amqp_dispatcher)
    [(method, properties, body)] = drain(amqp_url, queue)
    payload = orjson.loads(body)
    assert properties.delivery_mode == 2
    assert properties.content_type == "application/json"
    assert properties.message_id == payload["id"]
    assert properties.type == payload["type"] == "activity.create"
    assert payload["data"]["item"] == activity
    assert payload["data"]["tenant_id"] == admin.tenant_id


def test_a_published_change_is_not_published_again(
    admin: Caller,
    amqp_url: str,
    amqp_exchange: str,
    amqp_dispatcher: Dispatcher,
    moving_clock: MovingClock,
):
    queue = bind(amqp_url, amqp_exchange, f"{routing_word(admin.tenant_id)}.#")
    admin.post("/activities", json={"name": "Design"})
    dispatch(amqp_dispatcher)
    moving_clock.advance(hours=1)
    dispatch(amqp_dispatcher)
    assert len(drain(amqp_url, queue)) == 1


def test_a_broker_restart_between_change_and_dispatch_loses_nothing(
    admin: Caller, storage: Any, private_rabbitmq: Any, moving_clock: MovingClock
):
    exchange = f"tt-test.{uuid.uuid4().hex[:8]}"
    queue = bind(private_rabbitmq.url, exchange, f"{routing_word(admin.tenant_id)}.#", durable=True)
    publisher = AmqpPublisher(private_rabbitmq.url, exchange, connect_timeout=2)
    dispatcher = Dispatcher(storage, OutboundSettings(), publisher=publisher, clock=moving_clock)
    try:
        admin.post("/activities", json={"name": "Before"})
        dispatch(dispatcher)  # connected, and published
        private_rabbitmq.stop()
        created = admin.post("/activities", json={"name": "During"}).json
        down = dispatch(dispatcher)
        assert down.published == 0 and down.unpublished >= 1
        assert any("AMQP" in problem for problem in down.errors)
        waiting = storage.deliveries.pending(moving_clock())
        assert waiting[1] >= 1  # waiting for its next attempt, not lost
        private_rabbitmq.start()
        moving_clock.advance(seconds=AMQP_DELAYS[0].total_seconds() + 1)
        back = dispatch(dispatcher)
        assert back.published >= 1 and back.unpublished == 0
    finally:
        dispatcher.close()
    names = [
        orjson.loads(body)["data"]["item"]["name"]
        for _, _, body in drain(private_rabbitmq.url, queue)
    ]
    assert names == ["Before", "During"]
    assert created["name"] == "During"


def test_without_amqp_nothing_is_queued_for_it(
    admin: Caller, storage: Any, moving_clock: MovingClock, amqp_url: str, amqp_exchange: str
):
    admin.post("/activities", json={"name": "Quiet"})
    storage.dispatch_changes()  # the relay without AMQP
    dispatcher = Dispatcher(
        storage,
        OutboundSettings(),
        publisher=AmqpPublisher(amqp_url, amqp_exchange),
        clock=moving_clock,
    )
    queue = bind(amqp_url, amqp_exchange, f"{routing_word(admin.tenant_id)}.#")
    try:
        result = dispatcher.run_once()
    finally:
        dispatcher.close()
    assert drain(amqp_url, queue) == []
    assert result.published == 0


def test_changes_published_together_keep_their_order(
    admin: Caller, amqp_url: str, amqp_exchange: str, amqp_dispatcher: Dispatcher
):
    queue = bind(amqp_url, amqp_exchange, f"{routing_word(admin.tenant_id)}.customer.*")
    customer = admin.post("/customers", json={"name": "Acme"}).json["id"]
    for number in range(5):
        admin.put(f"/customers/{customer}", json={"description": f"Version {number}"})
    admin.delete(f"/customers/{customer}")
    dispatch(amqp_dispatcher)
    payloads = [orjson.loads(body) for _, _, body in drain(amqp_url, queue)]
    assert [p["type"] for p in payloads] == [
        "customer.create",
        *["customer.update"] * 5,
        "customer.archive",
    ]
    assert [p["data"]["item"]["description"] for p in payloads[1:6]] == [
        f"Version {number}" for number in range(5)
    ]
