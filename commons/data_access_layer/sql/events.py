"""SQL repository of the audit log: the `events` table the events app fills from the outbox."""

from __future__ import annotations

import sqlalchemy as sa

from commons.data_access_layer.sql import tables
from commons.domain.audit import AuditEvent, EventQuery

events = tables.events


class SqlEventRepository:
    """The audit events of one tenant at a time; a page costs two statements, whatever its size."""

    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def page(self, query: EventQuery) -> tuple[int, list[AuditEvent]]:
        condition = _matching(query)
        counted = sa.select(sa.func.count()).select_from(events).where(condition)
        total = int(self.connection.execute(counted).scalar_one())
        if query.offset >= total:
            return total, []
        selected = (
            sa.select(events)
            .where(condition)
            .order_by(events.c.date.desc(), events.c.id.desc())
            .offset(query.offset)
            .limit(query.limit)
        )
        rows = self.connection.execute(selected).mappings()
        return total, [AuditEvent(**row) for row in rows]


def _matching(query: EventQuery) -> sa.ColumnElement[bool]:
    filters = query.filters
    conditions = [events.c.tenant_id == query.tenant_id]
    for field in ("item_id", "container_id", "user_id"):
        value = getattr(filters, field)
        if value is not None:
            conditions.append(events.c[field] == value)
    if filters.start_date is not None:
        conditions.append(events.c.date >= filters.start_date)
    if filters.end_date is not None:
        conditions.append(events.c.date < filters.end_date)
    return sa.and_(*conditions)
