"""migrate-anything on Cosmos DB: applied migrations live in the `migration` container."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from azure.cosmos import DatabaseProxy, PartitionKey
from azure.cosmos.exceptions import CosmosResourceNotFoundError
from migrate_anything.storage import Storage

from commons.data_access_layer.cosmos.containers import MIGRATION

APP_ID = "time-tracker"
_BY_APP = "SELECT c.id, c.code FROM c WHERE c.app_id = @app_id"
_NAMES_BY_APP = "SELECT c.id FROM c WHERE c.app_id = @app_id"


def applied_migrations(database: DatabaseProxy) -> list[str]:
    """The names of the migrations applied to the database, read only: a database or a
    `migration` container that does not exist yet has none."""
    container = database.get_container_client(MIGRATION)
    try:
        documents = container.query_items(
            _NAMES_BY_APP, parameters=[{"name": "@app_id", "value": APP_ID}], partition_key=APP_ID
        )
        return sorted(document["id"] for document in documents)
    except CosmosResourceNotFoundError:
        return []


class CosmosMigrationStorage(Storage):  # type: ignore[misc]
    """Records each applied migration with its source, one document per migration:
    `{id: <name>, app_id: "time-tracker", code: <encoded source>, applied_at: <ISO UTC>}`.
    """

    def __init__(self, database: DatabaseProxy):
        self.container = database.create_container_if_not_exists(
            id=MIGRATION, partition_key=PartitionKey(path="/app_id")
        )

    def save_migration(self, name: str, code: str) -> None:
        # An upsert: up() on Cosmos DB is idempotent, so a second migrator that applied the
        # same migration concurrently records it again instead of failing after the fact.
        self.container.upsert_item(
            {
                "id": name,
                "app_id": APP_ID,
                "code": code,
                "applied_at": datetime.now(UTC).isoformat(),
            }
        )

    def list_migrations(self) -> list[tuple[str, str]]:
        documents = self.container.query_items(
            _BY_APP, parameters=[{"name": "@app_id", "value": APP_ID}], partition_key=APP_ID
        )
        return sorted((document["id"], document["code"]) for document in documents)

    def remove_migration(self, name: str) -> None:
        with contextlib.suppress(CosmosResourceNotFoundError):  # already gone is as good
            self.container.delete_item(name, partition_key=APP_ID)


class CosmosMigrationTarget:
    """Runs the Cosmos DB half of each migration against one database."""

    def __init__(self, database: DatabaseProxy):
        self.database = database

    def run_sql(self, operation: Callable[[Any], None]) -> None:
        """Nothing to do: this is a Cosmos DB database, it has no SQL schema to change."""

    def run_cosmos(self, operation: Callable[[Any], None]) -> None:
        operation(self.database)
