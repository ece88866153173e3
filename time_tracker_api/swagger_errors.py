"""The error answers of every operation, declared in the Swagger document in one place.

Each resource documents the failures particular to it (`@ns.response(409, ...)`). The ones every
operation shares follow from its shape, so they are added here rather than repeated on each
method: 401 where a token is needed, 400 where there is a parameter or a body to validate, 413
where there is a body, 404 where a path names a record, 429 on every operation but the probes
and the docs, whose answers all carry the `RateLimit-*` headers. Every 4xx and 5xx answer has
the `Error` body.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from time_tracker_api.rate_limits import HEADERS as RATE_LIMIT_HEADERS
from time_tracker_api.security import is_public

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
    429: "Too many requests from this user (or client address): retry after Retry-After seconds",
}
RATE_LIMIT_HEADER_DOCS = {
    name: {"type": "integer", "description": description}
    for name, description in RATE_LIMIT_HEADERS.items()
}
RETRY_AFTER_DOC = {"type": "integer", "description": "Seconds to wait before calling again"}
METHODS = ("get", "put", "post", "delete", "patch")


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """The Swagger document with the shared error answers and the `Error` body added."""
    document.setdefault("definitions", {})["Error"] = ERROR_SCHEMA
    secured_by_default = bool(document.get("security"))
    base_path = str(document.get("basePath") or "/").rstrip("/")
    for path, item in document.get("paths", {}).items():
        shared_parameters = item.get("parameters", [])
        limited = not is_public(base_path + path)
        for method in METHODS:
            operation = item.get(method)
            if operation is not None:
                _document(operation, shared_parameters, secured_by_default, limited)
    return document


def _document(
    operation: dict[str, Any], shared: list[dict], secured_by_default: bool, limited: bool
) -> None:
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
    if limited:
        wanted.append(429)
    for status in wanted:
        responses.setdefault(str(status), {"description": SHARED[status]})
    for status, response in responses.items():
        if str(status).startswith(("4", "5")):
            response.setdefault("description", HTTPStatus(int(status)).phrase)
            response.setdefault("schema", ERROR_REF)
        if limited:
            headers = response.setdefault("headers", {})
            headers.update(RATE_LIMIT_HEADER_DOCS)
            if str(status) == "429":
                headers["Retry-After"] = RETRY_AFTER_DOC
