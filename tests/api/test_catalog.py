"""The catalog over HTTP on every SQL backend: CRUD, rules, permissions, tenancy."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import ADMIN, make_token

RESOURCES = ["activities", "customers", "project-types", "projects", "technologies"]


def new_customer(admin, name="ACME"):
    response = admin.post("/customers", json={"name": name, "description": "A customer"})
    assert response.status_code == 201, response.json
    return response.json


def payload_for(admin, resource, name="Thing"):
    if resource == "projects":
        return {"name": name, "customer_id": new_customer(admin, f"C {uuid.uuid4().hex[:6]}")["id"]}
    return {"name": name}


def test_an_admin_creates_and_reads_an_activity(admin):
    created = admin.post("/activities", json={"name": "Development", "description": "Code"})
    assert created.status_code == 201
    body = created.json
    uuid.UUID(body["id"], version=4)
    assert body["tenant_id"] == admin.tenant_id
    assert body["status"] == "active"
    assert body["deleted"] is None
    assert admin.get(f"/activities/{body['id']}").json == body
    assert admin.get("/activities").json == [body]


@pytest.mark.parametrize("resource", RESOURCES)
def test_members_read_the_catalog(admin, member, resource):
    created = admin.post(f"/{resource}", json=payload_for(admin, resource))
    assert created.status_code == 201, created.json
    assert member.get(f"/{resource}/{created.json['id']}").status_code == 200
    assert created.json["id"] in [item["id"] for item in member.get(f"/{resource}").json]


@pytest.mark.parametrize("resource", ["activities", "customers", "project-types", "projects"])
def test_members_cannot_change_admin_only_resources(admin, member, resource):
    assert member.post(f"/{resource}", json=payload_for(admin, resource)).status_code == 403
    existing = admin.post(f"/{resource}", json=payload_for(admin, resource)).json
    forbidden = [
        member.put(f"/{resource}/{existing['id']}", json={"name": "Renamed"}),
        member.delete(f"/{resource}/{existing['id']}"),
    ]
    assert [response.status_code for response in forbidden] == [403, 403]
    assert forbidden[0].json["code"] == "forbidden"
    assert admin.get(f"/{resource}/{existing['id']}").json["name"] == existing["name"]


def test_members_may_create_technologies(member):
    response = member.post("/technologies", json={"name": "Python"})
    assert response.status_code == 201
    assert response.json["creation_date"].endswith("+00:00")


@pytest.mark.parametrize("resource", RESOURCES)
def test_another_tenants_record_is_not_found(admin, stranger, resource):
    created = admin.post(f"/{resource}", json=payload_for(admin, resource)).json
    for response in (
        stranger.get(f"/{resource}/{created['id']}"),
        stranger.put(f"/{resource}/{created['id']}", json={"name": "Mine"}),
        stranger.delete(f"/{resource}/{created['id']}"),
    ):
        assert response.status_code == 404
        assert response.json["code"] == "not_found"
    assert created["id"] not in [item["id"] for item in stranger.get(f"/{resource}").json]
    assert admin.get(f"/{resource}/{created['id']}").json["name"] == created["name"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_names_are_unique_per_tenant_ignoring_case_and_spaces(admin, stranger, resource):
    payload = payload_for(admin, resource, "Backend")
    assert admin.post(f"/{resource}", json=payload).status_code == 201
    duplicate = admin.post(f"/{resource}", json={**payload, "name": "  backEND "})
    assert duplicate.status_code == 409
    assert duplicate.json["code"] == "already_exists"
    other_tenant_payload = payload_for(stranger, resource, "Backend")
    assert stranger.post(f"/{resource}", json=other_tenant_payload).status_code == 201


def test_renaming_onto_a_taken_name_is_a_conflict(admin):
    admin.post("/activities", json={"name": "Design"})
    other = admin.post("/activities", json={"name": "Testing"}).json
    response = admin.put(f"/activities/{other['id']}", json={"name": "DESIGN"})
    assert response.status_code == 409
    assert admin.get(f"/activities/{other['id']}").json["name"] == "Testing"


def test_project_names_are_unique_within_their_customer_only(admin):
    first, second = new_customer(admin, "First"), new_customer(admin, "Second")
    assert (
        admin.post("/projects", json={"name": "Web", "customer_id": first["id"]}).status_code == 201
    )
    assert (
        admin.post("/projects", json={"name": "web", "customer_id": first["id"]}).status_code == 409
    )
    assert (
        admin.post("/projects", json={"name": "Web", "customer_id": second["id"]}).status_code
        == 201
    )


def test_internal_project_types_share_one_namespace(admin):
    assert admin.post("/project-types", json={"name": "Internal"}).status_code == 201
    assert admin.post("/project-types", json={"name": "internal"}).status_code == 409


@pytest.mark.parametrize("resource", ["activities", "customers", "projects"])
def test_delete_archives_and_the_record_stays_readable(admin, resource):
    created = admin.post(f"/{resource}", json=payload_for(admin, resource)).json
    assert admin.delete(f"/{resource}/{created['id']}").status_code == 204
    archived = admin.get(f"/{resource}/{created['id']}")
    assert archived.status_code == 200
    assert archived.json["status"] == "inactive"
    assert [i["id"] for i in admin.get(f"/{resource}?status=inactive").json] == [created["id"]]
    assert created["id"] not in [i["id"] for i in admin.get(f"/{resource}?status=active").json]


@pytest.mark.parametrize("resource", ["project-types", "technologies"])
def test_delete_hides_the_record_for_good_and_frees_its_name(admin, resource):
    created = admin.post(f"/{resource}", json={"name": "Gone"}).json
    assert admin.delete(f"/{resource}/{created['id']}").status_code == 204
    assert admin.get(f"/{resource}/{created['id']}").status_code == 404
    assert admin.put(f"/{resource}/{created['id']}", json={"name": "Back"}).status_code == 404
    assert admin.delete(f"/{resource}/{created['id']}").status_code == 404
    assert created["id"] not in [i["id"] for i in admin.get(f"/{resource}").json]
    assert admin.post(f"/{resource}", json={"name": "gone"}).status_code == 201


def test_a_deleted_project_type_cannot_be_referenced(admin):
    gone = admin.post("/project-types", json={"name": "Old"}).json
    admin.delete(f"/project-types/{gone['id']}")
    response = admin.post("/project-types", json={"name": "Child", "parent_id": gone["id"]})
    assert response.status_code == 400
    assert "parent_id" in response.json["errors"]


def test_projects_carry_their_customer_and_project_type(admin):
    customer = new_customer(admin, "Globex")
    project_type = admin.post(
        "/project-types",
        json={"name": "Fixed price", "description": "Paid once", "customer_id": customer["id"]},
    ).json
    project = admin.post(
        "/projects",
        json={
            "name": "Portal",
            "customer_id": customer["id"],
            "project_type_id": project_type["id"],
            "technologies": ["python", "react"],
        },
    )
    assert project.status_code == 201, project.json
    body = project.json
    assert body["customer_name"] == "Globex"
    assert body["customer"] == {"name": "Globex", "description": "A customer"}
    assert body["project_type"] == {"name": "Fixed price", "description": "Paid once"}
    assert body["technologies"] == ["python", "react"]
    assert admin.get("/projects").json == [body]


def test_projects_of_archived_customers_are_hidden_from_lists_only(admin):
    customer = new_customer(admin, "Leaving")
    project = admin.post("/projects", json={"name": "Last", "customer_id": customer["id"]}).json
    admin.delete(f"/customers/{customer['id']}")
    assert admin.get("/projects").json == []
    assert admin.get(f"/projects/{project['id']}").status_code == 200


def test_project_lists_filter_by_customer_and_status(admin):
    first, second = new_customer(admin, "One"), new_customer(admin, "Two")
    a = admin.post("/projects", json={"name": "A", "customer_id": first["id"]}).json
    b = admin.post("/projects", json={"name": "B", "customer_id": second["id"]}).json
    admin.delete(f"/projects/{b['id']}")
    assert [p["id"] for p in admin.get(f"/projects?customer_id={first['id']}").json] == [a["id"]]
    assert [p["id"] for p in admin.get("/projects?status=inactive").json] == [b["id"]]
    assert admin.get("/projects?status=archived").status_code == 400
    assert admin.get("/projects?customer_id=nope").status_code == 400


def test_project_type_references_must_exist_in_the_tenant(admin, stranger):
    foreign = stranger.post("/customers", json={"name": "Theirs"}).json
    for payload, field in (
        ({"name": "X", "customer_id": foreign["id"]}, "customer_id"),
        ({"name": "Y", "parent_id": str(uuid.uuid4())}, "parent_id"),
    ):
        response = admin.post("/project-types", json=payload)
        assert response.status_code == 400
        assert field in response.json["errors"]


def test_project_types_cannot_become_their_own_ancestor(admin):
    root = admin.post("/project-types", json={"name": "Root"}).json
    child = admin.post("/project-types", json={"name": "Child", "parent_id": root["id"]}).json
    response = admin.put(f"/project-types/{root['id']}", json={"parent_id": child["id"]})
    assert response.status_code == 400
    assert admin.get(f"/project-types?parent_id={root['id']}").json[0]["id"] == child["id"]


def test_lists_are_ordered_by_name(admin):
    for name in ("charlie", "Alpha", "bravo"):
        admin.post("/activities", json={"name": name})
    assert [a["name"] for a in admin.get("/activities").json] == ["Alpha", "bravo", "charlie"]


def test_put_changes_only_the_given_fields(admin):
    created = admin.post("/customers", json={"name": "Initech", "description": "TPS"}).json
    updated = admin.put(f"/customers/{created['id']}", json={"description": None})
    assert updated.status_code == 200
    assert updated.json["name"] == "Initech"
    assert updated.json["description"] is None


def test_archived_records_can_be_reactivated(admin):
    created = admin.post("/activities", json={"name": "Paused"}).json
    admin.delete(f"/activities/{created['id']}")
    assert (
        admin.put(f"/activities/{created['id']}", json={"status": "active"}).json["status"]
        == "active"
    )


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 42}, "name"),
        ({"name": "x" * 51}, "name"),
        ({"name": "ok", "description": "x" * 251}, "description"),
        ({"name": "ok", "status": "deleted"}, "status"),
    ],
)
def test_invalid_customers_are_refused_with_field_errors(admin, payload, field):
    response = admin.post("/customers", json=payload)
    assert response.status_code == 400
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", "null", ""])
def test_bodies_that_are_not_json_objects_are_refused(admin, body):
    response = admin.post("/activities", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["code"] == "validation_error"


def test_a_project_needs_a_uuid_customer(admin):
    response = admin.post("/projects", json={"name": "P", "customer_id": "not-a-uuid"})
    assert response.status_code == 400
    assert "customer_id" in response.json["errors"]


def test_server_fields_in_a_body_are_ignored(admin, tenant):
    chosen = str(uuid.uuid4())
    response = admin.post(
        "/activities",
        json={
            "name": "Sneaky",
            "id": chosen,
            "tenant_id": "other",
            "deleted": "2020-01-01",
            "owner_id": "x",
            "extra": 1,
        },
    )
    assert response.status_code == 201
    body = response.json
    assert body["id"] != chosen
    assert body["tenant_id"] == tenant
    assert body["deleted"] is None
    assert "extra" not in body and "owner_id" not in body
    admin.put(f"/activities/{body['id']}", json={"tenant_id": "other", "id": chosen})
    assert admin.get(f"/activities/{body['id']}").json["tenant_id"] == tenant


def test_a_path_id_that_is_not_a_uuid_is_not_found(admin):
    response = admin.get("/activities/not-a-uuid")
    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_racing_duplicate_names_leave_one_record(served, tenant):
    token = make_token(tenant, "racer", (ADMIN,))
    headers = {"Authorization": f"Bearer {token}"}
    requests.get(f"{served}/activities", headers=headers, timeout=30)  # record the user first

    def create(index):
        return requests.post(
            f"{served}/activities",
            json={"name": "Racing" if index % 2 else "racing "},
            headers=headers,
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(create, range(16)))
    assert sorted(statuses) == [201] + [409] * 15
    assert len(requests.get(f"{served}/activities", headers=headers, timeout=30).json()) == 1
