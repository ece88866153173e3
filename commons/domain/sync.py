"""Incremental sync: the records changed since a moment, oldest change first.

A client keeping a local copy asks a list for the records whose `updated_at` is at or after
the latest `updated_at` it has seen (`>=`, so that records sharing that moment are never
lost; the client sees them again and overwrites them), deleted records included so that it
can drop them. Sync lists are ordered by `updated_at`, then by id, ascending: a page's last
record is where the next page starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from commons.domain.pagination import Position


@dataclass(frozen=True)
class SyncQuery:
    """What a sync list shows: records changed at or after `updated_since` (None: all), and
    soft-deleted records too when `include_deleted`."""

    updated_since: datetime | None = None
    include_deleted: bool = False


class Stamped(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def updated_at(self) -> datetime | None: ...


def update_position(record: Stamped) -> Position:
    """Where a record stands in a sync list: a page's cursor."""
    assert record.updated_at is not None, "a stored record has its updated_at"
    return Position(record.updated_at, record.id, by_update=True)


def sync_key(record: Stamped) -> tuple[datetime, str]:
    """The sort key of a sync list."""
    assert record.updated_at is not None, "a stored record has its updated_at"
    return record.updated_at, record.id
