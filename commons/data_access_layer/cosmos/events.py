"""Cosmos DB repository of the audit log: the `event` container the events app fills.

Dates are stored as fixed-width UTC strings, so string order and range filters follow time.
The emulator has no OFFSET/LIMIT, and ORDER BY on two fields needs a composite index: a page
reads the TOP start+length+1 by date, reads every event tied on the page's last date when
that one extra shares it, and orders by (date, id) itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from commons.data_access_layer.cosmos import containers
from commons.data_access_layer.cosmos.documents import timestamp
from commons.domain.audit import AuditEvent, EventQuery

if TYPE_CHECKING:
    from commons.data_access_layer.cosmos.unit_of_work import CosmosUnitOfWork


class CosmosEventRepository:
    """The audit events of one tenant at a time, from the tenant's partition."""

    def __init__(self, uow: CosmosUnitOfWork):
        self.uow = uow
        self.container = uow.container(containers.EVENT)

    def page(self, query: EventQuery) -> tuple[int, list[AuditEvent]]:
        where, values = _matching(query)
        counted = self._query(f"SELECT VALUE COUNT(1) FROM c WHERE {where}", query, **values)
        total = int(counted[0]) if counted else 0
        if query.offset >= total:
            return total, []
        end = query.offset + query.limit
        # One more than the page needs: it tells whether events tied on the page's last date
        # may lie beyond what was read.
        documents = self._query(
            f"SELECT TOP @top * FROM c WHERE {where} ORDER BY c.date DESC",
            query,
            top=end + 1,
            **values,
        )
        if len(documents) > end and documents[end]["date"] == documents[end - 1]["date"]:
            boundary = documents[end]["date"]
            tied = self._query(
                f"SELECT * FROM c WHERE {where} AND c.date = @boundary",
                query,
                boundary=boundary,
                **values,
            )
            documents = [d for d in documents if d["date"] != boundary] + tied
        found = sorted((_event(d) for d in documents), key=lambda e: (e.date, e.id), reverse=True)
        return total, found[query.offset : end]

    def _query(self, sql: str, query: EventQuery, **values: Any) -> list[Any]:
        return self.uow.query(self.container, sql, query.tenant_id, **values)


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
