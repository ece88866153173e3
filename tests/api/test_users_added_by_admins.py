"""Users an admin adds by email before their first login, and roles the token itself gives."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

from tests.conftest import ADMIN, Caller, make_token

TIMEOUT = 60


def colleague_email() -> str:
    return f"Colleague.{uuid.uuid4().hex[:8]}@Example.com"


def test_an_added_user_is_listed_before_their_first_login(admin):
    email = colleague_email()
    added = admin.post("/users", json={"email": email, "name": "Ada"})
    assert added.status_code == 201, added.json
    assert added.json == {
        "id": added.json["id"],
        "name": "Ada",
        "email": email,
        "roles": [],
        "groups": [],
        "created_at": added.json["created_at"],
        "updated_at": added.json["created_at"],
    }
    uuid.UUID(added.json["id"])
    assert admin.get(f"/users/{added.json['id']}").json == added.json
    assert added.json in admin.get("/users").json


def test_the_first_login_in_another_case_keeps_what_was_granted_before(client, tenant, admin):
    email = colleague_email()
    added = admin.post("/users", json={"email": email}).json
    granted = admin.post(f"/users/{added['id']}/roles/admin/grant")
    assert granted.json["roles"] == [ADMIN]
    colleague = Caller(client, tenant, f"oid-{uuid.uuid4()}", email=email.lower())
    # The grant holds from the very first request: an admin-only write succeeds.
    assert colleague.post("/activities", json={"name": "Onboarding"}).status_code == 201
    listed = [user for user in admin.get("/users").json if user["email"].lower() == email.lower()]
    assert listed == [
        {
            "id": colleague.user_id,
            "name": None,
            "email": email.lower(),
            "roles": [ADMIN],
            "groups": [ADMIN],
            "created_at": added["created_at"],
            "updated_at": listed[0]["updated_at"],
        }
    ]
    stamps = (listed[0]["updated_at"], granted.json["updated_at"], added["updated_at"])
    assert [datetime.fromisoformat(s) for s in stamps] == sorted(
        (datetime.fromisoformat(s) for s in stamps), reverse=True
    )
    assert admin.get(f"/users/{added['id']}").status_code == 404


@pytest.mark.parametrize("existing", ["added", "logged in"])
def test_an_email_the_tenant_has_is_refused_in_any_case(client, tenant, admin, existing):
    email = colleague_email()
    if existing == "added":
        assert admin.post("/users", json={"email": email}).status_code == 201
    else:
        Caller(client, tenant, f"oid-{uuid.uuid4()}", email=email).get("/users")
    again = admin.post("/users", json={"email": email.upper()})
    assert again.status_code == 409
    assert again.json["code"] == "already_exists"
    assert again.json["errors"] == {"email": "already exists"}


def test_the_same_email_in_another_tenant_is_another_user(admin, stranger):
    email = colleague_email()
    assert admin.post("/users", json={"email": email}).status_code == 201
    assert stranger.post("/users", json={"email": email}).status_code == 201


@pytest.mark.parametrize("body", [{"email": "a@example.com"}, {"email": 12}, {}, None])
def test_members_cannot_add_users_whatever_the_body(member, body):
    response = member.post("/users", json=body)
    assert response.status_code == 403
    assert response.json["code"] == "forbidden"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": None},
        {"email": 12},
        {"email": ""},
        {"email": "nobody"},
        {"email": "@example.com"},
        {"email": "someone@"},
        {"email": "some@one@example.com"},
        {"email": "some one@example.com"},
        {"email": "someone@example.com\n"},
        {"email": f"{'a' * 310}@example.com"},
        {"email": "someone@example.com", "name": 5},
        {"email": "someone@example.com", "name": "n" * 201},
    ],
)
def test_bad_emails_and_names_are_bad_requests(admin, body):
    response = admin.post("/users", json=body)
    assert response.status_code == 400, response.json
    assert response.json["code"] == "validation_error"
    assert set(response.json["errors"]) <= {"email", "name"}
    assert response.json["errors"]


def test_an_email_of_the_longest_length_is_accepted(admin):
    email = f"{'a' * 64}@{'b' * 251}.com"
    assert len(email) == 320
    assert admin.post("/users", json={"email": email}).status_code == 201


def race(calls):
    barrier = threading.Barrier(len(calls))

    def send(call):
        barrier.wait(timeout=TIMEOUT)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, calls))


def first_login(served, tenant, user_id, email):
    token = make_token(tenant, user_id, email=email)
    headers = {"Authorization": f"Bearer {token}"}
    return lambda: requests.get(f"{served}/users", headers=headers, timeout=TIMEOUT).status_code


def prepared(admin, served):
    """An added user holding the admin role, added through the served app."""
    email = colleague_email()
    headers = admin.headers()
    added = requests.post(f"{served}/users", json={"email": email}, headers=headers, timeout=60)
    assert added.status_code == 201, added.text
    user_id = added.json()["id"]
    path = f"{served}/users/{user_id}/roles/admin/grant"
    assert requests.post(path, headers=headers, timeout=TIMEOUT).status_code == 200
    return email


def users_with(admin, email):
    return [user for user in admin.get("/users").json if user["email"].lower() == email.lower()]


def test_racing_first_logins_of_one_person_leave_one_user_with_the_grant(served, tenant, admin):
    email = prepared(admin, served)
    user_id = f"oid-{uuid.uuid4()}"
    spellings = [email, email.lower(), email.upper()] * 2
    assert race([first_login(served, tenant, user_id, e) for e in spellings]) == [200] * 6
    found = users_with(admin, email)
    assert [(user["id"], user["roles"]) for user in found] == [(user_id, [ADMIN])]


def test_racing_first_logins_of_two_identities_match_the_added_user_once(served, tenant, admin):
    email = prepared(admin, served)
    user_ids = [f"oid-{uuid.uuid4()}", f"oid-{uuid.uuid4()}"]
    logins = [first_login(served, tenant, u, e) for u in user_ids for e in (email, email.lower())]
    assert race(logins) == [200] * 4
    found = users_with(admin, email)
    assert sorted(user["id"] for user in found) == sorted(user_ids)
    assert sorted(user["roles"] for user in found) == [[], [ADMIN]]


def test_revoking_a_role_the_token_gives_is_a_conflict(admin):
    admin.get("/users")
    before = admin.get(f"/users/{admin.user_id}").json
    for path, body in [("/roles/admin/revoke", None), ("/groups/remove", {"group_name": ADMIN})]:
        response = admin.post(f"/users/{admin.user_id}{path}", json=body)
        assert response.status_code == 409
        assert response.json["code"] == "role_from_identity_provider"
        assert "identity provider" in response.json["message"]
    assert admin.get(f"/users/{admin.user_id}").json == before
    assert admin.post("/activities", json={"name": "Still admin"}).status_code == 201


def test_revoking_a_granted_role_still_works(admin, member):
    member.get("/users")
    admin.post(f"/users/{member.user_id}/roles/admin/grant")
    revoked = admin.post(f"/users/{member.user_id}/roles/admin/revoke")
    assert revoked.status_code == 200
    assert revoked.json["roles"] == []
    assert member.post("/activities", json={"name": "Not any more"}).status_code == 403


def test_the_swagger_document_describes_adding_users_and_the_identity_provider_conflict(client):
    document = client.get("/swagger.json").json
    add = document["paths"]["/users"]["post"]
    assert {"201", "400", "403", "409"} <= set(add["responses"])
    schema = document["definitions"]["UserInput"]
    assert schema["required"] == ["email"]
    assert schema["properties"]["email"]["maxLength"] == 320
    for path in ("/users/{id}/roles/{role}/{action}", "/users/{id}/groups/{action}"):
        conflict = document["paths"][path]["post"]["responses"]["409"]["description"]
        assert "identity provider" in conflict


def test_racing_additions_of_one_email_add_one_user(served, admin):
    email = colleague_email()
    headers = admin.headers()

    def add(spelling):
        return lambda: (
            requests.post(
                f"{served}/users", json={"email": spelling}, headers=headers, timeout=TIMEOUT
            ).status_code
        )

    answers = race([add(spelling) for spelling in (email, email.lower(), email.upper()) * 2])
    assert sorted(answers) == [201] + [409] * 5
    assert len(users_with(admin, email)) == 1
