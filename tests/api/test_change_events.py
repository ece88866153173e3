"""Every change leaves with its event, written with the change itself.

SQL: an `outbox` row in the same transaction. Cosmos DB: a change document in the record's
container and partition, in the same transactional batch (and `_last_event_ctx` on the record,
as in the original format).
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa


def events_of(storage: Any, container: str, item_id: str) -> list[dict[str, Any]]:
    """The change events recorded for one record, oldest first."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT user_id, tenant_id, action, description, container_id, session_id "
                    "FROM outbox WHERE container_id = :container AND item_id = :item "
                    "ORDER BY occurred_at"
                ),
                {"container": container, "item": item_id},
            )
            return [dict(row._mapping) for row in rows]
    documents = storage.database.get_container_client(container).query_items(
        "SELECT * FROM c WHERE c.type = 'change' AND c.item_id = @id ORDER BY c.date",
        parameters=[{"name": "@id", "value": item_id}],
        enable_cross_partition_query=True,
    )
    return [{field: d[field] for field in EVENT_FIELDS} for d in documents]


EVENT_FIELDS = ("user_id", "tenant_id", "action", "description", "container_id", "session_id")


def last_event(storage: Any, container: str, item_id: str) -> dict[str, Any]:
    events = events_of(storage, container, item_id)
    assert events, f"no event for {container}/{item_id}"
    return events[-1]


def test_creating_a_record_writes_its_event_with_actor_tenant_and_session(storage, admin):
    response = admin.post("/activities", json={"name": "Writing"})
    event = last_event(storage, "activity", response.json["id"])
    assert event == {
        "user_id": admin.user_id,
        "tenant_id": admin.tenant_id,
        "action": "create",
        "description": "Created Writing",
        "container_id": "activity",
        "session_id": response.headers["X-Request-ID"],
    }


@pytest.mark.parametrize(
    "resource, container, change, action",
    [
        ("customers", "customer", "put", "update"),
        ("customers", "customer", "delete", "archive"),
        ("technologies", "technology", "delete", "delete"),
    ],
)
def test_updates_archives_and_deletes_write_their_events(
    storage, admin, resource, container, change, action
):
    created = admin.post(f"/{resource}", json={"name": "Changing"}).json
    if change == "put":
        admin.put(f"/{resource}/{created['id']}", json={"name": "Changed"})
    else:
        admin.delete(f"/{resource}/{created['id']}")
    assert last_event(storage, container, created["id"])["action"] == action


def test_each_timer_change_writes_its_event(storage, admin, member):
    customer = admin.post("/customers", json={"name": "Evented"}).json
    project = admin.post("/projects", json={"name": "P", "customer_id": customer["id"]}).json
    activity = admin.post("/activities", json={"name": "A"}).json
    entry = member.post(
        "/time-entries", json={"project_id": project["id"], "activity_id": activity["id"]}
    ).json
    actions = ["create"]
    for path, action in (("stop", "stop"), ("restart", "restart"), ("stop", "stop")):
        member.post(f"/time-entries/{entry['id']}/{path}")
        actions.append(action)
        assert last_event(storage, "time_entry", entry["id"])["action"] == action
    member.delete(f"/time-entries/{entry['id']}")
    actions.append("delete")
    event = last_event(storage, "time_entry", entry["id"])
    assert event["action"] == "delete"
    assert event["user_id"] == member.user_id
    recorded = [e["action"] for e in events_of(storage, "time_entry", entry["id"])]
    assert recorded == actions


def test_a_role_change_writes_an_event_on_the_user(storage, admin, member):
    member.get("/users")
    admin.post(f"/users/{member.user_id}/roles/admin/grant")
    event = last_event(storage, "user", member.user_id)
    assert event["action"] == "update"
    assert event["user_id"] == admin.user_id
    assert "time-tracker-admin" in event["description"]


def test_a_refused_change_writes_no_event(storage, admin):
    first = admin.post("/activities", json={"name": "Unique"}).json
    refused = admin.post("/activities", json={"name": "unique"})
    assert refused.status_code == 409
    assert [e["action"] for e in tenant_events(storage, admin.tenant_id, "activity")] == ["create"]
    assert (
        last_event(storage, "activity", first["id"])["session_id"]
        != refused.headers["X-Request-ID"]
    )


def tenant_events(storage: Any, tenant_id: str, container: str) -> list[dict[str, Any]]:
    engine = getattr(storage, "engine", None)
    if engine is not None:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT action FROM outbox WHERE tenant_id = :tenant "
                    "AND container_id = :container"
                ),
                {"tenant": tenant_id, "container": container},
            )
            return [dict(row._mapping) for row in rows]
    documents = storage.database.get_container_client(container).query_items(
        "SELECT * FROM c WHERE c.tenant_id = @tenant_id AND c.type = 'change'",
        parameters=[{"name": "@tenant_id", "value": tenant_id}],
        partition_key=tenant_id,
    )
    return [{"action": d["action"]} for d in documents]


def test_adding_a_user_before_their_first_login_writes_one_create_event(storage, admin):
    response = admin.post("/users", json={"email": "new.colleague@example.com"})
    assert response.status_code == 201
    assert events_of(storage, "user", response.json["id"]) == [
        {
            "user_id": admin.user_id,
            "tenant_id": admin.tenant_id,
            "action": "create",
            "description": "Added new.colleague@example.com",
            "container_id": "user",
            "session_id": response.headers["X-Request-ID"],
        }
    ]
