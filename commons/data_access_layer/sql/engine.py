"""Engines configured for each database: driver choice, pooling, SQLite locking."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

IMMEDIATE = "time_tracker_immediate"


def normalized_url(url: str) -> sa.URL:
    """Pick psycopg 3 for PostgreSQL URLs that name no driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_sql_engine(url: str) -> sa.Engine:
    """An engine for the URL, tuned for concurrent web requests."""
    parsed = normalized_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        options["pool_recycle"] = 3600
        # Each statement sees what committed before it, as on PostgreSQL: after a unit of work
        # takes a user's row lock it reads the timeline its predecessor left.
        options["isolation_level"] = "READ COMMITTED"
    return sa.create_engine(parsed, **options)


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if url.database and url.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A writing unit of work takes SQLite's write lock up front: two writers queue on the
        # busy timeout instead of one failing when it upgrades a read lock.
        immediate = connection.get_execution_options().get(IMMEDIATE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
