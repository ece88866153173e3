"""The error answers of every operation, declared in the Swagger document in one place.

Each resource documents the failures particular to it (`@ns.response(409, ...)`). The ones every
operation shares follow from its shape, so they are added here rather than repeated on each
method: 401 where a token is needed, 400 everywhere (every request's path, query string, `X-Fields`
mask and token claims are checked; "Invalid input" where there is a parameter or a body), 413
where there is a body, 404 where a path names a record, 503 where a token is needed (the
storage is away), 429 on every operation but the probes and the docs, whose answers all carry
the `RateLimit-*` headers. Every POST, PUT and DELETE takes an `Idempotency-Key` header, which
adds its 409 and 422 answers and `Idempotent-Replayed` to its successes. Every 4xx and 5xx
answer has the `Error` body. flask-restx's own `ParseError`/`MaskError` answers are dropped (our
errors all have the `Error` body), and the tags come in the order people use them.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from commons.domain.idempotency import HEADER as IDEMPOTENCY_KEY
from commons.domain.idempotency import KEY_MAX_LENGTH, KEY_PATTERN, REPLAYED_HEADER
from time_tracker_api.idempotency import METHODS as IDEMPOTENT_METHODS
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
# Any request: its path and query string must be UTF-8 without NUL, its `X-Fields` a field mask
# and its token's claims text without NUL.
UNREADABLE_REQUEST = (
    "A path or query string that is not UTF-8 or holds a NUL character, or a malformed "
    "X-Fields mask or token claim"
)
SHARED = {
    400: "Invalid input",
    401: "A missing, expired or invalid bearer token",
    404: "No such record in your tenant",
    413: "The body is larger than the server accepts",
    429: "Too many requests from this user (or client address): retry after Retry-After seconds",
    503: "The storage is unavailable or its schema is out of date: retry later",
}
# The order people use the tags in; any other tag follows, in flask-restx's order.
TAG_ORDER = (
    "time-entries",
    "projects",
    "activities",
    "customers",
    "project-types",
    "technologies",
    "users",
    "reports",
    "webhooks",
    "events",
    "feature-toggles",
    "health",
)
# flask-restx documents these for its own errorhandlers and masks; our answers use `Error`.
STRAY_DEFINITIONS = ("ParseError", "MaskError")
RATE_LIMIT_HEADER_DOCS = {
    name: {"type": "integer", "description": description}
    for name, description in RATE_LIMIT_HEADERS.items()
}
RETRY_AFTER_DOC = {"type": "integer", "description": "Seconds to wait before calling again"}
METHODS = ("get", "put", "post", "delete", "patch")
IDEMPOTENCY_KEY_PARAMETER = {
    "name": IDEMPOTENCY_KEY,
    "in": "header",
    "type": "string",
    "required": False,
    "minLength": 1,
    "maxLength": KEY_MAX_LENGTH,
    "pattern": f"^{KEY_PATTERN.pattern}$",
    "description": "A key of your choice, new for each new request (a UUID, say). Repeating "
    "the request with the same key within 24 hours returns the first answer instead of doing "
    "the work again.",
}
IDEMPOTENCY_ANSWERS = {
    409: "A request with this Idempotency-Key is still in progress (idempotency_key_in_use): "
    "retry after Retry-After seconds",
    422: "This Idempotency-Key was used with another request (idempotency_key_reused)",
}
REPLAYED_DOC = {
    "type": "string",
    "enum": ["true"],
    "description": "Present on an answer replayed for a repeated Idempotency-Key",
}


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """The Swagger document with the shared error answers and the `Error` body added."""
    definitions = document.setdefault("definitions", {})
    shared_responses = document.get("responses", {})
    for stray in STRAY_DEFINITIONS:
        definitions.pop(stray, None)
        shared_responses.pop(stray, None)
    if not shared_responses:
        document.pop("responses", None)
    definitions["Error"] = ERROR_SCHEMA
    rank = {name: index for index, name in enumerate(TAG_ORDER)}
    document["tags"] = sorted(
        document.get("tags", []), key=lambda tag: rank.get(tag.get("name"), len(rank))
    )
    secured_by_default = bool(document.get("security"))
    base_path = str(document.get("basePath") or "/").rstrip("/")
    for path, item in document.get("paths", {}).items():
        shared_parameters = item.get("parameters", [])
        limited = not is_public(base_path + path)
        for method in METHODS:
            operation = item.get(method)
            if operation is not None:
                if limited and method.upper() in IDEMPOTENT_METHODS:
                    _document_idempotency(operation)
                _document(operation, shared_parameters, secured_by_default, limited)
    return document


def _document(
    operation: dict[str, Any], shared: list[dict], secured_by_default: bool, limited: bool
) -> None:
    responses = operation.setdefault("responses", {})
    places = {parameter.get("in") for parameter in [*shared, *operation.get("parameters", [])]}
    wanted = []
    authenticated = operation.get("security", None if secured_by_default else []) != []
    if authenticated:
        wanted.append(401)
    wanted.append(400)
    if "body" in places:
        wanted.append(413)
    if "path" in places:
        wanted.append(404)
    if limited:
        wanted.append(429)
    if authenticated:
        wanted.append(503)
    inputs = bool(places & {"query", "body", "formData"})
    for status in wanted:
        description = SHARED[status] if status != 400 or inputs else UNREADABLE_REQUEST
        responses.setdefault(str(status), {"description": description})
    for status, response in responses.items():
        if str(status).startswith(("4", "5")):
            response.setdefault("description", HTTPStatus(int(status)).phrase)
            if _stray(response.get("schema")):
                response["schema"] = ERROR_REF
            response.setdefault("schema", ERROR_REF)
        if limited:
            headers = response.setdefault("headers", {})
            headers.update(RATE_LIMIT_HEADER_DOCS)
            if str(status) == "429":
                headers["Retry-After"] = RETRY_AFTER_DOC


def _stray(schema: Any) -> bool:
    ref = str((schema or {}).get("$ref", "")) if isinstance(schema, dict) else ""
    return ref.rsplit("/", 1)[-1] in STRAY_DEFINITIONS


def _document_idempotency(operation: dict[str, Any]) -> None:
    operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY_PARAMETER))
    responses = operation.setdefault("responses", {})
    responses.setdefault("400", {"description": f"Invalid input (or {IDEMPOTENCY_KEY})"})
    for status, response in responses.items():
        if str(status).startswith("2"):
            response.setdefault("headers", {})[REPLAYED_HEADER] = REPLAYED_DOC
    for status, description in IDEMPOTENCY_ANSWERS.items():
        response = responses.setdefault(str(status), {"description": description})
        if response["description"] != description:
            response["description"] += f"; or: {description}"
        if status == 409:
            response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER_DOC
