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

from commons.data_access_layer.cosmos.containers import EVENT
from commons.data_access_layer.sql.engine import create_sql_engine
from commons.services.deliveries import Dispatcher
from commons.settings import OutboundSettings

from .settings import EventsSettings

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
    return container(EVENT)


def database() -> DatabaseProxy:
    """The Cosmos DB database DATABASE_NAME names, on COSMOS_CONNECTION."""
    return _cosmos.get().get_database_client(EventsSettings.from_env().database_name)


def container(name: str) -> ContainerProxy:
    """A container of that database."""
    return database().get_container_client(name)


def sql_engine() -> sa.Engine:
    """The engine of SQL_DATABASE_URI, holding the `outbox` and `events` tables."""
    return _engine.get()


class _Queues:
    """What a dispatcher needs of a storage: its deliveries."""

    def __init__(self, deliveries: Any) -> None:
        self.deliveries = deliveries


def _create_dispatchers() -> list[Dispatcher]:
    from commons.data_access_layer.cosmos.webhooks import CosmosDeliveryQueue
    from commons.data_access_layer.sql.webhooks import SqlDeliveryQueue

    settings, outbound = EventsSettings.from_env(), OutboundSettings.from_env()
    queues: list[Any] = []
    if settings.sql_url:
        queues.append(SqlDeliveryQueue(sql_engine()))
    if settings.cosmos_connection:
        queues.append(CosmosDeliveryQueue(database()))
    if not queues:
        raise RuntimeError("Neither SQL_DATABASE_URI nor COSMOS_CONNECTION is set")
    return [Dispatcher(_Queues(queue), outbound) for queue in queues]  # type: ignore[arg-type]


def _close_dispatchers(dispatchers: list[Dispatcher]) -> None:
    for dispatcher in dispatchers:
        dispatcher.close()


_dispatchers = Shared(_create_dispatchers, _close_dispatchers)


def dispatchers() -> list[Dispatcher]:
    """A dispatcher of the deliveries of each store that is set (SQL, Cosmos DB)."""
    return _dispatchers.get()


def amqp() -> bool:
    """Whether changes go to the AMQP exchange too (AMQP_URL is set)."""
    return OutboundSettings.from_env().amqp_url is not None


def reset() -> None:
    """Close the shared clients; the next use connects again with the current settings."""
    _dispatchers.reset()
    _cosmos.reset()
    _engine.reset()
