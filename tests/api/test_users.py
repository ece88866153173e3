"""Users over HTTP: recorded from tokens, roles granted by admins within their tenant."""

from __future__ import annotations

import pytest

from tests.conftest import TESTER, Caller


def test_the_first_request_records_the_caller(admin, member):
    member.get("/activities")
    listed = {user["id"]: user for user in admin.get("/users").json}
    recorded = listed[member.user_id]
    assert recorded == {
        "id": member.user_id,
        "name": None,
        "email": f"{member.user_id}@example.com",
        "roles": [],
        "groups": [],
        "created_at": recorded["created_at"],
        "updated_at": recorded["created_at"],
    }
    assert listed[admin.user_id]["roles"] == ["time-tracker-admin"]


def test_users_of_other_tenants_are_invisible(admin, stranger):
    stranger.get("/users")
    assert admin.get(f"/users/{stranger.user_id}").status_code == 404
    assert stranger.user_id not in [u["id"] for u in admin.get("/users").json]


def test_testers_are_listed_to_testers_only(client, admin, tenant):
    tester = Caller(client, tenant, "tester-1", (TESTER,))
    tester.get("/users")
    assert "tester-1" not in [u["id"] for u in admin.get("/users").json]
    assert admin.get("/users/tester-1").json["roles"] == ["time-tracker-tester"]
    assert "tester-1" in [u["id"] for u in tester.get("/users").json]


def test_an_admin_grant_makes_a_member_admin_until_revoked(admin, member):
    member.get("/users")
    assert member.post("/activities", json={"name": "Nope"}).status_code == 403
    granted = admin.post(f"/users/{member.user_id}/roles/admin/grant")
    assert granted.status_code == 200
    assert granted.json["roles"] == ["time-tracker-admin"]
    assert member.post("/activities", json={"name": "Yes"}).status_code == 201
    revoked = admin.post(f"/users/{member.user_id}/roles/admin/revoke")
    assert revoked.json["roles"] == []
    assert member.post("/activities", json={"name": "Again"}).status_code == 403


def test_groups_can_be_added_checked_and_removed(admin, member):
    member.get("/users")
    path = f"/users/{member.user_id}"
    group = {"group_name": "time-tracker-tester"}
    assert admin.post(f"{path}/is-member-of", json=group).json == {"value": False}
    assert admin.post(f"{path}/groups/add", json=group).json["groups"] == ["time-tracker-tester"]
    assert admin.post(f"{path}/is-member-of", json=group).json == {"value": True}
    assert admin.post(f"{path}/groups/remove", json=group).json["groups"] == []


@pytest.mark.parametrize(
    "path, body",
    [
        ("/roles/owner/grant", None),
        ("/groups/add", {"group_name": "time-tracker-owner"}),
        ("/is-member-of", {"group_name": "nope"}),
        ("/is-member-of", {}),
    ],
)
def test_unknown_roles_and_groups_are_bad_requests(admin, member, path, body):
    member.get("/users")
    response = admin.post(f"/users/{member.user_id}{path}", json=body)
    assert response.status_code == 400
    assert response.json["code"] == "validation_error"


@pytest.mark.parametrize(
    "path, body",
    [
        ("/roles/admin/grant", None),
        ("/roles/admin/revoke", None),
        ("/groups/add", {"group_name": "time-tracker-admin"}),
        ("/groups/remove", {"group_name": "time-tracker-admin"}),
        ("/is-member-of", {"group_name": "time-tracker-admin"}),
    ],
)
def test_members_cannot_manage_roles(admin, member, path, body):
    assert member.post(f"/users/{admin.user_id}{path}", json=body).status_code == 403


def test_granting_to_an_unknown_user_is_not_found(admin):
    assert admin.post("/users/nobody/roles/admin/grant").status_code == 404
