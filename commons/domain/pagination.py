"""Pages of newest-first lists: by position (`start`) or after a cursor (`after`), and totals.

Lists are ordered newest first, ties by id descending; sync lists (`updated_since`,
`include_deleted`) oldest change first, by `updated_at` then id, ascending. A cursor names the
place of a page's last row in its list's order, its moment and its id, so the next page is
"everything after it", and says which order it belongs to:
the database reads that page from an index, however deep it lies, instead of counting off
every row above it. Cursors are opaque to clients (URL-safe base64 without padding) and read
strictly: anything that is not exactly a cursor this API writes is refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from commons.domain.exceptions import ValidationFailed
from commons.domain.time_windows import EARLIEST, LATEST

T = TypeVar("T")

DEFAULT_PAGE_LENGTH = 100
MAX_PAGE_LENGTH = 500
# Longer than any cursor written (a 64-character id of 4-byte characters makes 385).
MAX_CURSOR_LENGTH = 512
MAX_ID_LENGTH = 64
CURSOR_ALPHABET = "^[A-Za-z0-9_-]+$"
_CURSOR_VERSION = "1"  # newest first
_SYNC_CURSOR_VERSION = "s"  # by update, oldest first
_MOMENT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_BASE64URL = re.compile(CURSOR_ALPHABET)
NOT_A_CURSOR = "must be the `next` of an earlier page"


@dataclass(frozen=True)
class Position:
    """A row's place in a list: its moment, then its id, which breaks ties; `by_update`: in a
    sync list (ascending by `updated_at`), else in a newest-first one."""

    moment: datetime
    id: str
    by_update: bool = False


def encode_cursor(position: Position) -> str:
    """The opaque cursor of a position."""
    moment = position.moment.astimezone(UTC).strftime(_MOMENT_FORMAT)
    version = _SYNC_CURSOR_VERSION if position.by_update else _CURSOR_VERSION
    text = f"{version}|{moment}|{position.id}"
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> Position:
    """The position of a cursor that `encode_cursor` wrote; ValueError for anything else."""
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_LENGTH:
        raise ValueError(NOT_A_CURSOR)
    if not _BASE64URL.match(cursor):
        raise ValueError(NOT_A_CURSOR)
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        version, moment_text, record_id = text.split("|", 2)
        moment = datetime.strptime(moment_text, _MOMENT_FORMAT).replace(tzinfo=UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(NOT_A_CURSOR) from None
    if version not in (_CURSOR_VERSION, _SYNC_CURSOR_VERSION) or not EARLIEST <= moment < LATEST:
        raise ValueError(NOT_A_CURSOR)
    if not 0 < len(record_id) <= MAX_ID_LENGTH or "\x00" in record_id:
        raise ValueError(NOT_A_CURSOR)
    position = Position(moment, record_id, by_update=version == _SYNC_CURSOR_VERSION)
    # One spelling per position: a cursor with other padding bits, digits or case is not ours.
    if encode_cursor(position) != cursor:
        raise ValueError(NOT_A_CURSOR)
    return position


@dataclass(frozen=True)
class PageRequest:
    """What a client asks of a list: `length` rows, from position `start` or after a cursor,
    and whether to count every match (by default only when no cursor is given)."""

    start: int = 0
    length: int = DEFAULT_PAGE_LENGTH
    after: Position | None = None
    count: bool | None = None

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ValidationFailed("start must not be negative", {"start": "must be 0 or more"})
        if not 1 <= self.length <= MAX_PAGE_LENGTH:
            raise ValidationFailed(
                f"length must be 1 to {MAX_PAGE_LENGTH}",
                {"length": f"must be 1 to {MAX_PAGE_LENGTH}"},
            )
        if self.after is not None and self.start:
            raise ValidationFailed(
                "Give either start or after, not both",
                {"start": "must be 0 or left out when after is given"},
            )

    @property
    def counts(self) -> bool:
        """Whether the page says how many records match in all."""
        return self.after is None if self.count is None else self.count


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, the cursor of the page after it, and the total (None when
    not counted)."""

    records_total: int | None
    data: list[T]
    next: str | None

    @classmethod
    def of(
        cls,
        rows: Sequence[T],
        length: int,
        records_total: int | None,
        position: Callable[[T], Position],
    ) -> Page[T]:
        """The page of `rows`, read one beyond `length` to tell whether more follow."""
        data = list(rows[:length])
        more = len(rows) > length and bool(data)
        return cls(records_total, data, encode_cursor(position(data[-1])) if more else None)
