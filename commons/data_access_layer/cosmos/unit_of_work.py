"""The Cosmos DB backend: a lazily created client, units of work, health and migrations."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.cosmos import ContainerProxy, CosmosClient, DatabaseProxy, exceptions
from migrate_anything import configure
from migrate_anything.migrator import run as run_migrations

from commons.data_access_layer.cosmos import changes as cosmos_changes
from commons.data_access_layer.cosmos.changes import CHANGE_TYPE, change_document
from commons.data_access_layer.cosmos.events import CosmosEventRepository
from commons.data_access_layer.cosmos.idempotency import CosmosIdempotencyRepository
from commons.data_access_layer.cosmos.migration_storage import (
    CosmosMigrationStorage,
    CosmosMigrationTarget,
    applied_migrations,
)
from commons.data_access_layer.cosmos.repositories import (
    CosmosCatalogRepository,
    CosmosTimeEntryRepository,
    CosmosUserRepository,
    parameters,
)
from commons.data_access_layer.cosmos.webhooks import CosmosDeliveryQueue, CosmosWebhookRepository
from commons.data_access_layer.migrations import (
    load_migrations_package,
    pending_among,
    set_target,
)
from commons.data_access_layer.ports import DispatchReport, OutboxStatus, RecordFormat
from commons.domain.catalog import CatalogKind
from commons.domain.deliveries import formatted_item
from commons.domain.events import RecordChanged
from commons.domain.exceptions import DomainError, StorageUnavailable
from commons.settings import StorageSettings

logger = logging.getLogger(__name__)
TRANSIENT_STATUSES = {408, 429, 449, 500, 502, 503, 504}
MAX_BATCH_OPERATIONS = 100
Conflict = Callable[[], DomainError]
# A staged write: container, action, document, the error a conflict means, the etag it needs.
Operation = tuple[ContainerProxy, str, dict[str, Any], Conflict | None, str | None]


class CosmosUnitOfWork:
    """Reads go to Cosmos DB at once; writes are staged and sent, in order, on commit."""

    def __init__(self, storage: CosmosStorage, write: bool):
        self.storage = storage
        self.write = write

    def __enter__(self) -> CosmosUnitOfWork:
        try:
            self.database = self.storage.database
        except (AzureError, ValueError) as error:  # the first client could not connect
            logger.warning("Cosmos DB unavailable: %s", error)
            raise StorageUnavailable(retry_after=retry_after(error)) from error
        self.operations: list[Operation] = []
        self.locks: dict[str, tuple[str, str]] = {}
        self.staged_events: list[tuple[RecordChanged, dict[str, Any] | None]] = []
        self._containers: dict[str, ContainerProxy] = {}
        self.users = CosmosUserRepository(self)
        self.time_entries = CosmosTimeEntryRepository(self)
        self.events = CosmosEventRepository(self)
        self.idempotency = CosmosIdempotencyRepository(self)
        self.webhooks = CosmosWebhookRepository(self)
        return self

    def catalog(self, kind: CatalogKind) -> CosmosCatalogRepository:
        return CosmosCatalogRepository(self, kind)

    def container(self, name: str) -> ContainerProxy:
        if name not in self._containers:
            self._containers[name] = self.database.get_container_client(name)
        return self._containers[name]

    def read(
        self, container: ContainerProxy, item_id: str, tenant_id: str
    ) -> dict[str, Any] | None:
        """A point read by id and partition key, as this unit of work has staged it so far;
        None when missing or of another tenant."""
        for staged_in, _, staged, _, _ in reversed(self.operations):
            if staged_in.id == container.id and staged["id"] == item_id:
                return staged if staged.get("tenant_id") == tenant_id else None
        try:
            document = container.read_item(item_id, partition_key=tenant_id)
        except exceptions.CosmosResourceNotFoundError:
            return None
        if document.get("tenant_id") != tenant_id or document.get("type") == CHANGE_TYPE:
            return None  # a change document is no record, even read by its id
        return document

    def query(
        self, container: ContainerProxy, sql: str, tenant_id: str, **values: Any
    ) -> list[Any]:
        """Run a parameterized query in the tenant's partition (the SQL filters it too)."""
        return list(
            container.query_items(
                sql, parameters=parameters(tenant_id=tenant_id, **values), partition_key=tenant_id
            )
        )

    def documents_by_id(
        self, container_name: str, tenant_id: str, ids: set[Any]
    ) -> dict[str, dict[str, Any]]:
        """Several documents of a container in one query, by id."""
        wanted = sorted(i for i in ids if i)
        if not wanted:
            return {}
        documents = self.query(
            self.container(container_name),
            "SELECT * FROM c WHERE c.tenant_id = @tenant_id AND ARRAY_CONTAINS(@ids, c.id)",
            tenant_id,
            ids=wanted,
        )
        return {document["id"]: document for document in documents}

    def stage(
        self,
        container: ContainerProxy,
        action: str,
        document: dict[str, Any],
        on_conflict: Conflict | None = None,
        etag: str | None = None,
    ) -> None:
        """Write `document` on commit; with an `etag`, only over that very version (a changed
        or missing one is a conflict)."""
        self.operations.append((container, action, document, on_conflict, etag))

    def delete_if_unchanged(
        self, container: ContainerProxy, document: dict[str, Any], tenant_id: str
    ) -> None:
        # Someone else may have removed or renewed it first: then it is not ours to delete.
        with contextlib.suppress(
            exceptions.CosmosResourceNotFoundError, exceptions.CosmosAccessConditionFailedError
        ):
            container.delete_item(
                document["id"],
                partition_key=tenant_id,
                etag=document["_etag"],
                match_condition=MatchConditions.IfNotModified,
            )

    def add_event(self, event: RecordChanged, record: object | None = None) -> None:
        item = formatted_item(self.storage.record_format, event.container_id, record)
        self.staged_events.append((event, item))

    def commit(self) -> None:
        """Send the staged writes of each container (and tenant) in one transactional batch,
        with a change document per change event: all of a batch is written, or none of it."""
        operations, self.operations = self.operations, []
        events, self.staged_events = self.staged_events, []
        latest = {(event.container_id, event.item_id): event for event, _ in events}
        batches: dict[tuple[str, str], _Batch] = {}
        for container, action, document, on_conflict, etag in operations:
            # Entity documents still carry their latest change, as the original system's did.
            event = latest.get((container.id, document.get("user_id") or document["id"]))
            if event is not None:
                document = {**document, "_last_event_ctx": event.context()}
            key = (container.id, document["tenant_id"])
            batch = batches.setdefault(key, _Batch(container, document["tenant_id"]))
            batch.add(action, document, on_conflict, etag)
        for event, item in events:
            key = (event.container_id, event.tenant_id)
            container = self.container(event.container_id)
            batch = batches.setdefault(key, _Batch(container, event.tenant_id))
            batch.add("create", change_document(event, item=item), None, None)
        for batch in batches.values():
            batch.execute()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.operations = []
        self.staged_events = []
        users = self.container("user") if self.locks else None
        for lock_id, (tenant_id, etag) in self.locks.items():
            assert users is not None
            self.delete_if_unchanged(users, {"id": lock_id, "_etag": etag}, tenant_id)
        self.locks = {}
        if exc is not None and is_transient(exc):
            logger.warning("Cosmos DB unavailable: %s", exc)
            raise StorageUnavailable(retry_after=retry_after(exc)) from exc


def is_transient(error: BaseException) -> bool:
    """Throttling, timeouts and unreachable endpoints: worth retrying later."""
    if isinstance(
        error, (exceptions.CosmosHttpResponseError, exceptions.CosmosBatchOperationError)
    ):
        return error.status_code in TRANSIENT_STATUSES
    return isinstance(error, (ServiceRequestError, ServiceResponseError))


def retry_after(error: BaseException) -> int:
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    milliseconds = headers.get("x-ms-retry-after-ms")
    try:
        return max(1, math.ceil(float(milliseconds) / 1000)) if milliseconds else 5
    except ValueError:
        return 5


class _Batch:
    """The staged writes of one container and partition, sent as transactional batches of at
    most MAX_BATCH_OPERATIONS operations (Cosmos DB's limit; only seeding stages more)."""

    def __init__(self, container: ContainerProxy, tenant_id: str):
        self.container = container
        self.tenant_id = tenant_id
        self.operations: list[tuple[Any, ...]] = []
        self.conflicts: list[Conflict | None] = []

    def add(
        self, action: str, document: dict[str, Any], on_conflict: Conflict | None, etag: str | None
    ) -> None:
        if action == "replace":
            condition = {"if_match_etag": etag} if etag else {}
            self.operations.append(("replace", (document["id"], document), condition))
        else:
            self.operations.append((action, (document,)))
        self.conflicts.append(on_conflict)

    def execute(self) -> None:
        for start in range(0, len(self.operations), MAX_BATCH_OPERATIONS):
            chunk = self.operations[start : start + MAX_BATCH_OPERATIONS]
            try:
                self.container.execute_item_batch(chunk, partition_key=self.tenant_id)
            except exceptions.CosmosBatchOperationError as error:
                on_conflict = self.conflicts[start + (error.error_index or 0)]
                if error.status_code in (409, 412) and on_conflict is not None:
                    raise on_conflict() from error
                raise


def _unreachable(error: AzureError | ValueError) -> StorageUnavailable:
    reason = str(getattr(error, "message", None) or error).splitlines()[0]
    return StorageUnavailable(detail=f"Cosmos DB cannot be reached: {reason}")


class CosmosStorage:
    """The Cosmos DB backend. Each thread has a client of its own, created on its first use.

    The SDK's client is not safe for concurrent calls: every call publishes its response headers
    on the client (`client_connection.last_response_headers`), the SDK's retry loop writes into
    whatever is published there, and a query iterates its own headers after publishing them, so a
    call racing another on the same client fails with "OrderedDict mutated during iteration".
    A client is reused for every later call of its thread, and passed on to a new thread once
    its thread has ended, so servers that start a thread per request do not connect anew.
    """

    def __init__(self, settings: StorageSettings, record_format: RecordFormat | None = None):
        self.settings = settings
        self.record_format = record_format
        # Clients whose threads have ended; a deque's appends and pops are thread-safe without a
        # lock, which a finalizer running as a thread ends could otherwise wait on.
        self._idle: deque[CosmosClient] = deque()
        self._per_thread = threading.local()

    @property
    def client(self) -> CosmosClient:
        """The calling thread's client."""
        lease: _ClientLease | None = getattr(self._per_thread, "lease", None)
        if lease is None:
            lease = _ClientLease(self._idle_client() or self._connect(), self._idle.append)
            self._per_thread.lease = lease
        return lease.client

    def _idle_client(self) -> CosmosClient | None:
        try:
            return self._idle.pop()
        except IndexError:
            return None

    @property
    def database(self) -> DatabaseProxy:
        return self.client.get_database_client(self.settings.cosmos_database)

    def unit_of_work(self, write: bool = False, snapshot: bool = False) -> CosmosUnitOfWork:
        # Cosmos DB has no snapshot across queries: each one reads the latest committed data.
        return CosmosUnitOfWork(self, write)

    def ping(self) -> None:
        try:
            self.database.read()
        except (AzureError, ValueError) as error:
            raise _unreachable(error) from error

    def pending_migrations(self) -> list[str]:
        try:
            applied = applied_migrations(self.database)
        except (AzureError, ValueError) as error:
            raise _unreachable(error) from error
        return pending_among(applied)

    @property
    def deliveries(self) -> CosmosDeliveryQueue:
        return CosmosDeliveryQueue(self.database)

    def dispatch_changes(self, batch_size: int = 100, amqp: bool = False) -> DispatchReport:
        try:
            tally = cosmos_changes.poll_changes(self.database, amqp=amqp)
        except (AzureError, ValueError) as error:
            raise _unreachable(error) from error
        return DispatchReport(tally.recorded, tally.failed, tally.parked)

    def parked_changes(self) -> list[dict[str, Any]]:
        try:
            return cosmos_changes.parked_changes(self.database)
        except (AzureError, ValueError) as error:
            raise _unreachable(error) from error

    def retry_parked(self, ids: list[str] | None = None) -> int:
        try:
            return cosmos_changes.retry_parked(self.database, ids)
        except (AzureError, ValueError) as error:
            raise _unreachable(error) from error

    def outbox_status(self) -> OutboxStatus:
        try:
            return cosmos_changes.outbox_status(self.database)
        except (AzureError, ValueError) as error:
            raise _unreachable(error) from error

    def migrate(self, revert_latest: bool = False) -> None:
        try:
            database = self.client.create_database_if_not_exists(self.settings.cosmos_database)
        except (AzureError, ValueError) as error:
            raise _unreachable(error) from error
        set_target(CosmosMigrationTarget(database))
        configure(storage=CosmosMigrationStorage(database))
        run_migrations(load_migrations_package(), revert=revert_latest)

    def _connect(self) -> CosmosClient:
        options: dict[str, Any] = {
            "connection_verify": self.settings.cosmos_verify_tls,
            "connection_timeout": 10,
            "retry_total": 3,
            "retry_backoff_max": 5,
        }
        if not _environment_configures_http():
            options["transport"] = RequestsTransport(
                use_env_settings=False,
                connection_verify=self.settings.cosmos_verify_tls,
                connection_timeout=10,
            )
        if self.settings.cosmos_connection_string:
            return CosmosClient.from_connection_string(
                self.settings.cosmos_connection_string, **options
            )
        return CosmosClient(
            self.settings.cosmos_account_uri or "",
            credential=self.settings.cosmos_master_key or "",
            **options,
        )


# What requests reads from the environment for each request it sends (`trust_env`).
_HTTP_ENVIRONMENT = frozenset(
    {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "requests_ca_bundle", "curl_ca_bundle"}
)


def _environment_configures_http() -> bool:
    """Whether a proxy or a CA bundle is set in the environment, in any case of its name.

    Without one, the clients' transport does not look for them: requests otherwise reads and
    lower-cases every environment variable for every request it sends, a fifth of a point
    read's time on the emulator with a container's hundred variables."""
    return any(name.lower() in _HTTP_ENVIRONMENT for name in os.environ)


class _ClientLease:
    """A thread's hold on a client: the thread's local storage keeps it, and when the thread
    ends and that storage is dropped, the client goes back to the storage for another thread."""

    def __init__(self, client: CosmosClient, release: Callable[[CosmosClient], None]):
        self.client = client
        weakref.finalize(self, release, client).atexit = False
