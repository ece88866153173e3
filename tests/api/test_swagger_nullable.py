"""Every `null` in a real answer is at a field the Swagger document marks `x-nullable`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commons.services.deliveries import Dispatcher
from commons.settings import OutboundSettings
from tests.api.test_audit_log import record_events
from tests.conftest import Caller

EVERYTHING = "updated_since=2000-01-01T00:00:00Z&include_deleted=true"
# Query strings that make each list show every record created below (deleted ones too).
QUERIES = {
    "/activities": EVERYTHING,
    "/customers": EVERYTHING,
    "/project-types": EVERYTHING,
    "/projects": EVERYTHING,
    "/technologies": EVERYTHING,
    "/time-entries": f"{EVERYTHING}&user_id=*",
    "/time-entries/paginated": f"{EVERYTHING}&user_id=*&count=true",
    "/reports/summary": tuple(
        f"start_date=2025-01-01&end_date=2025-12-31&user_id=*&group_by={group_by}"
        for group_by in ("project,day", "technology", "customer,technology", "user,activity")
    ),
}
# Which record each path's {id} names: the one with the most fields left empty.
PATH_RECORDS = {
    "/activities/{id}": "archived_activity",
    "/customers/{id}": "bare_customer",
    "/project-types/{id}": "bare_project_type",
    "/projects/{id}": "bare_project",
    "/technologies/{id}": "technology",
    "/time-entries/{id}": "running_entry",
    "/users/{id}": "invited_user",
    "/webhooks/{id}": "webhook",
    "/webhooks/{id}/deliveries": "webhook",
}
NOT_JSON = {"/reports/entries"}  # a CSV or XLSX file


def representative_records(admin: Caller, member: Caller) -> dict[str, str]:
    """Records with every optional field empty and with every one filled, archived and deleted
    ones, a finished and a running entry of each user, a user who never logged in."""
    bare_customer = admin.post("/customers", json={"name": "Bare"}).json["id"]
    customer = admin.post("/customers", json={"name": "Full", "description": "All set"}).json
    admin.delete(f"/customers/{admin.post('/customers', json={'name': 'Gone'}).json['id']}")
    bare_type = admin.post("/project-types", json={"name": "Bare type"}).json["id"]
    full_type = {"name": "Child", "customer_id": customer["id"], "parent_id": bare_type}
    project_type = admin.post("/project-types", json=full_type).json["id"]
    admin.delete(f"/project-types/{admin.post('/project-types', json={'name': 'X'}).json['id']}")
    bare_project = {"name": "Bare project", "customer_id": bare_customer}
    full_project = {
        "name": "Full project",
        "customer_id": customer["id"],
        "project_type_id": project_type,
        "description": "Everything",
        "technologies": ["python"],
    }
    project = admin.post("/projects", json=full_project).json["id"]
    activity = admin.post("/activities", json={"name": "Work", "description": "Doing"}).json["id"]
    archived_activity = admin.post("/activities", json={"name": "Old"}).json["id"]
    technology = admin.post("/technologies", json={"name": "python"}).json["id"]
    admin.delete(f"/technologies/{admin.post('/technologies', json={'name': 'x'}).json['id']}")
    entry = {"project_id": project, "activity_id": activity}
    finished = {
        **entry,
        "description": "Done",
        "uri": "TT-1",
        "technologies": ["python"],
        "timezone_offset": 300,
        "start_date": "2025-01-06T09:00:00Z",
        "end_date": "2025-01-06T10:00:00Z",
    }
    deleted = {**entry, "start_date": "2025-01-07T09:00:00Z", "end_date": "2025-01-07T10:00:00Z"}
    plain = {**entry, "start_date": "2025-01-08T09:00:00Z", "end_date": "2025-01-08T10:00:00Z"}
    admin.delete(f"/time-entries/{admin.post('/time-entries', json=deleted).json['id']}")
    records = {
        "bare_customer": bare_customer,
        "bare_project_type": bare_type,
        "bare_project": admin.post("/projects", json=bare_project).json["id"],
        "archived_activity": archived_activity,
        "technology": technology,
        "finished_entry": admin.post("/time-entries", json=finished).json["id"],
        "plain_entry": admin.post("/time-entries", json=plain).json["id"],
        "member_entry": member.post("/time-entries", json=finished).json["id"],
        "running_entry": admin.post("/time-entries", json=entry).json["id"],
        "member_running_entry": member.post("/time-entries", json=entry).json["id"],
        "invited_user": admin.post("/users", json={"email": "new@example.com"}).json["id"],
        "webhook": admin.post(
            "/webhooks", json={"url": "https://93.184.215.14/hook", "events": ["*"]}
        ).json["id"],
    }
    assert admin.delete(f"/activities/{archived_activity}").status_code == 204
    assert all(records.values()), records
    assert admin.post(f"/webhooks/{records['webhook']}/ping").status_code == 202
    return records


def attempt_the_deliveries(storage: Any) -> None:
    """Try the due deliveries once, at a closed loopback port: failed attempts, no status."""
    dispatcher = Dispatcher(
        storage,
        OutboundSettings(webhooks_allow_private=True),
        resolver=lambda host, port: ["127.0.0.1"],
        timeout=timedelta(seconds=2),
    )
    try:
        dispatcher.run_once()
    finally:
        dispatcher.close()


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its `$ref` followed and its `allOf` parts merged."""
    if "$ref" in schema:
        return resolved(document, document["definitions"][schema["$ref"].rsplit("/", 1)[-1]])
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(resolved(document, part).get("properties", {}))
        return merged
    return schema


def nulls_not_marked(document: dict[str, Any], value: Any, schema: dict[str, Any], where: str):
    """Where `value` has a null that its schema does not mark `x-nullable`."""
    if value is None:
        if not schema.get("x-nullable"):
            yield where
        return
    schema = resolved(document, schema)
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from nulls_not_marked(
                document, item, schema.get("items", {}), f"{where}[{index}]"
            )
    elif isinstance(value, dict):
        properties = schema.get("properties")
        if properties is None:
            return  # a map (feature toggles): no fields to mark
        for name, item in value.items():
            assert name in properties, f"{where}.{name} is answered but not documented"
            yield from nulls_not_marked(document, item, properties[name], f"{where}.{name}")


@pytest.fixture(autouse=True)
def no_webhook_left_behind(webhooks_removed, tenant):
    webhooks_removed.append(tenant)


def test_every_null_in_an_answer_is_documented_as_nullable(storage, admin, member):
    records = representative_records(admin, member)
    # Audit events come from the events app (time_tracker_events); a CLI change has no request.
    record_events(storage, admin.tenant_id, datetime.now(UTC), session_id=None)
    attempt_the_deliveries(storage)
    attempts = admin.get(f"/webhooks/{records['webhook']}/deliveries").json["data"]
    assert attempts and attempts[0]["response_status"] is None, attempts
    document = admin.get("/swagger.json").json
    unmarked, nulls_seen = [], 0
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None or path in NOT_JSON:
            continue
        url = path.replace("{id}", records[PATH_RECORDS[path]]) if "{id}" in path else path
        queries = QUERIES.get(path, "")
        for query in (queries,) if isinstance(queries, str) else queries:
            response = admin.get(f"{url}?{query}" if query else url)
            assert response.status_code == 200, (path, query, response.json)
            if path != "/feature-toggles":  # no flag is defined in the tests
                assert response.json not in ([], {}), (path, query)  # something to check
            schema = operation["responses"]["200"]["schema"]
            unmarked.extend(nulls_not_marked(document, response.json, schema, path))
            nulls_seen += str(response.json).count("None")
    assert unmarked == []
    assert nulls_seen > 0  # the records above do leave fields empty


def test_a_running_entry_has_a_null_end_date_marked_nullable(admin, member):
    records = representative_records(admin, member)
    running = admin.get(f"/time-entries/{records['running_entry']}").json
    assert running["end_date"] is None and running["running"] is True
    properties = admin.get("/swagger.json").json["definitions"]["TimeEntry"]["properties"]
    assert properties["end_date"]["x-nullable"] is True


# Fields the storage always sets (NOT NULL columns, or written on every change).
ALWAYS_SET = {
    **dict.fromkeys(
        ("Activity", "Customer", "ProjectType", "Project"),
        ("id", "tenant_id", "name", "created_at", "updated_at"),
    ),
    "Technology": ("id", "tenant_id", "name", "created_at", "updated_at", "creation_date"),
    "TimeEntry": ("id", "owner_id", "project_id", "activity_id", "start_date", "running"),
    "User": ("id", "roles", "groups", "created_at", "updated_at"),
    "AuditEvent": ("id", "date", "user_id", "action", "description", "item_id", "container_id"),
    "Webhook": ("id", "url", "events", "enabled", "created_at", "updated_at"),
    "DeliveryAttempt": ("id", "event_id", "type", "attempted_at", "duration_ms"),
    "ReportGroup": ("name", "seconds", "entries"),
}


def test_fields_that_are_always_set_are_not_marked_nullable(client):
    document = client.get("/swagger.json").json
    marked = {
        (name, field)
        for name, fields in ALWAYS_SET.items()
        for field in fields
        if resolved(document, {"$ref": f"#/definitions/{name}"})["properties"][field].get(
            "x-nullable"
        )
    }
    assert marked == set()
