"""The SQL engine's connection handling on the database servers: idle connections are checked
before use, a dead one is replaced, reading units of work run without a transaction on
PostgreSQL, and MariaDB URLs reach the port they name."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from commons.data_access_layer.sql.engine import create_sql_engine, normalized_url
from commons.data_access_layer.sql.unit_of_work import SqlStorage
from tests.backends import Database, create_database, unavailable
from tests.private_mariadb import PrivateMariaDB

SESSION_ID = {"postgresql": "SELECT pg_backend_pid()", "mariadb": "SELECT CONNECTION_ID()"}
KILL = {"postgresql": "SELECT pg_terminate_backend({})", "mariadb": "KILL {}"}


@pytest.fixture(params=["postgresql", "mariadb"])
def server_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    database = create_database(request.param, tmp_path)
    yield database
    database.drop()


def session_id(engine: sa.Engine, backend: str) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(SESSION_ID[backend]).scalar_one())


def kill(database: Database, session: int) -> None:
    admin = sa.create_engine(normalized_url(database.url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(KILL[database.backend].format(session))
    admin.dispose()
    time.sleep(0.2)  # the server closes the socket


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(server_database: Database) -> None:
    engine = create_sql_engine(server_database.url, ping_after_idle_s=0)
    try:
        first = session_id(engine, server_database.backend)
        kill(server_database, first)

        second = session_id(engine, server_database.backend)  # no error reaches the caller

        assert second != first
    finally:
        engine.dispose()


def test_a_recently_used_connection_is_not_pinged_and_a_failure_renews_the_pool(
    server_database: Database,
) -> None:
    engine = create_sql_engine(server_database.url, ping_after_idle_s=3600)
    try:
        first = session_id(engine, server_database.backend)
        kill(server_database, first)

        with pytest.raises(sa.exc.DBAPIError) as failure:
            session_id(engine, server_database.backend)
        assert failure.value.connection_invalidated

        assert session_id(engine, server_database.backend) != first
    finally:
        engine.dispose()


def statement_times(connection: sa.Connection) -> tuple[object, object]:
    first = connection.exec_driver_sql("SELECT now()").scalar_one()
    time.sleep(0.01)
    return first, connection.exec_driver_sql("SELECT now()").scalar_one()


def test_reading_units_of_work_run_without_a_transaction_on_postgresql(tmp_path: Path) -> None:
    database = create_database("postgresql", tmp_path)
    storage = SqlStorage(database.url)
    try:
        with storage.unit_of_work() as uow:
            first, second = statement_times(uow.connection)
            assert first != second  # now() is per statement outside a transaction
        with storage.unit_of_work(write=True) as uow:
            first, second = statement_times(uow.connection)
            assert first == second  # and fixed for a whole transaction
    finally:
        storage.engine.dispose()
        database.drop()


# MariaDB through ODBC on a port of its own

DEFAULT_MARIADB_PORT = 3306
# Every character ODBC connection strings or URLs give a meaning to (no quote: it is in SQL).
ODBC_HOSTILE_PASSWORD = "p;w}d{=x@:/?#%+& ä"


def server_port(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT @@port").scalar_one())


def test_a_mariadb_url_reaches_the_server_on_the_port_it_names(
    private_mariadb_server: PrivateMariaDB,
) -> None:
    engine = create_sql_engine(private_mariadb_server.url())
    try:
        assert server_port(engine) == private_mariadb_server.port != DEFAULT_MARIADB_PORT
    finally:
        engine.dispose()


def test_a_password_odbc_would_misread_logs_in_on_the_port_the_url_names(
    private_mariadb_server: PrivateMariaDB,
) -> None:
    # A user and a database that exist on the private server only.
    user = database = f"tt_port_{uuid.uuid4().hex[:8]}"
    admin = create_sql_engine(private_mariadb_server.url())
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {database}")
            connection.exec_driver_sql(
                f"CREATE USER '{user}'@'%' IDENTIFIED BY '{ODBC_HOSTILE_PASSWORD}'"
            )
            connection.exec_driver_sql(f"GRANT ALL ON {database}.* TO '{user}'@'%'")
        url = private_mariadb_server.url(user, ODBC_HOSTILE_PASSWORD, database)
        engine = create_sql_engine(url)
        try:
            with engine.connect() as connection:
                logged_in = connection.exec_driver_sql("SELECT CURRENT_USER()").scalar_one()
            assert logged_in == f"{user}@%"
            assert server_port(engine) == private_mariadb_server.port
        finally:
            engine.dispose()
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%'")
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {database}")
        admin.dispose()


def test_a_mariadb_url_without_a_port_reaches_the_drivers_default(tmp_path: Path) -> None:
    database = create_database("mariadb", tmp_path)
    url = sa.engine.make_url(database.url)
    if url.port not in (None, DEFAULT_MARIADB_PORT):
        database.drop()
        unavailable("mariadb", ValueError(f"TEST_MARIADB_URL names port {url.port}, not 3306"))
    portless = sa.URL.create(
        url.drivername,
        url.username,
        url.password,
        url.host,
        None,
        url.database,
        {name: value for name, value in url.query.items() if name != "port"},
    )
    engine = create_sql_engine(portless.render_as_string(hide_password=False))
    try:
        assert server_port(engine) == DEFAULT_MARIADB_PORT
    finally:
        engine.dispose()
        database.drop()
