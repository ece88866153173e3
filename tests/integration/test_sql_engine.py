"""The SQL engine's connection handling on the database servers: idle connections are checked
before use, a dead one is replaced, and reading units of work run without a transaction on
PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from commons.data_access_layer.sql.engine import create_sql_engine, normalized_url
from commons.data_access_layer.sql.unit_of_work import SqlStorage
from tests.backends import Database, create_database

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
