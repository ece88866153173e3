"""The storage ports every backend implements; services depend on these alone."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from commons.domain.audit import AuditEvent, EventQuery
from commons.domain.catalog import CatalogItem, CatalogKind
from commons.domain.deliveries import Attempt, Delivery
from commons.domain.events import RecordChanged
from commons.domain.idempotency import IdempotencyRecord
from commons.domain.pagination import Position
from commons.domain.reports import ReportQuery, ReportRow
from commons.domain.sync import SyncQuery
from commons.domain.time_entries import TimeEntry, TimeEntryQuery
from commons.domain.time_windows import Window
from commons.domain.users import User
from commons.domain.webhooks import Webhook

# How a record is published in the events that leave the system (webhooks, AMQP): the record
# of a container as the API returns it. The API gives its own to the storage it creates.
RecordFormat = Callable[[str, object], Mapping[str, Any] | None]


class CatalogRepository(Protocol):
    def get(self, tenant_id: str, item_id: str) -> CatalogItem | None:
        """The live (not soft deleted) record of the tenant with that id, if any."""

    def list(
        self, tenant_id: str, filters: Mapping[str, object], sync: SyncQuery | None = None
    ) -> list[CatalogItem]:
        """The tenant's live records matching every filter (a tuple: any of its values),
        ordered by name then id; with `sync`, those it asks for (changed since a moment,
        deleted ones too if asked, projects of archived customers too) by updated_at then id."""

    def add(self, item: CatalogItem) -> None:
        """Store a new record, stamped created and updated now; AlreadyExists when its name is
        taken."""

    def update(self, item: CatalogItem) -> None:
        """Store a changed record, stamped updated now (its created_at stays); AlreadyExists
        when its new name is taken."""


class UserRepository(Protocol):
    def get(self, tenant_id: str, user_id: str) -> User | None:
        """The tenant's user with that id, with their granted groups."""

    def list(self, tenant_id: str) -> list[User]:
        """Every user of the tenant, ordered by email then id."""

    def tester_ids(self, tenant_id: str) -> builtins.list[str]:
        """The ids of the tenant's testers (by their token or by a grant), in id order."""

    def record(self, user: User) -> None:
        """Insert or refresh what the user's token says (id, email, name, token groups)."""

    def email_taken(self, tenant_id: str, email: str) -> bool:
        """Whether a user of the tenant has that email, compared case-insensitively."""

    def invite(self, user: User) -> None:
        """Add a user before their first login; AlreadyExists when one invited has that email."""

    def claim_invitation(self, user: User) -> bool:
        """Give the user invited with this user's email (case-insensitive) this user's id,
        keeping their grants; False when nobody is invited with it. Done at once, not staged:
        of racing claims one wins, and the others find the user under their new id."""

    def grant(self, tenant_id: str, user_id: str, group: str) -> None:
        """Make the user a member of the group within the tenant (idempotent)."""

    def revoke(self, tenant_id: str, user_id: str, group: str) -> None:
        """Remove a tenant-local membership (idempotent)."""


class TimeEntryRepository(Protocol):
    def lock_timeline(self, tenant_id: str, owner_id: str) -> None:
        """Serialize writes to one user's timeline until the unit of work ends."""

    def get(self, tenant_id: str, entry_id: str) -> TimeEntry | None:
        """A live entry of the tenant, with its names."""

    def running(self, tenant_id: str, owner_id: str) -> TimeEntry | None:
        """The user's running entry, if any."""

    def has_overlap(
        self,
        tenant_id: str,
        owner_id: str,
        start: datetime,
        end: datetime | None,
        exclude_id: str | None = None,
    ) -> bool:
        """Whether another live entry of the user meets [start, end)."""

    def conflicts(
        self,
        tenant_id: str,
        owner_id: str,
        start: datetime,
        end: datetime | None,
        exclude_id: str | None = None,
    ) -> tuple[bool, bool]:
        """What stands in the way of the user's entry over [start, end), asked at once: whether
        another live entry of theirs runs (asked for a running entry, end None; False for
        others), and whether another meets [start, end)."""

    def previous(
        self, tenant_id: str, owner_id: str, before: datetime, exclude_id: str
    ) -> TimeEntry | None:
        """The user's live entry that started last before `before`."""

    def add(self, entry: TimeEntry) -> None:
        """Store a new entry, stamped created and updated now (RunningEntryExists /
        OverlappingTimeEntry as a backstop)."""

    def add_many(self, entries: Iterable[TimeEntry]) -> None:
        """Store many entries at once (seeding), stamped now; the caller guarantees the rules."""

    def update(self, entry: TimeEntry) -> None:
        """Store a changed entry, stamped updated now (its created_at stays)."""

    def list(self, query: TimeEntryQuery) -> list[TimeEntry]:
        """Entries matching the query, newest first (a sync query: by updated_at, then id)."""

    def count(self, query: TimeEntryQuery) -> int:
        """How many entries match the query, ignoring limit and offset."""

    def page(
        self, query: TimeEntryQuery, after: Position | None = None
    ) -> builtins.list[TimeEntry]:
        """At most `query.limit` of the entries `list` shows, in its order: those after the
        position `after` (from an index, whatever its depth), else those from `query.offset`
        on (reading the names of the page's entries only)."""

    def latest_per_project(self, tenant_id: str, owner_id: str) -> builtins.list[TimeEntry]:
        """The user's most recent entry of each project, newest first."""

    def recent_project_ids(
        self, tenant_id: str, owner_id: str, entry_count: int
    ) -> builtins.list[str]:
        """Projects of the user's latest entries, most recent first, each once."""

    def worked_seconds(
        self, tenant_id: str, owner_id: str, windows: Mapping[str, Window], now: datetime
    ) -> dict[str, float]:
        """Seconds the user worked inside each window."""

    def report(
        self,
        query: ReportQuery,
        groupings: Sequence[tuple[str, ...]],
        buckets: Sequence[Window],
        now: datetime,
    ) -> builtins.list[builtins.list[ReportRow]]:
        """Seconds and entries of the query's entries per group, one list of rows per
        grouping (a tuple of `customer`, `project`, `activity`, `user`, `technologies`,
        `bucket`). Each entry counts its part inside the window, or inside each bucket (an
        index of `buckets`) it meets; running entries run until `now`."""


class EventRepository(Protocol):
    def count(self, query: EventQuery) -> int:
        """How many of the tenant's audit events match the filters."""

    def page(self, query: EventQuery, after: Position | None = None) -> list[AuditEvent]:
        """At most `query.limit` matching events, newest first (date, then id, descending):
        those after the position `after` when it is given, else those from `query.offset` on."""


class WebhookRepository(Protocol):
    def get(self, tenant_id: str, webhook_id: str) -> Webhook | None:
        """The tenant's webhook with that id."""

    def list(self, tenant_id: str) -> builtins.list[Webhook]:
        """The tenant's webhooks, oldest first."""

    def add(self, webhook: Webhook) -> None:
        """Store a new webhook."""

    def update(self, webhook: Webhook) -> None:
        """Store a changed webhook (url, events, description, enabled and its reason)."""

    def delete(self, tenant_id: str, webhook_id: str) -> None:
        """Remove a webhook, its pending deliveries and its attempts."""

    def enqueue(self, delivery: Delivery) -> None:
        """Queue a delivery to one of the tenant's webhooks, due at once (a ping)."""

    def attempts(
        self, tenant_id: str, webhook_id: str, offset: int, limit: int
    ) -> builtins.list[Attempt]:
        """The webhook's delivery attempts, newest first (time, then id, descending)."""

    def count_attempts(self, tenant_id: str, webhook_id: str) -> int:
        """How many delivery attempts the webhook has."""


@dataclass(frozen=True)
class Claimed:
    """A delivery a dispatcher claimed, with the webhook it goes to (None: to AMQP)."""

    delivery: Delivery
    webhook: Webhook | None


class DeliveryQueue(Protocol):
    """The deliveries of every tenant waiting for their sink, as dispatchers see them.

    A claimed delivery is the claiming dispatcher's for `CLAIM_LEASE`; one left without an
    outcome (its dispatcher died) is claimed again after that, under the same event id.
    """

    def claim(
        self,
        now: datetime,
        limit: int,
        amqp: bool,
        busy: Collection[str] = (),
        per_sink: int | None = None,
    ) -> builtins.list[Claimed]:
        """At most `limit` due deliveries, oldest first: to AMQP when `amqp`, else to the
        webhooks that are enabled, none to the webhooks `busy`, at most `per_sink` to one.
        Deliveries to a webhook disabled or deleted meanwhile fail instead."""

    def succeeded(self, taken: Sequence[tuple[Delivery, Attempt]], now: datetime) -> None:
        """Their webhooks took these deliveries (each with its attempt): done; those webhooks'
        failures since their last success are over."""

    def failed(
        self,
        delivery: Delivery,
        attempt: Attempt | None,
        retry_at: datetime | None,
        now: datetime,
        disable_failing_since: datetime | None = None,
    ) -> None:
        """An attempt failed: the delivery is tried again at `retry_at` (None: given up). A
        webhook failing since before `disable_failing_since` is disabled."""

    def published(self, deliveries: Sequence[Delivery], now: datetime) -> None:
        """The broker confirmed these AMQP deliveries: done."""

    def pending(self, now: datetime) -> tuple[int, int]:
        """How many deliveries are due now, and how many wait for a later attempt."""

    def purge(self, before: datetime) -> int:
        """Forget the deliveries done or given up on, and the attempts made, before `before`;
        how many deliveries went (Cosmos DB's time to live does this by itself)."""


class IdempotencyRepository(Protocol):
    """Idempotency keys. Claims (`add`, `replace`, `release`) take effect at once on Cosmos DB
    and with the unit of work's commit on SQL; `complete` goes with the unit of work's changes."""

    def get(self, tenant_id: str, record_id: str) -> IdempotencyRecord | None:
        """The record with that id, expired or not."""

    def add(self, record: IdempotencyRecord) -> bool:
        """Store a new claim; False when a record with its id exists."""

    def replace(self, record: IdempotencyRecord, lease_token: str) -> bool:
        """Overwrite the record whose claim is `lease_token`; False when it is not that claim
        any more (another request took it over meanwhile)."""

    def complete(self, record: IdempotencyRecord) -> None:
        """Store the record's answer with this unit of work's changes, if its claim still
        holds; IdempotencyKeyInUse (the changes are not made) when another request took it."""

    def release(self, tenant_id: str, record_id: str, lease_token: str) -> None:
        """Forget a claim that has no answer, if it still is that claim."""

    def purge(self, tenant_id: str, user_id: str, now: datetime) -> None:
        """Drop the user's records that expired before `now`."""


class UnitOfWork(Protocol):
    @property
    def users(self) -> UserRepository:
        """The tenant users repository."""

    @property
    def time_entries(self) -> TimeEntryRepository:
        """The time entries repository."""

    @property
    def events(self) -> EventRepository:
        """The audit log repository (read only: the events app writes it)."""

    @property
    def idempotency(self) -> IdempotencyRepository:
        """The idempotency keys repository."""

    @property
    def webhooks(self) -> WebhookRepository:
        """The webhooks repository."""

    def catalog(self, kind: CatalogKind) -> CatalogRepository:
        """The repository of one kind of catalog record."""

    def add_event(self, event: RecordChanged, record: object | None = None) -> None:
        """Record a change event, to be written with the change itself on commit; `record` is
        the changed record as it is after the change, which events going out carry."""

    def commit(self) -> None:
        """Make every change of this unit of work durable, atomically."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Storage(Protocol):
    def unit_of_work(self, write: bool = False, snapshot: bool = False) -> UnitOfWork:
        """A unit of work; `write` asks for one that will change data, `snapshot` for one
        whose reads all see the data as it was at the first (a long read in many statements).
        Cosmos DB has no snapshot across queries: there each read sees the latest data."""

    def ping(self) -> None:
        """Raise StorageUnavailable when the storage cannot be reached."""

    def migrate(self, revert_latest: bool = False) -> None:
        """Apply pending migrations, or revert the latest one."""

    def pending_migrations(self) -> list[str]:
        """The migrations `migrate()` would apply, in order (none: the schema is up to date);
        StorageUnavailable when the storage cannot be reached. Changes nothing."""

    @property
    def deliveries(self) -> DeliveryQueue:
        """The queue of deliveries to webhooks and to AMQP, of every tenant."""

    def dispatch_changes(self, batch_size: int = 100, amqp: bool = False) -> DispatchReport:
        """Record the audit events of the changes that are due (the local dispatcher), and
        queue their deliveries: to the tenants' webhooks that want them, and to AMQP if `amqp`.

        Raises StorageUnavailable when the storage cannot be read.
        """

    def parked_changes(self) -> list[dict[str, Any]]:
        """Changes that failed too often and wait for an operator."""

    def outbox_status(self) -> OutboxStatus:
        """Where the changes of every tenant on their way to the audit log stand, counted on
        indexes (what `/metrics` shows); StorageUnavailable when the storage cannot be read."""

    def retry_parked(self, ids: list[str] | None = None) -> int:
        """Put parked changes (all, or those ids) back in line; returns how many.

        Raises NotFound, changing nothing, when one of the ids is not a parked change.
        """


@dataclass(frozen=True)
class DispatchReport:
    delivered: int = 0
    failed: int = 0
    parked: int = 0
    waiting: int = 0  # failed before, their next attempt still ahead


@dataclass(frozen=True)
class OutboxStatus:
    """The changes on their way to the audit log, of every tenant."""

    pending: int = 0  # not recorded yet: before their first attempt or waiting for a retry
    parked: int = 0  # parked as dead after their last retry, waiting for an operator
    oldest_pending_at: datetime | None = None  # when the oldest pending change happened
