"""The local dispatcher: every change becomes exactly one audit event, whatever happens.

Runs the handlers of `time_tracker_events` on the SQL outbox (SQLite, PostgreSQL, MariaDB) and
on Cosmos DB changes (polled by `_ts` on the emulator).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.backends import SQL_BACKENDS
from time_tracker_events.audit import sql as outbox


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
