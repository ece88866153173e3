"""In-memory repositories of the catalog, users, idempotency keys and the audit log."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from commons.data_access_layer.memory.tables import Staged, Store
from commons.domain.audit import AuditEvent, EventQuery
from commons.domain.catalog import (
    INACTIVE,
    CatalogItem,
    CatalogKind,
    NamedSummary,
    Project,
    normalized_name,
)
from commons.domain.exceptions import AlreadyExists, IdempotencyKeyInUse
from commons.domain.idempotency import IN_PROGRESS, IdempotencyRecord
from commons.domain.pagination import Position
from commons.domain.principal import TESTER_GROUP
from commons.domain.sync import SyncQuery
from commons.domain.users import User, email_already_used, email_key

USERS, GROUPS, IDEMPOTENCY, EVENTS = "users", "user_groups", "idempotency", "events"


def catalog_table(kind_key: str) -> str:
    return f"catalog:{kind_key}"


def in_utc(moment: datetime | None) -> datetime | None:
    """A moment as the storage keeps it: in UTC, to the microsecond."""
    return moment.astimezone(UTC) if moment is not None else None


class MemoryCatalogRepository:
    """Catalog records of one kind, always scoped by tenant; names unique as the domain folds
    them, among live records of the same scope."""

    def __init__(self, staged: Staged, store: Store, kind: CatalogKind):
        self.staged = staged
        self.store = store
        self.kind = kind
        self.table = catalog_table(kind.key)

    def get(self, tenant_id: str, item_id: str) -> CatalogItem | None:
        item = self.staged.get(self.table, tenant_id, item_id)
        if item is None or item.deleted is not None:
            return None
        return self._read(item)

    def list(
        self, tenant_id: str, filters: Mapping[str, object], sync: SyncQuery | None = None
    ) -> list[CatalogItem]:
        items = [
            item
            for item in self.staged.rows(self.table, tenant_id)
            if self._shown(item, sync) and _matches(item, filters)
        ]
        if sync is None:
            items.sort(key=lambda item: (normalized_name(item.name), item.id))
        else:
            items.sort(key=lambda item: (item.updated_at, item.id))
        return [self._read(item) for item in items]

    def add(self, item: CatalogItem) -> None:
        now = self.store.stamp()
        self._write(dataclasses.replace(item, created_at=now, updated_at=now))

    def update(self, item: CatalogItem) -> None:
        stored = self.staged.get(self.table, item.tenant_id, item.id)
        if stored is None:
            return  # as an UPDATE of no row
        created = stored.created_at
        self._write(dataclasses.replace(item, created_at=created, updated_at=self.store.stamp()))

    def _write(self, item: CatalogItem) -> None:
        item = dataclasses.replace(item, deleted=in_utc(item.deleted))
        if isinstance(item, Project):  # its read model is read with it, never stored
            item = dataclasses.replace(item, customer=None, project_type=None)
        if item.deleted is None and any(
            other.id != item.id
            and other.deleted is None
            and self.kind.uniqueness_scope(other) == self.kind.uniqueness_scope(item)
            and normalized_name(other.name) == normalized_name(item.name)
            for other in self.staged.rows(self.table, item.tenant_id)
        ):
            raise AlreadyExists(
                f"{self.kind.label} with that name already exists", {"name": "already exists"}
            )
        self.staged.put(self.table, item.tenant_id, item.id, item)

    def _shown(self, item: CatalogItem, sync: SyncQuery | None) -> bool:
        if sync is None:
            return item.deleted is None and not self._hidden(item)
        if item.deleted is not None and not sync.include_deleted:
            return False
        return sync.updated_since is None or item.updated_at >= sync.updated_since  # type: ignore[operator]

    def _hidden(self, item: CatalogItem) -> bool:
        """Projects of archived customers are hidden from lists, not from reads by id."""
        if not isinstance(item, Project):
            return False
        customer = self._referenced("customer", item.tenant_id, item.customer_id)
        return customer is not None and getattr(customer, "status", None) == INACTIVE

    def _referenced(self, kind_key: str, tenant_id: str, item_id: str | None) -> Any:
        """The record of the tenant that a reference names, deleted or not, if any."""
        return self.staged.get(catalog_table(kind_key), tenant_id, item_id) if item_id else None

    def _read(self, item: CatalogItem) -> CatalogItem:
        """The record with its read model: a project's customer and live project type."""
        if not isinstance(item, Project):
            return item
        customer = self._referenced("customer", item.tenant_id, item.customer_id)
        if customer is not None:
            item.customer = NamedSummary(customer.name, customer.description)
        project_type = self._referenced("project_type", item.tenant_id, item.project_type_id)
        if project_type is not None and project_type.deleted is None:
            item.project_type = NamedSummary(project_type.name, project_type.description)
        return item


def _matches(item: CatalogItem, filters: Mapping[str, object]) -> bool:
    for field, value in filters.items():
        actual = getattr(item, field, None)
        if isinstance(value, tuple) and actual not in value:
            return False
        if not isinstance(value, tuple) and actual != value:
            return False
    return True


INVITED = ""  # the invitation slot of a user added before their first login


@dataclasses.dataclass
class _UserRow:
    user: User  # without its granted groups: those are memberships of their own
    invitation_slot: str


class MemoryUserRepository:
    """The tenant's users, and their tenant-local group memberships kept apart as in SQL."""

    def __init__(self, staged: Staged, store: Store):
        self.staged = staged
        self.store = store

    def get(self, tenant_id: str, user_id: str) -> User | None:
        row: _UserRow | None = self.staged.get(USERS, tenant_id, user_id)
        return self._with_groups(row.user) if row else None

    def list(self, tenant_id: str) -> builtins.list[User]:
        users = [self._with_groups(row.user) for row in self.staged.rows(USERS, tenant_id)]
        return sorted(users, key=lambda u: (u.email is None, u.email or "", u.id))

    def tester_ids(self, tenant_id: str) -> builtins.list[str]:
        granted = {
            user_id
            for user_id, groups in self._memberships(tenant_id).items()
            if TESTER_GROUP in groups
        }
        claimed = {
            row.user.id
            for row in self.staged.rows(USERS, tenant_id)
            if TESTER_GROUP in row.user.token_groups
        }
        return sorted(granted | claimed)

    def record(self, user: User) -> None:
        now = self.store.stamp()
        row: _UserRow | None = self.staged.get(USERS, user.tenant_id, user.id)
        if row is None:
            fresh = dataclasses.replace(
                user, granted_groups=frozenset(), created_at=now, updated_at=now
            )
            self.staged.put(USERS, user.tenant_id, user.id, _UserRow(fresh, user.id))
            return
        row.user = dataclasses.replace(
            row.user,
            email=user.email,
            name=user.name,
            token_groups=frozenset(user.token_groups),
            updated_at=now,
        )
        row.invitation_slot = user.id
        self.staged.put(USERS, user.tenant_id, user.id, row)

    def email_taken(self, tenant_id: str, email: str) -> bool:
        key = email_key(email)
        return any(_email_is(row, key) for row in self.staged.rows(USERS, tenant_id))

    def invite(self, user: User) -> None:
        # As SQL's unique (email key, invitation slot): one invitation per email.
        assert user.email is not None
        key = email_key(user.email)
        taken = self.staged.get(USERS, user.tenant_id, user.id) is not None or any(
            _email_is(row, key) and row.invitation_slot == INVITED
            for row in self.staged.rows(USERS, user.tenant_id)
        )
        if taken:
            raise email_already_used()
        now = self.store.stamp()
        invited = dataclasses.replace(
            user, token_groups=frozenset(), granted_groups=frozenset(), created_at=now
        )
        invited.updated_at = now
        self.staged.put(USERS, user.tenant_id, user.id, _UserRow(invited, INVITED))

    def claim_invitation(self, user: User) -> bool:
        if not user.email:
            return False
        key = email_key(user.email)
        invited = next(
            (
                row
                for row in self.staged.rows(USERS, user.tenant_id)
                if row.invitation_slot == INVITED and _email_is(row, key)
            ),
            None,
        )
        if invited is None or self.staged.get(USERS, user.tenant_id, user.id) is not None:
            return False  # nobody invited, or the user was recorded under their id already
        tenant_id, invited_id = user.tenant_id, invited.user.id
        claimed = dataclasses.replace(invited.user, id=user.id, updated_at=self.store.stamp())
        self.staged.delete(USERS, tenant_id, invited_id)
        self.staged.put(USERS, tenant_id, user.id, _UserRow(claimed, user.id))
        groups = self.staged.get(GROUPS, tenant_id, invited_id)
        if groups:
            self.staged.delete(GROUPS, tenant_id, invited_id)
            self.staged.put(GROUPS, tenant_id, user.id, groups)
        return True

    def grant(self, tenant_id: str, user_id: str, group: str) -> None:
        groups = self.staged.get(GROUPS, tenant_id, user_id) or frozenset()
        if group not in groups:
            self.staged.put(GROUPS, tenant_id, user_id, groups | {group})
            self._touch(tenant_id, user_id)

    def revoke(self, tenant_id: str, user_id: str, group: str) -> None:
        groups = self.staged.get(GROUPS, tenant_id, user_id) or frozenset()
        if group in groups:
            self.staged.put(GROUPS, tenant_id, user_id, groups - {group})
            self._touch(tenant_id, user_id)

    def _touch(self, tenant_id: str, user_id: str) -> None:
        """A user's groups are part of the user: changing them changes their updated_at."""
        row: _UserRow | None = self.staged.get(USERS, tenant_id, user_id)
        if row is not None:
            row.user.updated_at = self.store.stamp()
            self.staged.put(USERS, tenant_id, user_id, row)

    def _memberships(self, tenant_id: str) -> dict[str, frozenset[str]]:
        return {
            user_id: self.staged.get(GROUPS, tenant_id, user_id)
            for user_id in self.staged.ids(GROUPS, tenant_id)
        }

    def _with_groups(self, user: User) -> User:
        groups = self.staged.get(GROUPS, user.tenant_id, user.id) or frozenset()
        return dataclasses.replace(user, granted_groups=frozenset(groups))


def _email_is(row: _UserRow, key: str) -> bool:
    return bool(row.user.email) and email_key(row.user.email or "") == key


class MemoryIdempotencyRepository:
    """Idempotency keys; claims take effect with the unit of work's commit, as on SQL."""

    def __init__(self, staged: Staged):
        self.staged = staged

    def get(self, tenant_id: str, record_id: str) -> IdempotencyRecord | None:
        record: IdempotencyRecord | None = self.staged.get(IDEMPOTENCY, tenant_id, record_id)
        return record

    def add(self, record: IdempotencyRecord) -> bool:
        if self.get(record.tenant_id, record.id) is not None:
            return False
        self.staged.put(IDEMPOTENCY, record.tenant_id, record.id, record)
        return True

    def replace(self, record: IdempotencyRecord, lease_token: str) -> bool:
        return self._update(record, lease_token)

    def complete(self, record: IdempotencyRecord) -> None:
        if not self._update(record, record.lease_token, unanswered=True):
            raise IdempotencyKeyInUse()

    def release(self, tenant_id: str, record_id: str, lease_token: str) -> None:
        stored = self.get(tenant_id, record_id)
        if stored and stored.lease_token == lease_token and stored.status == IN_PROGRESS:
            self.staged.delete(IDEMPOTENCY, tenant_id, record_id)

    def purge(self, tenant_id: str, user_id: str, now: datetime) -> None:
        for record in list(self.staged.rows(IDEMPOTENCY, tenant_id)):
            if record.user_id == user_id and record.expires_at < now:
                self.staged.delete(IDEMPOTENCY, tenant_id, record.id)

    def _update(
        self, record: IdempotencyRecord, lease_token: str, unanswered: bool = False
    ) -> bool:
        stored = self.get(record.tenant_id, record.id)
        if stored is None or stored.lease_token != lease_token:
            return False
        if unanswered and stored.status != IN_PROGRESS:
            return False
        self.staged.put(IDEMPOTENCY, record.tenant_id, record.id, record)
        return True


class MemoryEventRepository:
    """The audit events of one tenant at a time, newest first."""

    def __init__(self, staged: Staged):
        self.staged = staged

    def count(self, query: EventQuery) -> int:
        return len(self._matching(query))

    def page(self, query: EventQuery, after: Position | None = None) -> list[AuditEvent]:
        events = self._matching(query)
        if after is not None:
            events = [e for e in events if (e.date, e.id) < (after.moment, after.id)]
        else:
            events = events[query.offset :]
        return events if query.limit is None else events[: query.limit]

    def _matching(self, query: EventQuery) -> list[AuditEvent]:
        filters = query.filters
        found = []
        for event in self.staged.rows(EVENTS, query.tenant_id):
            if any(
                getattr(filters, field) is not None
                and getattr(event, field) != getattr(filters, field)
                for field in ("item_id", "container_id", "user_id")
            ):
                continue
            if filters.start_date is not None and event.date < filters.start_date:
                continue
            if filters.end_date is not None and event.date >= filters.end_date:
                continue
            found.append(event)
        return sorted(found, key=lambda e: (e.date, e.id), reverse=True)
