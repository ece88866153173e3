"""Request parsing: JSON bodies checked against the Flask-RESTX models, typed query strings,
and the text rules every input obeys (UTF-8, no NUL characters, no lone surrogates)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import orjson
from flask import Flask, current_app, request
from flask_restx import Model, fields, inputs
from jsonschema import Draft4Validator, FormatChecker

from commons.domain.exceptions import ValidationFailed
from commons.domain.principal import EMAIL_PATTERN
from commons.domain.time_windows import EARLIEST, LATEST, parse_instant
from commons.domain.users import NOT_AN_EMAIL
from time_tracker_api.errors import too_large

FORMATS = FormatChecker(formats=())
# Deeper than any body of the API needs; keeps validation and storage away from recursion limits.
MAX_JSON_DEPTH = 32
NUL = "must not contain NUL characters"
SURROGATE = "must not contain lone surrogates"
NOT_UTF8 = "must be UTF-8"
# Clients that build query strings by hand send `+01:00` unencoded, and a `+` decodes as a space.
SPACE_FOR_PLUS = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) (\d{2}:\d{2})$")
# A `pattern`: some character that str.strip() keeps (names are trimmed; a blank one is refused).
# The class lists Python's whitespace exactly: JSON Schema's \s differs from it at the edges.
NOT_BLANK = (
    r"[^\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f"
    r"\u205f\u3000]"
)


@FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or str(uuid.UUID(value)) == value.lower()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(parse_date_time(value))


def parse_date_time(value: str) -> datetime:
    """An ISO 8601 date-time from 1900 to 9998; one without an offset is UTC. Returned in UTC."""
    if len(value) < 16 or "T" not in value.upper():
        raise ValueError("not a date-time")
    moment = datetime.fromisoformat(value)
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise ValueError("out of range") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError("out of range")
    return moment


def query_instant(value: str, zone: tzinfo, field: str, end_of_day: bool = False) -> datetime:
    """A date or date-time query value (see `parse_instant`); an offset whose `+` arrived as a
    space (`2026-11-29T00:00:00 01:00`) is read as the `+01:00` the client meant."""
    return parse_instant(SPACE_FOR_PLUS.sub(r"\1+\2", value), zone, field, end_of_day)


def text_problem(value: str) -> str | None:
    """What is wrong with a piece of input text, or None: NUL characters and lone surrogates
    are refused everywhere, as no backend stores them alike."""
    if "\x00" in value:
        return NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE
    return None


def check_request_text() -> None:
    """Refuse a path or query string that is not UTF-8 or contains a NUL character."""
    try:
        path = _raw_path().decode("utf-8")
    except UnicodeError:
        raise ValidationFailed("The path is not valid UTF-8", {"path": NOT_UTF8}) from None
    if "\x00" in path:
        raise ValidationFailed("The path contains a NUL character", {"path": NUL})
    errors: dict[str, str] = {}
    for part in request.query_string.split(b"&"):
        raw_name, _, raw_value = part.partition(b"=")
        name = _decoded_query(raw_name)
        value = _decoded_query(raw_value)
        label = name if name is not None and text_problem(name) is None else "query"
        problem = NOT_UTF8 if name is None or value is None else text_problem(name + value)
        if problem:
            errors.setdefault(label, problem)
    if errors:
        raise ValidationFailed("The query string is not valid", errors)


def _raw_path() -> bytes:
    # Servers decode PATH_INFO differently (Werkzeug replaces invalid UTF-8); the request line
    # they keep in RAW_URI or REQUEST_URI is what the client sent.
    environ = request.environ
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not uri:
        return str(environ.get("PATH_INFO", "")).encode("latin-1")
    path = urlsplit(uri).path if "://" in uri else uri.partition("?")[0]
    return unquote_to_bytes(path.encode("latin-1"))


def _decoded_query(raw: bytes) -> str | None:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def init_app(app: Flask) -> None:
    """Check every request's path and query string (after authentication)."""
    app.before_request(check_request_text)


class UUID(fields.String):
    """A server-generated or referenced id: a canonical UUID string."""

    __schema_format__ = "uuid"


class Nullable:
    """Mixin: the field also accepts JSON null (shown as `x-nullable` in Swagger 2.0)."""

    def schema(self) -> dict[str, Any]:
        schema = super().schema()  # type: ignore[misc]
        schema["x-nullable"] = True
        return schema


class NullableString(Nullable, fields.String):
    pass


class NullableUUID(Nullable, UUID):
    pass


class NullableDateTime(Nullable, fields.DateTime):
    pass


class NullableInteger(Nullable, fields.Integer):
    pass


class NullableRaw(Nullable, fields.Raw):
    pass


# The largest count or position a query accepts: what every database takes as LIMIT or OFFSET.
MAX_QUERY_INTEGER = 2**31 - 1


def count_argument(minimum: int) -> Any:
    """A query integer from `minimum` to `MAX_QUERY_INTEGER` (`limit`, `start`)."""
    return inputs.int_range(minimum, MAX_QUERY_INTEGER)


class NullableNested(Nullable, fields.Nested):
    """A nested object or null (serialized as null when the value is missing)."""

    def __init__(self, model: Any, **kwargs: Any) -> None:
        super().__init__(model, allow_null=True, **kwargs)


def uuid_argument(value: str) -> str:
    """A query or path value that must be a UUID."""
    try:
        if str(uuid.UUID(value)) == value.lower():
            return value.lower()
    except (ValueError, AttributeError):
        pass
    raise ValueError("must be a UUID")


uuid_argument.__schema__ = {"type": "string", "format": "uuid"}  # type: ignore[attr-defined]


def request_json() -> Any:
    """The request's body parsed as JSON: UTF-8, no NUL characters or lone surrogates in any
    string, nested at most `MAX_JSON_DEPTH` levels."""
    raw = request.get_data(cache=True)
    limit: int | None = current_app.config.get("MAX_CONTENT_LENGTH")
    # Werkzeug ends a body without Content-Length at the limit; a byte more means it was cut.
    cut = limit and request.content_length is None and len(raw) >= limit
    if limit and cut and request.environ["wsgi.input"].read(1):
        raise too_large(limit)
    if not raw.strip():
        raise ValidationFailed("A JSON object body is required", {"body": "is required"})
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("The body is not valid UTF-8", {"body": NOT_UTF8}) from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        reason = str(error)
        if "surrogate" in reason:
            problem = ValidationFailed("The body contains a lone surrogate", {"body": SURROGATE})
        elif "recursion" in reason or "depth limit" in reason:  # orjson < 3.12 / >= 3.12
            problem = _too_deep()
        else:
            problem = ValidationFailed("The body is not valid JSON", {"body": "is not valid JSON"})
        raise problem from None
    _check_json_text(data)
    return data


def _check_json_text(data: Any) -> None:
    # Iterative, so that no input can exhaust the stack.
    pending: list[tuple[Any, str, int]] = [(data, "body", 1)]
    while pending:
        value, field, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise ValidationFailed("Input payload validation failed", {field: problem})
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem:
                    raise ValidationFailed("Input payload validation failed", {"body": problem})
                pending.append((item, key if depth == 1 else field, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, field, depth + 1) for item in value)


def _too_deep() -> ValidationFailed:
    return ValidationFailed(
        "The body is nested too deeply",
        {"body": f"must be nested at most {MAX_JSON_DEPTH} levels deep"},
    )


def json_body(model: Model, partial: bool = False) -> dict[str, Any]:
    """The request's JSON object, validated; only the model's writable fields are kept."""
    data = request_json()
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object", {"body": "must be an object"})
    writable = {name: field for name, field in model.items() if not field.readonly}
    schema = model.__schema__
    properties = schema.get("properties", {})
    checked = {
        name: value
        for name, value in data.items()
        if name in writable and not (value is None and properties[name].get("x-nullable"))
    }
    errors: dict[str, str] = {}
    validator = Draft4Validator(
        {"type": "object", "properties": properties}, format_checker=FORMATS
    )
    for error in validator.iter_errors(checked):
        name = str(error.path[0]) if error.path else "body"
        errors.setdefault(name, _describe(error))
    if not partial:
        for name in schema.get("required", []):
            if data.get(name) is None and name not in errors:
                errors[name] = "is required"
    if errors:
        raise ValidationFailed("Input payload validation failed", errors)
    return {
        name: _parsed(writable[name], value) for name, value in data.items() if name in writable
    }


def _parsed(field: fields.Raw, value: Any) -> Any:
    if isinstance(value, str) and isinstance(field, fields.DateTime):
        return parse_date_time(value)
    if isinstance(value, str) and isinstance(field, UUID):
        # Ids are stored lowercase; an uppercase reference must name the same record on every
        # database, not only on those whose collation ignores case (MariaDB).
        return value.lower()
    return value


def _describe(error: Any) -> str:
    if error.validator == "format":
        return f"must be a valid {error.validator_value}"
    if error.validator == "maxLength":
        return f"must be at most {error.validator_value} characters"
    if error.validator == "pattern" and error.validator_value == NOT_BLANK:
        return "must not be blank"
    if error.validator == "pattern" and error.validator_value == EMAIL_PATTERN:
        return NOT_AN_EMAIL
    if error.validator == "maxItems":
        return f"must have at most {error.validator_value} items"
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    if error.validator == "enum":
        return f"must be one of {', '.join(map(str, error.validator_value))}"
    return str(error.message)
