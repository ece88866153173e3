"""What every paged list of the API shares: its query parameters and its answer's fields, and
the parameters of sync lists (`updated_since`, `include_deleted`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_restx import fields, inputs, reqparse

from commons.domain.exceptions import ValidationFailed
from commons.domain.pagination import (
    CURSOR_ALPHABET,
    DEFAULT_PAGE_LENGTH,
    MAX_CURSOR_LENGTH,
    MAX_PAGE_LENGTH,
    NOT_A_CURSOR,
    PageRequest,
    Position,
    decode_cursor,
)
from commons.domain.sync import SyncQuery
from time_tracker_api.validation import (
    SPACE_FOR_PLUS,
    NullableInteger,
    NullableString,
    count_argument,
    parse_date_time,
)

CURSOR = (
    "the `next` of the page before: the page after it, read from an index however deep it "
    "lies (keyset pagination); `start` must then be 0 or left out"
)
UPDATED_SINCE = (
    "a sync: only records whose updated_at is at or after this ISO 8601 date-time (with its "
    "offset, e.g. 2026-11-29T08:00:00Z), ordered by updated_at then id, oldest first"
)
INCLUDE_DELETED = (
    "a sync: whether soft-deleted records are listed too, with `deleted` set (default false); "
    "given alone, a full sync ordered by updated_at then id"
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


def page_request(args: dict[str, Any], by_update: bool = False) -> PageRequest:
    """The page a client asks for, from the parsed `page_arguments`; `by_update`: of a sync
    list, whose cursors are not those of a newest-first list (nor the other way round)."""
    after = args["after"]
    if after is not None and after.by_update != by_update:
        raise ValidationFailed("after is not a cursor of this list", {"after": NOT_A_CURSOR})
    return PageRequest(start=args["start"], length=args["length"], after=after, count=args["count"])


def updated_since_argument(value: str) -> datetime:
    """An ISO 8601 date-time with its offset (`Z` or `±hh:mm`), from 1900 to 9998; an offset
    whose `+` arrived as a space is read as the `+` it was meant to be."""
    text = SPACE_FOR_PLUS.sub(r"\1+\2", value)
    try:
        if datetime.fromisoformat(text).tzinfo is None:
            raise ValueError
        return parse_date_time(text)
    except ValueError:
        raise ValueError(
            "must be an ISO 8601 date-time with an offset (Z or +hh:mm), years 1900 to 9998"
        ) from None


updated_since_argument.__schema__ = {  # type: ignore[attr-defined]
    "type": "string",
    "format": "date-time",
    "description": UPDATED_SINCE,
}


def include_deleted_argument(value: str) -> bool:
    """`true` or `false`."""
    return boolean_argument(value)


include_deleted_argument.__schema__ = {  # type: ignore[attr-defined]
    "type": "boolean",
    "description": INCLUDE_DELETED,
}


SYNC_ARGUMENTS = ("updated_since", "include_deleted")


def sync_arguments(parser: reqparse.RequestParser) -> reqparse.RequestParser:
    """Add `updated_since` and `include_deleted`, which make a list a sync list."""
    parser.add_argument("updated_since", type=updated_since_argument, location="args")
    parser.add_argument("include_deleted", type=include_deleted_argument, location="args")
    return parser


def sync_query(args: dict[str, Any]) -> SyncQuery | None:
    """The sync a client asks for, from the parsed `sync_arguments`: None when it gave neither
    (a plain list)."""
    since, deleted = args.get("updated_since"), args.get("include_deleted")
    if since is None and deleted is None:
        return None
    return SyncQuery(updated_since=since, include_deleted=bool(deleted))


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
