"""The SQL unit of work: one connection, one transaction, the repositories on it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import migrate_anything
import sqlalchemy as sa
from migrate_anything.migrator import run as run_migrations

from commons.data_access_layer.migrations import (
    load_migrations_package,
    pending_among,
    set_target,
)
from commons.data_access_layer.ports import DispatchReport, OutboxStatus, RecordFormat
from commons.data_access_layer.sql import outbox as outbox_dispatch
from commons.data_access_layer.sql import tables
from commons.data_access_layer.sql.engine import IMMEDIATE, create_sql_engine
from commons.data_access_layer.sql.events import SqlEventRepository
from commons.data_access_layer.sql.idempotency import SqlIdempotencyRepository
from commons.data_access_layer.sql.migration_storage import (
    SqlMigrationStorage,
    SqlMigrationTarget,
    applied_migrations,
)
from commons.data_access_layer.sql.repositories import (
    SqlCatalogRepository,
    SqlProjectRepository,
    SqlUserRepository,
)
from commons.data_access_layer.sql.time_entries import SqlTimeEntryRepository
from commons.data_access_layer.sql.webhooks import SqlDeliveryQueue, SqlWebhookRepository
from commons.domain.catalog import CatalogKind
from commons.domain.deliveries import item_json
from commons.domain.events import RecordChanged
from commons.domain.exceptions import ConfigurationError, StorageUnavailable

logger = logging.getLogger(__name__)


def is_transient(error: BaseException | None) -> bool:
    """Whether a failure says the database cannot serve now, rather than that something is wrong."""
    if isinstance(error, (sa.exc.InterfaceError, sa.exc.TimeoutError)):
        return True
    if not isinstance(error, sa.exc.OperationalError):
        return False
    # SQLite reports a missing table as an OperationalError too; only its lock errors are transient.
    sqlite_error = getattr(error.orig, "sqlite_errorname", None)
    return sqlite_error is None or sqlite_error.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _reason(error: sa.exc.DBAPIError) -> str:
    # Operators read this (CLI, start-up log, /ready): the driver's first line says why.
    return str(getattr(error, "orig", None) or error).splitlines()[0]


@contextmanager
def _outbox_errors(engine: sa.Engine) -> Iterator[None]:
    """Turn a database failure while draining or managing the outbox into one plain sentence."""
    try:
        yield
    except sa.exc.DBAPIError as error:
        detail = f"The outbox cannot be read: {_reason(error)}"
        # Some drivers (pyodbc) report a refused connection as a plain DBAPIError: ask again.
        if is_transient(error) or not _answers(engine):
            detail = f"The database cannot be reached: {_reason(error)}"
        raise StorageUnavailable(detail=detail) from error


def _answers(engine: sa.Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError:
        return False
    return True


_OUTBOX_INSERT = sa.insert(tables.outbox)  # its values are a change's, given per execution
_REPOSITORIES: dict[str, type[SqlCatalogRepository]] = {"project": SqlProjectRepository}


def _snapshot_options(dialect: sa.Dialect) -> dict[str, Any]:
    """A read-only transaction whose statements all see the snapshot of its first.

    REPEATABLE READ is that on PostgreSQL and InnoDB (a consistent read view from the first
    read). SQLite's deferred transaction keeps the snapshot of its first read in WAL mode.
    """
    if dialect.name == "postgresql":
        return {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    if dialect.name in ("mysql", "mariadb"):
        return {"isolation_level": "REPEATABLE READ"}
    return {}


class SqlUnitOfWork:
    """Changes made through its repositories commit together or not at all."""

    users: SqlUserRepository
    time_entries: SqlTimeEntryRepository
    events: SqlEventRepository
    idempotency: SqlIdempotencyRepository
    webhooks: SqlWebhookRepository

    def __init__(
        self,
        engine: sa.Engine,
        write: bool,
        snapshot: bool = False,
        record_format: RecordFormat | None = None,
    ):
        self.engine = engine
        self.write = write
        self.snapshot = snapshot
        self.record_format = record_format

    def __enter__(self) -> SqlUnitOfWork:
        try:
            self.connection = self.engine.connect()
            if self.write:
                self.connection.execution_options(**{IMMEDIATE: True})
            elif self.snapshot:
                self.connection.execution_options(**_snapshot_options(self.engine.dialect))
            elif self.engine.dialect.name == "postgresql":
                # A reading unit of work only reads, and under READ COMMITTED each statement
                # sees its own snapshot in a transaction as out of one: without BEGIN and
                # ROLLBACK it saves two round trips to the server.
                self.connection.execution_options(isolation_level="AUTOCOMMIT")
            self.transaction = self.connection.begin()
        except sa.exc.DBAPIError as error:
            logger.warning("Database unavailable: %s", error)
            raise StorageUnavailable() from error
        self.users = SqlUserRepository(self.connection)
        self.time_entries = SqlTimeEntryRepository(self.connection)
        self.events = SqlEventRepository(self.connection)
        self.idempotency = SqlIdempotencyRepository(self.connection)
        self.webhooks = SqlWebhookRepository(self.connection)
        return self

    def catalog(self, kind: CatalogKind) -> SqlCatalogRepository:
        return _REPOSITORIES.get(kind.key, SqlCatalogRepository)(self.connection, kind)

    def add_event(self, event: RecordChanged, record: object | None = None) -> None:
        self.connection.execute(
            _OUTBOX_INSERT,
            {
                "id": str(uuid.uuid4()),
                "tenant_id": event.tenant_id,
                "container_id": event.container_id,
                "item_id": event.item_id,
                "action": event.action,
                "user_id": event.user_id,
                "description": event.description[:500],
                "session_id": event.session_id,
                "occurred_at": datetime.now(UTC),
                "status": "pending",
                "attempts": 0,
                "item": item_json(self.record_format, event.container_id, record),
            },
        )

    def commit(self) -> None:
        self.transaction.commit()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.transaction.is_active:
                self.transaction.rollback()
        finally:
            self.connection.close()
        if is_transient(exc):
            logger.warning("Database unavailable: %s", exc)
            raise StorageUnavailable() from exc


def _unreachable(error: sa.exc.DBAPIError) -> StorageUnavailable:
    return StorageUnavailable(detail=f"The database cannot be reached: {_reason(error)}")


class SqlStorage:
    """The SQL backend: engine, units of work, health and migrations."""

    def __init__(self, url: str, record_format: RecordFormat | None = None):
        self.record_format = record_format
        try:
            self.engine = create_sql_engine(url)
        except (sa.exc.ArgumentError, ImportError) as error:  # a bad URL or a missing driver
            reason = str(error).splitlines()[0]
            raise ConfigurationError(f"SQL_DATABASE_URI is not usable: {reason}") from error

    def unit_of_work(self, write: bool = False, snapshot: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write, snapshot, self.record_format)

    @property
    def deliveries(self) -> SqlDeliveryQueue:
        return SqlDeliveryQueue(self.engine)

    def ping(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.DBAPIError as error:
            raise _unreachable(error) from error

    def pending_migrations(self) -> list[str]:
        try:
            with self.engine.connect() as connection:
                applied = applied_migrations(connection)
        except sa.exc.DBAPIError as error:
            raise _unreachable(error) from error
        return pending_among(applied)

    def dispatch_changes(self, batch_size: int = 100, amqp: bool = False) -> DispatchReport:
        with _outbox_errors(self.engine):
            total, _ = outbox_dispatch.drain(self.engine, batch_size, amqp=amqp)
            waiting = outbox_dispatch.waiting(self.engine)
        return DispatchReport(total.delivered, total.failed, total.parked, waiting)

    def parked_changes(self) -> list[dict[str, Any]]:
        with _outbox_errors(self.engine):
            return outbox_dispatch.parked(self.engine)

    def retry_parked(self, ids: list[str] | None = None) -> int:
        with _outbox_errors(self.engine):
            return outbox_dispatch.retry_parked(self.engine, ids)

    def outbox_status(self) -> OutboxStatus:
        with _outbox_errors(self.engine):
            return outbox_dispatch.status(self.engine)

    def migrate(self, revert_latest: bool = False) -> None:
        self.ping()
        set_target(SqlMigrationTarget(self.engine))
        migrate_anything.configure(storage=SqlMigrationStorage(self.engine))
        run_migrations(load_migrations_package(), revert=revert_latest)
