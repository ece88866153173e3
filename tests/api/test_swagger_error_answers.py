"""Each operation of the Swagger document lists exactly the 4xx answers it can give.

Where they come from (time_tracker_api/errors.py maps the domain exceptions):
- 400 on every operation: each request's path, query string and `X-Fields` mask are checked
  (and an authenticated one's token claims); bodies and parameters where there are some.
- 401, 429 on every authenticated operation; 404 where the path names a record.
- 403 (`Forbidden`) where a service refuses a member, a non-owner or a disabled feature.
- 409 on every write (`idempotency_key_in_use`), and `AlreadyExists` / `Conflict` where a
  name, an email, a running entry, a token's role or the webhook limit can clash.
- 413 where there is a body; 422 on every write (`idempotency_key_reused`), and `Unprocessable`
  where an entry overlaps another, is already stopped or already running.
- No If-Match (no 412, 428): the API sends no ETag.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from commons.domain.webhooks import MAX_WEBHOOKS_PER_TENANT
from tests.conftest import Caller

READ = {400, 401, 429}
READ_ONE = READ | {404}
# A write without a body: its Idempotency-Key's 409 and 422.
WRITE = READ | {409, 422}
WRITE_BODY = WRITE | {413}
EXPECTED: dict[tuple[str, str], set[int]] = {
    ("GET", "/health"): {400},
    ("GET", "/ready"): {400},
    ("GET", "/feature-toggles"): READ,
    ("GET", "/events"): READ | {403},
    ("GET", "/reports/summary"): READ | {403},
    ("GET", "/reports/entries"): READ | {403},
    ("GET", "/time-entries"): READ | {403},
    ("GET", "/time-entries/paginated"): READ | {403},
    ("GET", "/time-entries/running"): READ,
    ("GET", "/time-entries/latest"): READ,
    ("GET", "/time-entries/summary"): READ,
    ("POST", "/time-entries"): WRITE_BODY,
    ("GET", "/time-entries/{id}"): READ_ONE | {403},
    ("PUT", "/time-entries/{id}"): WRITE_BODY | {403, 404},
    ("DELETE", "/time-entries/{id}"): WRITE | {403, 404},
    ("POST", "/time-entries/{id}/stop"): WRITE | {403, 404},
    ("POST", "/time-entries/{id}/restart"): WRITE | {403, 404},
    ("GET", "/projects/recent"): READ,
    ("GET", "/users"): READ,
    ("POST", "/users"): WRITE_BODY | {403},
    ("GET", "/users/{id}"): READ_ONE,
    ("POST", "/users/{id}/roles/{role}/{action}"): WRITE | {403, 404},
    ("POST", "/users/{id}/groups/{action}"): WRITE_BODY | {403, 404},
    ("POST", "/users/{id}/is-member-of"): WRITE_BODY | {403, 404},
    ("GET", "/webhooks"): READ | {403},
    ("POST", "/webhooks"): WRITE_BODY | {403},
    ("GET", "/webhooks/{id}"): READ_ONE | {403},
    ("PUT", "/webhooks/{id}"): WRITE_BODY | {403, 404},
    ("DELETE", "/webhooks/{id}"): WRITE | {403, 404},
    ("POST", "/webhooks/{id}/ping"): WRITE | {403, 404},
    ("GET", "/webhooks/{id}/deliveries"): READ_ONE | {403},
}
CATALOG_PATHS = ("/activities", "/customers", "/project-types", "/projects", "/technologies")
for catalog_path in CATALOG_PATHS:
    # Members may create technologies; every other catalog change is the admins'.
    create_403 = set() if catalog_path == "/technologies" else {403}
    EXPECTED[("GET", catalog_path)] = READ
    EXPECTED[("POST", catalog_path)] = WRITE_BODY | create_403
    EXPECTED[("GET", f"{catalog_path}/{{id}}")] = READ_ONE
    EXPECTED[("PUT", f"{catalog_path}/{{id}}")] = WRITE_BODY | {403, 404}
    EXPECTED[("DELETE", f"{catalog_path}/{{id}}")] = WRITE | {403, 404}
# 409 and 422 beyond the Idempotency-Key's: the operations whose own rules can refuse so.
DOMAIN_409 = {
    *(("POST", path) for path in CATALOG_PATHS),  # a taken name
    *(("PUT", f"{path}/{{id}}") for path in CATALOG_PATHS),
    ("POST", "/time-entries"),  # a running entry
    ("PUT", "/time-entries/{id}"),
    ("POST", "/time-entries/{id}/restart"),
    ("POST", "/users"),  # a taken email
    ("POST", "/users/{id}/roles/{role}/{action}"),  # the token's role
    ("POST", "/users/{id}/groups/{action}"),
    ("POST", "/webhooks"),  # the tenant's limit
}
DOMAIN_422 = {
    ("POST", "/time-entries"),
    ("PUT", "/time-entries/{id}"),
    ("POST", "/time-entries/{id}/stop"),
    ("POST", "/time-entries/{id}/restart"),
}
IDEMPOTENCY_ONLY = {
    409: "A request with this Idempotency-Key is still in progress",
    422: "This Idempotency-Key was used with another request",
}


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    }


def test_each_operation_documents_exactly_the_4xx_answers_it_can_give(client):
    documented = {
        key: {int(status) for status in operation["responses"] if status.startswith("4")}
        for key, operation in operations(client.get("/swagger.json").json).items()
    }
    assert set(documented) == set(EXPECTED), "a new operation: add it to EXPECTED"
    wrong = {key: codes for key, codes in documented.items() if codes != EXPECTED[key]}
    assert wrong == {}, {key: sorted(EXPECTED[key]) for key in wrong}


def test_authenticated_operations_document_503_and_public_ones_only_ready(client):
    for (method, path), operation in operations(client.get("/swagger.json").json).items():
        public = path in ("/health", "/ready")
        assert ("503" in operation["responses"]) is (path != "/health"), (method, path)
        assert ("401" in operation["responses"]) is not public, (method, path)


@pytest.mark.parametrize("status, domain", [(409, DOMAIN_409), (422, DOMAIN_422)])
def test_a_409_or_422_says_which_rule_refuses_where_more_than_the_key_can(client, status, domain):
    for key, operation in operations(client.get("/swagger.json").json).items():
        response = operation["responses"].get(str(status))
        if response is None:
            continue
        idempotency_only = response["description"].startswith(IDEMPOTENCY_ONLY[status])
        assert idempotency_only is (key not in domain), (key, response["description"])


def test_no_operation_documents_if_match_answers(client):
    text = str(client.get("/swagger.json").json)
    assert "If-Match" not in text
    for operation in operations(client.get("/swagger.json").json).values():
        assert not {"412", "428"} & set(operation["responses"])


@pytest.fixture(autouse=True)
def no_webhook_left_behind(webhooks_removed, tenant):
    webhooks_removed.append(tenant)


# Records the refused calls below name, created by an admin of the tenant.
World = dict[str, str]


def world(admin: Caller, member: Caller) -> World:
    customer = admin.post("/customers", json={"name": "Acme"}).json["id"]
    project = admin.post("/projects", json={"name": "Site", "customer_id": customer}).json["id"]
    activity = admin.post("/activities", json={"name": "Development"}).json["id"]
    entry = {"project_id": project, "activity_id": activity}
    finished = {**entry, "start_date": "2025-01-06T09:00:00Z", "end_date": "2025-01-06T10:00:00Z"}
    records = {
        "customer": customer,
        "project": project,
        "activity": activity,
        "project_type": admin.post("/project-types", json={"name": "Web"}).json["id"],
        "technology": admin.post("/technologies", json={"name": "python"}).json["id"],
        "admin_entry": admin.post("/time-entries", json=finished).json["id"],
        "member_entry": member.post("/time-entries", json=finished).json["id"],
        "webhook": admin.post(
            "/webhooks", json={"url": "https://93.184.215.14/hook", "events": ["*"]}
        ).json["id"],
        "member_id": member.user_id,
    }
    assert all(records.values()), records
    return records


CATALOG = {
    "activities": "activity",
    "customers": "customer",
    "project-types": "project_type",
    "projects": "project",
    "technologies": "technology",
}
# (method, documented path, the path called, its body): what a member is refused (403).
MEMBER_REFUSALS: list[tuple[str, str, str, Any]] = [
    ("GET", "/events", "/events", None),
    (
        "GET",
        "/reports/summary",
        "/reports/summary?start_date=2025-01-01&end_date=2025-01-31&user_id=*",
        None,
    ),
    (
        "GET",
        "/reports/entries",
        "/reports/entries?start_date=2025-01-01&end_date=2025-01-31&user_id=*",
        None,
    ),
    ("GET", "/time-entries", "/time-entries?user_id=*", None),
    ("GET", "/time-entries/paginated", "/time-entries/paginated?user_id=*", None),
    ("GET", "/time-entries/{id}", "/time-entries/{admin_entry}", None),
    ("POST", "/users", "/users", {"email": "new@example.com"}),
    ("POST", "/users/{id}/roles/{role}/{action}", "/users/{member_id}/roles/admin/grant", None),
    (
        "POST",
        "/users/{id}/groups/{action}",
        "/users/{member_id}/groups/add",
        {"group_name": "time-tracker-tester"},
    ),
    (
        "POST",
        "/users/{id}/is-member-of",
        "/users/{member_id}/is-member-of",
        {"group_name": "time-tracker-tester"},
    ),
    ("GET", "/webhooks", "/webhooks", None),
    ("POST", "/webhooks", "/webhooks", {"url": "https://93.184.215.14/x", "events": ["*"]}),
    ("GET", "/webhooks/{id}", "/webhooks/{webhook}", None),
    ("PUT", "/webhooks/{id}", "/webhooks/{webhook}", {"enabled": False}),
    ("DELETE", "/webhooks/{id}", "/webhooks/{webhook}", None),
    ("POST", "/webhooks/{id}/ping", "/webhooks/{webhook}/ping", None),
    ("GET", "/webhooks/{id}/deliveries", "/webhooks/{webhook}/deliveries", None),
]
for catalog, record in CATALOG.items():
    if catalog != "technologies":
        MEMBER_REFUSALS.append(("POST", f"/{catalog}", f"/{catalog}", {"name": "Mine"}))
    MEMBER_REFUSALS.append(("PUT", f"/{catalog}/{{id}}", f"/{catalog}/{{{record}}}", {}))
    MEMBER_REFUSALS.append(("DELETE", f"/{catalog}/{{id}}", f"/{catalog}/{{{record}}}", None))
# Not even an admin changes someone else's entry.
ADMIN_REFUSALS = [
    ("PUT", "/time-entries/{id}", "/time-entries/{member_entry}", {"description": "Mine now"}),
    ("DELETE", "/time-entries/{id}", "/time-entries/{member_entry}", None),
    ("POST", "/time-entries/{id}/stop", "/time-entries/{member_entry}/stop", None),
    ("POST", "/time-entries/{id}/restart", "/time-entries/{member_entry}/restart", None),
]


def send(caller: Caller, method: str, path: str, body: Any) -> Any:
    call: Callable[..., Any] = getattr(caller, method.lower())
    return call(path, json=body) if body is not None else call(path)


def test_every_documented_403_is_provoked_below():
    provoked = {(method, path) for method, path, _, _ in MEMBER_REFUSALS + ADMIN_REFUSALS}
    assert provoked == {key for key, codes in EXPECTED.items() if 403 in codes}


@pytest.mark.parametrize(
    "method, documented, path, body",
    MEMBER_REFUSALS,
    ids=[f"{method} {documented}" for method, documented, _, _ in MEMBER_REFUSALS],
)
def test_a_member_is_refused_where_the_document_says_403(
    admin, member, method, documented, path, body
):
    records = world(admin, member)
    response = send(member, method, path.format(**records), body)
    assert response.status_code == 403, response.json
    assert response.json["code"] == "forbidden"


@pytest.mark.parametrize(
    "method, documented, path, body",
    ADMIN_REFUSALS,
    ids=[f"{method} {documented}" for method, documented, _, _ in ADMIN_REFUSALS],
)
def test_an_admin_is_refused_another_users_entry_as_the_document_says(
    admin, member, method, documented, path, body
):
    records = world(admin, member)
    response = send(admin, method, path.format(**records), body)
    assert response.status_code == 403, response.json


def test_technologies_are_created_by_members_too(member):
    assert member.post("/technologies", json={"name": "rust"}).status_code == 201


@pytest.mark.parametrize("catalog", list(CATALOG))
def test_a_taken_name_is_409_on_create_and_update(admin, catalog):
    body: dict[str, Any] = {"name": "Taken"}
    if catalog == "projects":
        body["customer_id"] = admin.post("/customers", json={"name": "C"}).json["id"]
    assert admin.post(f"/{catalog}", json=body).status_code == 201
    again = admin.post(f"/{catalog}", json=body)
    assert again.status_code == 409, again.json
    assert again.json["code"] == "already_exists"
    other = admin.post(f"/{catalog}", json={**body, "name": "Free"}).json["id"]
    renamed = admin.put(f"/{catalog}/{other}", json={"name": "taken"})
    assert renamed.status_code == 409, renamed.json


def test_a_second_running_entry_is_409_on_create_update_and_restart(admin, member):
    records = world(admin, member)
    entry = {"project_id": records["project"], "activity_id": records["activity"]}
    assert admin.post("/time-entries", json=entry).status_code == 201  # runs
    second = admin.post("/time-entries", json=entry)
    assert second.status_code == 409 and second.json["code"] == "running_entry_exists"
    reopened = admin.put(f"/time-entries/{records['admin_entry']}", json={"end_date": None})
    assert reopened.status_code == 409 and reopened.json["code"] == "running_entry_exists"
    restarted = admin.post(f"/time-entries/{records['admin_entry']}/restart")
    assert restarted.status_code == 409 and restarted.json["code"] == "running_entry_exists"


def test_an_overlap_and_a_stopped_or_running_state_are_422(admin, member):
    records = world(admin, member)
    entry = {"project_id": records["project"], "activity_id": records["activity"]}
    overlapping = {**entry, "start_date": "2025-01-06T09:30:00Z", "end_date": "2025-01-06T11:00Z"}
    created = admin.post("/time-entries", json=overlapping)
    assert created.status_code == 422 and created.json["code"] == "overlapping_time_entry"
    stopped = admin.post(f"/time-entries/{records['admin_entry']}/stop")
    assert stopped.status_code == 422 and stopped.json["code"] == "already_stopped"
    running = admin.post("/time-entries", json=entry).json["id"]
    restarted = admin.post(f"/time-entries/{running}/restart")
    assert restarted.status_code == 422 and restarted.json["code"] == "already_running"
    moved = admin.put(f"/time-entries/{running}", json=overlapping)
    assert moved.status_code == 422 and moved.json["code"] == "overlapping_time_entry"


def test_a_taken_email_is_409(admin):
    assert admin.post("/users", json={"email": "twice@example.com"}).status_code == 201
    again = admin.post("/users", json={"email": "Twice@example.com"})
    assert again.status_code == 409 and again.json["code"] == "already_exists"


def test_a_role_or_group_from_the_token_is_409_to_take_away(admin):
    admin.get("/users")  # recorded
    revoked = admin.post(f"/users/{admin.user_id}/roles/admin/revoke")
    assert revoked.status_code == 409 and revoked.json["code"] == "role_from_identity_provider"
    removed = admin.post(
        f"/users/{admin.user_id}/groups/remove", json={"group_name": "time-tracker-admin"}
    )
    assert removed.status_code == 409 and removed.json["code"] == "role_from_identity_provider"


def test_one_webhook_beyond_the_limit_is_409(admin):
    for number in range(MAX_WEBHOOKS_PER_TENANT):
        body = {"url": f"https://93.184.215.14/{number}", "events": ["*"]}
        assert admin.post("/webhooks", json=body).status_code == 201
    beyond = admin.post("/webhooks", json={"url": "https://93.184.215.14/x", "events": ["*"]})
    assert beyond.status_code == 409 and beyond.json["code"] == "conflict"


@pytest.mark.parametrize(
    "path, headers",
    [
        ("/health?name=%00", {}),
        ("/users/me%00", {}),
        ("/time-entries/running?x=%FF", {}),
        ("/users", {"X-Fields": "name{"}),
    ],
)
def test_an_operation_without_parameters_still_answers_400_as_documented(admin, path, headers):
    response = admin.get(path, headers=headers)
    assert response.status_code == 400, response.json
    assert response.json["code"] == "validation_error"


def test_a_value_that_is_no_uuid_in_a_path_is_404_as_documented(admin):
    assert admin.get(f"/customers/{uuid.uuid4()}").status_code == 404
    assert admin.get("/customers/not-a-uuid").status_code == 404
