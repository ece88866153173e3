"""Migrations on every SQL backend: up → down → up, and the result is the application's schema."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateIndex, CreateTable

import migrations
from commons.bootstrap import create_storage
from commons.data_access_layer.sql import tables
from commons.settings import StorageSettings
from tests.backends import SQL_BACKENDS, create_database

MIGRATIONS = sorted(name for _, name, _ in pkgutil.iter_modules(migrations.__path__))


@pytest.fixture(params=SQL_BACKENDS)
def fresh_storage(request, tmp_path):
    database = create_database(request.param, tmp_path)
    storage = create_storage(StorageSettings(sql_url=database.url), default_sql_url="")
    yield storage
    storage.engine.dispose()
    database.drop()


def applied(storage):
    with storage.engine.connect() as connection:
        return [
            row.name
            for row in connection.execute(sa.text("SELECT name FROM migrations ORDER BY name"))
        ]


def application_tables(storage):
    return set(sa.inspect(storage.engine).get_table_names()) - {"migrations"}


def test_every_migration_goes_up_down_and_up_again(fresh_storage):
    storage = fresh_storage
    storage.migrate()
    assert applied(storage) == MIGRATIONS
    # Going down one step at a time: each migration goes down, everything comes back up,
    # then the stair is walked down again to just below that migration.
    for step in reversed(range(len(MIGRATIONS))):
        storage.migrate(revert_latest=True)
        assert applied(storage) == MIGRATIONS[:step]
        storage.migrate()
        assert applied(storage) == MIGRATIONS
        for _ in range(len(MIGRATIONS) - step):
            storage.migrate(revert_latest=True)
        assert applied(storage) == MIGRATIONS[:step]
    assert application_tables(storage) == set()
    storage.migrate()
    assert applied(storage) == MIGRATIONS
    assert application_tables(storage) == set(tables.metadata.tables)


def test_migrating_twice_changes_nothing(fresh_storage):
    fresh_storage.migrate()
    fresh_storage.migrate()
    assert applied(fresh_storage) == MIGRATIONS


def test_the_migrated_schema_is_the_one_the_application_uses(fresh_storage):
    fresh_storage.migrate()
    inspector = sa.inspect(fresh_storage.engine)
    for table in tables.metadata.sorted_tables:
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(columns) == set(table.c.keys()), table.name
        for column in table.c:
            assert columns[column.name]["nullable"] == column.nullable, (table.name, column.name)
        primary_key = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert set(primary_key) == {c.name for c in table.primary_key}
        migrated_unique = {
            tuple(index["column_names"])
            for index in inspector.get_indexes(table.name)
            if index["unique"]
        }
        for index in table.indexes:
            if index.unique:
                assert tuple(c.name for c in index.columns) in migrated_unique, index.name


def test_the_schema_compiles_for_sql_server():
    dialect = mssql.dialect()
    schemas = [importlib.import_module(f"migrations.{name}")._schema() for name in MIGRATIONS]
    for metadata in (tables.metadata, *schemas):
        for table in metadata.sorted_tables:
            ddl = str(CreateTable(table).compile(dialect=dialect))
            assert f"CREATE TABLE {table.name}" in ddl
            for index in table.indexes:
                kind = "CREATE UNIQUE INDEX" if index.unique else "CREATE INDEX"
                assert kind in str(CreateIndex(index).compile(dialect=dialect))
    ddl = str(CreateTable(tables.activity).compile(dialect=dialect))
    assert "DATETIME2" in ddl and "NVARCHAR" in ddl
    running = next(i for i in tables.time_entry.indexes if i.name == "uq_time_entry_running")
    # SQL Server's unique indexes treat NULLs as equal: only running entries may be indexed.
    assert "WHERE running_slot IS NOT NULL" in str(CreateIndex(running).compile(dialect=dialect))
