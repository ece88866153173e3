"""SQL repositories: one generic catalog repository, projects with their read model, users."""

from __future__ import annotations

import builtins
import dataclasses
import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from commons.data_access_layer.sql import tables
from commons.domain.catalog import (
    INACTIVE,
    CatalogItem,
    CatalogKind,
    NamedSummary,
    normalized_name,
)
from commons.domain.exceptions import AlreadyExists
from commons.domain.principal import TESTER_GROUP
from commons.domain.sync import SyncQuery
from commons.domain.users import User, email_already_used, email_key


class SqlCatalogRepository:
    """Catalog records of one kind in one table, always scoped by tenant."""

    def __init__(self, connection: sa.Connection, kind: CatalogKind):
        self.connection = connection
        self.kind = kind
        self.table = tables.CATALOG_TABLES[kind.key]
        self._fields = [f.name for f in dataclasses.fields(kind.entity) if f.name in self.table.c]

    def get(self, tenant_id: str, item_id: str) -> CatalogItem | None:
        row = (
            self.connection.execute(self._by_id(), {"tenant_id": tenant_id, "item_id": item_id})
            .mappings()
            .first()
        )
        return self._to_entity(row) if row else None

    def _by_id(self) -> sa.Select[Any]:
        """The statement reading one live record by id, built once per repository class and
        table (every time entry written checks its project and activity with it)."""
        return _catalog_by_id(type(self), self.kind)  # type: ignore[arg-type]  # classes hash

    def list(
        self, tenant_id: str, filters: Mapping[str, object], sync: SyncQuery | None = None
    ) -> list[CatalogItem]:
        if sync is None:
            query = self._select().where(self._listed(tenant_id))
            query = query.order_by(self.table.c.name_key, self.table.c.id)
        else:
            query = self._select().where(self._changed(tenant_id, sync))
            query = query.order_by(self.table.c.updated_at, self.table.c.id)
        for field, value in filters.items():
            column = self.table.c[field]
            query = query.where(column.in_(value) if isinstance(value, tuple) else column == value)
        return [self._to_entity(row) for row in self.connection.execute(query).mappings()]

    def add(self, item: CatalogItem) -> None:
        now = datetime.now(UTC)
        row = self._to_row(item) | {"created_at": now, "updated_at": now}
        self._write(sa.insert(self.table).values(row))

    def update(self, item: CatalogItem) -> None:
        row = self._to_row(item) | {"updated_at": datetime.now(UTC)}
        del row["created_at"]  # never changes
        statement = (
            sa.update(self.table)
            .where(self.table.c.tenant_id == item.tenant_id, self.table.c.id == item.id)
            .values(row)
        )
        self._write(statement)

    def _write(self, statement: sa.Executable) -> None:
        # Only the name index can be violated: ids are fresh UUIDs.
        try:
            with self.connection.begin_nested():
                self.connection.execute(statement)
        except sa.exc.IntegrityError as error:
            raise AlreadyExists(
                f"{self.kind.label} with that name already exists",
                {"name": "already exists"},
            ) from error

    def _live(self, tenant_id: str) -> sa.ColumnElement[bool]:
        return sa.and_(self.table.c.tenant_id == tenant_id, self.table.c.deleted.is_(None))

    def _listed(self, tenant_id: str) -> sa.ColumnElement[bool]:
        return self._live(tenant_id)

    def _changed(self, tenant_id: str, sync: SyncQuery) -> sa.ColumnElement[bool]:
        """The records a sync list shows: a range of the (tenant_id, updated_at, id) index."""
        conditions = [self.table.c.tenant_id == tenant_id]
        if not sync.include_deleted:
            conditions.append(self.table.c.deleted.is_(None))
        if sync.updated_since is not None:
            conditions.append(self.table.c.updated_at >= sync.updated_since)
        return sa.and_(*conditions)

    def _select(self) -> sa.Select[Any]:
        return sa.select(*(self.table.c[name] for name in self._fields))

    def _to_entity(self, row: sa.RowMapping) -> CatalogItem:
        return self.kind.entity(**{name: row[name] for name in self._fields})

    def _to_row(self, item: CatalogItem) -> dict[str, Any]:
        row = {name: getattr(item, name) for name in self._fields}
        row["name_key"] = normalized_name(item.name)
        row["uniqueness_scope"] = self.kind.uniqueness_scope(item)
        row["uniqueness_slot"] = item.id if item.deleted else ""
        return row


class SqlProjectRepository(SqlCatalogRepository):
    """Projects, read together with their customer and project type in one statement."""

    def _listed(self, tenant_id: str) -> sa.ColumnElement[bool]:
        # Projects of archived customers are hidden from lists, not from reads by id.
        customer_status = tables.customer.c.status
        return sa.and_(
            super()._listed(tenant_id),
            sa.or_(customer_status.is_(None), customer_status != INACTIVE),
        )

    def _select(self) -> sa.Select[Any]:
        customer, project_type = tables.customer, tables.project_type
        return (
            super()
            ._select()
            .add_columns(
                customer.c.name.label("customer__name"),
                customer.c.description.label("customer__description"),
                project_type.c.name.label("project_type__name"),
                project_type.c.description.label("project_type__description"),
            )
            .select_from(
                self.table.outerjoin(
                    customer,
                    sa.and_(
                        customer.c.tenant_id == self.table.c.tenant_id,
                        customer.c.id == self.table.c.customer_id,
                    ),
                ).outerjoin(
                    project_type,
                    sa.and_(
                        project_type.c.tenant_id == self.table.c.tenant_id,
                        project_type.c.id == self.table.c.project_type_id,
                        project_type.c.deleted.is_(None),
                    ),
                )
            )
        )

    def _to_entity(self, row: sa.RowMapping) -> CatalogItem:
        project = super()._to_entity(row)
        if row["customer__name"] is not None:
            project.customer = NamedSummary(row["customer__name"], row["customer__description"])  # type: ignore[attr-defined]
        if row["project_type__name"] is not None:
            project.project_type = NamedSummary(  # type: ignore[attr-defined]
                row["project_type__name"], row["project_type__description"]
            )
        return project


@functools.cache
def _catalog_by_id(repository: type[SqlCatalogRepository], kind: CatalogKind) -> sa.Select[Any]:
    table = tables.CATALOG_TABLES[kind.key]
    template = repository(None, kind)  # type: ignore[arg-type]  # builds SQL, runs none
    return template._select().where(
        template._live(sa.bindparam("tenant_id")),  # type: ignore[arg-type]
        table.c.id == sa.bindparam("item_id"),
    )


INVITED = ""  # the invitation slot of a user added before their first login


class SqlUserRepository:
    """The tenant's users and their tenant-local group memberships."""

    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def get(self, tenant_id: str, user_id: str) -> User | None:
        # Every request reads its caller: one statement built once, rows read as tuples.
        rows = self.connection.execute(
            _user_with_groups(), {"tenant_id": tenant_id, "user_id": user_id}
        ).all()
        found = _users_from_rows(rows)
        return found[0] if found else None

    def list(self, tenant_id: str) -> list[User]:
        return self._load(tenant_id, sa.true())

    def tester_ids(self, tenant_id: str) -> builtins.list[str]:
        # Every admin listing of the tenant's entries excludes testers: read only theirs, not
        # every user. A token's groups are a JSON list; its text narrows the rows to check.
        users, memberships = tables.users, tables.user_groups
        granted = sa.select(memberships.c.user_id).where(
            memberships.c.tenant_id == tenant_id, memberships.c.group_name == TESTER_GROUP
        )
        claimed = sa.select(users.c.id, users.c.token_groups).where(
            users.c.tenant_id == tenant_id,
            sa.cast(users.c.token_groups, sa.UnicodeText()).contains(TESTER_GROUP),
        )
        ids = set(self.connection.execute(granted).scalars())
        ids.update(
            user_id
            for user_id, groups in self.connection.execute(claimed)
            if TESTER_GROUP in (groups or ())
        )
        return sorted(ids)

    def record(self, user: User) -> None:
        users = tables.users
        now = datetime.now(UTC)
        values = {
            "email": user.email,
            "email_key": email_key(user.email) if user.email else None,
            "invitation_slot": user.id,
            "name": user.name,
            "token_groups": sorted(user.token_groups),
            "updated_at": now,
        }
        key = sa.and_(users.c.tenant_id == user.tenant_id, users.c.id == user.id)
        if self.connection.execute(sa.update(users).where(key).values(values)).rowcount:
            return
        try:
            with self.connection.begin_nested():
                self.connection.execute(
                    sa.insert(users).values(
                        tenant_id=user.tenant_id, id=user.id, created_at=now, **values
                    )
                )
        except sa.exc.IntegrityError:
            # A racing first request of the same user recorded them first; theirs is as good.
            pass

    def email_taken(self, tenant_id: str, email: str) -> bool:
        users = tables.users
        found = self.connection.execute(
            sa.select(users.c.id)
            .where(users.c.tenant_id == tenant_id, users.c.email_key == email_key(email))
            .limit(1)
        ).first()
        return found is not None

    def invite(self, user: User) -> None:
        # Invited users hold the slot '' of their email key: the unique index lets one in.
        now = datetime.now(UTC)
        assert user.email is not None
        try:
            with self.connection.begin_nested():
                self.connection.execute(
                    sa.insert(tables.users).values(
                        tenant_id=user.tenant_id,
                        id=user.id,
                        email=user.email,
                        email_key=email_key(user.email),
                        invitation_slot=INVITED,
                        name=user.name,
                        token_groups=[],
                        created_at=now,
                        updated_at=now,
                    )
                )
        except sa.exc.IntegrityError as error:
            raise email_already_used() from error

    def claim_invitation(self, user: User) -> bool:
        if not user.email:
            return False
        users, memberships = tables.users, tables.user_groups
        invited = self.connection.execute(
            sa.select(users.c.id).where(
                users.c.tenant_id == user.tenant_id,
                users.c.email_key == email_key(user.email),
                users.c.invitation_slot == INVITED,
            )
        ).scalar()
        if invited is None:
            return False
        try:
            with self.connection.begin_nested():
                # Conditional on the slot: of racing first logins, one changes the row; the
                # others wait for it and then change nothing.
                claimed = self.connection.execute(
                    sa.update(users)
                    .where(
                        users.c.tenant_id == user.tenant_id,
                        users.c.id == invited,
                        users.c.invitation_slot == INVITED,
                    )
                    .values(id=user.id, invitation_slot=user.id, updated_at=datetime.now(UTC))
                ).rowcount
                if claimed:
                    self.connection.execute(
                        sa.update(memberships)
                        .where(memberships.c.tenant_id == user.tenant_id)
                        .where(memberships.c.user_id == invited)
                        .values(user_id=user.id)
                    )
        except sa.exc.IntegrityError:
            return False  # a racing first request recorded the user under their id already
        return bool(claimed)

    def grant(self, tenant_id: str, user_id: str, group: str) -> None:
        try:
            with self.connection.begin_nested():
                self.connection.execute(
                    sa.insert(tables.user_groups).values(
                        tenant_id=tenant_id, user_id=user_id, group_name=group
                    )
                )
        except sa.exc.IntegrityError:
            return  # already a member
        self._touch(tenant_id, user_id)

    def revoke(self, tenant_id: str, user_id: str, group: str) -> None:
        memberships = tables.user_groups
        removed = self.connection.execute(
            sa.delete(memberships).where(
                memberships.c.tenant_id == tenant_id,
                memberships.c.user_id == user_id,
                memberships.c.group_name == group,
            )
        ).rowcount
        if removed:
            self._touch(tenant_id, user_id)

    def _touch(self, tenant_id: str, user_id: str) -> None:
        """A user's groups are part of the user: changing them changes their updated_at."""
        users = tables.users
        self.connection.execute(
            sa.update(users)
            .where(users.c.tenant_id == tenant_id, users.c.id == user_id)
            .values(updated_at=datetime.now(UTC))
        )

    def _load(self, tenant_id: str, condition: sa.ColumnElement[bool]) -> builtins.list[User]:
        users = tables.users
        query = _users_with_groups().where(users.c.tenant_id == tenant_id, condition)
        return _users_from_rows(self.connection.execute(query).all())


_USER_COLUMNS = ("id", "tenant_id", "email", "name", "token_groups", "created_at", "updated_at")


def _users_with_groups() -> sa.Select[Any]:
    """Users with each of their granted groups (one row per group, or one without)."""
    users, memberships = tables.users, tables.user_groups
    return (
        sa.select(*(users.c[name] for name in _USER_COLUMNS), memberships.c.group_name)
        .select_from(
            users.outerjoin(
                memberships,
                sa.and_(
                    memberships.c.tenant_id == users.c.tenant_id,
                    memberships.c.user_id == users.c.id,
                ),
            )
        )
        .order_by(users.c.email, users.c.id, memberships.c.group_name)
    )


@functools.cache
def _user_with_groups() -> sa.Select[Any]:
    users = tables.users
    return _users_with_groups().where(
        users.c.tenant_id == sa.bindparam("tenant_id"), users.c.id == sa.bindparam("user_id")
    )


def _users_from_rows(rows: Sequence[Any]) -> builtins.list[User]:
    found: dict[str, User] = {}
    for user_id, tenant_id, email, name, token_groups, created_at, updated_at, group_name in rows:
        user = found.get(user_id)
        if user is None:
            user = found[user_id] = User(
                id=user_id,
                tenant_id=tenant_id,
                email=email,
                name=name,
                token_groups=frozenset(token_groups or ()),
                created_at=created_at,
                updated_at=updated_at,
            )
        if group_name:
            user.granted_groups = user.granted_groups | {group_name}
    return builtins.list(found.values())
