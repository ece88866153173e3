"""The in-memory unit of work and storage: changes apply on commit, writers take turns.

A writing unit of work holds the storage's lock from start to end, so writers run one at a
time, as SQLite's do: that is what keeps one running entry per user and no overlaps under
parallel requests. Every unit of work reads the data as it was when it began (a snapshot).
Data lives as long as the process: for tests and demos.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from commons.data_access_layer.memory import outbox
from commons.data_access_layer.memory.repositories import (
    MemoryCatalogRepository,
    MemoryEventRepository,
    MemoryIdempotencyRepository,
    MemoryUserRepository,
)
from commons.data_access_layer.memory.tables import GLOBAL, Staged, Store
from commons.data_access_layer.memory.time_entries import MemoryTimeEntryRepository
from commons.data_access_layer.memory.webhooks import MemoryDeliveryQueue, MemoryWebhookRepository
from commons.data_access_layer.ports import DispatchReport, OutboxStatus, RecordFormat
from commons.domain.catalog import CatalogKind
from commons.domain.deliveries import item_json
from commons.domain.events import RecordChanged

T = TypeVar("T")


class MemoryUnitOfWork:
    """Changes made through its repositories are published together on commit, or dropped."""

    def __init__(self, store: Store, write: bool, record_format: RecordFormat | None = None):
        self.store = store
        self.write = write
        self.record_format = record_format

    def __enter__(self) -> MemoryUnitOfWork:
        if self.write:
            self.store.lock.acquire()
        self.staged = Staged(self.store)
        self.users = MemoryUserRepository(self.staged, self.store)
        self.time_entries = MemoryTimeEntryRepository(self.staged, self.store)
        self.events = MemoryEventRepository(self.staged)
        self.idempotency = MemoryIdempotencyRepository(self.staged)
        self.webhooks = MemoryWebhookRepository(self.staged)
        return self

    def catalog(self, kind: CatalogKind) -> MemoryCatalogRepository:
        return MemoryCatalogRepository(self.staged, self.store, kind)

    def add_event(self, event: RecordChanged, record: object | None = None) -> None:
        change_id = str(uuid.uuid4())
        row = {
            "id": change_id,
            "tenant_id": event.tenant_id,
            "container_id": event.container_id,
            "item_id": event.item_id,
            "action": event.action,
            "user_id": event.user_id,
            "description": event.description[:500],
            "session_id": event.session_id,
            "occurred_at": self.store.stamp(),
            "status": outbox.PENDING,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": None,
            "processed_at": None,
            "item": item_json(self.record_format, event.container_id, record),
        }
        self.staged.put(outbox.OUTBOX, GLOBAL, change_id, row)

    def commit(self) -> None:
        self.staged.commit()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.staged.changes = {}  # what was not committed is dropped
        if self.write:
            self.store.lock.release()


class MemoryStorage:
    """The in-memory backend: units of work, the delivery queue and the outbox relay."""

    def __init__(self, record_format: RecordFormat | None = None):
        self.record_format = record_format
        self.store = Store()

    def unit_of_work(self, write: bool = False, snapshot: bool = False) -> MemoryUnitOfWork:
        # Every unit of work reads a snapshot: `snapshot` asks for nothing more.
        return MemoryUnitOfWork(self.store, write, self.record_format)

    @property
    def deliveries(self) -> MemoryDeliveryQueue:
        return MemoryDeliveryQueue(self._transaction)

    def ping(self) -> None:
        """Always reachable: it is this process."""

    def migrate(self, revert_latest: bool = False) -> None:
        """Nothing to migrate: the tables are made as they are first written."""

    def pending_migrations(self) -> list[str]:
        return []

    def dispatch_changes(self, batch_size: int = 100, amqp: bool = False) -> DispatchReport:
        delivered = failed = parked = 0
        while True:
            batch = self._transaction(lambda staged: outbox.drain_once(staged, batch_size, amqp))
            delivered, failed, parked = (
                delivered + batch[0],
                failed + batch[1],
                parked + batch[2],
            )
            if sum(batch) < batch_size or batch[1] or batch[2]:
                break
        waiting: int = self._transaction(outbox.waiting)
        return DispatchReport(delivered, failed, parked, waiting)

    def outbox_status(self) -> OutboxStatus:
        status: OutboxStatus = self._transaction(outbox.status)
        return status

    def parked_changes(self) -> list[dict[str, Any]]:
        parked: list[dict[str, Any]] = self._transaction(outbox.parked)
        return parked

    def retry_parked(self, ids: list[str] | None = None) -> int:
        count: int = self._transaction(lambda staged: outbox.retry_parked(staged, ids))
        return count

    def _transaction(self, work: Callable[[Staged], T]) -> T:
        """Run `work` on the tables in a writing unit of work of its own, and commit it."""
        with self.unit_of_work(write=True) as uow:
            result = work(uow.staged)
            uow.commit()
        return result
