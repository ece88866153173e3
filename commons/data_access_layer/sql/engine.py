"""Engines configured for each database: driver choice, pooling, SQLite locking."""

from __future__ import annotations

import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url

IMMEDIATE = "time_tracker_immediate"
# A pooled connection idle longer than this is pinged before use (see _ping_when_idle).
PING_AFTER_IDLE_S = 2.0


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


def create_sql_engine(url: str, ping_after_idle_s: float = PING_AFTER_IDLE_S) -> sa.Engine:
    """An engine for the URL, tuned for concurrent web requests."""
    parsed = normalized_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    options: dict[str, Any] = {
        "pool_size": 10,
        "max_overflow": 20,
        "json_deserializer": orjson.loads,
    }
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        options["pool_recycle"] = 3600
        # Each statement sees what committed before it, as on PostgreSQL: after a unit of work
        # takes a user's row lock it reads the timeline its predecessor left.
        options["isolation_level"] = "READ COMMITTED"
    engine = sa.create_engine(parsed, **options)
    _ping_when_idle(engine, ping_after_idle_s)
    if parsed.get_driver_name() == "pyodbc":
        _recognize_odbc_disconnects(engine)
    return engine


def _recognize_odbc_disconnects(engine: sa.Engine) -> None:
    """Treat ODBC's SQLSTATE class 08 (connection exception) as a lost connection.

    SQLAlchemy's MySQL-over-pyodbc dialect does not recognize the MariaDB driver's "Lost
    connection" (08S01) as a disconnect, so the dead connection would go back to the pool.
    """

    @sa.event.listens_for(engine, "handle_error")
    def _on_error(context: sa.engine.ExceptionContext) -> None:
        args = getattr(context.original_exception, "args", ())
        if args and isinstance(args[0], str) and args[0].startswith("08"):
            context.is_disconnect = True


def _ping_when_idle(engine: sa.Engine, ping_after_idle_s: float) -> None:
    """Check a pooled connection before use when it has been idle a while.

    SQLAlchemy's pool_pre_ping pings on every checkout: a round trip, about a tenth of a busy
    request's time. A connection that served a request a moment ago is as good as a ping says,
    so only connections idle longer than `ping_after_idle_s` are pinged; a dead one is replaced
    before the request sees it. If the server restarts while connections are in steady use, the
    first statement on one fails (503 with Retry-After, nothing written) and SQLAlchemy then
    replaces every connection of the pool that predates the failure.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["returned_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("returned_at", 0.0) < ping_after_idle_s:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
                cursor.fetchall()
            finally:
                cursor.close()
            dbapi_connection.rollback()  # leave no transaction open behind the ping
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError(str(error)) from error


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


def analyze(connection: sa.Connection, table_names: list[str] | None = None) -> None:
    """Refresh the planner's statistics of these tables (None: every table of the database).

    After a bulk load, or an index added to a full table, the planner otherwise guesses: on a
    fresh, never analysed table PostgreSQL once read a just-written entry back through the wrong
    index (229 ms, not 2), and SQLite chose a just added index for a month's list (300 ms).
    """
    backend = connection.dialect.name
    quote = connection.dialect.identifier_preparer.quote
    if table_names is None:
        if backend in ("postgresql", "sqlite"):
            connection.exec_driver_sql("ANALYZE")
            return
        table_names = sa.inspect(connection).get_table_names()
    if not table_names:
        return
    if backend in ("mysql", "mariadb"):
        # ANALYZE TABLE answers with a result set of one status row per table.
        names = ", ".join(quote(name) for name in table_names)
        connection.exec_driver_sql(f"ANALYZE TABLE {names}").fetchall()
    elif backend == "mssql":
        for name in table_names:
            connection.exec_driver_sql(f"UPDATE STATISTICS {quote(name)}")
    else:
        for name in table_names:
            connection.exec_driver_sql(f"ANALYZE {quote(name)}")
