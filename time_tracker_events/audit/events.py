"""The audit event and how each kind of change becomes one."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
CHANGE_TYPE = "change"
# Change documents go away after a month (where the container has a time to live): the change
# feed and the dispatcher read them within seconds to hours.
CHANGE_TTL_SECONDS = 30 * 24 * 3600
DESCRIPTION_MAX_LENGTH = 500


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
        document["date"] = self.date.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
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
    """The audit event of a change document of a Cosmos DB container (`change_document`), or
    None for any other document: an entity (whose `_last_event_ctx` only repeats its latest
    change), a lock, a migration record."""
    if document.get("type") != CHANGE_TYPE:
        return None
    return AuditEvent(
        id=str(document["id"]),
        date=datetime.strptime(document["date"], TIMESTAMP_FORMAT).replace(tzinfo=UTC),
        user_id=document["user_id"],
        action=document["action"],
        description=document.get("description") or "",
        item_id=str(document["item_id"]),
        container_id=document.get("container_id") or container_id,
        session_id=document.get("session_id"),
        tenant_id=document["tenant_id"],
    )


def change_document(
    *,
    tenant_id: str,
    container_id: str,
    item_id: str,
    action: str,
    description: str,
    user_id: str,
    session_id: str | None,
    date: datetime,
) -> dict[str, Any]:
    """The document a Cosmos DB unit of work writes for one change, into the changed record's
    container and partition, in the same transactional batch as the record (a transactional
    outbox): created once and never changed, so the change feed carries every change, however
    quickly the record changes again. Its id is the audit event's."""
    change_id = str(uuid.uuid4())
    return {
        "id": change_id,
        "type": CHANGE_TYPE,
        "tenant_id": tenant_id,
        "container_id": container_id,
        "item_id": item_id,
        "action": action,
        "description": description[:DESCRIPTION_MAX_LENGTH],
        "user_id": user_id,
        "session_id": session_id,
        "date": date.astimezone(UTC).strftime(TIMESTAMP_FORMAT),
        "ttl": CHANGE_TTL_SECONDS,
        # The containers' unique keys (catalog names, the running entry) count a document
        # without the path as null, of which a partition holds one: a change holds its own slot.
        "uniqueness_key": f"{CHANGE_TYPE}|{change_id}",
        "running_key": f"{CHANGE_TYPE}|{change_id}",
    }
