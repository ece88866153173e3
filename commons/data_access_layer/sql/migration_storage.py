"""migrate-anything on SQL: applied migrations live in the `migrations` table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from migrate_anything.storage import Storage

_metadata = sa.MetaData()
migrations_table = sa.Table(
    "migrations",
    _metadata,
    sa.Column("name", sa.String(190), primary_key=True),
    sa.Column("code", sa.UnicodeText(), nullable=False),
    sa.Column("applied_at", sa.DateTime(), nullable=False, server_default=sa.func.now()),
)


def applied_migrations(connection: sa.Connection) -> list[str]:
    """The names of the migrations applied to the database, read only: a database that was
    never migrated (no `migrations` table yet) has none."""
    if not sa.inspect(connection).has_table(migrations_table.name):
        return []
    rows = connection.execute(sa.select(migrations_table.c.name).order_by(migrations_table.c.name))
    return [row.name for row in rows]


class SqlMigrationStorage(Storage):  # type: ignore[misc]
    """Records each applied migration with its source, as migrate-anything expects."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        _metadata.create_all(engine, checkfirst=True)

    def save_migration(self, name: str, code: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.insert(migrations_table).values(name=name, code=code))

    def list_migrations(self) -> list[tuple[str, str]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(migrations_table.c.name, migrations_table.c.code).order_by(
                    migrations_table.c.name
                )
            )
            return [(row.name, row.code) for row in rows]

    def remove_migration(self, name: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.delete(migrations_table).where(migrations_table.c.name == name))


class SqlMigrationTarget:
    """Runs the SQL half of each migration, each in its own transaction."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def run_sql(self, operation: Callable[[Any], None]) -> None:
        with self.engine.begin() as connection:
            operation(connection)

    def run_cosmos(self, operation: Callable[[Any], None]) -> None:
        """Nothing to do: this is a SQL database."""
