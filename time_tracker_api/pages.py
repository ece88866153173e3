"""What every paged list of the API shares: its query parameters and its answer's fields."""

from __future__ import annotations

from typing import Any

from flask_restx import fields, inputs, reqparse

from commons.domain.pagination import (
    CURSOR_ALPHABET,
    DEFAULT_PAGE_LENGTH,
    MAX_CURSOR_LENGTH,
    MAX_PAGE_LENGTH,
    PageRequest,
    Position,
    decode_cursor,
)
from time_tracker_api.validation import NullableInteger, NullableString, count_argument

CURSOR = (
    "the `next` of the page before: the page after it, read from an index however deep it "
    "lies (keyset pagination); `start` must then be 0 or left out"
)
COUNT = (
    "whether to count every matching record into `records_total` (default: true without "
    "`after`, false with it, as counting costs a read of every match)"
)


def cursor_argument(value: str) -> Position:
    """A query value that must be a cursor the API gave out (`next`)."""
    return decode_cursor(value)


cursor_argument.__schema__ = {  # type: ignore[attr-defined]
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_CURSOR_LENGTH,
    "pattern": CURSOR_ALPHABET,
    "description": CURSOR,
}


def boolean_argument(value: str) -> bool:
    """`true` or `false`."""
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("must be true or false")


boolean_argument.__schema__ = {  # type: ignore[attr-defined]
    "type": "boolean",
    "description": COUNT,
}


def page_arguments(parser: reqparse.RequestParser) -> reqparse.RequestParser:
    """Add `start`, `length`, `after` and `count` to a list's filters."""
    parser.add_argument("start", type=count_argument(0), default=0, location="args")
    parser.add_argument(
        "length",
        type=inputs.int_range(1, MAX_PAGE_LENGTH),
        default=DEFAULT_PAGE_LENGTH,
        location="args",
    )
    parser.add_argument("after", type=cursor_argument, location="args")
    parser.add_argument("count", type=boolean_argument, location="args")
    return parser


def page_request(args: dict[str, Any]) -> PageRequest:
    """The page a client asks for, from the parsed `page_arguments`."""
    return PageRequest(
        start=args["start"], length=args["length"], after=args["after"], count=args["count"]
    )


def page_fields(record: Any) -> dict[str, Any]:
    """The fields of a page of `record`s."""
    return {
        "records_total": NullableInteger(
            description="How many records match in all; null when the page was not asked to "
            "count them (`count`)"
        ),
        "data": fields.List(fields.Nested(record)),
        "next": NullableString(
            description="The cursor of the page after this one, for `after`; null on the last"
        ),
    }
