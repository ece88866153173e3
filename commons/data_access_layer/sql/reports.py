"""Report totals on SQL: one GROUP BY statement per grouping, time split by a table of buckets.

The caller's days, weeks or months (computed in Python, DST and all) are joined as a derived
table of (index, start, end) rows; each entry is clipped to every bucket it meets and the
database adds the parts up. Without a time unit each entry is clipped to the report's window.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from commons.data_access_layer.sql import tables
from commons.data_access_layer.sql.functions import (
    earlier_of,
    intervals_meet,
    later_of,
    seconds_between,
)
from commons.data_access_layer.sql.types import UTCDateTime
from commons.domain.reports import BUCKET, TECHNOLOGIES, ReportQuery, ReportRow
from commons.domain.time_windows import Window

entries = tables.time_entry
project = tables.project


def _at(moment: datetime) -> sa.BindParameter[datetime]:
    return sa.bindparam(None, moment, type_=UTCDateTime())


def _bucket_table(windows: Sequence[Window]) -> sa.Subquery:
    rows = [
        sa.select(
            sa.literal(index, sa.Integer()).label("position"),
            _at(window.start).label("bucket_start"),
            _at(window.end).label("bucket_end"),
        )
        for index, window in enumerate(windows)
    ]
    table = rows[0] if len(rows) == 1 else sa.union_all(*rows)
    return table.subquery("bucket")


def report_rows(
    connection: sa.Connection,
    query: ReportQuery,
    groupings: Sequence[tuple[str, ...]],
    buckets: Sequence[Window],
    now: datetime,
) -> list[list[ReportRow]]:
    """`TimeEntryRepository.report` on SQL."""
    return [
        _grouped(
            connection, query, grouping, buckets if BUCKET in grouping else [query.window], now
        )
        for grouping in groupings
    ]


def _grouped(
    connection: sa.Connection,
    query: ReportQuery,
    grouping: tuple[str, ...],
    windows: Sequence[Window],
    now: datetime,
) -> list[ReportRow]:
    end = sa.func.coalesce(entries.c.end_date, _at(now))
    joined: sa.FromClause = entries
    conditions = [
        entries.c.tenant_id == query.tenant_id,
        entries.c.deleted.is_(None),
        intervals_meet(
            entries.c.start_date, entries.c.end_date, _at(query.window.start), _at(query.window.end)
        ),
    ]
    columns: dict[str, sa.ColumnElement[Any]] = {
        "customer": project.c.customer_id,
        "project": entries.c.project_id,
        "activity": entries.c.activity_id,
        "user": entries.c.owner_id,
        # The JSON list as text: PostgreSQL cannot group json values themselves.
        TECHNOLOGIES: sa.cast(entries.c.technologies, sa.Text()),
    }
    if BUCKET in grouping:
        bucket = _bucket_table(windows)
        bucket_start, bucket_end = bucket.c.bucket_start, bucket.c.bucket_end
        columns[BUCKET] = bucket.c.position
        joined = entries.join(bucket, _counts_in(end, bucket_start, bucket_end))
    else:
        [window] = windows
        bucket_start, bucket_end = _at(window.start), _at(window.end)
        # Once the window has begun, the window condition says all that `_counts_in` does; said
        # twice, PostgreSQL takes the two for independent, expects a tenth of a month's rows and
        # sorts them on disk to group them instead of hashing them (75 ms against 43).
        if now <= window.start:
            conditions.append(_counts_in(end, bucket_start, bucket_end))
    clipped_start = later_of(entries.c.start_date, bucket_start)
    clipped_end = earlier_of(end, bucket_end)
    seconds = sa.case(
        (clipped_end > clipped_start, seconds_between(clipped_end, clipped_start)), else_=0
    )
    keys = [columns[name].label(f"key_{i}") for i, name in enumerate(grouping)]
    if "customer" in grouping or query.customer_id is not None:
        joined = joined.outerjoin(
            project,
            sa.and_(
                project.c.tenant_id == entries.c.tenant_id, project.c.id == entries.c.project_id
            ),
        )
        if query.customer_id is not None:
            conditions.append(project.c.customer_id == query.customer_id)
    if query.owner_ids is not None:
        conditions.append(entries.c.owner_id.in_(query.owner_ids))
    if query.excluded_owner_ids:
        conditions.append(entries.c.owner_id.not_in(query.excluded_owner_ids))
    for field in ("project_id", "activity_id", "uri"):
        value = getattr(query, field)
        if value is not None:
            conditions.append(entries.c[field] == value)
    statement = (
        sa.select(
            *keys,
            sa.func.coalesce(sa.func.sum(seconds), 0).label("seconds"),
            sa.func.count().label("entries"),
        )
        .select_from(joined)
        .where(*conditions)
    )
    if keys:
        statement = statement.group_by(*keys)
    found = []
    for row in connection.execute(statement).all():
        count = int(row[-1])
        if not count:
            continue  # the total of no entries at all
        key = tuple(
            _technologies(value) if name == TECHNOLOGIES else value
            for name, value in zip(grouping, row[:-2], strict=True)
        )
        found.append(ReportRow(key, round(float(row[-2]), 6), count))
    return found


def _counts_in(end: Any, bucket_start: Any, bucket_end: Any) -> sa.ColumnElement[bool]:
    """An entry counts in a bucket it meets, or (lasting no time there) in the one it starts in."""
    return sa.and_(
        entries.c.start_date < bucket_end,
        sa.or_(entries.c.start_date >= bucket_start, end > bucket_start),
    )


def _technologies(text: Any) -> tuple[str, ...]:
    values = json.loads(text) if isinstance(text, str) else (text or [])
    return tuple(sorted(values))
