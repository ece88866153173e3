"""What a migration in `migrations/` runs against: the backend being migrated.

Each migration states its SQL and its Cosmos DB steps; the target runs those of its backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class MigrationTarget(Protocol):
    def run_sql(self, operation: Callable[[Any], None]) -> None:
        """Run `operation(connection)` in one transaction when migrating a SQL database."""

    def run_cosmos(self, operation: Callable[[Any], None]) -> None:
        """Run `operation(database)` when migrating a Cosmos DB database."""


class _Current:
    target: MigrationTarget | None = None


def set_target(target: MigrationTarget) -> None:
    """Point the migrations at the backend about to be migrated."""
    _Current.target = target


def target() -> MigrationTarget:
    """The backend being migrated; only valid while migrations run."""
    if _Current.target is None:
        raise RuntimeError("Migrations run through `python cli.py migrate`, not on their own")
    return _Current.target
