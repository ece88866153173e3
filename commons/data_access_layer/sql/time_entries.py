"""SQL repository of time entries: a person's timeline, read with its names in one statement."""

from __future__ import annotations

import builtins
import dataclasses
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from commons.data_access_layer.sql import tables
from commons.data_access_layer.sql.functions import (
    earlier_of,
    intervals_meet,
    later_of,
    seconds_between,
)
from commons.data_access_layer.sql.reports import report_rows
from commons.data_access_layer.sql.types import UTCDateTime
from commons.domain.catalog import INACTIVE
from commons.domain.exceptions import OverlappingTimeEntry, RunningEntryExists
from commons.domain.pagination import Position
from commons.domain.reports import ReportQuery, ReportRow
from commons.domain.sync import SyncQuery
from commons.domain.time_entries import ARCHIVED_SUFFIX, TimeEntry, TimeEntryQuery
from commons.domain.time_windows import EARLIEST, LATEST, Window

entries = tables.time_entry
STORED = [f.name for f in dataclasses.fields(TimeEntry) if f.name in entries.c]


def _naive_utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment else None


def _at(moment: datetime) -> sa.BindParameter[datetime]:
    return sa.bindparam(None, moment, type_=UTCDateTime())


def _meets(window: Window) -> sa.ColumnElement[bool]:
    return intervals_meet(
        entries.c.start_date, entries.c.end_date, _at(window.start), _at(window.end)
    )


# `_entity` builds entries from the stored columns by position.
assert [f.name for f in dataclasses.fields(TimeEntry)][: len(STORED)] == STORED


@functools.cache
def _entries_with_names() -> sa.Select[Any]:
    """Entries with the names of their owner, project, customer and activity: built once, as
    every read starts from it (building it per query cost more than compiling it)."""
    project, customer, activity, users = (
        tables.project,
        tables.customer,
        tables.activity,
        tables.users,
    )
    return sa.select(
        *(entries.c[name] for name in STORED),
        users.c.email.label("owner_email"),
        project.c.name.label("project_name"),
        project.c.status.label("project_status"),
        project.c.customer_id.label("customer_id"),
        activity.c.name.label("activity_name"),
        customer.c.name.label("customer_name"),
    ).select_from(
        entries.outerjoin(project, _same_tenant(project, entries.c.project_id))
        .outerjoin(customer, _same_tenant(customer, project.c.customer_id))
        .outerjoin(activity, _same_tenant(activity, entries.c.activity_id))
        .outerjoin(users, _same_tenant(users, entries.c.owner_id))
    )


def _same_tenant(table: sa.Table, reference: sa.Column[Any]) -> sa.ColumnElement[bool]:
    """The join to the row of `table` that `reference` names, in the entry's tenant."""
    return sa.and_(table.c.tenant_id == entries.c.tenant_id, table.c.id == reference)


class SqlTimeEntryRepository:
    """Time entries of one tenant at a time; writes go through a per-user serialization point."""

    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def lock_timeline(self, tenant_id: str, owner_id: str) -> None:
        """Hold the user's row lock until the transaction ends, so their writes queue up.

        SQLite needs no row lock: a writing unit of work holds the database's write lock.
        """
        users = tables.users
        key = {"tenant_id": tenant_id, "owner_id": owner_id}
        if self.connection.execute(_owner_lock(), key).first() is not None:
            return
        now = datetime.now(UTC)
        try:
            with self.connection.begin_nested():
                self.connection.execute(
                    sa.insert(users).values(
                        tenant_id=tenant_id,
                        id=owner_id,
                        invitation_slot=owner_id,
                        token_groups=[],
                        created_at=now,
                        updated_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            # A racer created the row: wait for its lock.
            self.connection.execute(_owner_lock(), key)

    def get(self, tenant_id: str, entry_id: str) -> TimeEntry | None:
        rows = self._fetch(_by_id(), {"tenant_id": tenant_id, "entry_id": entry_id})
        return rows[0] if rows else None

    def running(self, tenant_id: str, owner_id: str) -> TimeEntry | None:
        rows = self._fetch(_running(), {"tenant_id": tenant_id, "owner_id": owner_id})
        return rows[0] if rows else None

    def has_overlap(
        self,
        tenant_id: str,
        owner_id: str,
        start: datetime,
        end: datetime | None,
        exclude_id: str | None = None,
    ) -> bool:
        """Whether another live entry of the user meets [start, end) (end None: running)."""
        parameters = _others_in_window(tenant_id, owner_id, start, end, exclude_id)
        return self.connection.execute(_overlapping(), parameters).first() is not None

    def conflicts(
        self,
        tenant_id: str,
        owner_id: str,
        start: datetime,
        end: datetime | None,
        exclude_id: str | None = None,
    ) -> tuple[bool, bool]:
        parameters = _others_in_window(tenant_id, owner_id, start, end, exclude_id)
        running, meets = self.connection.execute(_conflicts(), parameters).one()
        return end is None and bool(running), bool(meets)

    def previous(
        self, tenant_id: str, owner_id: str, before: datetime, exclude_id: str
    ) -> TimeEntry | None:
        """The user's live entry that started last before `before`."""
        condition = sa.and_(
            self._live(tenant_id),
            entries.c.owner_id == owner_id,
            entries.c.start_date < _at(before),
            entries.c.id != exclude_id,
        )
        rows = self._read(condition, limit=1)
        return rows[0] if rows else None

    def add(self, entry: TimeEntry) -> None:
        now = datetime.now(UTC)
        self._write(_insert(), self._to_row(entry) | {"created_at": now, "updated_at": now})

    def add_many(self, new_entries: Iterable[TimeEntry]) -> None:
        """Insert entries in one batch, for seeding; the caller guarantees the rules."""
        now = datetime.now(UTC)
        stamps = {"created_at": now, "updated_at": now}
        rows = [self._to_row(entry) | stamps for entry in new_entries]
        if not rows:
            return
        if self.connection.dialect.name == "postgresql":
            self._copy(rows)
        else:
            self.connection.execute(sa.insert(entries), rows)

    def _copy(self, rows: builtins.list[dict[str, Any]]) -> None:
        # COPY streams rows in one command: several times faster than batched INSERTs.
        columns = builtins.list(rows[0])
        timestamps = {"start_date", "end_date", "deleted", "created_at", "updated_at"}
        driver_connection: Any = self.connection.connection.driver_connection
        statement = f"COPY time_entry ({', '.join(columns)}) FROM STDIN"
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        _naive_utc(row[name])
                        if name in timestamps
                        else json.dumps(row[name])
                        if name == "technologies"
                        else row[name]
                        for name in columns
                    ]
                )

    def update(self, entry: TimeEntry) -> None:
        row = self._to_row(entry) | {"updated_at": datetime.now(UTC)}
        del row["created_at"]  # never changes
        self._write(_update(), {f"new_{name}": value for name, value in row.items()})

    def list(self, query: TimeEntryQuery) -> builtins.list[TimeEntry]:
        if query.sync is not None:
            return self.page(query)
        return self._fetch(_listing(_Shape.of(query)), _parameters(query))

    def count(self, query: TimeEntryQuery) -> int:
        if query.sync is not None:
            return self._count(self._changed(query, query.sync))
        inside, spanning = self._window_parts(query)
        return self._count(inside) + self._count(spanning)

    def page(
        self, query: TimeEntryQuery, after: Position | None = None
    ) -> builtins.list[TimeEntry]:
        """A window's entries are those starting inside it, a range of the (tenant_id,
        start_date, id) index in the lists' order, then those spanning its start, at most one
        per person (a person's entries never overlap). Read apart, a page never scans all the
        entries that started before the window only to find that none of them is in it.

        A sync page is a range of the (tenant_id, updated_at, id) index, in its order."""
        if query.sync is not None:
            return self._sync_page(query, query.sync, after)
        inside, spanning = self._window_parts(query)
        if after is not None:
            inside, spanning = sa.and_(inside, _before(after)), sa.and_(spanning, _before(after))
        found: builtins.list[TimeEntry] = []
        skipped = 0  # of the spanning entries
        if after is None and query.offset:
            found = self._fetch(_deferred_page(inside, query.offset, query.limit), {})
            if not found:
                skipped = max(query.offset - self._count(inside), 0)
        elif after is None or after.moment >= query.window.start:
            found = self._fetch(_limited(_newest_first(inside), query.limit), {})
        if query.limit is not None and len(found) >= query.limit:
            return found
        rest = self._fetch(_newest_first(spanning), {})[skipped:]
        return found + (rest if query.limit is None else rest[: query.limit - len(found)])

    def _sync_page(
        self, query: TimeEntryQuery, sync: SyncQuery, after: Position | None
    ) -> builtins.list[TimeEntry]:
        condition = self._changed(query, sync)
        if after is not None:
            condition = sa.and_(condition, _updated_after(after))
        statement = _entries_with_names().where(condition).order_by(*BY_UPDATE)
        if after is None and query.offset:
            statement = statement.offset(query.offset)
        return self._fetch(_limited(statement, query.limit), {})

    def _changed(self, query: TimeEntryQuery, sync: SyncQuery) -> sa.ColumnElement[bool]:
        """The entries of a sync list: the query's filters, its window only when one is
        given, and deleted entries too when asked."""
        conditions = [entries.c.tenant_id == query.tenant_id, self._owned(query)]
        if not sync.include_deleted:
            conditions.append(entries.c.deleted.is_(None))
        if sync.updated_since is not None:
            conditions.append(entries.c.updated_at >= _at(sync.updated_since))
        if query.window != Window(EARLIEST, LATEST):
            conditions.append(_meets(query.window))
        return sa.and_(*conditions)

    def _window_parts(
        self, query: TimeEntryQuery
    ) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
        """The query's entries that start inside its window, and those spanning its start."""
        start, end = _at(query.window.start), _at(query.window.end)
        inside = sa.and_(
            self._filters(query), entries.c.start_date >= start, entries.c.start_date < end
        )
        # Meeting the window's first microsecond is the window condition of the GiST index on
        # PostgreSQL, which finds the few entries running at that instant.
        first = Window(query.window.start, query.window.start + MICROSECOND)
        spanning = sa.and_(self._filters(query), entries.c.start_date < start, _meets(first))
        return inside, spanning

    def _count(self, condition: sa.ColumnElement[bool]) -> int:
        counted = sa.select(sa.func.count()).select_from(entries).where(condition)
        return int(self.connection.execute(counted).scalar_one())

    def latest_per_project(self, tenant_id: str, owner_id: str) -> builtins.list[TimeEntry]:
        """The user's most recent entry of each project, newest first."""
        ranked = (
            sa.select(
                entries.c.id,
                sa.func.row_number()
                .over(
                    partition_by=entries.c.project_id,
                    order_by=(entries.c.start_date.desc(), entries.c.id.desc()),
                )
                .label("position"),
            )
            .where(self._live(tenant_id), entries.c.owner_id == owner_id)
            .subquery()
        )
        latest = sa.select(ranked.c.id).where(ranked.c.position == 1)
        return self._read(sa.and_(entries.c.tenant_id == tenant_id, entries.c.id.in_(latest)))

    def recent_project_ids(
        self, tenant_id: str, owner_id: str, entry_count: int
    ) -> builtins.list[str]:
        """Projects of the user's most recent entries, most recent first, each once."""
        query = (
            sa.select(entries.c.project_id)
            .where(self._live(tenant_id), entries.c.owner_id == owner_id)
            .order_by(entries.c.start_date.desc(), entries.c.id.desc())
            .limit(entry_count)
        )
        return builtins.list(dict.fromkeys(self.connection.execute(query).scalars()))

    def worked_seconds(
        self, tenant_id: str, owner_id: str, windows: Mapping[str, Window], now: datetime
    ) -> dict[str, float]:
        """Seconds worked inside each window, running entries counting until `now`."""
        end = sa.func.coalesce(entries.c.end_date, _at(now))
        sums = []
        for name, window in windows.items():
            clipped_end = earlier_of(end, _at(window.end))
            clipped_start = later_of(entries.c.start_date, _at(window.start))
            inside = sa.case(
                (clipped_end > clipped_start, seconds_between(clipped_end, clipped_start)),
                else_=0,
            )
            sums.append(sa.func.coalesce(sa.func.sum(inside), 0).label(name))
        earliest = min(window.start for window in windows.values())
        latest = max(window.end for window in windows.values())
        query = sa.select(*sums).where(
            self._live(tenant_id),
            entries.c.owner_id == owner_id,
            _meets(Window(earliest, latest)),
        )
        row = self.connection.execute(query).mappings().one()
        # Stored times are whole microseconds; rounding drops the float noise of a sum (0.7 +
        # 0.1 + 0.2 < 1), which would otherwise cost a whole second once truncated for display.
        return {name: round(float(row[name]), 6) for name in windows}

    def report(
        self,
        query: ReportQuery,
        groupings: Sequence[tuple[str, ...]],
        buckets: Sequence[Window],
        now: datetime,
    ) -> builtins.list[builtins.list[ReportRow]]:
        """Added up by the database: see `commons.data_access_layer.sql.reports`."""
        return report_rows(self.connection, query, groupings, buckets, now)

    def _filters(self, query: TimeEntryQuery) -> sa.ColumnElement[bool]:
        """What the query asks of entries besides its window."""
        return sa.and_(self._live(query.tenant_id), self._owned(query))

    def _owned(self, query: TimeEntryQuery) -> sa.ColumnElement[bool]:
        """What the query asks of entries besides their tenant, window and deletion."""
        conditions: builtins.list[sa.ColumnElement[bool]] = [sa.true()]
        if query.owner_ids is not None:
            conditions.append(entries.c.owner_id.in_(query.owner_ids))
        if query.excluded_owner_ids:
            conditions.append(entries.c.owner_id.not_in(query.excluded_owner_ids))
        for field in ("project_id", "activity_id", "uri"):
            value = getattr(query, field)
            if value is not None:
                conditions.append(entries.c[field] == value)
        return sa.and_(*conditions)

    def _live(self, tenant_id: str) -> sa.ColumnElement[bool]:
        return sa.and_(entries.c.tenant_id == tenant_id, entries.c.deleted.is_(None))

    def _read(
        self, condition: sa.ColumnElement[bool], limit: int | None = None, offset: int = 0
    ) -> builtins.list[TimeEntry]:
        query = (
            _entries_with_names()
            .where(condition)
            .order_by(entries.c.start_date.desc(), entries.c.id.desc())
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        return [_entity(row) for row in self.connection.execute(query).all()]

    def _fetch(
        self, statement: sa.Select[Any], parameters: dict[str, Any]
    ) -> builtins.list[TimeEntry]:
        """Run a statement built once (see `_listing`) with this call's values."""
        return [_entity(row) for row in self.connection.execute(statement, parameters).all()]

    def _to_row(self, entry: TimeEntry) -> dict[str, Any]:
        row = {name: getattr(entry, name) for name in STORED}
        row["running_slot"] = 1 if entry.end_date is None and entry.deleted is None else None
        return row

    def _write(self, statement: sa.Executable, parameters: dict[str, Any]) -> None:
        # The lock makes these rare; they still turn a backstop's refusal into the rule's answer.
        # No savepoint: a refused write ends the unit of work (the exception rolls it back), so
        # nothing runs in the failed transaction afterwards, and two round trips are saved.
        try:
            self.connection.execute(statement, parameters)
        except sa.exc.IntegrityError as error:
            if "running" in str(error.orig):
                raise RunningEntryExists() from error
            if "overlap" in str(error.orig):
                raise OverlappingTimeEntry() from error
            raise


_STORED_COUNT = len(STORED)
_ENTRY: Any = TimeEntry  # called with the stored columns by position, which typing cannot follow


def _entity(row: Sequence[Any]) -> TimeEntry:
    """A time entry from a row of `_entries_with_names`, by position: a list's hot loop."""
    owner_email, name, status, customer_id, activity_name, customer_name = row[_STORED_COUNT:]
    if name is not None and status == INACTIVE:
        name += ARCHIVED_SUFFIX
    return _ENTRY(
        *row[:_STORED_COUNT],
        owner_email=owner_email,
        project_name=name,
        activity_name=activity_name,
        customer_id=customer_id,
        customer_name=customer_name,
    )


@dataclasses.dataclass(frozen=True)
class _Shape:
    """Which conditions a list has: one statement is built and compiled per shape."""

    owners: bool
    excluded: bool
    project: bool
    activity: bool
    uri: bool
    limit: bool
    offset: bool

    @classmethod
    def of(cls, query: TimeEntryQuery) -> _Shape:
        return cls(
            owners=query.owner_ids is not None,
            excluded=bool(query.excluded_owner_ids),
            project=query.project_id is not None,
            activity=query.activity_id is not None,
            uri=query.uri is not None,
            limit=query.limit is not None,
            offset=bool(query.offset),
        )


def _parameters(query: TimeEntryQuery) -> dict[str, Any]:
    return {
        "tenant_id": query.tenant_id,
        "window_start": query.window.start,
        "window_end": query.window.end,
        "owner_ids": list(query.owner_ids or ()),
        "excluded_owner_ids": list(query.excluded_owner_ids),
        "project_id": query.project_id,
        "activity_id": query.activity_id,
        "uri": query.uri,
        "limit": query.limit,
        "offset": query.offset,
    }


def _live_in_tenant() -> sa.ColumnElement[bool]:
    return sa.and_(entries.c.tenant_id == sa.bindparam("tenant_id"), entries.c.deleted.is_(None))


def _newest_first(condition: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return (
        _entries_with_names()
        .where(condition)
        .order_by(entries.c.start_date.desc(), entries.c.id.desc())
    )


@functools.cache
def _listing(shape: _Shape) -> sa.Select[Any]:
    window = intervals_meet(
        entries.c.start_date,
        entries.c.end_date,
        sa.bindparam("window_start", type_=UTCDateTime()),
        sa.bindparam("window_end", type_=UTCDateTime()),
    )
    conditions = [_live_in_tenant(), window]
    if shape.owners:
        conditions.append(entries.c.owner_id.in_(sa.bindparam("owner_ids", expanding=True)))
    if shape.excluded:
        excluded: sa.BindParameter[Any] = sa.bindparam("excluded_owner_ids", expanding=True)
        conditions.append(entries.c.owner_id.not_in(excluded))
    for field, present in (
        ("project_id", shape.project),
        ("activity_id", shape.activity),
        ("uri", shape.uri),
    ):
        if present:
            conditions.append(entries.c[field] == sa.bindparam(field))
    statement = _newest_first(sa.and_(*conditions))
    if shape.offset:
        statement = statement.offset(sa.bindparam("offset", type_=sa.Integer()))
    if shape.limit:
        statement = statement.limit(sa.bindparam("limit", type_=sa.Integer()))
    return statement


NEWEST_FIRST = (entries.c.start_date.desc(), entries.c.id.desc())
BY_UPDATE = (entries.c.updated_at, entries.c.id)
MICROSECOND = timedelta(microseconds=1)


def _limited(statement: sa.Select[Any], limit: int | None) -> sa.Select[Any]:
    return statement if limit is None else statement.limit(limit)


def _before(after: Position) -> sa.ColumnElement[bool]:
    """Entries after `after` in the newest-first order: a range of the (tenant_id, start_date,
    id) index, spelled so that every database reads it as one."""
    moment = _at(after.moment)
    return sa.and_(
        entries.c.start_date <= moment,
        sa.or_(entries.c.start_date < moment, entries.c.id < after.id),
    )


def _updated_after(after: Position) -> sa.ColumnElement[bool]:
    """Entries after `after` in a sync list's order: a range of the (tenant_id, updated_at, id)
    index."""
    moment = _at(after.moment)
    return sa.and_(
        entries.c.updated_at >= moment,
        sa.or_(entries.c.updated_at > moment, entries.c.id > after.id),
    )


def _deferred_page(
    condition: sa.ColumnElement[bool], offset: int, limit: int | None
) -> sa.Select[Any]:
    """A page deep into a list, as a deferred join: the entries skipped are counted off the
    (tenant_id, start_date, id) index alone (migration 0010 makes it cover the list's
    conditions), and only the page's own entries are read with their names."""
    skipped = sa.select(entries.c.tenant_id, entries.c.id).where(condition)
    skipped = skipped.order_by(*NEWEST_FIRST).offset(offset)
    if limit is not None:
        skipped = skipped.limit(limit)
    page = skipped.subquery("page")
    named = _entries_with_names()
    joined = page.join(
        named.get_final_froms()[0],
        sa.and_(entries.c.tenant_id == page.c.tenant_id, entries.c.id == page.c.id),
    )
    return sa.select(*named.selected_columns).select_from(joined).order_by(*NEWEST_FIRST)


@functools.cache
def _by_id() -> sa.Select[Any]:
    return _newest_first(sa.and_(_live_in_tenant(), entries.c.id == sa.bindparam("entry_id")))


@functools.cache
def _running() -> sa.Select[Any]:
    return _newest_first(
        sa.and_(
            _live_in_tenant(),
            entries.c.owner_id == sa.bindparam("owner_id"),
            entries.c.running_slot.is_not(None),
        )
    )


_ROW_COLUMNS = (*STORED, "running_slot")  # what `_to_row` writes
_UPDATED_COLUMNS = tuple(name for name in _ROW_COLUMNS if name != "created_at")


@functools.cache
def _insert() -> sa.Insert:
    return sa.insert(entries)


@functools.cache
def _update() -> sa.Update:
    # The key's parameters are the row's own tenant and id (`new_…`: SQLAlchemy reserves a
    # column's name for its SET value).
    return (
        sa.update(entries)
        .where(
            entries.c.tenant_id == sa.bindparam("new_tenant_id"),
            entries.c.id == sa.bindparam("new_id"),
        )
        .values(
            {
                name: sa.bindparam(f"new_{name}", type_=entries.c[name].type)
                for name in _UPDATED_COLUMNS
            }
        )
    )


def _others_in_window(
    tenant_id: str, owner_id: str, start: datetime, end: datetime | None, exclude_id: str | None
) -> dict[str, Any]:
    """The parameters of `_others_of_owner` and `_window_met` for [start, end)."""
    window = Window(start, end or LATEST)
    return {
        "tenant_id": tenant_id,
        "owner_id": owner_id,
        "window_start": window.start,
        "window_end": window.end,
        "exclude_id": exclude_id or "",  # ids are never empty
    }


def _window_met() -> sa.ColumnElement[bool]:
    return intervals_meet(
        entries.c.start_date,
        entries.c.end_date,
        sa.bindparam("window_start", type_=UTCDateTime()),
        sa.bindparam("window_end", type_=UTCDateTime()),
    )


def _others_of_owner() -> sa.ColumnElement[bool]:
    return sa.and_(
        _live_in_tenant(),
        entries.c.owner_id == sa.bindparam("owner_id"),
        entries.c.id != sa.bindparam("exclude_id"),
    )


@functools.cache
def _overlapping() -> sa.Select[Any]:
    return sa.select(entries.c.id).where(_others_of_owner(), _window_met()).limit(1)


@functools.cache
def _conflicts() -> sa.Select[Any]:
    """Whether another entry of the owner runs, and whether one meets the window: one round
    trip, each answered from its own index."""
    running = sa.exists().where(_others_of_owner(), entries.c.running_slot.is_not(None))
    meets = sa.exists().where(_others_of_owner(), _window_met())
    return sa.select(sa.case((running, 1), else_=0), sa.case((meets, 1), else_=0))


@functools.cache
def _owner_lock() -> sa.Select[Any]:
    users = tables.users
    return (
        sa.select(users.c.id)
        .where(
            users.c.tenant_id == sa.bindparam("tenant_id"),
            users.c.id == sa.bindparam("owner_id"),
        )
        .with_for_update()
    )
