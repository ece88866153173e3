"""Request parsing: JSON bodies checked against the Flask-RESTX models, typed query strings."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import request
from flask_restx import Model, fields
from jsonschema import Draft4Validator, FormatChecker

from commons.domain.exceptions import NotFound, ValidationFailed

FORMATS = FormatChecker(formats=())
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
    """An ISO 8601 date-time; one without an offset is UTC. Returned in UTC."""
    if len(value) < 16 or "T" not in value.upper():
        raise ValueError("not a date-time")
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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


def refuse_nul_bytes(view: Callable[..., Any]) -> Callable[..., Any]:
    """A resource decorator: NUL in a query parameter is 400, in a path segment 404.

    No column of any backend stores NUL (PostgreSQL refuses it), and no valid value holds one.
    """

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for name, value in request.args.items(multi=True):
            if "\x00" in name or "\x00" in value:
                field = name.replace("\x00", "")
                raise ValidationFailed(
                    f"The query parameter {field!r} contains a NUL byte",
                    {field: "must not contain NUL bytes"},
                )
        if any("\x00" in str(value) for value in kwargs.values()):
            raise NotFound()
        return view(*args, **kwargs)

    return checked


def json_body(model: Model, partial: bool = False) -> dict[str, Any]:
    """The request's JSON object, validated; only the model's writable fields are kept."""
    raw = request.get_data(cache=True, as_text=True)
    if not raw.strip():
        raise ValidationFailed("A JSON object body is required", {"body": "is required"})
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValidationFailed(
            "The body is not valid JSON", {"body": "is not valid JSON"}
        ) from None
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
    if error.validator == "maxItems":
        return f"must have at most {error.validator_value} items"
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    if error.validator == "enum":
        return f"must be one of {', '.join(map(str, error.validator_value))}"
    return str(error.message)
