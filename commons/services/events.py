"""Building change events from the acting principal."""

from __future__ import annotations

from commons.domain.events import RecordChanged
from commons.domain.principal import Principal


def changed(
    event: type[RecordChanged],
    principal: Principal,
    container_id: str,
    item_id: str,
    description: str,
) -> RecordChanged:
    """An event of the given kind, done by the principal in their tenant and session."""
    return event(
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        container_id=container_id,
        item_id=item_id,
        description=description,
        session_id=principal.session_id,
    )
