"""SQL repository of the audit log: the `events` table the events app fills from the outbox."""

from __future__ import annotations

import sqlalchemy as sa

from commons.data_access_layer.sql import tables
from commons.data_access_layer.sql.types import UTCDateTime
from commons.domain.audit import AuditEvent, EventQuery
from commons.domain.pagination import Position

events = tables.events
NEWEST_FIRST = (events.c.date.desc(), events.c.id.desc())


class SqlEventRepository:
    """The audit events of one tenant at a time; a page is one statement, whatever its depth."""

    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def count(self, query: EventQuery) -> int:
        counted = sa.select(sa.func.count()).select_from(events).where(_matching(query))
        return int(self.connection.execute(counted).scalar_one())

    def page(self, query: EventQuery, after: Position | None = None) -> list[AuditEvent]:
        condition = _matching(query)
        if after is not None:
            condition = sa.and_(condition, _before(after))
        if after is not None or not query.offset:
            selected = sa.select(events).where(condition).order_by(*NEWEST_FIRST)
        else:
            # A deferred join: the rows skipped are counted off the (tenant_id, date, id) index
            # alone, and only the page's rows are read from the table.
            skipped = (
                sa.select(events.c.id)
                .where(condition)
                .order_by(*NEWEST_FIRST)
                .offset(query.offset)
                .limit(query.limit)
                .subquery()
            )
            selected = (
                sa.select(events).join(skipped, events.c.id == skipped.c.id).order_by(*NEWEST_FIRST)
            )
        rows = self.connection.execute(selected.limit(query.limit)).mappings()
        return [AuditEvent(**row) for row in rows]


def _before(after: Position) -> sa.ColumnElement[bool]:
    """Events after `after` in the newest-first order: a range of the (tenant_id, date, id)
    index, spelled so that every database reads it as one."""
    moment = sa.bindparam(None, after.moment, type_=UTCDateTime())
    return sa.and_(events.c.date <= moment, sa.or_(events.c.date < moment, events.c.id < after.id))


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
