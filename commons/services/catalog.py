"""Catalog use cases, shared by every kind of catalog record."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from commons.data_access_layer.ports import Storage, UnitOfWork
from commons.domain.catalog import (
    ACTIVE,
    INACTIVE,
    KINDS,
    PROJECT_TYPE,
    CatalogItem,
    CatalogKind,
    clean_name,
)
from commons.domain.events import (
    RecordArchived,
    RecordChanged,
    RecordCreated,
    RecordDeleted,
    RecordUpdated,
)
from commons.domain.exceptions import Forbidden, InvalidReference, NotFound, ValidationFailed
from commons.domain.principal import Principal
from commons.domain.sync import SyncQuery
from commons.services import idempotency
from commons.services.events import changed


def list_items(
    storage: Storage,
    kind: CatalogKind,
    principal: Principal,
    filters: Mapping[str, object],
    sync: SyncQuery | None = None,
) -> list[CatalogItem]:
    """The caller's tenant's live records of a kind that match every filter; with `sync`,
    those changed since a moment (deleted ones too if asked), oldest change first."""
    with storage.unit_of_work() as uow:
        return uow.catalog(kind).list(principal.tenant_id, dict(filters), sync)


def get_item(
    storage: Storage, kind: CatalogKind, principal: Principal, item_id: str
) -> CatalogItem:
    """One record of the caller's tenant; NotFound for missing, deleted or foreign ones."""
    with storage.unit_of_work() as uow:
        return _existing(uow, kind, principal, item_id)


def create_item(
    storage: Storage, kind: CatalogKind, principal: Principal, data: Mapping[str, Any]
) -> CatalogItem:
    """Add a record to the caller's tenant; ids, tenant and status are the server's to set."""
    require_may_create(principal, kind)
    values = {name: value for name, value in data.items() if name in _writable(kind)}
    values["name"] = clean_name(data.get("name"))
    if kind.archivable:
        values["status"] = ACTIVE
    if "creation_date" in _fields(kind):
        values["creation_date"] = datetime.now(UTC)
    item = kind.entity(id=str(uuid.uuid4()), tenant_id=principal.tenant_id, **values)
    with storage.unit_of_work(write=True) as uow:
        _check_references(uow, kind, item, set(values))
        uow.catalog(kind).add(item)
        event = changed(RecordCreated, principal, kind.key, item.id, f"Created {item.name}")
        return _committed(uow, kind, principal, item.id, event)


def update_item(
    storage: Storage,
    kind: CatalogKind,
    principal: Principal,
    item_id: str,
    changes: Mapping[str, Any],
) -> CatalogItem:
    """Change the given fields of a record; the others keep their values."""
    require_admin(principal, kind)
    values = {name: value for name, value in changes.items() if name in _writable(kind)}
    if "name" in values:
        values["name"] = clean_name(values["name"])
    with storage.unit_of_work(write=True) as uow:
        item = dataclasses.replace(_existing(uow, kind, principal, item_id), **values)
        _check_references(uow, kind, item, set(values))
        if kind is PROJECT_TYPE and "parent_id" in values:
            _check_no_cycle(uow, principal, item)
        uow.catalog(kind).update(item)
        event = changed(RecordUpdated, principal, kind.key, item.id, f"Updated {item.name}")
        return _committed(uow, kind, principal, item_id, event)


def delete_item(storage: Storage, kind: CatalogKind, principal: Principal, item_id: str) -> None:
    """Archive a record that has a status; soft delete one that has none."""
    require_admin(principal, kind)
    with storage.unit_of_work(write=True) as uow:
        item = _existing(uow, kind, principal, item_id)
        if kind.archivable:
            item = dataclasses.replace(item, status=INACTIVE)  # type: ignore[call-arg]
            event = changed(RecordArchived, principal, kind.key, item.id, f"Archived {item.name}")
        else:
            item = dataclasses.replace(item, deleted=datetime.now(UTC))
            event = changed(RecordDeleted, principal, kind.key, item.id, f"Deleted {item.name}")
        uow.catalog(kind).update(item)
        uow.add_event(event, item)
        idempotency.commit(uow)


def require_may_create(principal: Principal, kind: CatalogKind) -> None:
    """Refuse a caller who may not create records of `kind` (checked before their input)."""
    if not kind.members_may_create:
        require_admin(principal, kind)


def require_admin(principal: Principal, kind: CatalogKind) -> None:
    """Refuse a caller who may not change records of `kind` (checked before their input)."""
    if not principal.is_admin:
        raise Forbidden(f"Only admins can change {kind.label.lower()} records")


def _committed(
    uow: UnitOfWork, kind: CatalogKind, principal: Principal, item_id: str, event: RecordChanged
) -> CatalogItem:
    """The written record as the writing transaction sees it, committed with the change and its
    event (which carries the record so)."""
    item = _existing(uow, kind, principal, item_id)
    uow.add_event(event, item)
    idempotency.commit(uow, item)
    return item


def _existing(
    uow: UnitOfWork, kind: CatalogKind, principal: Principal, item_id: str
) -> CatalogItem:
    item = uow.catalog(kind).get(principal.tenant_id, item_id)
    if item is None:
        raise NotFound(f"{kind.label} not found")
    return item


def _fields(kind: CatalogKind) -> set[str]:
    return {field.name for field in dataclasses.fields(kind.entity)}


def _writable(kind: CatalogKind) -> set[str]:
    # Identity, tenancy and deletion are never taken from a client.
    return _fields(kind) - {
        "id",
        "tenant_id",
        "deleted",
        "creation_date",
        "created_at",
        "updated_at",
        "customer",
        "project_type",
    }


def _check_references(
    uow: UnitOfWork, kind: CatalogKind, item: CatalogItem, changed: set[str]
) -> None:
    for reference in kind.references:
        value = getattr(item, reference.field)
        if reference.field in changed and value is not None:
            target = KINDS[reference.kind]
            if uow.catalog(target).get(item.tenant_id, value) is None:
                raise InvalidReference(
                    f"No {target.label.lower()} with id {value}",
                    {reference.field: f"no {target.label.lower()} with this id"},
                )


def _check_no_cycle(uow: UnitOfWork, principal: Principal, item: CatalogItem) -> None:
    parent_id = getattr(item, "parent_id", None)
    seen = {item.id}
    while parent_id is not None:
        if parent_id in seen:
            raise ValidationFailed(
                "A project type cannot be its own ancestor",
                {"parent_id": "would make a cycle"},
            )
        seen.add(parent_id)
        parent = uow.catalog(PROJECT_TYPE).get(principal.tenant_id, parent_id)
        parent_id = getattr(parent, "parent_id", None)
