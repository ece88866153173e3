"""The error answers of every operation, declared in the Swagger document in one place.

Each resource documents the failures particular to it (`@ns.response(409, ...)`). The ones every
operation shares follow from its shape, so they are added here rather than repeated on each
method: 401 where a token is needed, 400 where there is a parameter or a body to validate, 413
where there is a body, 404 where a path names a record. Every 4xx and 5xx answer has the `Error`
body.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

ERROR_REF = {"$ref": "#/definitions/Error"}
# The body of every error answer (time_tracker_api/errors.py writes it).
ERROR_SCHEMA = {
    "type": "object",
    "required": ["message", "code"],
    "properties": {
        "message": {"type": "string", "description": "What went wrong, for people"},
        "code": {"type": "string", "description": "A stable snake_case key, e.g. not_found"},
        "errors": {
            "type": "object",
            "description": "Validation failures: field name to problem",
            "additionalProperties": {"type": "string"},
        },
    },
}
SHARED = {
    400: "Invalid input",
    401: "A missing, expired or invalid bearer token",
    404: "No such record in your tenant",
    413: "The body is larger than the server accepts",
}
METHODS = ("get", "put", "post", "delete", "patch")


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """The Swagger document with the shared error answers and the `Error` body added."""
    document.setdefault("definitions", {})["Error"] = ERROR_SCHEMA
    secured_by_default = bool(document.get("security"))
    for item in document.get("paths", {}).values():
        shared_parameters = item.get("parameters", [])
        for method in METHODS:
            operation = item.get(method)
            if operation is not None:
                _document(operation, shared_parameters, secured_by_default)
    return document


def _document(operation: dict[str, Any], shared: list[dict], secured_by_default: bool) -> None:
    responses = operation.setdefault("responses", {})
    places = {parameter.get("in") for parameter in [*shared, *operation.get("parameters", [])]}
    wanted = []
    if operation.get("security", None if secured_by_default else []) != []:
        wanted.append(401)
    if places & {"query", "body", "formData"}:
        wanted.append(400)
    if "body" in places:
        wanted.append(413)
    if "path" in places:
        wanted.append(404)
    for status in wanted:
        responses.setdefault(str(status), {"description": SHARED[status]})
    for status, response in responses.items():
        if str(status).startswith(("4", "5")):
            response.setdefault("description", HTTPStatus(int(status)).phrase)
            response.setdefault("schema", ERROR_REF)
