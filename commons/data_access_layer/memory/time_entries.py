"""In-memory time entries: a person's timeline, read with its names, added up in Python."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from commons.data_access_layer.memory.repositories import USERS, catalog_table, in_utc
from commons.data_access_layer.memory.tables import Staged, Store
from commons.domain.catalog import INACTIVE
from commons.domain.exceptions import RunningEntryExists
from commons.domain.pagination import Position
from commons.domain.reports import ReportQuery, ReportRecord, ReportRow, aggregate
from commons.domain.time_entries import (
    ARCHIVED_SUFFIX,
    TimeEntry,
    TimeEntryQuery,
    intersects,
    worked_seconds_in,
)
from commons.domain.time_windows import EARLIEST, LATEST, Window

ENTRIES = "time_entries"


def _newest_first(entry: TimeEntry) -> tuple[datetime, str]:
    return entry.start_date, entry.id


def _by_update(entry: TimeEntry) -> tuple[datetime, str]:
    assert entry.updated_at is not None
    return entry.updated_at, entry.id


class MemoryTimeEntryRepository:
    """Time entries of one tenant at a time. A writing unit of work holds the storage's lock,
    so a user's timeline never changes under another writer's checks."""

    def __init__(self, staged: Staged, store: Store):
        self.staged = staged
        self.store = store

    def lock_timeline(self, tenant_id: str, owner_id: str) -> None:
        """Nothing to do: writing units of work run one at a time."""

    def get(self, tenant_id: str, entry_id: str) -> TimeEntry | None:
        entry: TimeEntry | None = self.staged.get(ENTRIES, tenant_id, entry_id)
        if entry is None or entry.deleted is not None:
            return None
        return self._named([entry], tenant_id)[0]

    def running(self, tenant_id: str, owner_id: str) -> TimeEntry | None:
        running = [e for e in self._timeline(tenant_id, owner_id) if e.end_date is None]
        return self._named(running, tenant_id)[0] if running else None

    def has_overlap(
        self,
        tenant_id: str,
        owner_id: str,
        start: datetime,
        end: datetime | None,
        exclude_id: str | None = None,
    ) -> bool:
        window = Window(start, end or LATEST)
        return any(
            entry.id != exclude_id and intersects(entry.start_date, entry.end_date, window)
            for entry in self._timeline(tenant_id, owner_id)
        )

    def conflicts(
        self,
        tenant_id: str,
        owner_id: str,
        start: datetime,
        end: datetime | None,
        exclude_id: str | None = None,
    ) -> tuple[bool, bool]:
        running = end is None and any(
            entry.id != exclude_id and entry.end_date is None
            for entry in self._timeline(tenant_id, owner_id)
        )
        return running, self.has_overlap(tenant_id, owner_id, start, end, exclude_id)

    def previous(
        self, tenant_id: str, owner_id: str, before: datetime, exclude_id: str
    ) -> TimeEntry | None:
        earlier = [
            entry
            for entry in self._timeline(tenant_id, owner_id)
            if entry.start_date < before and entry.id != exclude_id
        ]
        latest = max(earlier, key=_newest_first, default=None)
        return self._named([latest], tenant_id)[0] if latest else None

    def add(self, entry: TimeEntry) -> None:
        now = self.store.stamp()
        self._write(dataclasses.replace(entry, created_at=now, updated_at=now))

    def add_many(self, entries: Iterable[TimeEntry]) -> None:
        now = self.store.stamp()
        for entry in entries:
            stored = _stored(dataclasses.replace(entry, created_at=now, updated_at=now))
            self.staged.put(ENTRIES, stored.tenant_id, stored.id, stored)

    def update(self, entry: TimeEntry) -> None:
        stored: TimeEntry | None = self.staged.get(ENTRIES, entry.tenant_id, entry.id)
        if stored is None:
            return  # as an UPDATE of no row
        changed = dataclasses.replace(
            entry, created_at=stored.created_at, updated_at=self.store.stamp()
        )
        self._write(changed)

    def _write(self, entry: TimeEntry) -> None:
        entry = _stored(entry)
        # The backstop of SQL's unique running slot: one running live entry per user.
        if entry.end_date is None and entry.deleted is None:
            others = self._timeline(entry.tenant_id, entry.owner_id)
            if any(other.id != entry.id and other.end_date is None for other in others):
                raise RunningEntryExists()
        self.staged.put(ENTRIES, entry.tenant_id, entry.id, entry)

    def list(self, query: TimeEntryQuery) -> builtins.list[TimeEntry]:
        return self.page(query)

    def count(self, query: TimeEntryQuery) -> int:
        return len(self._matching(query))

    def page(
        self, query: TimeEntryQuery, after: Position | None = None
    ) -> builtins.list[TimeEntry]:
        found = self._matching(query)
        if query.sync is not None:
            found.sort(key=_by_update)
            if after is not None:
                found = [e for e in found if _by_update(e) > (after.moment, after.id)]
        else:
            found.sort(key=_newest_first, reverse=True)
            if after is not None:
                found = [e for e in found if _newest_first(e) < (after.moment, after.id)]
        if after is None:
            found = found[query.offset :]
        if query.limit is not None:
            found = found[: query.limit]
        return self._named(found, query.tenant_id)

    def latest_per_project(self, tenant_id: str, owner_id: str) -> builtins.list[TimeEntry]:
        latest: dict[str, TimeEntry] = {}
        for entry in self._timeline(tenant_id, owner_id):
            best = latest.get(entry.project_id)
            if best is None or _newest_first(entry) > _newest_first(best):
                latest[entry.project_id] = entry
        ordered = sorted(latest.values(), key=_newest_first, reverse=True)
        return self._named(ordered, tenant_id)

    def recent_project_ids(
        self, tenant_id: str, owner_id: str, entry_count: int
    ) -> builtins.list[str]:
        recent = sorted(self._timeline(tenant_id, owner_id), key=_newest_first, reverse=True)
        return builtins.list(dict.fromkeys(e.project_id for e in recent[:entry_count]))

    def worked_seconds(
        self, tenant_id: str, owner_id: str, windows: Mapping[str, Window], now: datetime
    ) -> dict[str, float]:
        spans = ((e.start_date, e.end_date) for e in self._timeline(tenant_id, owner_id))
        return worked_seconds_in(spans, windows, now)

    def report(
        self,
        query: ReportQuery,
        groupings: Sequence[tuple[str, ...]],
        buckets: Sequence[Window],
        now: datetime,
    ) -> builtins.list[builtins.list[ReportRow]]:
        """Added up in one pass, as for Cosmos DB (`commons.domain.reports.aggregate`)."""
        customers = {
            project.id: getattr(project, "customer_id", None)
            for project in self.staged.rows(catalog_table("project"), query.tenant_id)
        }
        records = []
        for entry in self.staged.rows(ENTRIES, query.tenant_id):
            customer_id = customers.get(entry.project_id)
            if (
                entry.deleted is not None
                or not intersects(entry.start_date, entry.end_date, query.window)
                or (query.owner_ids is not None and entry.owner_id not in query.owner_ids)
                or entry.owner_id in query.excluded_owner_ids
                or (query.customer_id is not None and customer_id != query.customer_id)
                or any(
                    getattr(query, field) is not None
                    and getattr(entry, field) != getattr(query, field)
                    for field in ("project_id", "activity_id", "uri")
                )
            ):
                continue
            records.append(
                ReportRecord(
                    owner_id=entry.owner_id,
                    customer_id=customer_id,
                    project_id=entry.project_id,
                    activity_id=entry.activity_id,
                    technologies=tuple(entry.technologies),
                    start=entry.start_date,
                    end=entry.end_date,
                )
            )
        return aggregate(records, groupings, buckets, query.window, now)

    def _timeline(self, tenant_id: str, owner_id: str) -> builtins.list[TimeEntry]:
        """The user's live entries, in no particular order."""
        return [
            entry
            for entry in self.staged.rows(ENTRIES, tenant_id)
            if entry.owner_id == owner_id and entry.deleted is None
        ]

    def _matching(self, query: TimeEntryQuery) -> builtins.list[TimeEntry]:
        """The query's entries: a list's are live and meet its window; a sync list's meet its
        window only when one is given, are changed since its moment, and deleted ones too when
        asked."""
        sync = query.sync
        window = (
            None if sync is not None and query.window == Window(EARLIEST, LATEST) else query.window
        )
        found = []
        for entry in self.staged.rows(ENTRIES, query.tenant_id):
            if entry.deleted is not None and (sync is None or not sync.include_deleted):
                continue
            since = sync.updated_since if sync is not None else None
            if since is not None and entry.updated_at < since:  # type: ignore[operator]
                continue
            if window is not None and not intersects(entry.start_date, entry.end_date, window):
                continue
            if query.owner_ids is not None and entry.owner_id not in query.owner_ids:
                continue
            if entry.owner_id in query.excluded_owner_ids:
                continue
            if any(
                getattr(query, field) is not None and getattr(entry, field) != getattr(query, field)
                for field in ("project_id", "activity_id", "uri")
            ):
                continue
            found.append(entry)
        return found

    def _named(self, entries: builtins.list[TimeEntry], tenant_id: str) -> builtins.list[TimeEntry]:
        """The entries with the names of their owner, project, customer and activity."""
        named = []
        for entry in entries:
            project = self.staged.get(catalog_table("project"), tenant_id, entry.project_id)
            activity = self.staged.get(catalog_table("activity"), tenant_id, entry.activity_id)
            owner = self.staged.get(USERS, tenant_id, entry.owner_id)
            project_name = customer_id = customer_name = None
            if project is not None:
                project_name = project.name
                if project.status == INACTIVE:
                    project_name += ARCHIVED_SUFFIX
                customer_id = project.customer_id
                customer = (
                    self.staged.get(catalog_table("customer"), tenant_id, customer_id)
                    if customer_id
                    else None
                )
                customer_name = customer.name if customer is not None else None
            named.append(
                dataclasses.replace(
                    entry,
                    owner_email=owner.user.email if owner is not None else None,
                    project_name=project_name,
                    activity_name=activity.name if activity is not None else None,
                    customer_id=customer_id,
                    customer_name=customer_name,
                )
            )
        return named


def _stored(entry: TimeEntry) -> TimeEntry:
    """The entry as the storage keeps it: its moments in UTC, without its read model."""
    return dataclasses.replace(
        entry,
        start_date=entry.start_date.astimezone(UTC),
        end_date=in_utc(entry.end_date),
        deleted=in_utc(entry.deleted),
        technologies=list(entry.technologies),
        owner_email=None,
        project_name=None,
        activity_name=None,
        customer_id=None,
        customer_name=None,
    )
