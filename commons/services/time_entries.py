"""Time entry use cases: timers, timesheets and summaries for the caller and their team."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from commons.data_access_layer.ports import Storage, UnitOfWork
from commons.domain.catalog import ACTIVE, ACTIVITY, PROJECT, CatalogItem, CatalogKind
from commons.domain.events import (
    RecordChanged,
    RecordCreated,
    RecordDeleted,
    RecordUpdated,
    TimeEntryRestarted,
    TimeEntryStopped,
)
from commons.domain.exceptions import (
    AlreadyRunning,
    AlreadyStopped,
    Forbidden,
    InvalidReference,
    NotFound,
    OverlappingTimeEntry,
    RunningEntryExists,
)
from commons.domain.pagination import Page, PageRequest, Position
from commons.domain.principal import Principal
from commons.domain.sync import SyncQuery, update_position
from commons.domain.time_entries import (
    TimeEntry,
    TimeEntryQuery,
    clean_technologies,
    duration_parts,
    entry_position,
)
from commons.domain.time_windows import (
    EARLIEST,
    LATEST,
    Window,
    current_month_window,
    day_window,
    month_window,
    week_window,
    window_between,
)
from commons.services import idempotency
from commons.services.events import changed

RECENT_ENTRIES = 20
# Entries a long list reads (and an answer writes) at a time.
STREAM_BATCH = 500
TIME_ENTRY = "time_entry"
EDITABLE = (
    "project_id",
    "activity_id",
    "description",
    "start_date",
    "end_date",
    "uri",
    "technologies",
    "timezone_offset",
)


@dataclass(frozen=True)
class EntryFilters:
    """What a caller asks to see: whose entries, when (in their zone), and which."""

    zone: tzinfo = UTC
    user_ids: tuple[str, ...] | None = None  # None: the caller; ("*",): the whole tenant
    start_date: datetime | None = None
    end_date: datetime | None = None
    month: int | None = None
    year: int | None = None
    project_id: str | None = None
    activity_id: str | None = None
    uri: str | None = None
    limit: int | None = None
    # Incremental sync: changed since a moment, by update; no window unless one is given.
    sync: SyncQuery | None = None


def list_entries(storage: Storage, principal: Principal, filters: EntryFilters) -> list[TimeEntry]:
    """Entries intersecting the window, newest first."""
    with storage.unit_of_work() as uow:
        return uow.time_entries.list(_query(uow, principal, filters))


def stream_entries(
    storage: Storage, principal: Principal, filters: EntryFilters, batch: int = STREAM_BATCH
) -> Iterator[list[TimeEntry]]:
    """The entries `list_entries` shows, in batches of at most `batch`, every batch read from
    one snapshot of the storage (each a keyset page after the one before): a list of any
    length in bounded memory. Nothing is read before the first batch is asked for; close the
    iterator to stop early."""
    with storage.unit_of_work(snapshot=True) as uow:
        query = _query(uow, principal, filters)
        left, after = query.limit, None
        while left is None or left > 0:
            size = batch if left is None else min(batch, left)
            entries = uow.time_entries.page(dataclasses.replace(query, limit=size), after)
            if entries:
                yield entries
            if len(entries) < size:
                return
            left = None if left is None else left - size
            after = _position(query)(entries[-1])


def page_entries(
    storage: Storage, principal: Principal, filters: EntryFilters, request: PageRequest
) -> Page[TimeEntry]:
    """One page of the entries `list_entries` would show (the client's `limit` aside), the
    cursor of the next, and how many there are in all when the request counts them."""
    with storage.unit_of_work() as uow:
        query = _query(uow, principal, filters)
        total = uow.time_entries.count(query) if request.counts else None
        # One entry beyond the page tells whether another page follows.
        wanted = dataclasses.replace(query, offset=request.start, limit=request.length + 1)
        entries = uow.time_entries.page(wanted, request.after)
    return Page.of(entries, request.length, total, _position(query))


def get_entry(storage: Storage, principal: Principal, entry_id: str) -> TimeEntry:
    """One entry; its owner and admins may read it."""
    with storage.unit_of_work() as uow:
        entry = _existing(uow, principal, entry_id)
    if entry.owner_id != principal.user_id and not principal.is_admin:
        raise Forbidden("Only the owner or an admin can read this time entry")
    return entry


def running_entry(storage: Storage, principal: Principal) -> TimeEntry | None:
    """The caller's running entry, if any."""
    with storage.unit_of_work() as uow:
        return uow.time_entries.running(principal.tenant_id, principal.user_id)


def latest_entries(storage: Storage, principal: Principal) -> list[TimeEntry]:
    """The caller's most recent entry of each project."""
    with storage.unit_of_work() as uow:
        return uow.time_entries.latest_per_project(principal.tenant_id, principal.user_id)


def summary(
    storage: Storage, principal: Principal, zone: tzinfo, now: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Time worked today, this week (from Monday) and this month, in the caller's zone."""
    now = now or datetime.now(UTC)
    windows = {
        "day": day_window(now, zone),
        "week": week_window(now, zone),
        "month": current_month_window(now, zone),
    }
    with storage.unit_of_work() as uow:
        seconds = uow.time_entries.worked_seconds(
            principal.tenant_id, principal.user_id, windows, now
        )
    return {name: duration_parts(value) for name, value in seconds.items()}


def recent_projects(storage: Storage, principal: Principal) -> list[CatalogItem]:
    """The caller's active projects among their latest entries, most recent first."""
    with storage.unit_of_work() as uow:
        ids = uow.time_entries.recent_project_ids(
            principal.tenant_id, principal.user_id, RECENT_ENTRIES
        )
        if not ids:
            return []
        projects = uow.catalog(PROJECT).list(
            principal.tenant_id, {"id": tuple(ids), "status": ACTIVE}
        )
    order = {project_id: position for position, project_id in enumerate(ids)}
    return sorted(projects, key=lambda project: order[project.id])


def create_entry(
    storage: Storage, principal: Principal, data: Mapping[str, Any], now: datetime | None = None
) -> TimeEntry:
    """Start a timer (no end) or log a finished interval for the caller."""
    now = now or datetime.now(UTC)
    values = {name: data[name] for name in EDITABLE if name in data}
    values["technologies"] = clean_technologies(values.get("technologies") or [])
    values["start_date"] = values.get("start_date") or now
    entry = TimeEntry(
        id=str(uuid.uuid4()),
        tenant_id=principal.tenant_id,
        owner_id=principal.user_id,
        **values,
    )
    entry.check_interval(now)
    with storage.unit_of_work(write=True) as uow:
        uow.time_entries.lock_timeline(principal.tenant_id, principal.user_id)
        _check_references(uow, entry, {"project_id", "activity_id"})
        _check_timeline(uow, entry)
        uow.time_entries.add(entry)
        event = changed(RecordCreated, principal, TIME_ENTRY, entry.id, _describe(entry))
        return _committed(uow, principal, entry.id, event)


def update_entry(
    storage: Storage,
    principal: Principal,
    entry_id: str,
    changes: Mapping[str, Any],
    update_last_entry_if_overlap: bool = False,
    now: datetime | None = None,
) -> TimeEntry:
    """Change some fields of the caller's entry; optionally shorten the entry before it."""
    now = now or datetime.now(UTC)
    values = {name: changes[name] for name in EDITABLE if name in changes}
    if "technologies" in values:
        values["technologies"] = clean_technologies(values["technologies"] or [])
    if values.get("start_date", ...) is None:
        values.pop("start_date")  # an entry always has a start
    with storage.unit_of_work(write=True) as uow:
        entry = _owned(uow, principal, entry_id)
        entry = dataclasses.replace(entry, **values)
        entry.check_interval(now)
        _check_references(uow, entry, set(values))
        if update_last_entry_if_overlap:
            _shorten_previous(uow, principal, entry)
        _check_timeline(uow, entry)
        uow.time_entries.update(entry)
        event = changed(RecordUpdated, principal, TIME_ENTRY, entry.id, _describe(entry))
        return _committed(uow, principal, entry_id, event)


def stop_entry(
    storage: Storage, principal: Principal, entry_id: str, now: datetime | None = None
) -> TimeEntry:
    """End the caller's running entry now."""
    now = now or datetime.now(UTC)
    with storage.unit_of_work(write=True) as uow:
        entry = _owned(uow, principal, entry_id)
        if not entry.running:
            raise AlreadyStopped()
        entry = dataclasses.replace(entry, end_date=now)
        entry.check_interval(now)
        uow.time_entries.update(entry)
        event = changed(TimeEntryStopped, principal, TIME_ENTRY, entry.id, _describe(entry))
        return _committed(uow, principal, entry_id, event)


def restart_entry(storage: Storage, principal: Principal, entry_id: str) -> TimeEntry:
    """Make the caller's stopped entry run again, if nothing else runs or follows it."""
    with storage.unit_of_work(write=True) as uow:
        entry = _owned(uow, principal, entry_id)
        if entry.running:
            raise AlreadyRunning()
        entry = dataclasses.replace(entry, end_date=None)
        _check_timeline(uow, entry)
        uow.time_entries.update(entry)
        event = changed(TimeEntryRestarted, principal, TIME_ENTRY, entry.id, _describe(entry))
        return _committed(uow, principal, entry_id, event)


def delete_entry(storage: Storage, principal: Principal, entry_id: str) -> None:
    """Delete the caller's entry: it is hidden from every read afterwards."""
    with storage.unit_of_work(write=True) as uow:
        entry = _owned(uow, principal, entry_id)
        deleted = dataclasses.replace(entry, deleted=datetime.now(UTC))
        uow.time_entries.update(deleted)
        uow.add_event(
            changed(RecordDeleted, principal, TIME_ENTRY, entry.id, _describe(entry)), deleted
        )
        idempotency.commit(uow)


def _committed(
    uow: UnitOfWork, principal: Principal, entry_id: str, event: RecordChanged
) -> TimeEntry:
    """The written entry as the writing transaction sees it, committed with the change and its
    event (which carries the entry so): the answer never needs a second visit to the database
    once the change is made."""
    entry = _existing(uow, principal, entry_id)
    uow.add_event(event, entry)
    idempotency.commit(uow, entry)
    return entry


def _existing(uow: UnitOfWork, principal: Principal, entry_id: str) -> TimeEntry:
    entry = uow.time_entries.get(principal.tenant_id, entry_id)
    if entry is None:
        raise NotFound("Time entry not found")
    return entry


def _owned(uow: UnitOfWork, principal: Principal, entry_id: str) -> TimeEntry:
    # The caller's timeline is locked before anything is read: racing writes of one user queue
    # here, and each sees what the previous one committed.
    uow.time_entries.lock_timeline(principal.tenant_id, principal.user_id)
    entry = _existing(uow, principal, entry_id)
    if entry.owner_id != principal.user_id:
        raise Forbidden("Only the owner can change this time entry")
    return entry


def _check_references(uow: UnitOfWork, entry: TimeEntry, changed: set[str]) -> None:
    references: tuple[tuple[str, CatalogKind], ...] = (
        ("project_id", PROJECT),
        ("activity_id", ACTIVITY),
    )
    for field, kind in references:
        if field not in changed:
            continue
        item = uow.catalog(kind).get(entry.tenant_id, getattr(entry, field))
        if item is None or getattr(item, "status", ACTIVE) != ACTIVE:
            label = kind.label.lower()
            raise InvalidReference(
                f"No active {label} with that id", {field: f"must be an active {label}"}
            )


def _check_timeline(uow: UnitOfWork, entry: TimeEntry) -> None:
    """One running entry per user, and no two entries of a user overlapping."""
    another_runs, overlaps = uow.time_entries.conflicts(
        entry.tenant_id, entry.owner_id, entry.start_date, entry.end_date, exclude_id=entry.id
    )
    if another_runs:
        raise RunningEntryExists()
    if overlaps:
        raise OverlappingTimeEntry()


def _shorten_previous(uow: UnitOfWork, principal: Principal, entry: TimeEntry) -> None:
    previous = uow.time_entries.previous(
        entry.tenant_id, entry.owner_id, entry.start_date, exclude_id=entry.id
    )
    if previous is not None and (previous.end_date is None or previous.end_date > entry.start_date):
        shortened = dataclasses.replace(previous, end_date=entry.start_date)
        uow.time_entries.update(shortened)
        description = f"Shortened to end when entry {entry.id} starts"
        event = changed(RecordUpdated, principal, TIME_ENTRY, shortened.id, description)
        uow.add_event(event, shortened)


def _describe(entry: TimeEntry) -> str:
    end = entry.end_date.isoformat() if entry.end_date else "running"
    return f"Time entry {entry.start_date.isoformat()} – {end}"


def _query(uow: UnitOfWork, principal: Principal, filters: EntryFilters) -> TimeEntryQuery:
    owner_ids: tuple[str, ...] | None = (principal.user_id,)
    excluded: tuple[str, ...] = ()
    if filters.user_ids is not None:
        if not principal.is_admin:
            raise Forbidden("Only admins can list other users' time entries")
        owner_ids = None if "*" in filters.user_ids else filters.user_ids
        if not principal.is_tester:
            excluded = tuple(uow.users.tester_ids(principal.tenant_id))
    return TimeEntryQuery(
        tenant_id=principal.tenant_id,
        window=_window(filters),
        owner_ids=owner_ids,
        excluded_owner_ids=excluded,
        project_id=filters.project_id,
        activity_id=filters.activity_id,
        uri=filters.uri,
        limit=filters.limit,
        sync=filters.sync,
    )


def _position(query: TimeEntryQuery) -> Callable[[TimeEntry], Position]:
    """Where an entry stands in the query's list: newest first, or by update (sync)."""
    return entry_position if query.sync is None else update_position


def _window(filters: EntryFilters) -> Window:
    if filters.start_date or filters.end_date:
        return window_between(filters.start_date, filters.end_date)
    if filters.sync is not None and not (filters.month or filters.year):
        return Window(EARLIEST, LATEST)  # a sync covers every entry unless asked otherwise
    now = datetime.now(UTC).astimezone(filters.zone)
    if filters.month or filters.year:
        return month_window(filters.year or now.year, filters.month or now.month, filters.zone)
    return current_month_window(now, filters.zone)
