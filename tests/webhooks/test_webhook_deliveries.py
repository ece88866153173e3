"""Webhook deliveries on every backend, into real HTTP receivers on loopback: signed as Standard
Webhooks say (checked with the `standardwebhooks` library), the record as the API returns it,
retried after failures with the same id, given up on, disabled after three days of failures,
and never held up by a slow receiver."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from commons.data_access_layer.cosmos.changes import CHECKPOINT_ID
from commons.data_access_layer.cosmos.containers import LEASES
from commons.data_access_layer.memory.outbox import OUTBOX
from commons.data_access_layer.memory.tables import GLOBAL
from commons.data_access_layer.memory.unit_of_work import MemoryStorage
from commons.domain.deliveries import CLAIM_LEASE, WEBHOOK_DELAYS
from commons.services.deliveries import Dispatcher
from commons.settings import OutboundSettings
from tests.conftest import Caller, app_of_the_module
from tests.receivers import free_port, receiving
from tests.webhooks.conftest import MovingClock, subscribe

pytestmark = [pytest.mark.usefixtures("private_webhooks"), pytest.mark.also_in_process]
app = app_of_the_module()  # relays changes: on Cosmos DB, a database of its own


def deliver(storage: Any, dispatcher: Dispatcher) -> Any:
    """What `cli.py events dispatch` does once: relay the changes, send what is due."""
    storage.dispatch_changes()
    return dispatcher.run_once()


def attempts(admin: Caller, hook: dict[str, Any]) -> list[dict[str, Any]]:
    page = admin.get(f"/webhooks/{hook['id']}/deliveries?length=500")
    assert page.status_code == 200, page.json
    assert page.json["records_total"] == len(page.json["data"])
    return page.json["data"]  # type: ignore[no-any-return]


def test_a_change_arrives_signed_with_the_record_as_the_api_returns_it(
    admin: Caller, storage: Any, dispatcher: Dispatcher
):
    with receiving() as receiver:
        hook = subscribe(admin, receiver.url, ["customer.*"])
        customer = admin.post("/customers", json={"name": "Acme", "description": "Anvils"})
        assert customer.status_code == 201
        deliver(storage, dispatcher)
        [request] = receiver.wait_for(1)
    assert request.path == "/hooks/time-tracker?source=tests"
    assert request.headers["content-type"] == "application/json"
    payload = Verifier(hook["secret"]).verify(request.body, request.headers)
    assert payload["id"] == request.headers["webhook-id"]
    assert payload["type"] == "customer.create"
    assert payload["timestamp"].endswith("Z")
    assert payload["data"] == {
        "tenant_id": admin.tenant_id,
        "user_id": admin.user_id,
        "item_id": customer.json["id"],
        "container_id": "customer",
        "action": "create",
        "description": "Created Acme",
        "item": customer.json,
    }
    # The event is the audit log's, under the same id.
    logged = admin.get(f"/events?item_id={customer.json['id']}").json["data"]
    assert [event["id"] for event in logged] == [payload["id"]]
    [attempt] = attempts(admin, hook)
    assert attempt["event_id"] == payload["id"]
    assert attempt["type"] == "customer.create"
    assert attempt["response_status"] == 204
    assert attempt["error"] is None and attempt["next_attempt_at"] is None
    assert attempt["duration_ms"] >= 0


def test_a_signature_made_with_another_secret_does_not_verify(
    admin: Caller, storage: Any, dispatcher: Dispatcher
):
    with receiving() as receiver:
        subscribe(admin, receiver.url)
        other = subscribe(admin, "http://127.0.0.1:9/unused", ["webhook.ping"])
        admin.post("/activities", json={"name": "Design"})
        deliver(storage, dispatcher)
        [request] = receiver.wait_for(1)
    with pytest.raises(WebhookVerificationError):
        Verifier(other["secret"]).verify(request.body, request.headers)
    tampered = request.body.replace(b"Design", b"Desigm")
    with pytest.raises(WebhookVerificationError):
        Verifier(other["secret"]).verify(tampered, request.headers)


def test_time_entry_events_carry_the_entry_after_each_change(
    admin: Caller, member: Caller, storage: Any, dispatcher: Dispatcher
):
    customer = admin.post("/customers", json={"name": "Acme"}).json["id"]
    project = admin.post("/projects", json={"name": "Web", "customer_id": customer}).json["id"]
    activity = admin.post("/activities", json={"name": "Coding"}).json["id"]
    with receiving() as receiver:
        subscribe(admin, receiver.url, ["time_entry.*"])
        started = member.post(
            "/time-entries", json={"project_id": project, "activity_id": activity}
        ).json
        stopped = member.post(f"/time-entries/{started['id']}/stop").json
        assert member.delete(f"/time-entries/{started['id']}").status_code == 204
        deliver(storage, dispatcher)
        requests = receiver.wait_for(3)
    payloads = sorted((r.json() for r in requests), key=lambda p: p["timestamp"])
    assert [p["type"] for p in payloads] == [
        "time_entry.create",
        "time_entry.stop",
        "time_entry.delete",
    ]
    assert payloads[0]["data"]["item"] == started
    assert payloads[1]["data"]["item"] == stopped
    assert payloads[1]["data"]["item"]["project_name"] == "Web"
    assert payloads[2]["data"]["item"]["id"] == started["id"]


def test_each_subscription_gets_the_events_it_asked_for(
    admin: Caller, storage: Any, dispatcher: Dispatcher
):
    with receiving() as everything, receiving() as archives:
        subscribe(admin, everything.url, ["*"])
        subscribe(admin, archives.url, ["*.archive"])
        customer = admin.post("/customers", json={"name": "Acme"}).json["id"]
        admin.put(f"/customers/{customer}", json={"description": "Anvils"})
        admin.delete(f"/customers/{customer}")
        deliver(storage, dispatcher)
        all_events = everything.wait_for(3)
        archived = archives.wait_for(1)
    assert sorted(r.json()["type"] for r in all_events) == [
        "customer.archive",
        "customer.create",
        "customer.update",
    ]
    assert [r.json()["type"] for r in archived] == ["customer.archive"]
    # One event, one id, at every receiver.
    assert archived[0].headers["webhook-id"] in {r.headers["webhook-id"] for r in all_events}


def test_a_failed_delivery_is_tried_again_with_the_same_id_after_its_delay(
    admin: Caller, storage: Any, dispatcher: Dispatcher, moving_clock: MovingClock
):
    outcomes: list[tuple[str, str, int]] = []
    dispatcher.observe = lambda *outcome: outcomes.append(outcome)
    with receiving(statuses=[500, 503, 200]) as receiver:
        hook = subscribe(admin, receiver.url)
        admin.post("/activities", json={"name": "Design"})
        deliver(storage, dispatcher)
        receiver.wait_for(1)
        deliver(storage, dispatcher)  # not due yet: nothing is sent
        time.sleep(0.2)
        assert len(receiver.received) == 1
        moving_clock.advance(seconds=WEBHOOK_DELAYS[0].total_seconds() + 1)
        deliver(storage, dispatcher)
        receiver.wait_for(2)
        moving_clock.advance(seconds=WEBHOOK_DELAYS[1].total_seconds() + 1)
        deliver(storage, dispatcher)
        requests = receiver.wait_for(3)
        moving_clock.advance(hours=48)
        deliver(storage, dispatcher)
        time.sleep(0.2)
        assert len(receiver.received) == 3  # taken: never sent again
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    history = attempts(admin, hook)
    assert [a["response_status"] for a in history] == [200, 503, 500]
    assert history[0]["error"] is None and history[0]["next_attempt_at"] is None
    assert "500" in history[2]["error"] and history[2]["next_attempt_at"] is not None
    assert admin.get(f"/webhooks/{hook['id']}").json["failing_since"] is None
    assert outcomes == [("webhooks", "failed", 1)] * 2 + [("webhooks", "delivered", 1)]


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(
    admin: Caller, storage: Any, dispatcher: Dispatcher
):
    with receiving(delay=4) as receiver:
        hook = subscribe(admin, receiver.url)
        admin.post("/activities", json={"name": "Design"})
        started = time.monotonic()
        deliver(storage, dispatcher)
        elapsed = time.monotonic() - started
    [attempt] = attempts(admin, hook)
    assert attempt["response_status"] is None
    assert "No answer within 2 s" in attempt["error"]
    assert attempt["next_attempt_at"] is not None
    assert elapsed < 4  # the dispatcher's timeout (2 s here), not the receiver's delay
    assert admin.get(f"/webhooks/{hook['id']}").json["failing_since"] is not None


def test_a_receiver_that_timed_out_once_takes_the_retry_of_the_same_event(
    admin: Caller, storage: Any, dispatcher: Dispatcher, moving_clock: MovingClock
):
    with receiving(delay=4) as receiver:
        hook = subscribe(admin, receiver.url)
        admin.post("/activities", json={"name": "Design"})
        deliver(storage, dispatcher)  # no answer within the dispatcher's 2 s
        receiver.delay = 0  # back in time for the retry
        deliver(storage, dispatcher)  # not due yet: nothing is sent
        moving_clock.advance(seconds=WEBHOOK_DELAYS[0].total_seconds() + 1)
        deliver(storage, dispatcher)
        first, second = receiver.wait_for(2)
        time.sleep(0.2)
        assert len(receiver.received) == 2
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert Verifier(hook["secret"]).verify(second.body, second.headers)["type"] == "activity.create"
    taken, timed_out = attempts(admin, hook)
    assert timed_out["response_status"] is None and "No answer" in timed_out["error"]
    assert taken["response_status"] == 204 and taken["error"] is None
    assert taken["next_attempt_at"] is None
    assert taken["event_id"] == timed_out["event_id"] == second.headers["webhook-id"]
    assert admin.get(f"/webhooks/{hook['id']}").json["failing_since"] is None


def test_a_receiver_down_for_a_while_gets_the_event_when_it_is_back(
    admin: Caller, storage: Any, dispatcher: Dispatcher, moving_clock: MovingClock
):
    port = free_port()
    hook = subscribe(admin, f"http://127.0.0.1:{port}/hooks")
    admin.post("/activities", json={"name": "Design"})
    deliver(storage, dispatcher)
    moving_clock.advance(seconds=6)
    deliver(storage, dispatcher)
    refused = attempts(admin, hook)
    assert len(refused) == 2 and all(a["response_status"] is None for a in refused)
    with receiving(port=port) as receiver:
        moving_clock.advance(minutes=2)
        deliver(storage, dispatcher)
        [request] = receiver.wait_for(1)
    assert request.json()["type"] == "activity.create"
    assert attempts(admin, hook)[0]["response_status"] == 204


def test_a_delivery_failing_after_its_last_retry_is_given_up(
    admin: Caller, storage: Any, dispatcher: Dispatcher, moving_clock: MovingClock
):
    with receiving(statuses=[500]) as receiver:
        hook = subscribe(admin, receiver.url)
        admin.post("/activities", json={"name": "Design"})
        deliver(storage, dispatcher)
        for delay in WEBHOOK_DELAYS:
            moving_clock.advance(seconds=delay.total_seconds() + 1)
            deliver(storage, dispatcher)
        receiver.wait_for(len(WEBHOOK_DELAYS) + 1)
        moving_clock.advance(days=2)
        deliver(storage, dispatcher)
        time.sleep(0.2)
        assert len(receiver.received) == len(WEBHOOK_DELAYS) + 1
    history = attempts(admin, hook)
    assert len(history) == len(WEBHOOK_DELAYS) + 1
    assert history[0]["next_attempt_at"] is None  # the last: nothing follows
    assert all(a["next_attempt_at"] is not None for a in history[1:])
    # Failing for about 31 hours is not yet three days: it stays enabled.
    assert admin.get(f"/webhooks/{hook['id']}").json["enabled"] is True


def test_the_attempts_are_paged_newest_first(
    admin: Caller, storage: Any, dispatcher: Dispatcher, moving_clock: MovingClock
):
    with receiving(statuses=[500, 503, 204]) as receiver:
        hook = subscribe(admin, receiver.url)
        admin.post("/activities", json={"name": "Design"})
        deliver(storage, dispatcher)
        for delay in WEBHOOK_DELAYS[:2]:
            moving_clock.advance(seconds=delay.total_seconds() + 1)
            deliver(storage, dispatcher)
        receiver.wait_for(3)
    path = f"/webhooks/{hook['id']}/deliveries"
    pages = [admin.get(f"{path}?start={start}&length=1").json for start in range(4)]
    assert [page["records_total"] for page in pages] == [3, 3, 3, 3]
    statuses = [[attempt["response_status"] for attempt in page["data"]] for page in pages]
    assert statuses == [[204], [503], [500], []]
    assert admin.get(f"{path}?start=1&length=1").json["data"] == attempts(admin, hook)[1:2]
    wider = admin.get(f"{path}?start=1&length=2").json
    assert [attempt["response_status"] for attempt in wider["data"]] == [503, 500]


def test_a_webhook_failing_for_three_days_is_disabled_until_an_admin_enables_it(
    admin: Caller, storage: Any, dispatcher: Dispatcher, moving_clock: MovingClock
):
    with receiving(statuses=[500]) as receiver:
        hook = subscribe(admin, receiver.url)
        admin.post("/activities", json={"name": "First"})
        deliver(storage, dispatcher)
        moving_clock.advance(days=3, minutes=1)
        admin.post("/activities", json={"name": "Second"})
        deliver(storage, dispatcher)  # the second, and the first's retry: both fail
        sent = len(receiver.received)
        assert sent >= 2
        shown = admin.get("/webhooks").json[0]
        assert shown["enabled"] is False
        assert "3 days" in shown["disabled_reason"]
        admin.post("/activities", json={"name": "Third"})
        moving_clock.advance(days=1)
        deliver(storage, dispatcher)
        time.sleep(0.2)
        assert len(receiver.received) == sent  # nothing goes to a disabled webhook
        receiver.statuses = [204]
        enabled = admin.put(f"/webhooks/{hook['id']}", json={"enabled": True}).json
        assert enabled["enabled"] is True and enabled["failing_since"] is None
        admin.post("/activities", json={"name": "Fourth"})
        deliver(storage, dispatcher)
        deadline = time.monotonic() + 10
        while "Fourth" not in names(receiver.received) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "Fourth" in names(receiver.received[sent:])


def names(requests: list[Any]) -> list[str]:
    return [request.json()["data"]["item"]["name"] for request in requests]


def test_a_ping_reaches_the_receiver(admin: Caller, storage: Any, dispatcher: Dispatcher):
    with receiving() as receiver:
        hook = subscribe(admin, receiver.url, ["time_entry.*"])
        ping = admin.post(f"/webhooks/{hook['id']}/ping").json
        dispatcher.run_once()
        [request] = receiver.wait_for(1)
    payload = Verifier(hook["secret"]).verify(request.body, request.headers)
    assert payload["id"] == ping["event_id"] == request.headers["webhook-id"]
    assert payload["type"] == "webhook.ping"
    assert payload["data"]["item"]["id"] == hook["id"]
    assert "secret" not in payload["data"]["item"]
    assert attempts(admin, hook)[0]["type"] == "webhook.ping"


def test_a_slow_receiver_holds_up_no_other(admin: Caller, storage: Any, moving_clock: MovingClock):
    dispatcher = Dispatcher(
        storage,
        OutboundSettings(webhooks_allow_private=True),
        clock=moving_clock,
        workers=8,
        per_webhook=2,
        timeout=timedelta(seconds=10),
    )
    held = threading.Event()
    try:
        with receiving(hold=held) as slow, receiving() as fast:
            subscribe(admin, slow.url)
            subscribe(admin, fast.url)
            for number in range(12):
                admin.post("/activities", json={"name": f"Activity {number}"})
            storage.dispatch_changes()
            done = {}
            worker = threading.Thread(target=lambda: done.update(r=dispatcher.run_once()))
            worker.start()
            # The slow receiver answers nothing until it is let go: the fast one still gets all
            # of its twelve, and the slow one never has more than its two at a time.
            fast.wait_for(12, timeout=10)
            slow_had = len(slow.received)
            held.set()
            worker.join(30)
            slow.wait_for(12)
    finally:
        held.set()
        dispatcher.close()
    assert slow_had <= 2, slow_had
    assert done["r"].sent == 24


def test_a_delivery_sent_by_a_dispatcher_that_died_is_sent_again_under_the_same_id(
    admin: Caller, storage: Any, dispatcher: Dispatcher, moving_clock: MovingClock
):
    with receiving() as receiver:
        subscribe(admin, receiver.url)
        admin.post("/activities", json={"name": "Design"})
        storage.dispatch_changes()
        [claimed] = storage.deliveries.claim(moving_clock(), 10, False)
        dispatcher.send(claimed)  # sent, then the dispatcher died before recording it
        dispatcher.run_once()  # claimed: nobody else sends it during the lease
        assert len(receiver.received) == 1
        moving_clock.advance(seconds=CLAIM_LEASE.total_seconds() + 1)
        dispatcher.run_once()
        first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body


def test_replaying_a_change_queues_no_second_delivery(
    admin: Caller, storage: Any, dispatcher: Dispatcher
):
    with receiving() as receiver:
        subscribe(admin, receiver.url)
        activity = admin.post("/activities", json={"name": "Design"}).json["id"]
        deliver(storage, dispatcher)
        receiver.wait_for(1)
        replay_changes(storage, activity)
        deliver(storage, dispatcher)
        time.sleep(0.2)
        assert len(receiver.received) == 1


def replay_changes(storage: Any, item_id: str) -> None:
    """Make the relay see the record's changes again, as after a crash before its checkpoint."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE outbox SET status = 'pending' WHERE item_id = :id"), {"id": item_id}
            )
        return
    if isinstance(storage, MemoryStorage):
        with storage.unit_of_work(write=True) as uow:
            for row in uow.staged.rows(OUTBOX, GLOBAL):
                if row["item_id"] == item_id:
                    uow.staged.put(OUTBOX, GLOBAL, row["id"], {**row, "status": "pending"})
            uow.commit()
        return
    # Back to a second before the last poll's newest change (not to the start: reading every
    # change the worker's database has seen again takes seconds on the emulator).
    leases = storage.database.get_container_client(LEASES)
    checkpoint = leases.read_item(CHECKPOINT_ID, partition_key=CHECKPOINT_ID)
    since = {container: stamp - 1 for container, stamp in checkpoint["since"].items()}
    assert since, "the relay has recorded no change to replay"
    leases.upsert_item({"id": CHECKPOINT_ID, "since": since})


def test_a_url_that_resolves_to_a_private_address_is_refused_when_it_is_sent(
    admin: Caller, storage: Any, moving_clock: MovingClock
):
    strict = Dispatcher(storage, OutboundSettings(), clock=moving_clock)
    try:
        with receiving() as receiver:
            hook = subscribe(admin, receiver.url)  # allowed when it was made
            admin.post("/activities", json={"name": "Design"})
            storage.dispatch_changes()
            strict.run_once()
            time.sleep(0.2)
            assert receiver.received == []
    finally:
        strict.close()
    [attempt] = attempts(admin, hook)
    assert attempt["response_status"] is None
    assert "http" in attempt["error"] or "private" in attempt["error"]


def test_deliveries_and_attempts_are_forgotten_after_thirty_days(
    admin: Caller, storage: Any, dispatcher: Dispatcher, moving_clock: MovingClock
):
    with receiving(statuses=[500, 204]) as receiver:
        hook = subscribe(admin, receiver.url)
        admin.post("/activities", json={"name": "Design"})
        deliver(storage, dispatcher)
        moving_clock.advance(seconds=10)
        deliver(storage, dispatcher)
        receiver.wait_for(2)
    assert len(attempts(admin, hook)) == 2
    assert storage.deliveries.purge(moving_clock() - timedelta(days=30)) == 0
    assert len(attempts(admin, hook)) == 2
    storage.deliveries.purge(moving_clock() + timedelta(seconds=1))
    if not hasattr(storage, "database"):  # SQL and memory delete them
        assert attempts(admin, hook) == []
        return
    # Cosmos DB: each done delivery and attempt expires by itself after thirty days.
    documents = storage.database.get_container_client("delivery").query_items(
        "SELECT c.type, c.status, c.ttl FROM c WHERE c.tenant_id = @tenant",
        parameters=[{"name": "@tenant", "value": admin.tenant_id}],
        partition_key=admin.tenant_id,
    )
    assert sorted((d["type"], d.get("status"), d["ttl"]) for d in documents) == [
        ("attempt", None, 30 * 24 * 3600),
        ("attempt", None, 30 * 24 * 3600),
        ("delivery", "done", 30 * 24 * 3600),
    ]
