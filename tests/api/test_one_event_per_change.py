"""One audit event per change on every backend, however quickly the changes follow each other.

Changes are made through the API, then the local dispatcher (`storage.dispatch_changes()`, what
`cli.py events dispatch` runs) records them, and `GET /events` shows the audit log. On Cosmos DB
every change writes a change document of its own, so changes the record went through between
two reads of its container are all there.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from tests.conftest import Caller, app_of_the_module, change_customers_quickly

app = app_of_the_module()  # relays changes: on Cosmos DB, a database of its own


def audit_log(storage: Any, admin: Caller) -> Counter[tuple[str, str]]:
    """What the tenant's audit log holds once the dispatcher has run: (container, action)s."""
    storage.dispatch_changes()
    response = admin.get("/events?length=500")
    assert response.status_code == 200, response.json
    return Counter((event["container_id"], event["action"]) for event in response.json["data"])


def test_quick_successive_changes_of_records_are_each_an_event(storage, admin):
    change_customers_quickly(admin, 10)

    assert audit_log(storage, admin) == {
        ("customer", "create"): 10,
        ("customer", "update"): 20,
        ("customer", "archive"): 10,
    }


def test_every_step_of_a_timer_is_an_event(storage, admin, member):
    customer = admin.post("/customers", json={"name": "Acme"}).json
    project = admin.post("/projects", json={"name": "Web", "customer_id": customer["id"]}).json
    activity = admin.post("/activities", json={"name": "Coding"}).json
    work = {"project_id": project["id"], "activity_id": activity["id"]}
    for number in range(5):
        start = f"2024-03-0{number + 1}T09:00:00+00:00"
        entry = member.post("/time-entries", json={**work, "start_date": start}).json["id"]
        steps = [
            member.put(f"/time-entries/{entry}", json={"description": "busy"}),
            member.post(f"/time-entries/{entry}/stop"),
            member.post(f"/time-entries/{entry}/restart"),
            member.post(f"/time-entries/{entry}/stop"),
            member.delete(f"/time-entries/{entry}"),
        ]
        assert [step.status_code for step in steps] == [200, 200, 200, 200, 204]

    log = audit_log(storage, admin)

    assert {key: count for key, count in log.items() if key[0] == "time_entry"} == {
        ("time_entry", "create"): 5,
        ("time_entry", "update"): 5,
        ("time_entry", "stop"): 10,
        ("time_entry", "restart"): 5,
        ("time_entry", "delete"): 5,
    }


def test_logging_in_again_records_no_event(storage, client, admin, tenant):
    user = f"member-{uuid.uuid4().hex[:8]}"
    assert Caller(client, tenant, user).get("/users").status_code == 200
    granted = admin.post(f"/users/{user}/roles/admin/grant")
    assert granted.status_code == 200, granted.json
    for email in ("renamed@example.com", "renamed.again@example.com"):
        # Each login with a new email refreshes the user's document: no change of anybody's.
        assert Caller(client, tenant, user, email=email).get("/users").status_code == 200

    assert audit_log(storage, admin) == {("user", "update"): 1}


def test_dispatching_again_records_nothing_twice(storage, admin):
    admin.post("/activities", json={"name": "Writing"})
    first = audit_log(storage, admin)
    assert audit_log(storage, admin) == first == {("activity", "create"): 1}
