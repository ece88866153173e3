"""What a migration in `migrations/` runs against: the backend being migrated.

Each migration states its SQL and its Cosmos DB steps; the target runs those of its backend.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

PACKAGE = "migrations"
PACKAGE_PATH = Path(__file__).resolve().parents[2] / PACKAGE


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


def load_migrations_package() -> str:
    """Import the repository's `migrations` package whatever the working directory is."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, PACKAGE_PATH / "__init__.py", submodule_search_locations=[str(PACKAGE_PATH)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = module
        spec.loader.exec_module(module)
    return PACKAGE


def known_migrations() -> list[str]:
    """The names of the repository's migrations, in the order they apply.

    The names migrate-anything records: the modules of the package, found as it finds them
    (without importing them, so asking costs no import of their dependencies).
    """
    return sorted(name for _, name, _ in pkgutil.iter_modules([str(PACKAGE_PATH)]))


def pending_among(applied: Iterable[str]) -> list[str]:
    """The repository's migrations that are not among those `applied`, in the order they apply."""
    done = set(applied)
    return [name for name in known_migrations() if name not in done]
