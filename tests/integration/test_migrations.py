"""Migrations on every SQL backend: up → down → up, and the result is the application's schema."""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateIndex, CreateTable

import migrations
from commons.bootstrap import create_storage
from commons.data_access_layer.migrations import set_target
from commons.data_access_layer.sql import tables
from commons.data_access_layer.sql.migration_storage import (
    SqlMigrationStorage,
    SqlMigrationTarget,
)
from commons.data_access_layer.sql.migration_types import ExactString, exact_collation
from commons.domain.catalog import ACTIVITY
from commons.domain.sync import SyncQuery
from commons.domain.time_entries import TimeEntryQuery
from commons.domain.time_windows import EARLIEST, LATEST, Window
from commons.domain.users import User, invited_user
from commons.settings import StorageSettings
from tests.backends import SQL_BACKENDS, create_database

MIGRATIONS = sorted(name for _, name, _ in pkgutil.iter_modules(migrations.__path__))


def storage_on(backend, directory):
    """The storage of a new, empty database on the backend."""
    database = create_database(backend, directory)
    storage = create_storage(StorageSettings(sql_url=database.url), default_sql_url="")
    yield storage
    storage.engine.dispose()
    database.drop()


@pytest.fixture(params=SQL_BACKENDS)
def fresh_storage(request, tmp_path):
    yield from storage_on(request.param, tmp_path)


@pytest.fixture
def fresh_mariadb(tmp_path):
    yield from storage_on("mariadb", tmp_path)


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


def test_the_lists_order_their_pages_from_indexes_in_that_order(fresh_storage):
    fresh_storage.migrate()
    inspector = sa.inspect(fresh_storage.engine)

    def indexes(table):
        return {i["name"]: i["column_names"] for i in inspector.get_indexes(table)}

    entry_pages = indexes("time_entry")["ix_time_entry_tenant_page"]
    assert entry_pages[:3] == ["tenant_id", "start_date", "id"]
    assert "ix_time_entry_tenant_start" not in indexes("time_entry")
    assert indexes("events")["ix_events_tenant_date_id"] == ["tenant_id", "date", "id"]
    assert "ix_events_tenant_date" not in indexes("events")
    down_to(fresh_storage, "0009_change_documents")
    inspector = sa.inspect(fresh_storage.engine)
    assert indexes("time_entry")["ix_time_entry_tenant_start"] == ["tenant_id", "start_date"]
    assert indexes("events")["ix_events_tenant_date"] == ["tenant_id", "date"]
    assert "ix_time_entry_tenant_page" not in indexes("time_entry")


def test_the_pages_migration_leaves_statistics_of_its_indexes(tmp_path):
    # On a SQLite table analysed before the index existed, the planner chose the new index for
    # a person's month without statistics of it (300 ms instead of 2).
    for storage in storage_on("sqlite", tmp_path):
        storage.migrate()
        down_to(storage, "0009_change_documents")
        insert(
            storage, rows_of_a_tenant("t-1", "u-1")
        )  # SQLite keeps no statistics of empty tables
        with storage.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        storage.migrate()
        with storage.engine.connect() as connection:
            analysed = set(connection.exec_driver_sql("SELECT idx FROM sqlite_stat1").scalars())
        assert {"ix_time_entry_tenant_page", "ix_events_tenant_date_id"} <= analysed


def test_the_schema_compiles_for_sql_server():
    dialect = mssql.dialect()
    modules = [importlib.import_module(f"migrations.{name}") for name in MIGRATIONS]
    schemas = [module._schema() for module in modules if hasattr(module, "_schema")]
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


# The exact ids migration (0005) ---------------------------------------------------------------

TENANT, OWNER = "tenant-a", "x-admin-a"
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
LOOK_ALIKES = ("TENANT-A", "tenant-a ", "tenant-á")
USER_LOOK_ALIKES = ("X-ADMIN-A", "x-admin-a ", "x-admin-á")


def catalog_row(tenant_id: str, item_id: str, name: str, **columns: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": item_id,
        "name": name,
        "name_key": name.casefold(),
        "uniqueness_scope": "",
        "uniqueness_slot": "",
        "created_at": NOW,
        "updated_at": NOW,
        **columns,
    }


def rows_of_a_tenant(tenant_id: str, owner_id: str) -> dict[sa.Table, list[dict[str, Any]]]:
    """A row in every table, for one tenant and owner."""
    project_type = str(uuid.uuid4())
    customer, project, activity, entry = (str(uuid.uuid4()) for _ in range(4))
    event = {"tenant_id": tenant_id, "item_id": entry, "user_id": owner_id, "action": "create"}
    event |= {"description": "Created", "container_id": "time_entry", "session_id": "s-a"}
    return {
        tables.customer: [catalog_row(tenant_id, customer, "Acme", status="active")],
        tables.project_type: [catalog_row(tenant_id, project_type, "Fixed", customer_id=customer)],
        tables.project: [
            catalog_row(
                tenant_id,
                project,
                "Web",
                customer_id=customer,
                project_type_id=project_type,
                technologies=["python"],
                status="active",
            )
        ],
        tables.activity: [catalog_row(tenant_id, activity, "Coding", status="active")],
        tables.technology: [catalog_row(tenant_id, str(uuid.uuid4()), "Python", creation_date=NOW)],
        tables.users: [
            {
                "tenant_id": tenant_id,
                "id": owner_id,
                "email": "x@example.com",
                "token_groups": [],
                "created_at": NOW,
                "updated_at": NOW,
            }
        ],
        tables.user_groups: [
            {"tenant_id": tenant_id, "user_id": owner_id, "group_name": "time-tracker-admin"}
        ],
        tables.time_entry: [
            {
                "tenant_id": tenant_id,
                "id": entry,
                "owner_id": owner_id,
                "project_id": project,
                "activity_id": activity,
                "start_date": NOW,
                "uri": "TICKET-1",
                "technologies": [],
                "running_slot": 1,
                "created_at": NOW,
                "updated_at": NOW,
            }
        ],
        tables.outbox: [
            {**event, "id": str(uuid.uuid4()), "occurred_at": NOW, "status": "done", "attempts": 1}
        ],
        tables.events: [{**event, "id": str(uuid.uuid4()), "date": NOW}],
    }


def insert(storage, rows: dict[sa.Table, list[dict[str, Any]]]) -> None:
    """Insert the rows, in the columns their tables have at the current migration."""
    present = {
        name: {c.name for c in columns} for name, columns in present_columns(storage).items()
    }
    with storage.engine.begin() as connection:
        for table, values in rows.items():
            kept = [{k: v for k, v in row.items() if k in present[table.name]} for row in values]
            connection.execute(sa.insert(table), kept)


def down_to(storage, name: str) -> None:
    """Revert the latest migrations until `name` is the latest applied."""
    while applied(storage)[-1] != name:
        storage.migrate(revert_latest=True)


def present_columns(storage) -> dict[str, list[sa.Column]]:
    """The application's columns that the database has now (later migrations add some)."""
    inspector = sa.inspect(storage.engine)
    return {
        table.name: [
            column
            for column in table.c
            if column.name in {c["name"] for c in inspector.get_columns(table.name)}
        ]
        for table in tables.metadata.sorted_tables
        if inspector.has_table(table.name)
    }


def stored(storage, columns: dict[str, list[sa.Column]]) -> dict[str, list[tuple]]:
    """What the tables hold in those columns."""
    with storage.engine.connect() as connection:
        return {
            name: sorted(
                tuple(str(value) for value in row)
                for row in connection.execute(sa.select(*table_columns))
            )
            for name, table_columns in columns.items()
        }


def matching(storage, table: sa.Table, column: str, value: str) -> list[str]:
    """The values of `column` that the database takes for `value`."""
    with storage.engine.connect() as connection:
        query = sa.select(table.c[column]).where(table.c[column] == value)
        return sorted(connection.execute(query).scalars())


def test_ids_written_before_the_exact_ids_migration_stay_and_compare_exactly(fresh_storage):
    storage = fresh_storage
    storage.migrate()
    down_to(storage, "0004_events")
    insert(storage, rows_of_a_tenant(TENANT, OWNER))
    columns = present_columns(storage)
    before = stored(storage, columns)
    if storage.engine.dialect.name in ("mysql", "mariadb"):
        # What the migration is for: the default collation took every look-alike for the id.
        assert matching(storage, tables.users, "tenant_id", "TENANT-A ") == [TENANT]
        assert matching(storage, tables.time_entry, "owner_id", "x-admin-á") == [OWNER]

    storage.migrate()

    assert applied(storage) == MIGRATIONS
    assert stored(storage, columns) == before
    for look_alike in LOOK_ALIKES:
        insert(storage, rows_of_a_tenant(look_alike, OWNER))
    for look_alike in USER_LOOK_ALIKES:
        with storage.engine.begin() as connection:
            connection.execute(
                sa.insert(tables.user_groups),
                {"tenant_id": TENANT, "user_id": look_alike, "group_name": "time-tracker-admin"},
            )
    for tenant_id in (TENANT, *LOOK_ALIKES):
        for table in rows_of_a_tenant(tenant_id, OWNER):
            assert set(matching(storage, table, "tenant_id", tenant_id)) == {tenant_id}
    owners = matching(storage, tables.user_groups, "user_id", OWNER)
    assert owners == [OWNER] * (1 + len(LOOK_ALIKES))
    for look_alike in USER_LOOK_ALIKES:
        assert matching(storage, tables.user_groups, "user_id", look_alike) == [look_alike]
    assert len(matching(storage, tables.time_entry, "owner_id", OWNER)) == 1 + len(LOOK_ALIKES)
    assert matching(storage, tables.time_entry, "uri", "ticket-1") == []


def test_the_exact_ids_migration_gives_every_id_column_a_binary_no_pad_collation(fresh_mariadb):
    fresh_mariadb.migrate()
    dialect = fresh_mariadb.engine.dialect
    inspector = sa.inspect(fresh_mariadb.engine)
    for table in tables.metadata.sorted_tables:
        migrated = {
            column["name"]
            for column in inspector.get_columns(table.name)
            if getattr(column["type"], "collation", None) == "utf8mb4_nopad_bin"
        }
        exact = {column.name for column in table.c if isinstance(column.type, ExactString)}
        assert migrated == exact, table.name
        assert {"tenant_id", "id"} & exact, table.name
    with fresh_mariadb.engine.connect() as connection:
        same = connection.exec_driver_sql(
            f"SELECT 'a' = 'a ' COLLATE {exact_collation(dialect)}, 'a' = 'a ' COLLATE utf8mb4_bin"
        ).one()
    # utf8mb4_bin would not do: it pads, so 'a' = 'a ' there.
    assert tuple(same) == (0, 1)


OPERATOR_FOREIGN_KEYS = {
    "fk_entry_project": "ALTER TABLE time_entry ADD CONSTRAINT fk_entry_project FOREIGN KEY "
    "(tenant_id, project_id) REFERENCES project (tenant_id, id)",
    "fk_project_customer": "ALTER TABLE project ADD CONSTRAINT fk_project_customer FOREIGN KEY "
    "(tenant_id, customer_id) REFERENCES customer (tenant_id, id) ON DELETE CASCADE",
}


def foreign_keys(storage, table: str) -> dict[str, tuple]:
    return {
        key["name"]: (key["constrained_columns"], key["referred_table"], key["options"])
        for key in sa.inspect(storage.engine).get_foreign_keys(table)
    }


def test_foreign_keys_between_id_columns_survive_the_exact_ids_migration(fresh_mariadb):
    storage = fresh_mariadb
    storage.migrate()
    down_to(storage, "0004_events")
    insert(storage, rows_of_a_tenant(TENANT, OWNER))
    with storage.engine.begin() as connection:
        for statement in OPERATOR_FOREIGN_KEYS.values():
            connection.exec_driver_sql(statement)
    keys = {table: foreign_keys(storage, table) for table in ("time_entry", "project")}
    columns = present_columns(storage)
    before = stored(storage, columns)

    storage.migrate()

    assert {table: foreign_keys(storage, table) for table in keys} == keys
    assert keys["project"]["fk_project_customer"][2] == {"ondelete": "CASCADE"}
    assert stored(storage, columns) == before
    down_to(storage, "0004_events")
    assert {table: foreign_keys(storage, table) for table in keys} == keys
    assert stored(storage, columns) == before


def test_a_foreign_key_from_outside_the_schema_stops_the_migration_before_it_alters(
    fresh_mariadb,
):
    storage = fresh_mariadb
    storage.migrate()
    down_to(storage, "0004_events")
    with storage.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE notes (tenant_id VARCHAR(64) NOT NULL, user_id VARCHAR(128) NOT NULL, "
            "CONSTRAINT fk_notes_user FOREIGN KEY (tenant_id, user_id) "
            "REFERENCES users (tenant_id, id))"
        )
    with pytest.raises(RuntimeError, match="fk_notes_user of table notes"):
        storage.migrate()
    assert applied(storage)[-1] == "0004_events"
    columns = {c["name"]: c for c in sa.inspect(storage.engine).get_columns("users")}
    assert columns["id"]["type"].collation != "utf8mb4_nopad_bin"


# The invited users migration (0006) ------------------------------------------------------------


def test_users_recorded_before_the_invited_users_migration_keep_their_email(fresh_storage):
    storage = fresh_storage
    storage.migrate()
    down_to(storage, "0005_exact_ids")
    insert(storage, {tables.users: rows_of_a_tenant(TENANT, OWNER)[tables.users]})
    storage.migrate()
    with storage.unit_of_work() as uow:
        assert uow.users.email_taken(TENANT, "X@EXAMPLE.COM")
        assert not uow.users.email_taken("TENANT-A", "x@example.com")


def test_going_below_the_invited_users_migration_drops_who_never_logged_in(fresh_storage):
    storage = fresh_storage
    storage.migrate()
    invited = invited_user(TENANT, "new@example.com")
    with storage.unit_of_work(write=True) as uow:
        uow.users.invite(invited)
        uow.users.grant(TENANT, invited.id, "time-tracker-admin")
        uow.users.record(User(id=OWNER, tenant_id=TENANT, email="x@example.com"))
        uow.commit()
    down_to(storage, "0005_exact_ids")
    with storage.engine.connect() as connection:
        users = connection.execute(sa.text("SELECT id FROM users")).scalars().all()
        groups = connection.execute(sa.text("SELECT user_id FROM user_groups")).scalars().all()
    assert (users, groups) == ([OWNER], [])
    storage.migrate()
    with storage.unit_of_work() as uow:
        assert uow.users.email_taken(TENANT, "x@example.com")


# The sync timestamps migration (0011) ------------------------------------------------------------

SYNCED = ("activity", "customer", "project_type", "project", "technology", "time_entry")


def test_the_sync_migration_stamps_existing_rows_and_indexes_them(fresh_storage):
    storage = fresh_storage
    storage.migrate()
    down_to(storage, "0010_keyset_pages")
    insert(storage, rows_of_a_tenant(TENANT, OWNER))
    started = datetime.now(UTC)

    storage.migrate()

    assert applied(storage) == MIGRATIONS
    inspector = sa.inspect(storage.engine)
    with storage.engine.connect() as connection:
        for name in SYNCED:
            table = tables.metadata.tables[name]
            columns = {c["name"]: c for c in inspector.get_columns(name)}
            assert not columns["created_at"]["nullable"] and not columns["updated_at"]["nullable"]
            indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes(name)}
            assert indexes[f"ix_{name}_tenant_updated"] == ["tenant_id", "updated_at", "id"]
            created, updated = connection.execute(
                sa.select(table.c.created_at, table.c.updated_at)
            ).one()
            assert started <= updated <= datetime.now(UTC), name
            if name in ("time_entry", "technology"):
                assert created == NOW, name  # when it started, or was first used
            else:
                assert created == updated, name
    # New rows need both: the default that filled the old ones is gone where it can go.
    if storage.engine.dialect.name != "sqlite":
        row = catalog_row(TENANT, str(uuid.uuid4()), "No stamps", status="active")
        del row["created_at"], row["updated_at"]
        with pytest.raises(sa.exc.DBAPIError), storage.engine.begin() as connection:
            connection.execute(sa.insert(tables.activity), row)
    # The application reads and lists what was there.
    with storage.unit_of_work() as uow:
        [entry] = uow.time_entries.list(
            TimeEntryQuery(TENANT, Window(EARLIEST, LATEST), sync=SyncQuery())
        )
    assert entry.created_at == NOW and entry.updated_at >= started

    down_to(storage, "0010_keyset_pages")
    inspector = sa.inspect(storage.engine)
    for name in SYNCED:
        assert not {"created_at", "updated_at"} & {c["name"] for c in inspector.get_columns(name)}
        assert f"ix_{name}_tenant_updated" not in {i["name"] for i in inspector.get_indexes(name)}


def test_the_sync_migration_applies_after_the_later_events_migration(fresh_storage):
    """A database migrated before 0011 existed has 0012 already: 0011 then applies alone."""
    storage = fresh_storage
    storage.migrate()
    set_target(SqlMigrationTarget(storage.engine))
    importlib.import_module("migrations.0011_sync_timestamps").down()
    SqlMigrationStorage(storage.engine).remove_migration("0011_sync_timestamps")
    assert storage.pending_migrations() == ["0011_sync_timestamps"]
    insert(storage, rows_of_a_tenant(TENANT, OWNER))

    storage.migrate()

    assert applied(storage) == MIGRATIONS
    assert storage.pending_migrations() == []
    with storage.unit_of_work() as uow:
        assert [a.name for a in uow.catalog(ACTIVITY).list(TENANT, {}, SyncQuery())] == ["Coding"]
    # Reverting the latest reverts 0012, the latest by name, and leaves 0011.
    storage.migrate(revert_latest=True)
    assert applied(storage) == [name for name in MIGRATIONS if name != "0012_events_out"]
