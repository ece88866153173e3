"""The audit log's stores, connected on first use and shared by the whole process.

Nothing connects at import: the Functions host imports the app before any setting is needed,
and a trigger that never fires never opens a connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from azure.cosmos import ContainerProxy, CosmosClient, DatabaseProxy
from sqlalchemy.engine import make_url

from .cosmos import EVENT_CONTAINER
from .settings import EventsSettings

# The execution option `sql.drain_once` sets to ask SQLite for its write lock up front.
IMMEDIATE = "time_tracker_immediate"

T = TypeVar("T")


class Shared(Generic[T]):
    """A value created on first use, then reused by every thread until `reset()`."""

    def __init__(self, create: Callable[[], T], close: Callable[[T], Any]) -> None:
        self._create = create
        self._close = close
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._create()
            return self._value

    def reset(self) -> None:
        with self._lock:
            value, self._value = self._value, None
        if value is not None:
            self._close(value)


def _connect_cosmos() -> CosmosClient:
    settings = EventsSettings.from_env()
    if not settings.cosmos_connection:
        raise RuntimeError("COSMOS_CONNECTION is not set")
    return CosmosClient.from_connection_string(
        settings.cosmos_connection, connection_verify=settings.cosmos_verify_tls
    )


def _create_engine() -> sa.Engine:
    settings = EventsSettings.from_env()
    if not settings.sql_url:
        raise RuntimeError("SQL_DATABASE_URI is not set")
    return create_sql_engine(settings.sql_url)


_cosmos = Shared(_connect_cosmos, CosmosClient.close)
_engine = Shared(_create_engine, sa.Engine.dispose)


def event_container() -> ContainerProxy:
    """The `event` container of the database DATABASE_NAME names, on COSMOS_CONNECTION."""
    return container(EVENT_CONTAINER)


def database() -> DatabaseProxy:
    """The Cosmos DB database DATABASE_NAME names, on COSMOS_CONNECTION."""
    return _cosmos.get().get_database_client(EventsSettings.from_env().database_name)


def container(name: str) -> ContainerProxy:
    """A container of that database."""
    return database().get_container_client(name)


def sql_engine() -> sa.Engine:
    """The engine of SQL_DATABASE_URI, holding the `outbox` and `events` tables."""
    return _engine.get()


def reset() -> None:
    """Close the shared clients; the next use connects again with the current settings."""
    _cosmos.reset()
    _engine.reset()


def normalized_url(url: str) -> sa.URL:
    """The URL to connect with: psycopg 3 for bare PostgreSQL URLs, MariaDB ports ODBC reads."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if (
        parsed.get_backend_name() in ("mysql", "mariadb")
        and parsed.get_driver_name() == "pyodbc"
        and parsed.port is not None
        and "port" not in parsed.query
    ):
        # SQLAlchemy writes host:port as `Server=host,port`, SQL Server's form, which MariaDB's
        # ODBC driver reads as the host alone: it would connect to 3306. Given a `port` query
        # option instead, SQLAlchemy writes `Server=host;...;port=N`, which the driver reads.
        parsed = parsed.update_query_dict({"port": str(parsed.port)})
    return parsed


def create_sql_engine(url: str) -> sa.Engine:
    """An engine for the URL, configured as the API configures its own."""
    parsed = normalized_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if backend in ("mysql", "mariadb"):
        options["pool_recycle"] = 3600
        options["isolation_level"] = "READ COMMITTED"
    return sa.create_engine(parsed, **options)


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling breaks the savepoint each outbox row is
        # delivered in; SQLAlchemy begins transactions instead (_on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A draining batch takes the write lock up front, so two dispatchers (or a dispatcher
        # and the API) queue on the busy timeout instead of deadlocking on a lock upgrade.
        immediate = connection.get_execution_options().get(IMMEDIATE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
