"""The audit event and how each kind of change becomes one."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

# Audit event ids derive from the change they record: a replay writes the same id again.
AUDIT_NAMESPACE = uuid.UUID("6f1c2d7e-4b1a-4f43-9a55-1d8b2a0f7c11")


@dataclass(frozen=True)
class AuditEvent:
    id: str
    date: datetime
    user_id: str
    action: str
    description: str
    item_id: str
    container_id: str
    session_id: str | None
    tenant_id: str

    def as_document(self) -> dict[str, Any]:
        """The event as stored in the Cosmos DB `event` container."""
        document = asdict(self)
        document["date"] = self.date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return document


def from_outbox(row: Mapping[str, Any]) -> AuditEvent:
    """The audit event of a SQL outbox row; its id is the row's."""
    occurred = row["occurred_at"]
    return AuditEvent(
        id=str(row["id"]),
        date=occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC),
        user_id=row["user_id"],
        action=row["action"],
        description=row["description"],
        item_id=row["item_id"],
        container_id=row["container_id"],
        session_id=row["session_id"],
        tenant_id=row["tenant_id"],
    )


def from_document(container_id: str, document: Mapping[str, Any]) -> AuditEvent | None:
    """The audit event of a changed Cosmos DB document, or None when no change event rode
    with it (a lock, a migration record, a document written before events existed)."""
    context = document.get("_last_event_ctx")
    if not context:
        return None
    version = document.get("_etag") or document.get("_ts")
    # User documents are keyed by a hash of the user id; the event names the user.
    item_id = (document.get("user_id") if container_id == "user" else None) or document["id"]
    change = f"{container_id}:{document['id']}:{version}"
    return AuditEvent(
        id=str(uuid.uuid5(AUDIT_NAMESPACE, change)),
        date=datetime.fromtimestamp(int(document.get("_ts") or 0), UTC),
        user_id=context["user_id"],
        action=context["action"],
        description=context.get("description") or "",
        item_id=str(item_id),
        container_id=context.get("container_id") or container_id,
        session_id=context.get("session_id"),
        tenant_id=context["tenant_id"],
    )
