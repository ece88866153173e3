"""Real databases for tests: a fresh database per test session on each server.

PostgreSQL and MariaDB are found from TEST_POSTGRES_URL / TEST_MARIADB_URL (defaults: the
local servers of a python-svc machine); Cosmos DB is an emulator the tests launch, or
TEST_COSMOS_ENDPOINT (tests/cosmos_emulator.py). Where one cannot be reached the tests that need
it skip with a reason, except under CI=true, where every backend is required and a miss fails.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from azure.cosmos import CosmosClient

from commons.data_access_layer.sql.engine import normalized_url
from commons.settings import StorageSettings

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
    "private mariadb": "install mariadb-server (mariadb-install-db and mariadbd): the tests "
    "start a MariaDB of their own on a free port",
    "cosmos": "run scripts/test.sh (it installs Node.js and the emulator; or run npm ci), "
    "or set TEST_COSMOS_ENDPOINT and TEST_COSMOS_KEY",
    "redis": "start Redis on 127.0.0.1:6379 or set TEST_REDIS_URL",
    "rabbitmq": "start RabbitMQ on 127.0.0.1:5672 (user guest, password guest) or set "
    "TEST_AMQP_URL",
    "private rabbitmq": "install rabbitmq-server (rabbitmq-server and rabbitmqctl): the tests "
    "start a RabbitMQ node of their own on free ports",
}
AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
SQL_BACKENDS = ("sqlite", "postgresql", "mariadb")
BACKENDS = (*SQL_BACKENDS, "cosmos")
# In-process storage: the contract suite and service tests run on it too (`also_in_process`);
# TEST_BACKENDS=memory (a comma-separated list) runs every database test on the backends named.
MEMORY = "memory"
CHOSEN_BACKENDS = tuple(
    name.strip() for name in os.environ.get("TEST_BACKENDS", "").split(",") if name.strip()
)
REQUIRED_IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Database:
    backend: str
    url: str
    drop: callable  # type: ignore[valid-type]
    cosmos: StorageSettings | None = None

    @property
    def settings(self) -> StorageSettings:
        """The storage settings that point the app at this database."""
        if self.backend == MEMORY:
            return StorageSettings(backend=MEMORY)
        return self.cosmos or StorageSettings(backend="sql", sql_url=self.url)

    def variables(self) -> dict[str, str]:
        """The environment variables that point a process (the CLI, a server) at it."""
        if self.backend == MEMORY:
            return {"DATABASE_BACKEND": MEMORY}
        if self.cosmos is None:
            return {"SQL_DATABASE_URI": self.url}
        return {
            "DATABASE_BACKEND": "cosmos",
            "DATABASE_ACCOUNT_URI": self.cosmos.cosmos_account_uri or "",
            "DATABASE_MASTER_KEY": self.cosmos.cosmos_master_key or "",
            "DATABASE_NAME": self.cosmos.cosmos_database,
            "COSMOS_VERIFY_TLS": "false",
        }


def unavailable(backend: str, error: Exception) -> None:
    message = f"{backend} is not reachable ({type(error).__name__}: {error}): {HOW_TO_GET[backend]}"
    if REQUIRED_IN_CI:
        pytest.fail(f"CI requires every backend: {message}")
    pytest.skip(message)


def create_database(backend: str, directory: Path) -> Database:
    """A new, empty database on the backend's server (or a new SQLite file, or memory: the
    storage the app creates is the database)."""
    if backend == MEMORY:
        return Database(backend, "memory:", lambda: None)
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


def create_cosmos_database(emulator: Any) -> Database:
    """A new database name on the emulator; the app's migrations create its containers."""
    name = f"tt_test_{uuid.uuid4().hex[:12]}"
    settings = StorageSettings(
        backend="cosmos",
        cosmos_account_uri=emulator.endpoint,
        cosmos_master_key=emulator.key,
        cosmos_database=name,
        cosmos_verify_tls=False,
    )

    def drop() -> None:
        client = CosmosClient(emulator.endpoint, credential=emulator.key, connection_verify=False)
        client.delete_database(name)

    return Database("cosmos", emulator.endpoint, drop, settings)
