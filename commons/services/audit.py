"""Audit log use cases: admins read their tenant's change history."""

from __future__ import annotations

from commons.data_access_layer.ports import Storage
from commons.domain.audit import AuditEvent, EventFilters, EventQuery
from commons.domain.exceptions import Forbidden
from commons.domain.principal import Principal


def page_events(
    storage: Storage, principal: Principal, filters: EventFilters, start: int, length: int
) -> tuple[int, list[AuditEvent]]:
    """One page of the caller's tenant's audit log, newest first, and how many events match."""
    if not principal.is_admin:
        raise Forbidden("Only admins can read the audit log")
    query = EventQuery(principal.tenant_id, filters, offset=start, limit=length)
    with storage.unit_of_work() as uow:
        return uow.events.page(query)
