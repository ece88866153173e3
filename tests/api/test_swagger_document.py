"""The Swagger document a newcomer meets: error answers, wording, tag order."""

from __future__ import annotations

import json

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


def test_the_time_entry_example_is_accepted_as_shown(admin):
    document = admin.get("/swagger.json").json
    customer = admin.post("/customers", json=example_of(document, "CustomerInput")).json
    project_body = {**example_of(document, "ProjectInput"), "customer_id": customer["id"]}
    project = admin.post("/projects", json=project_body).json
    activity = admin.post("/activities", json=example_of(document, "ActivityInput")).json
    body = {
        **example_of(document, "TimeEntryInput"),
        "project_id": project["id"],
        "activity_id": activity["id"],
    }
    assert set(body) == set(document["definitions"]["TimeEntryInput"]["properties"])
    response = admin.post("/time-entries", json=body)
    assert response.status_code == 201, response.json
