"""The Swagger document a newcomer meets: error answers, wording, tag order."""

from __future__ import annotations

import json
import uuid

from commons.domain.principal import ADMIN_GROUP
from tests.conftest import Caller

ERROR_REF = {"$ref": "#/definitions/Error"}


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def test_every_authenticated_operation_answers_401_429_and_503_with_the_error_body(client):
    document = client.get("/swagger.json").json
    for path, method, operation in operations(document):
        if operation.get("security") == []:
            continue
        for status in ("401", "429", "503"):
            assert operation["responses"][status]["schema"] == ERROR_REF, (method, path, status)


def test_every_error_answer_has_the_error_body(client):
    document = client.get("/swagger.json").json
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert response["schema"] == ERROR_REF, (method, path, status)


def test_the_document_has_no_stray_flask_restx_errors(client):
    text = json.dumps(client.get("/swagger.json").json)
    assert "ParseError" not in text
    assert "MaskError" not in text


def test_the_tags_come_in_the_order_people_use_them(client):
    tags = [tag["name"] for tag in client.get("/swagger.json").json["tags"]]
    expected = ["time-entries", "projects", "activities", "customers", "project-types"]
    assert tags[: len(expected)] == expected
    assert tags[-1] == "health"


def test_summaries_and_operation_ids_are_good_english(client):
    document = client.get("/swagger.json").json
    text = json.dumps(document)
    assert "a activity" not in text.lower()
    assert "activitys" not in text
    assert "technologys" not in text
    ids = {operation["operationId"] for _, _, operation in operations(document)}
    assert {"list_activities", "list_technologies", "list_projects"} <= ids
    summary = document["paths"]["/activities"]["post"]["summary"]
    assert summary.startswith("Create an activity")


def example_of(document, name):
    """The body Swagger UI shows for a definition: each property's example."""
    properties = document["definitions"][name]["properties"]
    return {key: schema["example"] for key, schema in properties.items() if "example" in schema}


# Which record each id field and each path's {id} names, for the examples below.
REFERENCES = {
    "customer_id": "customer",
    "project_id": "project",
    "activity_id": "activity",
    "project_type_id": "project_type",
    "parent_id": "project_type",
    "first_use_time_entry_id": "time_entry",
}
PATH_RECORDS = {
    "activities": "activity",
    "customers": "customer",
    "project-types": "project_type",
    "projects": "project",
    "technologies": "technology",
    "time-entries": "time_entry",
    "users": "user",
    "webhooks": "webhook",
}


def records_of(admin, member):
    """One record of each kind, named unlike any example (names are unique)."""
    customer = admin.post("/customers", json={"name": "Fixture customer"}).json["id"]
    project = {"name": "Fixture project", "customer_id": customer}
    activity = admin.post("/activities", json={"name": "Fixture activity"}).json["id"]
    project_id = admin.post("/projects", json=project).json["id"]
    entry = {
        "project_id": project_id,
        "activity_id": activity,
        "start_date": "2025-01-07T09:00:00Z",
        "end_date": "2025-01-07T10:00:00Z",
    }
    webhook = {"url": "https://93.184.215.14/fixture", "events": ["*"]}
    member.get("/users")  # recorded
    records = {
        "customer": customer,
        "project": project_id,
        "activity": activity,
        "project_type": admin.post("/project-types", json={"name": "Fixture type"}).json["id"],
        "technology": admin.post("/technologies", json={"name": "Fixture tech"}).json["id"],
        "time_entry": admin.post("/time-entries", json=entry).json["id"],
        "webhook": admin.post("/webhooks", json=webhook).json["id"],
        "user": member.user_id,
    }
    assert all(records.values()), records
    return records


def example_request(document, path, operation, records):
    """The path and body Swagger UI shows for an operation, real ids in place of the ids a
    caller must fill in (required references, and the path's)."""
    parameters = [*document["paths"][path].get("parameters", []), *operation["parameters"]]
    body_parameter = next(p for p in parameters if p["in"] == "body")
    name = body_parameter["schema"]["$ref"].rsplit("/", 1)[-1]
    definition = document["definitions"][name]
    body = example_of(document, name)
    for field in definition.get("required", []):
        if field in REFERENCES:
            body[field] = records[REFERENCES[field]]
        assert field in body, f"{name}.{field} is required and has no example"
    url = path
    for parameter in parameters:
        if parameter["in"] == "path":
            if parameter["name"] == "id":
                value = records[PATH_RECORDS[path.split("/")[1]]]
            else:
                value = parameter["enum"][0]
            url = url.replace("{" + parameter["name"] + "}", value)
    return url, body


def test_every_body_example_is_accepted_as_shown(client, webhooks_removed):
    document = client.get("/swagger.json").json
    refused = {}
    for path, item in document["paths"].items():
        for method in ("post", "put"):
            operation = item.get(method)
            if operation is None or not any(
                p["in"] == "body" for p in operation.get("parameters", [])
            ):
                continue
            # A tenant of its own for each operation: the examples reuse names.
            tenant_id = f"tenant-{uuid.uuid4()}"
            webhooks_removed.append(tenant_id)
            admin = Caller(client, tenant_id, "example-admin", (ADMIN_GROUP,))
            member = Caller(client, tenant_id, "example-member")
            url, body = example_request(document, path, operation, records_of(admin, member))
            response = getattr(admin, method)(url, json=body)
            if not 200 <= response.status_code < 300:
                refused[f"{method.upper()} {path}"] = (body, response.status_code, response.json)
    assert refused == {}


def test_the_time_entry_example_is_a_finished_entry_with_every_field(client):
    document = client.get("/swagger.json").json
    example = example_of(document, "TimeEntryInput")
    properties = set(document["definitions"]["TimeEntryInput"]["properties"])
    assert set(example) == properties - {"project_id", "activity_id"}
    assert example["end_date"] > example["start_date"]
