"""Conventions every endpoint follows: one error body, request ids, public probes, Swagger."""

from __future__ import annotations

import pytest

from tests.conftest import Caller
from time_tracker_api import create_app
from time_tracker_api.config import config_for_tests


def test_errors_have_the_one_body_and_a_request_id(admin):
    response = admin.get("/nowhere")
    assert response.status_code == 404
    assert set(response.json) == {"message", "code"}
    assert response.headers["X-Request-ID"]


def test_a_given_request_id_is_echoed(admin):
    response = admin.get("/activities", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


def test_a_field_mask_header_still_selects_the_fields_answered(admin):
    created = admin.post("/activities", json={"name": "Masked"}).json
    everything = admin.get(f"/activities/{created['id']}").json
    masked = admin.get(f"/activities/{created['id']}", headers={"X-Fields": "id,name"}).json
    assert len(everything) > 2
    assert masked == {"id": created["id"], "name": "Masked"}


def test_a_wrong_method_is_405_with_the_error_body(admin):
    response = admin.patch("/activities")
    assert response.status_code == 405
    assert response.json["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/health", "/ready", "/swagger.json", "/"])
def test_probes_and_docs_need_no_token(client, path):
    response = client.get(path)
    assert response.status_code == 200


def test_health_reports_the_version_and_ready_the_storage(client):
    assert client.get("/health").json["status"] == "ok"
    assert client.get("/ready").json["status"] == "ready"


def test_the_swagger_ui_is_served_without_internet(client):
    page = client.get("/").get_data(as_text=True)
    assert "swagger-ui" in page
    assert "//unpkg" not in page and "cdn" not in page.lower()
    assert client.get("/swaggerui/swagger-ui-bundle.js").status_code == 200


def test_the_swagger_document_offers_bearer_authorization(client):
    document = client.get("/swagger.json").json
    assert document["swagger"] == "2.0"
    assert document["securityDefinitions"]["Bearer"]["in"] == "header"
    assert document["security"] == [{"Bearer": []}]
    assert document["paths"]["/health"]["get"]["security"] == []


def test_an_unexpected_failure_is_a_500_without_internals(tmp_path, caplog):
    app = create_app(config_for_tests(f"sqlite:///{tmp_path / 'broken.db'}", tmp_path))
    with app.extensions["storage"].engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE activity")
    caller = Caller(app.test_client(), "tenant-broken", "someone")

    response = caller.get("/activities")

    assert response.status_code == 500
    assert response.json == {"message": "An unexpected error occurred", "code": "internal_error"}
    request_id = response.headers["X-Request-ID"]
    assert any(request_id in record.getMessage() for record in caplog.records)


def test_every_operation_declares_its_error_answers_with_the_error_body(client):
    document = client.get("/swagger.json").json
    assert set(document["definitions"]["Error"]["properties"]) == {"message", "code", "errors"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            if operation.get("security") != []:
                assert "401" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith("4"):
                    assert response["schema"] == {"$ref": "#/definitions/Error"}, (method, path)


def test_the_swagger_document_marks_the_fields_that_can_be_null(client):
    definitions = client.get("/swagger.json").json["definitions"]
    activity = definitions["Activity"]["allOf"][1]["properties"]
    assert activity["deleted"]["x-nullable"] is True
    assert definitions["NamedSummary"]["properties"]["description"]["x-nullable"] is True
    assert definitions["Project"]["allOf"][1]["properties"]["customer"]["x-nullable"] is True


def test_a_partial_update_requires_no_field(admin):
    definitions = admin.get("/swagger.json").json["definitions"]
    assert "required" not in definitions["ActivityUpdate"]
    created = admin.post("/activities", json={"name": "Partial"}).json
    updated = admin.put(f"/activities/{created['id']}", json={"description": "Only this"})
    assert updated.status_code == 200
    assert updated.json["name"] == "Partial"


@pytest.mark.parametrize("name", ["", "   ", "\u3000\x1c"])
def test_a_blank_name_is_refused_as_the_schema_says(admin, name):
    response = admin.post("/activities", json={"name": name})
    assert response.status_code == 400
    assert response.json["errors"] == {"name": "must not be blank"}


@pytest.mark.parametrize("path", ["/projects/recent", "/time-entries/running"])
def test_a_named_route_advertises_only_its_own_methods(admin, path):
    response = admin.options(path)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert admin.put(path, json={}).status_code == 405
