"""Real databases for tests: a fresh database per test session on each server.

PostgreSQL and MariaDB are found from TEST_POSTGRES_URL / TEST_MARIADB_URL (defaults: the
local servers of a python-svc machine). Where one cannot be reached the tests that need it skip
with a reason, except under CI=true, where every backend is required and a miss fails.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from commons.data_access_layer.sql.engine import normalized_url

SERVER_URLS = {
    "postgresql": os.environ.get(
        "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
    "mariadb": os.environ.get(
        "TEST_MARIADB_URL", "mariadb+pyodbc://root:@127.0.0.1:3306/mysql?driver=MariaDB+Unicode"
    ),
}
HOW_TO_GET = {
    "postgresql": "start PostgreSQL on 127.0.0.1:5432 (trust auth) or set TEST_POSTGRES_URL",
    "mariadb": "start MariaDB on 127.0.0.1:3306 and install odbc-mariadb, or set TEST_MARIADB_URL",
}
SQL_BACKENDS = ("sqlite", "postgresql", "mariadb")
REQUIRED_IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Database:
    backend: str
    url: str
    drop: callable  # type: ignore[valid-type]


def unavailable(backend: str, error: Exception) -> None:
    message = f"{backend} is not reachable ({type(error).__name__}): {HOW_TO_GET[backend]}"
    if REQUIRED_IN_CI:
        pytest.fail(f"CI requires every backend: {message}")
    pytest.skip(message)


def create_database(backend: str, directory: Path) -> Database:
    """A new, empty database on the backend's server (or a new SQLite file)."""
    if backend == "sqlite":
        path = directory / f"tt_{uuid.uuid4().hex[:8]}.db"
        return Database(backend, f"sqlite:///{path}", lambda: path.unlink(missing_ok=True))
    name = f"tt_test_{uuid.uuid4().hex[:12]}"
    server = normalized_url(SERVER_URLS[backend])
    try:
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    except (sa.exc.DBAPIError, ImportError) as error:
        unavailable(backend, error)

    def drop() -> None:
        with admin.connect() as connection:
            if backend == "postgresql":
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()

    return Database(backend, server.set(database=name).render_as_string(hide_password=False), drop)
