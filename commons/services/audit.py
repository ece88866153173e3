"""Audit log use cases: admins read their tenant's change history."""

from __future__ import annotations

from commons.data_access_layer.ports import Storage
from commons.domain.audit import AuditEvent, EventFilters, EventQuery, event_position
from commons.domain.exceptions import Forbidden
from commons.domain.pagination import Page, PageRequest
from commons.domain.principal import Principal


def page_events(
    storage: Storage, principal: Principal, filters: EventFilters, request: PageRequest
) -> Page[AuditEvent]:
    """One page of the caller's tenant's audit log, newest first, the cursor of the next, and
    how many events match when the request counts them."""
    if not principal.is_admin:
        raise Forbidden("Only admins can read the audit log")
    # One event beyond the page tells whether another page follows.
    query = EventQuery(principal.tenant_id, filters, offset=request.start, limit=request.length + 1)
    with storage.unit_of_work() as uow:
        total = uow.events.count(query) if request.counts else None
        events = uow.events.page(query, request.after)
    return Page.of(events, request.length, total, event_position)
