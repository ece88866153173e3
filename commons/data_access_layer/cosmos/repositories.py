"""Cosmos DB repositories: every query is parameterized and filters `c.tenant_id` itself.

Writes are staged on the unit of work and sent when it commits; reads go to the database.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import itertools
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.cosmos import exceptions

from commons.data_access_layer.cosmos import containers
from commons.data_access_layer.cosmos.documents import (
    from_document,
    instant,
    key_id,
    stored_fields,
    timestamp,
    to_document,
)
from commons.data_access_layer.cosmos.pages import by_update, newest_first
from commons.domain.catalog import (
    INACTIVE,
    PROJECT,
    CatalogItem,
    CatalogKind,
    NamedSummary,
    normalized_name,
)
from commons.domain.exceptions import AlreadyExists, RunningEntryExists, StorageUnavailable
from commons.domain.pagination import Position
from commons.domain.reports import ReportQuery, ReportRecord, ReportRow, aggregate
from commons.domain.sync import SyncQuery
from commons.domain.time_entries import (
    ARCHIVED_SUFFIX,
    TimeEntry,
    TimeEntryQuery,
    intersects,
    worked_seconds_in,
)
from commons.domain.time_windows import EARLIEST, LATEST, Window
from commons.domain.users import User, email_already_used, email_key

if TYPE_CHECKING:
    from commons.data_access_layer.cosmos.unit_of_work import CosmosUnitOfWork

LOCK_SECONDS = 30
REPORT_PAGE = 1000  # entries a report reads per page of a query
CLAIM_ATTEMPTS = 5
LOCK_WAIT_SECONDS = 60
LOCK_POLL_SECONDS = (0.005, 0.25)  # first and longest pause between attempts


def parameters(**values: Any) -> list[dict[str, Any]]:
    return [{"name": f"@{name}", "value": value} for name, value in values.items()]


class CosmosCatalogRepository:
    """Catalog records of one kind in their container; names unique through a unique key."""

    def __init__(self, uow: CosmosUnitOfWork, kind: CatalogKind):
        self.uow = uow
        self.kind = kind
        self.container = uow.container(containers.CATALOG_CONTAINERS[kind.key])
        self.fields = stored_fields(kind.entity, "customer", "project_type")

    def get(self, tenant_id: str, item_id: str) -> CatalogItem | None:
        document = self.uow.read(self.container, item_id, tenant_id)
        if document is None or document.get("deleted") is not None:
            return None
        return self._enriched([self._entity(document)], tenant_id)[0]

    def list(
        self, tenant_id: str, filters: Mapping[str, object], sync: SyncQuery | None = None
    ) -> builtins.list[CatalogItem]:
        clauses = ["c.tenant_id = @tenant_id", "IS_NULL(c.deleted)"]
        values: dict[str, Any] = {}
        if sync is not None:
            clauses, values = _changed(sync)
        for index, (field, value) in enumerate(filters.items()):
            if isinstance(value, tuple):
                clauses.append(f"ARRAY_CONTAINS(@f{index}, c.{field})")
                values[f"f{index}"] = list(value)
            else:
                clauses.append(f"c.{field} = @f{index}")
                values[f"f{index}"] = value
        where = " AND ".join(clauses)
        if sync is not None:
            # Served by the composite index (updated_at, id) of migration 0011.
            sql = f"SELECT * FROM c WHERE {where} ORDER BY c.updated_at ASC, c.id ASC"
            documents = self.uow.query(self.container, sql, tenant_id, **values)
            return self._enriched([self._entity(d) for d in documents], tenant_id)
        documents = self.uow.query(
            self.container, f"SELECT * FROM c WHERE {where}", tenant_id, **values
        )
        items = self._enriched([self._entity(d) for d in documents], tenant_id, listing=True)
        return sorted(items, key=lambda item: (normalized_name(item.name), item.id))

    def add(self, item: CatalogItem) -> None:
        now = datetime.now(UTC)
        item = dataclasses.replace(item, created_at=now, updated_at=now)
        self.uow.stage(self.container, "create", self._document(item), self._name_taken)

    def update(self, item: CatalogItem) -> None:
        created = _created_at(self.uow.read(self.container, item.id, item.tenant_id))
        item = dataclasses.replace(item, created_at=created, updated_at=datetime.now(UTC))
        self.uow.stage(self.container, "replace", self._document(item), self._name_taken)

    def _name_taken(self) -> AlreadyExists:
        return AlreadyExists(
            f"{self.kind.label} with that name already exists", {"name": "already exists"}
        )

    def _entity(self, document: dict[str, Any]) -> CatalogItem:
        return from_document(self.kind.entity, document, self.fields)

    def _document(self, item: CatalogItem) -> dict[str, Any]:
        document = to_document(item, self.fields)
        slot = item.id if item.deleted else ""
        # One path holds the whole key: unique keys apply per tenant (the partition).
        document["uniqueness_key"] = (
            f"{self.kind.uniqueness_scope(item)}|{normalized_name(item.name)}|{slot}"
        )
        return document

    def _enriched(
        self, items: builtins.list[CatalogItem], tenant_id: str, listing: bool = False
    ) -> builtins.list[CatalogItem]:
        if self.kind is not PROJECT or not items:
            return items
        customers = self.uow.documents_by_id(
            containers.CUSTOMER, tenant_id, {getattr(i, "customer_id", None) for i in items}
        )
        types = self.uow.documents_by_id(
            containers.PROJECT_TYPE, tenant_id, {getattr(i, "project_type_id", None) for i in items}
        )
        shown = []
        for item in items:
            customer = customers.get(getattr(item, "customer_id", None) or "")
            project_type = types.get(getattr(item, "project_type_id", None) or "")
            if listing and customer is not None and customer.get("status") == INACTIVE:
                continue  # projects of archived customers are hidden from lists only
            item.customer = _summary(customer)  # type: ignore[attr-defined]
            if project_type is not None and project_type.get("deleted") is None:
                item.project_type = _summary(project_type)  # type: ignore[attr-defined]
            shown.append(item)
        return shown


def _created_at(stored: dict[str, Any] | None) -> datetime | None:
    """When the stored record was created: a replace keeps it, whatever the entity says."""
    return instant((stored or {}).get("created_at")) or datetime.now(UTC)


def _changed(sync: SyncQuery) -> tuple[builtins.list[str], dict[str, Any]]:
    """The conditions of a sync list. Every record stores `deleted` (null while live); the
    change documents beside the records do not."""
    clauses = ["c.tenant_id = @tenant_id"]
    clauses.append("IS_DEFINED(c.deleted)" if sync.include_deleted else "IS_NULL(c.deleted)")
    values: dict[str, Any] = {}
    if sync.updated_since is not None:
        clauses.append("c.updated_at >= @updated_since")
        values["updated_since"] = timestamp(sync.updated_since)
    return clauses, values


def _summary(document: dict[str, Any] | None) -> NamedSummary | None:
    return NamedSummary(document["name"], document.get("description")) if document else None


class CosmosUserRepository:
    """The tenant's users, one document each, with their granted groups inside."""

    def __init__(self, uow: CosmosUnitOfWork):
        self.uow = uow
        self.container = uow.container(containers.USER)

    def get(self, tenant_id: str, user_id: str) -> User | None:
        document = self._document(tenant_id, user_id)
        return _user(document) if document else None

    def _document(self, tenant_id: str, user_id: str) -> dict[str, Any] | None:
        """The user's document as this unit of work has left it so far (reads see what the
        unit of work staged)."""
        return self.uow.read(self.container, key_id("user", user_id), tenant_id)

    def _save(self, document: dict[str, Any]) -> None:
        self.uow.stage(self.container, "upsert", document)

    def list(self, tenant_id: str) -> builtins.list[User]:
        documents = self.uow.query(
            self.container,
            "SELECT * FROM c WHERE c.tenant_id = @tenant_id AND c.type = 'user'",
            tenant_id,
        )
        return sorted((_user(d) for d in documents), key=lambda u: (u.email or "", u.id))

    def tester_ids(self, tenant_id: str) -> builtins.list[str]:
        return sorted(user.id for user in self.list(tenant_id) if user.is_tester)

    def record(self, user: User) -> None:
        now = timestamp(datetime.now(UTC))
        existing = self._document(user.tenant_id, user.id) or {}
        self._save(
            {
                "created_at": now,
                "granted_groups": [],
                **existing,
                "id": key_id("user", user.id),
                "type": "user",
                "tenant_id": user.tenant_id,
                "user_id": user.id,
                "email": user.email,
                "email_key": email_key(user.email) if user.email else None,
                "name": user.name,
                "token_groups": sorted(user.token_groups),
                "updated_at": now,
            }
        )

    def email_taken(self, tenant_id: str, email: str) -> bool:
        found = self.uow.query(
            self.container,
            "SELECT VALUE c.id FROM c WHERE c.tenant_id = @tenant_id AND c.type = 'user'"
            " AND c.email_key = @email_key",
            tenant_id,
            email_key=email_key(email),
        )
        return bool(found)

    def invite(self, user: User) -> None:
        # The invitation's id derives from the email: creating it is the one-per-email guard.
        assert user.email is not None
        now = timestamp(datetime.now(UTC))
        invitation = {
            "id": _invitation_id(user.email),
            "type": "invitation",
            "tenant_id": user.tenant_id,
            "invited_user_id": user.id,
            "created_at": now,
        }
        self.uow.stage(self.container, "create", invitation, email_already_used)
        document: dict[str, Any] = {
            "id": key_id("user", user.id),
            "type": "user",
            "tenant_id": user.tenant_id,
            "user_id": user.id,
            "invited": True,
            "email": user.email,
            "email_key": email_key(user.email),
            "name": user.name,
            "token_groups": [],
            "granted_groups": [],
            "created_at": now,
            "updated_at": now,
        }
        self.uow.stage(self.container, "create", document, email_already_used)

    def claim_invitation(self, user: User) -> bool:
        """Mark the invitation as this user's with if-match, create their document from the
        invited one, then drop the invited document and the invitation.

        The conditional replace is the guard: of racing identities one marks the invitation;
        the others find it marked by another. Racing requests of the winner find it marked
        by them and create the same document (one create wins). The invitation goes last, so
        whoever no longer finds it finds the user.
        """
        if not user.email:
            return False
        invitation_id = _invitation_id(user.email)
        for _ in range(CLAIM_ATTEMPTS):
            invitation = self.uow.read(self.container, invitation_id, user.tenant_id)
            if invitation is None:
                return False
            claimed_by = invitation.get("claimed_by")
            if claimed_by == user.id:
                break
            if claimed_by is not None:
                return False
            try:
                self.container.replace_item(
                    invitation_id,
                    {**invitation, "claimed_by": user.id},
                    etag=invitation["_etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                break
            except exceptions.CosmosAccessConditionFailedError:
                continue  # changed meanwhile: read who holds it now
            except exceptions.CosmosResourceNotFoundError:
                return False
        else:
            return False
        invited_id = key_id("user", invitation["invited_user_id"])
        invited = self.uow.read(self.container, invited_id, user.tenant_id)
        if invited is not None:
            now = timestamp(datetime.now(UTC))
            # A racing request of the same user may have created it already.
            with contextlib.suppress(exceptions.CosmosResourceExistsError):
                self.container.create_item(
                    {
                        "created_at": invited.get("created_at", now),
                        "id": key_id("user", user.id),
                        "type": "user",
                        "tenant_id": user.tenant_id,
                        "user_id": user.id,
                        "email": user.email,
                        "email_key": email_key(user.email),
                        "name": user.name,
                        "token_groups": sorted(user.token_groups),
                        "granted_groups": invited.get("granted_groups") or [],
                        "updated_at": now,
                    }
                )
        for document_id in (invited_id, invitation_id):
            with contextlib.suppress(exceptions.CosmosResourceNotFoundError):
                self.container.delete_item(document_id, partition_key=user.tenant_id)
        return True

    def grant(self, tenant_id: str, user_id: str, group: str) -> None:
        self._change_groups(tenant_id, user_id, lambda groups: groups | {group})

    def revoke(self, tenant_id: str, user_id: str, group: str) -> None:
        self._change_groups(tenant_id, user_id, lambda groups: groups - {group})

    def _change_groups(self, tenant_id: str, user_id: str, change: Any) -> None:
        document = self._document(tenant_id, user_id)
        if document is None:
            return
        before = sorted(document.get("granted_groups") or [])
        groups = sorted(change(set(before)))
        if groups != before:
            now = timestamp(datetime.now(UTC))
            self._save({**document, "granted_groups": groups, "updated_at": now})


def _invitation_id(email: str) -> str:
    return key_id("invitation", email_key(email))


def _user(document: dict[str, Any]) -> User:
    return User(
        id=document["user_id"],
        tenant_id=document["tenant_id"],
        email=document.get("email"),
        name=document.get("name"),
        token_groups=frozenset(document.get("token_groups") or ()),
        granted_groups=frozenset(document.get("granted_groups") or ()),
        created_at=instant(document.get("created_at")),
        updated_at=instant(document.get("updated_at")),
    )


ENTRY_FIELDS = stored_fields(
    TimeEntry, "owner_email", "project_name", "activity_name", "customer_id", "customer_name"
)
LIVE = "c.tenant_id = @tenant_id AND IS_NULL(c.deleted)"
MEETS = "c.start_date < @window_end AND (IS_NULL(c.end_date) OR c.end_date > @window_start)"


class CosmosTimeEntryRepository:
    """Time entries; a user's writes are serialized by a lock document (create = acquire)."""

    def __init__(self, uow: CosmosUnitOfWork):
        self.uow = uow
        self.container = uow.container(containers.TIME_ENTRY)
        self.pending: dict[str, TimeEntry] = {}

    def lock_timeline(self, tenant_id: str, owner_id: str) -> None:
        """Create the user's lock document, waiting while another unit of work holds it.

        Creating a document with a fixed id either succeeds or fails with 409, atomically;
        a lock left behind by a crashed process expires and is removed with if-match.
        """
        lock_id = key_id("timeline-lock", owner_id)
        if lock_id in self.uow.locks:
            return
        users = self.uow.container(containers.USER)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        pause, longest = LOCK_POLL_SECONDS
        for attempt in itertools.count():
            expires = timestamp(datetime.now(UTC) + timedelta(seconds=LOCK_SECONDS))
            document = {"id": lock_id, "tenant_id": tenant_id, "type": "lock", "expires": expires}
            try:
                created = users.create_item(document)
                self.uow.locks[lock_id] = (tenant_id, created["_etag"])
                return
            except exceptions.CosmosResourceExistsError:
                # Now and then, look whether the holder died and left its lock to expire.
                held = self.uow.read(users, lock_id, tenant_id) if attempt % 8 == 7 else None
                if held and held["expires"] < timestamp(datetime.now(UTC)):  # type: ignore[operator]
                    self.uow.delete_if_unchanged(users, held, tenant_id)
                    continue
            if time.monotonic() > deadline:
                raise StorageUnavailable("The timeline is busy; try again shortly")
            # Waiters back off so they do not crowd out the holder's own requests.
            time.sleep(random.uniform(pause / 2, pause))  # noqa: S311 - jitter, not security
            pause = min(pause * 1.5, longest)

    def get(self, tenant_id: str, entry_id: str) -> TimeEntry | None:
        entry = self.pending.get(entry_id)
        if entry is None:
            document = self.uow.read(self.container, entry_id, tenant_id)
            entry = self._entity(document) if document else None
        if entry is None or entry.deleted is not None:
            return None
        return self._enriched([entry], tenant_id)[0]

    def running(self, tenant_id: str, owner_id: str) -> TimeEntry | None:
        found = self._query(
            f"SELECT * FROM c WHERE {LIVE} AND c.running_key = @running_key",
            tenant_id,
            running_key=_running_key(owner_id),
        )
        candidates = self._overlaid(found, owner_id)
        running = [e for e in candidates if e.running and e.deleted is None]
        return self._enriched(running, tenant_id)[0] if running else None

    def conflicts(
        self,
        tenant_id: str,
        owner_id: str,
        start: datetime,
        end: datetime | None,
        exclude_id: str | None = None,
    ) -> tuple[bool, bool]:
        running = self.running(tenant_id, owner_id) if end is None else None
        meets = self.has_overlap(tenant_id, owner_id, start, end, exclude_id)
        return running is not None and running.id != exclude_id, meets

    def has_overlap(
        self,
        tenant_id: str,
        owner_id: str,
        start: datetime,
        end: datetime | None,
        exclude_id: str | None = None,
    ) -> bool:
        window = Window(start, end or LATEST)
        found = self._query(
            f"SELECT * FROM c WHERE {LIVE} AND c.owner_id = @owner_id AND {MEETS}",
            tenant_id,
            owner_id=owner_id,
            window_start=timestamp(window.start),
            window_end=timestamp(window.end),
        )
        return any(
            entry.id != exclude_id
            and entry.deleted is None
            and intersects(entry.start_date, entry.end_date, window)
            for entry in self._overlaid(found, owner_id)
        )

    def previous(
        self, tenant_id: str, owner_id: str, before: datetime, exclude_id: str
    ) -> TimeEntry | None:
        found = self._query(
            f"SELECT TOP 2 * FROM c WHERE {LIVE} AND c.owner_id = @owner_id "
            "AND c.start_date < @before ORDER BY c.start_date DESC",
            tenant_id,
            owner_id=owner_id,
            before=timestamp(before),
        )
        earlier = [
            e
            for e in self._overlaid(found, owner_id)
            if e.id != exclude_id and e.deleted is None and e.start_date < before
        ]
        return max(earlier, key=lambda e: (e.start_date, e.id), default=None)

    def add(self, entry: TimeEntry) -> None:
        now = datetime.now(UTC)
        entry = dataclasses.replace(entry, created_at=now, updated_at=now)
        self.pending[entry.id] = entry
        self.uow.stage(self.container, "create", self._document(entry), RunningEntryExists)

    def add_many(self, entries: Iterable[TimeEntry]) -> None:
        now = datetime.now(UTC)
        for entry in entries:
            entry = dataclasses.replace(entry, created_at=now, updated_at=now)
            self.uow.stage(self.container, "upsert", self._document(entry))

    def update(self, entry: TimeEntry) -> None:
        staged = self.pending.get(entry.id)
        created = (
            staged.created_at
            if staged is not None
            else _created_at(self.uow.read(self.container, entry.id, entry.tenant_id))
        )
        entry = dataclasses.replace(entry, created_at=created, updated_at=datetime.now(UTC))
        self.pending[entry.id] = entry
        self.uow.stage(self.container, "replace", self._document(entry), RunningEntryExists)

    def list(self, query: TimeEntryQuery) -> builtins.list[TimeEntry]:
        return self.page(query)

    def page(
        self, query: TimeEntryQuery, after: Position | None = None
    ) -> builtins.list[TimeEntry]:
        where, values = self._matching(query)
        if query.sync is not None:
            documents = by_update(
                self.uow,
                self.container,
                query.tenant_id,
                where,
                values,
                offset=query.offset,
                limit=query.limit,
                after=after,
            )
            return self._enriched([self._entity(d) for d in documents], query.tenant_id)
        documents = newest_first(
            self.uow,
            self.container,
            query.tenant_id,
            where,
            values,
            moment="start_date",
            offset=query.offset,
            limit=query.limit,
            after=after,
        )
        return self._enriched([self._entity(d) for d in documents], query.tenant_id)

    def count(self, query: TimeEntryQuery) -> int:
        where, values = self._matching(query)
        result = self.uow.query(
            self.container, f"SELECT VALUE COUNT(1) FROM c WHERE {where}", query.tenant_id, **values
        )
        return int(result[0]) if result else 0

    def latest_per_project(self, tenant_id: str, owner_id: str) -> builtins.list[TimeEntry]:
        # No GROUP BY on the emulator: project the few fields needed and pick in Python.
        rows = self.uow.query(
            self.container,
            f"SELECT c.id, c.project_id, c.start_date FROM c WHERE {LIVE} "
            "AND c.owner_id = @owner_id ORDER BY c.start_date DESC",
            tenant_id,
            owner_id=owner_id,
        )
        latest: dict[str, tuple[str, str]] = {}
        for row in rows:
            best = latest.get(row["project_id"])
            if best is None or (row["start_date"], row["id"]) > best:
                latest[row["project_id"]] = (row["start_date"], row["id"])
        ids = [entry_id for _, entry_id in latest.values()]
        if not ids:
            return []
        documents = self.uow.query(
            self.container,
            f"SELECT * FROM c WHERE {LIVE} AND ARRAY_CONTAINS(@ids, c.id)",
            tenant_id,
            ids=ids,
        )
        entries = sorted(
            (self._entity(d) for d in documents), key=lambda e: (e.start_date, e.id), reverse=True
        )
        return self._enriched(entries, tenant_id)

    def recent_project_ids(
        self, tenant_id: str, owner_id: str, entry_count: int
    ) -> builtins.list[str]:
        rows = self.uow.query(
            self.container,
            f"SELECT TOP {int(entry_count)} c.project_id, c.start_date FROM c WHERE {LIVE} "
            "AND c.owner_id = @owner_id ORDER BY c.start_date DESC",
            tenant_id,
            owner_id=owner_id,
        )
        return builtins.list(dict.fromkeys(row["project_id"] for row in rows))

    def worked_seconds(
        self, tenant_id: str, owner_id: str, windows: Mapping[str, Window], now: datetime
    ) -> dict[str, float]:
        # No DateTimeDiff on the emulator: the database selects the intervals, Python adds them.
        earliest = min(w.start for w in windows.values())
        latest = max(w.end for w in windows.values())
        rows = self.uow.query(
            self.container,
            f"SELECT c.start_date, c.end_date FROM c WHERE {LIVE} AND c.owner_id = @owner_id "
            f"AND {MEETS}",
            tenant_id,
            owner_id=owner_id,
            window_start=timestamp(earliest),
            window_end=timestamp(latest),
        )
        spans = ((instant(row["start_date"]), instant(row["end_date"])) for row in rows)
        # start_date is always set: instant() returns None only for a missing end.
        return worked_seconds_in(spans, windows, now)  # type: ignore[arg-type]

    def report(
        self,
        query: ReportQuery,
        groupings: Sequence[tuple[str, ...]],
        buckets: Sequence[Window],
        now: datetime,
    ) -> builtins.list[builtins.list[ReportRow]]:
        """No GROUP BY or DateTimeDiff on the emulator: the database selects the window's
        entries (a few fields each), read page by page with continuation tokens, and Python
        adds them up in one pass, in the memory of one page and the groups."""
        clauses = [LIVE, MEETS]
        values: dict[str, Any] = {
            "window_start": timestamp(query.window.start),
            "window_end": timestamp(query.window.end),
        }
        if query.owner_ids is not None:
            clauses.append("ARRAY_CONTAINS(@owner_ids, c.owner_id)")
            values["owner_ids"] = list(query.owner_ids)
        if query.excluded_owner_ids:
            clauses.append("NOT ARRAY_CONTAINS(@excluded_owner_ids, c.owner_id)")
            values["excluded_owner_ids"] = list(query.excluded_owner_ids)
        for field in ("project_id", "activity_id", "uri"):
            value = getattr(query, field)
            if value is not None:
                clauses.append(f"c.{field} = @{field}")
                values[field] = value
        customers = self._customers_of_projects(query.tenant_id)
        sql = (
            "SELECT c.owner_id, c.project_id, c.activity_id, c.technologies, c.start_date, "
            f"c.end_date FROM c WHERE {' AND '.join(clauses)}"
        )
        pages = self.container.query_items(
            sql,
            parameters=parameters(tenant_id=query.tenant_id, **values),
            partition_key=query.tenant_id,
            max_item_count=REPORT_PAGE,
        ).by_page()
        records = (
            ReportRecord(
                owner_id=row["owner_id"],
                customer_id=customers.get(row.get("project_id") or ""),
                project_id=row.get("project_id"),
                activity_id=row.get("activity_id"),
                technologies=tuple(row.get("technologies") or ()),
                start=_instant(row["start_date"]),
                end=instant(row.get("end_date")),
            )
            for page in pages
            for row in page
        )
        if query.customer_id is not None:
            records = (r for r in records if r.customer_id == query.customer_id)
        return aggregate(records, groupings, buckets, query.window, now)

    def _customers_of_projects(self, tenant_id: str) -> dict[str, str | None]:
        rows = self.uow.query(
            self.uow.container(containers.PROJECT),
            "SELECT c.id, c.customer_id FROM c WHERE c.tenant_id = @tenant_id",
            tenant_id,
        )
        return {row["id"]: row.get("customer_id") for row in rows}

    def _matching(self, query: TimeEntryQuery) -> tuple[str, dict[str, Any]]:
        clauses = [LIVE, MEETS]
        values: dict[str, Any] = {
            "window_start": timestamp(query.window.start),
            "window_end": timestamp(query.window.end),
        }
        if query.sync is not None:
            # A sync list meets its window only when one is given.
            clauses, values = _changed(query.sync)
            if query.window != Window(EARLIEST, LATEST):
                clauses.append(MEETS)
                values["window_start"] = timestamp(query.window.start)
                values["window_end"] = timestamp(query.window.end)
        if query.owner_ids is not None:
            clauses.append("ARRAY_CONTAINS(@owner_ids, c.owner_id)")
            values["owner_ids"] = list(query.owner_ids)
        if query.excluded_owner_ids:
            clauses.append("NOT ARRAY_CONTAINS(@excluded_owner_ids, c.owner_id)")
            values["excluded_owner_ids"] = list(query.excluded_owner_ids)
        for field in ("project_id", "activity_id", "uri"):
            value = getattr(query, field)
            if value is not None:
                clauses.append(f"c.{field} = @{field}")
                values[field] = value
        return " AND ".join(clauses), values

    def _query(self, sql: str, tenant_id: str, **values: Any) -> builtins.list[TimeEntry]:
        return [self._entity(d) for d in self.uow.query(self.container, sql, tenant_id, **values)]

    def _overlaid(self, found: builtins.list[TimeEntry], owner_id: str) -> builtins.list[TimeEntry]:
        """What the database returned, as this unit of work has changed it so far."""
        merged = {entry.id: entry for entry in found}
        merged.update({i: e for i, e in self.pending.items() if e.owner_id == owner_id})
        return builtins.list(merged.values())

    def _entity(self, document: dict[str, Any]) -> TimeEntry:
        return from_document(TimeEntry, document, ENTRY_FIELDS)

    def _document(self, entry: TimeEntry) -> dict[str, Any]:
        document = to_document(entry, ENTRY_FIELDS)
        live_and_running = entry.end_date is None and entry.deleted is None
        # One running entry per user: the unique key refuses a second `running|<owner>`.
        document["running_key"] = _running_key(entry.owner_id) if live_and_running else entry.id
        return document

    def _enriched(
        self, entries: builtins.list[TimeEntry], tenant_id: str
    ) -> builtins.list[TimeEntry]:
        if not entries:
            return entries
        projects = self.uow.documents_by_id(
            containers.PROJECT, tenant_id, {e.project_id for e in entries}
        )
        activities = self.uow.documents_by_id(
            containers.ACTIVITY, tenant_id, {e.activity_id for e in entries}
        )
        customers = self.uow.documents_by_id(
            containers.CUSTOMER, tenant_id, {p.get("customer_id") for p in projects.values()}
        )
        users = self.uow.documents_by_id(
            containers.USER, tenant_id, {key_id("user", e.owner_id) for e in entries}
        )
        enriched = []
        for entry in entries:
            project = projects.get(entry.project_id) or {}
            name = project.get("name")
            if name is not None and project.get("status") == INACTIVE:
                name += ARCHIVED_SUFFIX
            customer = customers.get(project.get("customer_id") or "") or {}
            enriched.append(
                dataclasses.replace(
                    entry,
                    owner_email=(users.get(key_id("user", entry.owner_id)) or {}).get("email"),
                    project_name=name,
                    activity_name=(activities.get(entry.activity_id) or {}).get("name"),
                    customer_id=project.get("customer_id"),
                    customer_name=customer.get("name"),
                )
            )
        return enriched


def _instant(value: str) -> datetime:
    moment = instant(value)
    assert moment is not None
    return moment


def _running_key(owner_id: str) -> str:
    return f"running|{owner_id}"
