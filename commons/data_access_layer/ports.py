"""The storage ports every backend implements; services depend on these alone."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Protocol, Self

from commons.domain.catalog import CatalogItem, CatalogKind
from commons.domain.users import User


class CatalogRepository(Protocol):
    def get(self, tenant_id: str, item_id: str) -> CatalogItem | None:
        """The live (not soft deleted) record of the tenant with that id, if any."""

    def list(self, tenant_id: str, filters: Mapping[str, object]) -> list[CatalogItem]:
        """The tenant's live records matching every filter, ordered by name then id."""

    def add(self, item: CatalogItem) -> None:
        """Store a new record; AlreadyExists when its name is taken."""

    def update(self, item: CatalogItem) -> None:
        """Store a changed record; AlreadyExists when its new name is taken."""


class UserRepository(Protocol):
    def get(self, tenant_id: str, user_id: str) -> User | None:
        """The tenant's user with that id, with their granted groups."""

    def list(self, tenant_id: str) -> list[User]:
        """Every user of the tenant, ordered by email then id."""

    def record(self, user: User) -> None:
        """Insert or refresh what the user's token says (id, email, name, token groups)."""

    def grant(self, tenant_id: str, user_id: str, group: str) -> None:
        """Make the user a member of the group within the tenant (idempotent)."""

    def revoke(self, tenant_id: str, user_id: str, group: str) -> None:
        """Remove a tenant-local membership (idempotent)."""


class UnitOfWork(Protocol):
    @property
    def users(self) -> UserRepository:
        """The tenant users repository."""

    def catalog(self, kind: CatalogKind) -> CatalogRepository:
        """The repository of one kind of catalog record."""

    def commit(self) -> None:
        """Make every change of this unit of work durable, atomically."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Storage(Protocol):
    def unit_of_work(self, write: bool = False) -> UnitOfWork:
        """A unit of work; `write` asks for one that will change data."""

    def ping(self) -> None:
        """Raise StorageUnavailable when the storage cannot be reached."""

    def migrate(self, revert_latest: bool = False) -> None:
        """Apply pending migrations, or revert the latest one."""
