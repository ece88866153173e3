"""Cosmos DB repository of the audit log: the `event` container the events app fills.

Dates are stored as fixed-width UTC strings, so string order and range filters follow time.
The emulator has no OFFSET/LIMIT, and ORDER BY on two fields needs a composite index: a page
is read with `newest_first` (commons/data_access_layer/cosmos/pages.py), by date alone, ties
ordered by id in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from commons.data_access_layer.cosmos import containers
from commons.data_access_layer.cosmos.documents import timestamp
from commons.data_access_layer.cosmos.pages import newest_first
from commons.domain.audit import AuditEvent, EventQuery
from commons.domain.pagination import Position

if TYPE_CHECKING:
    from commons.data_access_layer.cosmos.unit_of_work import CosmosUnitOfWork


class CosmosEventRepository:
    """The audit events of one tenant at a time, from the tenant's partition."""

    def __init__(self, uow: CosmosUnitOfWork):
        self.uow = uow
        self.container = uow.container(containers.EVENT)

    def count(self, query: EventQuery) -> int:
        where, values = _matching(query)
        counted = self.uow.query(
            self.container, f"SELECT VALUE COUNT(1) FROM c WHERE {where}", query.tenant_id, **values
        )
        return int(counted[0]) if counted else 0

    def page(self, query: EventQuery, after: Position | None = None) -> list[AuditEvent]:
        where, values = _matching(query)
        documents = newest_first(
            self.uow,
            self.container,
            query.tenant_id,
            where,
            values,
            moment="date",
            offset=query.offset,
            limit=query.limit,
            after=after,
        )
        return [_event(d) for d in documents]


def _matching(query: EventQuery) -> tuple[str, dict[str, Any]]:
    filters = query.filters
    clauses = ["c.tenant_id = @tenant_id"]
    values: dict[str, Any] = {}
    for field in ("item_id", "container_id", "user_id"):
        value = getattr(filters, field)
        if value is not None:
            clauses.append(f"c.{field} = @{field}")
            values[field] = value
    if filters.start_date is not None:
        clauses.append("c.date >= @start_date")
        values["start_date"] = timestamp(filters.start_date)
    if filters.end_date is not None:
        clauses.append("c.date < @end_date")
        values["end_date"] = timestamp(filters.end_date)
    return " AND ".join(clauses), values


def _event(document: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        id=document["id"],
        date=_instant(document["date"]),
        user_id=document["user_id"],
        action=document["action"],
        description=document.get("description") or "",
        item_id=document["item_id"],
        container_id=document["container_id"],
        session_id=document.get("session_id"),
        tenant_id=document["tenant_id"],
    )


def _instant(value: str) -> datetime:
    # The events app writes `...%fZ`; accept any ISO 8601 form an older writer may have used.
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
