"""Tenant and user ids are compared exactly on every backend: case, accents and trailing
spaces make another tenant or another user, never the same one."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import ADMIN, Caller


def look_alikes(original: str) -> list[str]:
    """Ids that a case-, accent- or pad-insensitive comparison would take for `original`,
    which ends in "a"."""
    assert original.endswith("a")
    return [original.upper(), f"{original} ", f"{original[:-1]}á"]


@pytest.fixture
def tenant() -> str:
    return f"tenant-{uuid.uuid4()}-a"


@pytest.fixture
def originals(admin: Caller, member: Caller) -> dict[str, str]:
    """A tenant with one of each: customer, project type, project, activity, running entry."""
    customer = admin.post("/customers", json={"name": "Acme"}).json["id"]
    project_type = admin.post("/project-types", json={"name": "Fixed price"}).json["id"]
    project = admin.post("/projects", json={"name": "Web", "customer_id": customer}).json["id"]
    activity = admin.post("/activities", json={"name": "Coding"}).json["id"]
    entry = member.post("/time-entries", json={"project_id": project, "activity_id": activity})
    assert entry.status_code == 201, entry.json
    return {
        "customers": customer,
        "project-types": project_type,
        "projects": project,
        "activities": activity,
        "time-entries": entry.json["id"],
    }


@pytest.mark.parametrize("variant", range(3), ids=["upper-case", "trailing-space", "accent"])
def test_a_look_alike_tenant_sees_nothing_of_the_original(
    client, tenant, admin, member, originals, variant
):
    look_alike = look_alikes(tenant)[variant]
    # The same user ids as the original tenant's, so only the tenant id tells them apart.
    other_admin = Caller(client, look_alike, admin.user_id, (ADMIN,), email="other@example.com")
    assert [user["id"] for user in other_admin.get("/users").json] == [admin.user_id]
    assert other_admin.get(f"/users/{member.user_id}").status_code == 404
    for resource, item_id in originals.items():
        assert other_admin.get(f"/{resource}/{item_id}").status_code == 404, resource
    for resource in ("customers", "project-types", "projects", "activities"):
        assert other_admin.get(f"/{resource}").json == [], resource
    assert other_admin.get("/time-entries?user_id=*").json == []
    assert other_admin.get(f"/time-entries?user_id={member.user_id}").json == []
    other_member = Caller(client, look_alike, member.user_id)
    assert other_member.get("/time-entries/running").status_code == 204
    assert other_member.get("/time-entries").json == []
    # Nothing the look-alikes did reached the original tenant.
    users = {user["id"]: user for user in admin.get("/users").json}
    assert sorted(users) == sorted([admin.user_id, member.user_id])
    assert users[admin.user_id]["email"] == f"{admin.user_id}@example.com"
    assert member.get("/time-entries/running").json["id"] == originals["time-entries"]


@pytest.fixture
def granted(client, tenant, admin: Caller, originals) -> Caller:
    """A member made admin by a grant of the tenant (not by their token), with a running entry."""
    user = Caller(client, tenant, f"x-admin-{uuid.uuid4().hex[:8]}a")
    user.get("/users")
    assert admin.post(f"/users/{user.user_id}/roles/admin/grant").status_code == 200
    work = {"project_id": originals["projects"], "activity_id": originals["activities"]}
    assert user.post("/time-entries", json=work).status_code == 201
    return user


@pytest.mark.parametrize("variant", range(3), ids=["upper-case", "trailing-space", "accent"])
def test_a_look_alike_user_inherits_neither_grants_nor_entries(
    client, tenant, admin, granted, variant
):
    look_alike = Caller(client, tenant, look_alikes(granted.user_id)[variant])
    assert look_alike.post("/activities", json={"name": "Not mine"}).status_code == 403
    assert look_alike.get("/time-entries/running").status_code == 204
    assert look_alike.get("/time-entries").json == []
    assert look_alike.get("/time-entries?user_id=*").status_code == 403
    running = granted.get("/time-entries/running").json
    assert look_alike.put(f"/time-entries/{running['id']}", json={}).status_code == 403
    assert look_alike.post(f"/time-entries/{running['id']}/stop").status_code == 403

    users = {user["id"]: user for user in admin.get("/users").json}
    assert users[look_alike.user_id]["roles"] == []
    assert users[granted.user_id]["roles"] == ["time-tracker-admin"]
    assert users[granted.user_id]["email"] == f"{granted.user_id}@example.com"
    assert admin.get(f"/time-entries?user_id={look_alike.user_id}").json == []
    assert [e["id"] for e in admin.get(f"/time-entries?user_id={granted.user_id}").json] == [
        running["id"]
    ]
    # A grant to the look-alike is its own: revoking it leaves the original's alone.
    assert admin.post(f"/users/{look_alike.user_id}/roles/admin/grant").status_code == 200
    assert admin.post(f"/users/{look_alike.user_id}/roles/admin/revoke").status_code == 200
    assert granted.post("/activities", json={"name": "Still mine"}).status_code == 201
