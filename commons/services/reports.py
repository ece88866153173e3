"""Report use cases: totals grouped the way people bill and review time, and the detailed rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from commons.data_access_layer.ports import Storage, UnitOfWork
from commons.domain.catalog import ACTIVITY, CUSTOMER, PROJECT
from commons.domain.exceptions import Forbidden, InvalidReference
from commons.domain.principal import Principal
from commons.domain.reports import (
    ReportFilters,
    ReportQuery,
    ReportRow,
    buckets,
    derived,
    grouped_keys,
    storage_groupings,
    stored_levels,
    summary_answer,
)
from commons.domain.sync import SyncQuery
from commons.domain.time_entries import TimeEntry, TimeEntryQuery, entry_position
from commons.domain.time_windows import Window
from commons.services.time_entries import STREAM_BATCH

EVERY_RECORD = SyncQuery(include_deleted=True)
CATALOG = {"customer": CUSTOMER, "project": PROJECT, "activity": ACTIVITY}


def summary(
    storage: Storage, principal: Principal, filters: ReportFilters, now: datetime | None = None
) -> dict[str, Any]:
    """Seconds and entries in the window, in groups and sub-groups, added up by the storage."""
    now = now or datetime.now(UTC)
    unit = filters.time_unit
    bucket_list = buckets(filters.window, filters.zone, unit) if unit else []
    groupings = storage_groupings(filters)
    with storage.unit_of_work() as uow:
        query = _query(uow, principal, filters)
        windows: list[Window] = [bucket.window for bucket in bucket_list]
        levels = stored_levels(filters)
        stored = uow.time_entries.report(query, [groupings[i] for i in levels], windows, now)
        results = _all_levels(groupings, dict(zip(levels, stored, strict=True)))
        names = _names(uow, principal.tenant_id, grouped_keys(results, groupings))
    return summary_answer(filters, results, bucket_list, names)


def report_entries(
    storage: Storage, principal: Principal, filters: ReportFilters, batch: int = STREAM_BATCH
) -> Iterator[list[TimeEntry]]:
    """The report's entries, newest first as lists show them, in batches read from one
    snapshot (keyset pages): an export of any length in bounded memory. The customer and
    technology filters apply to each batch."""
    with storage.unit_of_work(snapshot=True) as uow:
        report = _query(uow, principal, filters)
        query = TimeEntryQuery(
            tenant_id=report.tenant_id,
            window=report.window,
            owner_ids=report.owner_ids,
            excluded_owner_ids=report.excluded_owner_ids,
            project_id=report.project_id,
            activity_id=report.activity_id,
            uri=report.uri,
            limit=batch,
        )
        after = None
        while True:
            entries = uow.time_entries.page(query, after)
            wanted = [entry for entry in entries if _wanted(entry, filters)]
            if wanted:
                yield wanted
            if len(entries) < batch:
                return
            after = entry_position(entries[-1])


def _all_levels(
    groupings: list[tuple[str, ...]], stored: dict[int, list[ReportRow]]
) -> list[list[ReportRow]]:
    """Every level's rows: those storage added up, and those above them derived from them."""
    results: list[list[ReportRow]] = [[] for _ in groupings]
    for level in reversed(range(len(groupings))):
        if level in stored:
            results[level] = stored[level]
        else:
            results[level] = derived(results[level + 1], groupings[level + 1], groupings[level])
    return results


def _wanted(entry: TimeEntry, filters: ReportFilters) -> bool:
    if filters.customer_id is not None and entry.customer_id != filters.customer_id:
        return False
    return filters.technology is None or filters.technology in entry.technologies


def _query(uow: UnitOfWork, principal: Principal, filters: ReportFilters) -> ReportQuery:
    """Members see their own time; admins whoever they name (* for everyone but testers)."""
    owner_ids: tuple[str, ...] | None = (principal.user_id,)
    excluded: tuple[str, ...] = ()
    if filters.user_ids is not None:
        if not principal.is_admin:
            raise Forbidden("Only admins can report on other users' time")
        owner_ids = None if "*" in filters.user_ids else filters.user_ids
        if not principal.is_tester:
            excluded = tuple(uow.users.tester_ids(principal.tenant_id))
    for dimension, kind in CATALOG.items():
        item_id = getattr(filters, f"{dimension}_id")
        if item_id is not None and uow.catalog(kind).get(principal.tenant_id, item_id) is None:
            raise InvalidReference(
                f"No {dimension} with that id",
                {f"{dimension}_id": f"must be a {dimension} of yours"},
            )
    return ReportQuery(
        tenant_id=principal.tenant_id,
        window=filters.window,
        owner_ids=owner_ids,
        excluded_owner_ids=excluded,
        customer_id=filters.customer_id,
        project_id=filters.project_id,
        activity_id=filters.activity_id,
        uri=filters.uri,
    )


def _names(uow: UnitOfWork, tenant_id: str, keys: dict[str, set[Any]]) -> dict[str, dict[Any, str]]:
    names: dict[str, dict[Any, str]] = {}
    for dimension, kind in CATALOG.items():
        if keys.get(dimension):
            # As a sync list reads them: archived and deleted records still name old entries.
            wanted = {"id": tuple(sorted(keys[dimension]))}
            items = uow.catalog(kind).list(tenant_id, wanted, sync=EVERY_RECORD)
            names[dimension] = {item.id: item.name for item in items}
    if keys.get("user"):
        names["user"] = {
            user.id: user.email or user.name or user.id
            for user in uow.users.list(tenant_id)
            if user.id in keys["user"]
        }
    return names
