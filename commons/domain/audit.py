"""The audit log: what was changed, by whom, when, as the events app recorded it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commons.domain.exceptions import ValidationFailed
from commons.domain.pagination import DEFAULT_PAGE_LENGTH, Position


@dataclass(frozen=True)
class AuditEvent:
    id: str
    date: datetime
    user_id: str
    action: str
    description: str
    item_id: str
    container_id: str
    session_id: str | None
    tenant_id: str


def outbox_event(row: Mapping[str, Any]) -> AuditEvent:
    """The audit event of a change waiting in an outbox (SQL's table, the in-memory one): the
    event's id is the change's, and its date when the change happened."""
    return AuditEvent(
        id=str(row["id"]),
        date=row["occurred_at"],
        user_id=row["user_id"],
        action=row["action"],
        description=row["description"],
        item_id=row["item_id"],
        container_id=row["container_id"],
        session_id=row["session_id"],
        tenant_id=row["tenant_id"],
    )


@dataclass(frozen=True)
class EventFilters:
    """Which events a reader asks for; a missing filter matches every event."""

    item_id: str | None = None
    container_id: str | None = None
    user_id: str | None = None
    start_date: datetime | None = None  # inclusive
    end_date: datetime | None = None  # exclusive

    def __post_init__(self) -> None:
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            raise ValidationFailed(
                "end_date must be after start_date", {"end_date": "must be after start_date"}
            )


@dataclass(frozen=True)
class EventQuery:
    """Some of a tenant's audit log, newest first (date, then id, descending): `limit` events
    from position `offset`. How many a client may ask for at once is the page request's rule
    (commons.domain.pagination.PageRequest)."""

    tenant_id: str
    filters: EventFilters
    offset: int = 0
    limit: int = DEFAULT_PAGE_LENGTH


def event_position(event: AuditEvent) -> Position:
    """Where an event stands in the newest-first log: a page's cursor."""
    return Position(event.date, event.id)
