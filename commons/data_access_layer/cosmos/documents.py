"""Entities to Cosmos DB documents and back; timestamps as fixed-width UTC strings.

`2026-11-21T05:00:00.000000Z` sorts and compares as a string exactly as the instant it names,
so Cosmos DB range filters and ORDER BY on these fields follow time.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from typing import Any, TypeVar

TIMESTAMPS = {"deleted", "creation_date", "start_date", "end_date", "created_at", "updated_at"}
T = TypeVar("T")


def timestamp(moment: datetime | None) -> str | None:
    """The stored form of an instant."""
    if moment is None:
        return None
    # isoformat pads the year to four digits; strftime's %Y does not below 1000 on Linux.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def instant(value: str | None) -> datetime | None:
    """An instant from its stored form."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) if value else None


def to_document(entity: Any, fields: list[str]) -> dict[str, Any]:
    """The stored fields of an entity, timestamps as strings."""
    return {
        name: timestamp(getattr(entity, name)) if name in TIMESTAMPS else getattr(entity, name)
        for name in fields
    }


def from_document(cls: type[T], document: dict[str, Any], fields: list[str]) -> T:
    """An entity from the stored fields of a document."""
    values = {
        name: instant(document.get(name)) if name in TIMESTAMPS else document.get(name)
        for name in fields
        if name in document
    }
    return cls(**values)


def stored_fields(cls: type, *excluded: str) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name not in excluded]


def key_id(prefix: str, value: str) -> str:
    """A document id for a value that may hold characters Cosmos DB ids refuse (/, \\, ?, #)."""
    return f"{prefix}-{hashlib.sha256(value.encode()).hexdigest()[:40]}"
