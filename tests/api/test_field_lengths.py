"""Every string field of every input model has a maximum length, the same on every backend."""

from __future__ import annotations

import uuid

import pytest

from commons.domain import catalog
from commons.domain import time_entries as entries
from commons.domain.principal import GROUP_NAME_MAX_LENGTH
from tests.conftest import Caller

# (resource, field, limit, whether the field is a list of strings)
FIELDS = [
    ("activities", "name", catalog.NAME_MAX_LENGTH, False),
    ("activities", "description", catalog.ACTIVITY_DESCRIPTION_MAX_LENGTH, False),
    ("customers", "name", catalog.NAME_MAX_LENGTH, False),
    ("customers", "description", catalog.DESCRIPTION_MAX_LENGTH, False),
    ("project-types", "name", catalog.NAME_MAX_LENGTH, False),
    ("project-types", "description", catalog.DESCRIPTION_MAX_LENGTH, False),
    ("projects", "name", catalog.NAME_MAX_LENGTH, False),
    ("projects", "description", catalog.DESCRIPTION_MAX_LENGTH, False),
    ("projects", "technologies", catalog.NAME_MAX_LENGTH, True),
    ("technologies", "name", catalog.NAME_MAX_LENGTH, False),
    ("time-entries", "description", entries.DESCRIPTION_MAX_LENGTH, False),
    ("time-entries", "uri", entries.URI_MAX_LENGTH, False),
    ("time-entries", "technologies", catalog.NAME_MAX_LENGTH, True),
]
IDS = [f"{resource}.{field}" for resource, field, _, _ in FIELDS]
# Two and four bytes in UTF-8 (four in utf8mb4, two UTF-16 units): a column sized in bytes, or
# in a narrower character set, cannot hold the maximum.
CHARACTERS = ["é", "😀"]


def minimal_body(admin: Caller, resource: str) -> dict:
    """A valid body of a new record of the resource, references created as needed."""
    if resource == "projects":
        customer = admin.post("/customers", json={"name": f"C {uuid.uuid4().hex[:8]}"}).json
        return {"name": "Project", "customer_id": customer["id"]}
    if resource == "time-entries":
        project = admin.post("/projects", json=minimal_body(admin, "projects")).json
        activity = admin.post("/activities", json={"name": f"A {uuid.uuid4().hex[:8]}"}).json
        return {
            "project_id": project["id"],
            "activity_id": activity["id"],
            "start_date": "2026-03-10T09:00:00+00:00",
            "end_date": "2026-03-10T10:00:00+00:00",
        }
    return {"name": "Thing"}


def value(character: str, length: int, is_list: bool) -> str | list[str]:
    text = character * length
    return [text] if is_list else text


@pytest.mark.parametrize(("resource", "field", "limit", "is_list"), FIELDS, ids=IDS)
def test_a_value_over_the_maximum_length_is_refused(admin, resource, field, limit, is_list):
    body = minimal_body(admin, resource)
    too_long = value("é", limit + 1, is_list)
    created = admin.post(f"/{resource}", json={**body, field: too_long})
    assert created.status_code == 400, created.json
    assert created.json["code"] == "validation_error"
    assert created.json["errors"] == {field: f"must be at most {limit} characters"}

    existing = admin.post(f"/{resource}", json=body)
    assert existing.status_code == 201, existing.json
    updated = admin.put(f"/{resource}/{existing.json['id']}", json={field: too_long})
    assert updated.status_code == 400, updated.json
    assert updated.json["errors"] == {field: f"must be at most {limit} characters"}
    assert admin.get(f"/{resource}/{existing.json['id']}").json == existing.json


@pytest.mark.parametrize("character", CHARACTERS)
@pytest.mark.parametrize(("resource", "field", "limit", "is_list"), FIELDS, ids=IDS)
def test_a_value_of_the_maximum_length_is_stored_intact(
    admin, resource, field, limit, is_list, character
):
    longest = value(character, limit, is_list)
    created = admin.post(f"/{resource}", json={**minimal_body(admin, resource), field: longest})
    assert created.status_code == 201, created.json
    assert created.json[field] == longest
    assert admin.get(f"/{resource}/{created.json['id']}").json[field] == longest

    other = value("a", limit, is_list)
    updated = admin.put(f"/{resource}/{created.json['id']}", json={field: other})
    assert updated.status_code == 200, updated.json
    assert admin.get(f"/{resource}/{created.json['id']}").json[field] == other


def test_an_over_long_group_name_is_refused(admin):
    admin.get("/time-entries/running")  # the first request records the user
    for action in ("is-member-of", "groups/add"):
        response = admin.post(
            f"/users/{admin.user_id}/{action}",
            json={"group_name": "g" * (GROUP_NAME_MAX_LENGTH + 1)},
        )
        assert response.status_code == 400, response.json
        assert response.json["errors"] == {
            "group_name": f"must be at most {GROUP_NAME_MAX_LENGTH} characters"
        }
