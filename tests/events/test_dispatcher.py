"""The local dispatcher: every change becomes exactly one audit event, whatever happens.

Runs the relays the events app's functions run (`commons.data_access_layer.sql.outbox` and
`commons.data_access_layer.cosmos.changes`) on the SQL outbox (SQLite, PostgreSQL, MariaDB) and
on Cosmos DB changes (polled by `_ts` on the emulator).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from commons.data_access_layer.sql import outbox
from commons.domain.exceptions import NotFound
from tests.backends import SQL_BACKENDS
from tests.conftest import app_of_the_module

app = app_of_the_module()  # relays changes: on Cosmos DB, a database of its own


def make_changes(admin: Any, count: int) -> list[str]:
    """`count` changes through the API; returns the changed activity ids (one change each)."""
    return [
        admin.post("/activities", json={"name": f"Change {i}"}).json["id"] for i in range(count)
    ]


def audit_events(storage: Any, tenant_id: str) -> list[dict[str, Any]]:
    engine = getattr(storage, "engine", None)
    if engine is not None:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(outbox.events).where(outbox.events.c.tenant_id == tenant_id)
            ).mappings()
            return [dict(row) for row in rows]
    return list(
        storage.database.get_container_client("event").query_items(
            "SELECT * FROM c WHERE c.tenant_id = @tenant_id",
            parameters=[{"name": "@tenant_id", "value": tenant_id}],
            partition_key=tenant_id,
        )
    )


def outbox_rows(storage: Any, tenant_id: str) -> list[dict[str, Any]]:
    with storage.engine.connect() as connection:
        rows = connection.execute(
            sa.select(outbox.outbox).where(outbox.outbox.c.tenant_id == tenant_id)
        ).mappings()
        return [dict(row) for row in rows]


# The outbox is SQL's (Cosmos DB documents carry their event instead): these run on SQL only.
on_sql = pytest.mark.parametrize("database", SQL_BACKENDS, indirect=True)


@pytest.fixture
def sql_storage(storage: Any) -> Any:
    return storage


def test_dispatching_twice_records_one_event_per_change(storage, admin):
    ids = make_changes(admin, 5)
    storage.dispatch_changes()
    storage.dispatch_changes()
    events = [e for e in audit_events(storage, admin.tenant_id) if e["container_id"] == "activity"]
    assert sorted(e["item_id"] for e in events) == sorted(ids)
    assert {(e["user_id"], e["tenant_id"], e["action"]) for e in events} == {
        (admin.user_id, admin.tenant_id, "create")
    }
    assert len({e["id"] for e in events}) == len(events)


@on_sql
def test_a_crash_in_the_middle_of_a_batch_then_a_rerun_leaves_one_event_per_change(
    sql_storage, admin
):
    ids = make_changes(admin, 6)
    handled = []

    def crashing(event, connection):
        outbox.record_event(event, connection)
        handled.append(event.id)
        if len(handled) == 3:
            raise KeyboardInterrupt  # the process dies: nothing of the batch is committed

    with pytest.raises(KeyboardInterrupt):
        outbox.drain_once(sql_storage.engine, batch_size=1000, handler=crashing)
    assert len(handled) == 3
    assert audit_events(sql_storage, admin.tenant_id) == []

    sql_storage.dispatch_changes()
    events = [e for e in audit_events(sql_storage, admin.tenant_id) if e["item_id"] in ids]
    assert sorted(e["item_id"] for e in events) == sorted(ids)
    assert all(row["status"] == "done" for row in outbox_rows(sql_storage, admin.tenant_id))


@on_sql
def test_two_dispatchers_racing_deliver_each_change_once(sql_storage, admin):
    ids = make_changes(admin, 40)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def dispatcher() -> None:
        barrier.wait()
        try:
            sql_storage.dispatch_changes(batch_size=3)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    events = [e for e in audit_events(sql_storage, admin.tenant_id) if e["item_id"] in ids]
    assert sorted(e["item_id"] for e in events) == sorted(ids)
    rows = outbox_rows(sql_storage, admin.tenant_id)
    assert {row["status"] for row in rows} == {"done"}
    assert {row["attempts"] for row in rows} == {0}  # no dispatcher tripped over the other


@on_sql
def test_a_failing_handler_leaves_the_change_pending_then_parks_it(sql_storage, admin):
    [failing_id] = make_changes(admin, 1)

    def failing(event, connection):
        if event.item_id == failing_id:
            raise ValueError("the audit store said no")
        outbox.record_event(event, connection)

    result = outbox.drain_once(
        sql_storage.engine, 1000, handler=failing, retry_delays=(timedelta(0),)
    )
    assert result.failed >= 1
    [row] = [r for r in outbox_rows(sql_storage, admin.tenant_id) if r["item_id"] == failing_id]
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"] == "ValueError: the audit store said no"

    outbox.drain_once(sql_storage.engine, 1000, handler=failing, retry_delays=(timedelta(0),))
    assert failing_id in [c["item_id"] for c in sql_storage.parked_changes()]

    assert sql_storage.retry_parked() >= 1
    sql_storage.dispatch_changes()
    events = audit_events(sql_storage, admin.tenant_id)
    assert [e["item_id"] for e in events if e["item_id"] == failing_id] == [failing_id]
    assert failing_id not in [c["item_id"] for c in sql_storage.parked_changes()]


# Backing off: a failing change waits longer after each failure, then is parked


def failing_on(item_id: str, calls: list[str]) -> Any:
    """A handler that fails the change of `item_id` (noting each try) and records the others."""

    def handler(event, connection):
        if event.item_id == item_id:
            calls.append(event.item_id)
            raise ValueError("the audit store is away")
        outbox.record_event(event, connection)

    return handler


def outbox_row(storage: Any, tenant_id: str, item_id: str) -> dict[str, Any]:
    [row] = [r for r in outbox_rows(storage, tenant_id) if r["item_id"] == item_id]
    return row


def a_moment() -> datetime:
    """The current time in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


@on_sql
def test_a_failing_change_is_not_retried_before_its_next_attempt_and_is_after_it(
    sql_storage, admin
):
    [failing_id] = make_changes(admin, 1)
    calls: list[str] = []
    handler = failing_on(failing_id, calls)
    start = a_moment()

    first = outbox.drain_once(sql_storage.engine, 1000, handler, now=start)
    row = outbox_row(sql_storage, admin.tenant_id, failing_id)
    assert (first.failed, calls) == (1, [failing_id])
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["next_attempt_at"] == start + outbox.RETRY_DELAYS[0]

    early = start + outbox.RETRY_DELAYS[0] - timedelta(seconds=1)
    skipped = outbox.drain_once(sql_storage.engine, 1000, handler, now=early)
    assert calls == [failing_id]  # not claimed: it is not due yet
    assert (skipped.failed, skipped.parked) == (0, 0)  # and waiting is no failure
    assert outbox.waiting(sql_storage.engine, now=early) >= 1
    assert outbox_row(sql_storage, admin.tenant_id, failing_id)["attempts"] == 1

    due = start + outbox.RETRY_DELAYS[0]
    retried = outbox.drain_once(sql_storage.engine, 1000, handler, now=due)
    row = outbox_row(sql_storage, admin.tenant_id, failing_id)
    assert (retried.failed, calls) == (1, [failing_id, failing_id])
    assert (row["status"], row["attempts"]) == ("pending", 2)
    assert row["next_attempt_at"] == due + outbox.RETRY_DELAYS[1]


@on_sql
def test_a_failing_change_is_parked_only_when_the_retry_after_the_last_delay_fails(
    sql_storage, admin
):
    [failing_id] = make_changes(admin, 1)
    calls: list[str] = []
    handler = failing_on(failing_id, calls)
    moment = a_moment()
    waits = [timedelta(0), *outbox.RETRY_DELAYS]  # the first attempt, then one per delay

    for attempt, wait in enumerate(waits, start=1):
        moment += wait
        outbox.drain_once(sql_storage.engine, 1000, handler, now=moment)
        row = outbox_row(sql_storage, admin.tenant_id, failing_id)
        assert len(calls) == row["attempts"] == attempt
        if attempt < len(waits):
            assert row["status"] == "pending", attempt
            assert row["next_attempt_at"] == moment + outbox.RETRY_DELAYS[attempt - 1]

    assert (row["status"], row["next_attempt_at"]) == ("dead", None)
    assert len(calls) == 1 + len(outbox.RETRY_DELAYS) == 6
    assert failing_id in [c["item_id"] for c in sql_storage.parked_changes()]
    # Well after the last delay a parked change stays parked until an operator retries it.
    later = moment + timedelta(days=1)
    outbox.drain_once(sql_storage.engine, 1000, handler, now=later)
    assert len(calls) == 6

    assert sql_storage.retry_parked([outbox_row(sql_storage, admin.tenant_id, failing_id)["id"]])
    row = outbox_row(sql_storage, admin.tenant_id, failing_id)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("pending", 0, None)


@on_sql
def test_a_hiccup_of_a_few_seconds_parks_nothing(sql_storage, admin):
    [failing_id] = make_changes(admin, 1)
    calls: list[str] = []
    moment = a_moment()
    for second in range(30):  # a dispatcher polling every second while the store is away
        tick = moment + timedelta(seconds=second)
        outbox.drain_once(sql_storage.engine, 1000, failing_on(failing_id, calls), now=tick)
    assert len(calls) == 2  # at once, and 10 s later
    back = moment + timedelta(minutes=2)
    outbox.drain_once(sql_storage.engine, 1000, now=back)
    assert outbox_row(sql_storage, admin.tenant_id, failing_id)["status"] == "done"
    assert [e["item_id"] for e in audit_events(sql_storage, admin.tenant_id)] == [failing_id]


@on_sql
def test_a_batch_with_a_failed_change_ends_the_run(sql_storage, admin):
    sql_storage.dispatch_changes()  # nothing else due: the batches below are these changes
    ids = make_changes(admin, 5)
    tried: list[str] = []

    def store_away(event, connection):
        tried.append(event.item_id)
        raise ValueError("the audit store is away")

    total, batches = outbox.drain(sql_storage.engine, batch_size=2, handler=store_away)

    assert (batches, total.failed) == (1, 2)
    assert tried == ids[:2]  # the oldest two; the run ended with their batch
    rows = {row["item_id"]: row for row in outbox_rows(sql_storage, admin.tenant_id)}
    assert [(rows[i]["status"], rows[i]["attempts"], rows[i]["next_attempt_at"]) for i in ids] == [
        ("pending", 1, rows[ids[0]]["next_attempt_at"]),
        ("pending", 1, rows[ids[1]]["next_attempt_at"]),
        *[("pending", 0, None)] * 3,
    ]

    report = sql_storage.dispatch_changes()  # the next run: the three left go, two wait

    rows = {row["item_id"]: row for row in outbox_rows(sql_storage, admin.tenant_id)}
    assert [rows[i]["status"] for i in ids] == ["pending"] * 2 + ["done"] * 3
    assert (report.failed, report.parked) == (0, 0)
    assert report.waiting >= 2


@on_sql
def test_retrying_an_id_that_is_not_parked_fails_and_retries_nothing(sql_storage, admin):
    [failing_id] = make_changes(admin, 1)
    calls: list[str] = []
    outbox.drain_once(
        sql_storage.engine, 1000, failing_on(failing_id, calls), retry_delays=(), now=None
    )
    parked_id = outbox_row(sql_storage, admin.tenant_id, failing_id)["id"]
    assert parked_id in [c["id"] for c in sql_storage.parked_changes()]

    with pytest.raises(NotFound, match="No parked change has the id no-such-change"):
        sql_storage.retry_parked([parked_id, "no-such-change"])

    assert outbox_row(sql_storage, admin.tenant_id, failing_id)["status"] == "dead"
    assert sql_storage.retry_parked([parked_id]) == 1
