"""Migrations on Cosmos DB: up → down → up, and the result is the application's containers."""

from __future__ import annotations

import base64
import pkgutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import migrate_anything
import pytest
import urllib3
from azure.cosmos import CosmosClient, PartitionKey
from azure.cosmos.exceptions import CosmosResourceExistsError
from migrate_anything.migrator import run as run_migrations

import migrations
from commons.data_access_layer.cosmos import containers
from commons.data_access_layer.cosmos.migration_storage import (
    APP_ID,
    CosmosMigrationStorage,
    CosmosMigrationTarget,
)
from commons.data_access_layer.migrations import load_migrations_package, set_target
from commons.domain.users import email_key

MIGRATIONS = sorted(name for _, name, _ in pkgutil.iter_modules(migrations.__path__))
CATALOG_UNIQUE_KEYS = {"uniqueKeys": [{"paths": ["/uniqueness_key"]}]}


@pytest.fixture
def database(cosmos_emulator) -> Iterator[object]:
    """A new, empty database for each test."""
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    client = CosmosClient(
        cosmos_emulator.endpoint, credential=cosmos_emulator.key, connection_verify=False
    )
    name = f"tt_test_{uuid.uuid4().hex[:12]}"
    db = client.create_database(name)
    yield db
    client.delete_database(name)


def migrate(database, revert_latest: bool = False) -> None:
    """What `CosmosStorage.migrate` does, as `SqlStorage.migrate` does on SQL."""
    set_target(CosmosMigrationTarget(database))
    migrate_anything.configure(storage=CosmosMigrationStorage(database))
    run_migrations(load_migrations_package(), revert=revert_latest)


def applied(database) -> list[str]:
    return [name for name, _ in CosmosMigrationStorage(database).list_migrations()]


def down_to(database, name: str) -> None:
    """Revert the latest migrations until `name` is the latest applied."""
    while applied(database)[-1] != name:
        migrate(database, revert_latest=True)


def application_containers(database) -> set[str]:
    return {c["id"] for c in database.list_containers()} - {containers.MIGRATION}


def test_every_migration_goes_up_down_and_up_again(database):
    migrate(database)
    assert applied(database) == MIGRATIONS
    # Going down one step at a time: each migration goes down, everything comes back up,
    # then the stair is walked down again to just below that migration.
    for step in reversed(range(len(MIGRATIONS))):
        migrate(database, revert_latest=True)
        assert applied(database) == MIGRATIONS[:step]
        migrate(database)
        assert applied(database) == MIGRATIONS
        for _ in range(len(MIGRATIONS) - step):
            migrate(database, revert_latest=True)
        assert applied(database) == MIGRATIONS[:step]
    assert application_containers(database) == set()
    migrate(database)
    assert applied(database) == MIGRATIONS
    assert application_containers(database) == containers.APPLICATION_CONTAINERS


def test_the_migrated_containers_are_the_ones_the_application_uses(database):
    migrate(database)
    assert application_containers(database) == containers.APPLICATION_CONTAINERS
    assert set(containers.CATALOG_CONTAINERS.values()) <= containers.APPLICATION_CONTAINERS

    def definition(name):
        return database.get_container_client(name).read()

    for name in containers.APPLICATION_CONTAINERS - {containers.LEASES}:
        assert definition(name)["partitionKey"]["paths"] == ["/tenant_id"], name
    assert definition(containers.LEASES)["partitionKey"]["paths"] == ["/id"]
    assert definition(containers.MIGRATION)["partitionKey"]["paths"] == ["/app_id"]

    for name in containers.CATALOG_CONTAINERS.values():
        assert definition(name)["uniqueKeyPolicy"] == CATALOG_UNIQUE_KEYS, name
    for name in (containers.USER, containers.EVENT, containers.LEASES, containers.MIGRATION):
        assert not definition(name).get("uniqueKeyPolicy", {}).get("uniqueKeys"), name

    time_entry = definition(containers.TIME_ENTRY)
    assert time_entry["uniqueKeyPolicy"] == {"uniqueKeys": [{"paths": ["/running_key"]}]}
    composite = [
        [(part["path"], part["order"]) for part in index]
        for index in time_entry["indexingPolicy"]["compositeIndexes"]
    ]
    assert composite == [
        [("/tenant_id", "ascending"), ("/owner_id", "ascending"), ("/start_date", "descending")],
        [("/start_date", "descending"), ("/id", "descending")],
        [("/updated_at", "ascending"), ("/id", "ascending")],
    ]


def test_migrating_twice_changes_nothing(database):
    migrate(database)
    first = CosmosMigrationStorage(database).container.query_items(
        "SELECT * FROM c", enable_cross_partition_query=True
    )
    before = {document["id"]: document["_etag"] for document in first}
    etags = {c["id"]: c["_etag"] for c in database.list_containers()}
    migrate(database)
    assert applied(database) == MIGRATIONS
    again = CosmosMigrationStorage(database).container.query_items(
        "SELECT * FROM c", enable_cross_partition_query=True
    )
    assert {document["id"]: document["_etag"] for document in again} == before
    assert {c["id"]: c["_etag"] for c in database.list_containers()} == etags


def test_migrations_are_recorded_in_the_migration_container(database):
    before = time.time()
    migrate(database)
    records = list(
        database.get_container_client(containers.MIGRATION).query_items(
            "SELECT * FROM c", enable_cross_partition_query=True
        )
    )
    assert sorted(record["id"] for record in records) == MIGRATIONS
    for record in records:
        assert record["app_id"] == APP_ID == "time-tracker"
        source = Path(migrations.__path__[0], f"{record['id']}.py").read_text()
        assert base64.b64decode(record["code"]).decode("utf-8") == source
        applied_at = record["applied_at"]
        assert applied_at.endswith("+00:00"), applied_at
        assert datetime.fromisoformat(applied_at).timestamp() >= before - 1


def test_the_migration_record_only_holds_this_applications_migrations(database):
    storage = CosmosMigrationStorage(database)
    storage.container.create_item(
        {"id": "0001_someone_else", "app_id": "another-app", "code": "", "applied_at": ""}
    )
    migrate(database)
    assert applied(database) == MIGRATIONS
    storage.remove_migration("0009_never_applied")  # removing a missing record is no error
    assert applied(database) == MIGRATIONS


GONE = """
from commons.data_access_layer.migrations import target


def up():
    raise AssertionError("never applied again")


def down():
    target().run_sql(lambda connection: None)
    target().run_cosmos(lambda database: database.delete_container("gone"))
"""


def test_a_migration_gone_from_the_package_is_undone_from_its_stored_source(database):
    """migrate-anything undoes an applied migration it no longer finds with its stored code."""
    migrate(database)
    database.create_container("gone", partition_key=PartitionKey(path="/tenant_id"))
    encoded = base64.b64encode(GONE.encode("utf-8")).decode("utf-8")
    CosmosMigrationStorage(database).save_migration("9999_gone", encoded)
    assert applied(database) == [*MIGRATIONS, "9999_gone"]
    migrate(database)
    assert applied(database) == MIGRATIONS
    assert application_containers(database) == containers.APPLICATION_CONTAINERS


def test_the_invited_users_migration_keys_recorded_users_and_reverts_invitations(database):
    migrate(database)
    down_to(database, "0005_exact_ids")
    users = database.get_container_client(containers.USER)
    recorded = {"id": "user-a", "type": "user", "tenant_id": "t", "user_id": "a"}
    users.upsert_item({**recorded, "email": "Ana@Example.com"})
    migrate(database)
    assert users.read_item("user-a", partition_key="t")["email_key"] == email_key("ana@example.com")
    invited = {"id": "user-b", "type": "user", "tenant_id": "t", "user_id": "b", "invited": True}
    users.upsert_item(invited)
    users.upsert_item({"id": "invitation-b", "type": "invitation", "tenant_id": "t"})
    down_to(database, "0005_exact_ids")
    left = users.query_items("SELECT VALUE c.id FROM c", enable_cross_partition_query=True)
    assert sorted(left) == ["user-a"]


AUDITED = ("activity", "customer", "project", "project_type", "technology", "time_entry", "user")


def test_the_change_documents_migration_turns_on_a_time_to_live_and_keeps_the_rest(database):
    migrate(database)
    down_to(database, "0008_idempotency_keys")
    before = {name: database.get_container_client(name).read() for name in AUDITED}
    kept = database.get_container_client("customer")
    kept.create_item({"id": "c-1", "tenant_id": "t", "name": "Acme", "uniqueness_key": "k"})

    migrate(database)

    for name in AUDITED:
        after = database.get_container_client(name).read()
        assert after["defaultTtl"] == -1  # on, with no default: records never expire
        assert after.get("uniqueKeyPolicy") == before[name].get("uniqueKeyPolicy")
        assert after["partitionKey"] == before[name]["partitionKey"]
    assert kept.read_item("c-1", partition_key="t")["name"] == "Acme"
    with pytest.raises(CosmosResourceExistsError):  # the unique key still holds
        kept.create_item({"id": "c-2", "tenant_id": "t", "name": "Other", "uniqueness_key": "k"})


SYNCED = ("activity", "customer", "project_type", "project", "technology", "time_entry")
SYNC_ORDER = [{"path": "/updated_at", "order": "ascending"}, {"path": "/id", "order": "ascending"}]


def composites(database, name):
    policy = database.get_container_client(name).read().get("indexingPolicy") or {}
    return policy.get("compositeIndexes") or []


def test_the_sync_migration_stamps_records_and_orders_them_by_update(database):
    migrate(database)
    down_to(database, "0010_keyset_pages")
    before = {name: database.get_container_client(name).read() for name in SYNCED}
    customers = database.get_container_client("customer")
    entries = database.get_container_client("time_entry")
    technologies = database.get_container_client("technology")
    record = {"tenant_id": "t", "deleted": None, "uniqueness_key": "k"}
    customers.create_item({**record, "id": "c-1", "name": "Acme"})
    customers.create_item(
        {
            **record,
            "id": "c-2",
            "name": "Gone",
            "deleted": "2026-01-02T00:00:00.000000Z",
            "uniqueness_key": "g",
        }
    )
    entries.create_item(
        {**record, "id": "e-1", "start_date": "2026-03-10T09:00:00.000000Z", "running_key": "e-1"}
    )
    technologies.create_item(
        {**record, "id": "t-1", "creation_date": "2026-02-01T00:00:00.000000Z"}
    )
    change = {"id": "x-1", "tenant_id": "t", "type": "change", "uniqueness_key": "change|x-1"}
    customers.create_item(change)
    started = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")

    migrate(database)

    assert applied(database) == MIGRATIONS
    for name in SYNCED:
        after = database.get_container_client(name).read()
        assert SYNC_ORDER in composites(database, name), name
        assert after.get("uniqueKeyPolicy") == before[name].get("uniqueKeyPolicy"), name
        assert after.get("defaultTtl") == before[name].get("defaultTtl"), name
    acme = customers.read_item("c-1", partition_key="t")
    assert acme["name"] == "Acme" and started <= acme["created_at"] == acme["updated_at"]
    gone = customers.read_item("c-2", partition_key="t")
    assert gone["deleted"] == "2026-01-02T00:00:00.000000Z" and gone["updated_at"] >= started
    entry = entries.read_item("e-1", partition_key="t")
    assert entry["created_at"] == "2026-03-10T09:00:00.000000Z" <= entry["updated_at"]
    assert technologies.read_item("t-1", partition_key="t")["created_at"] == (
        "2026-02-01T00:00:00.000000Z"
    )
    assert "updated_at" not in customers.read_item("x-1", partition_key="t")
    # What the sync lists ask of the container: ordered by two properties, from the index.
    ordered = customers.query_items(
        "SELECT VALUE c.id FROM c WHERE c.tenant_id = 't' AND IS_DEFINED(c.deleted) "
        "ORDER BY c.updated_at ASC, c.id ASC",
        partition_key="t",
    )
    assert sorted(ordered) == ["c-1", "c-2"]

    down_to(database, "0010_keyset_pages")
    for name in SYNCED:
        assert SYNC_ORDER not in composites(database, name), name
    assert "updated_at" not in customers.read_item("c-1", partition_key="t")
