"""The Cosmos DB audit log: events upserted by their derived id into the `event` container."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .events import AuditEvent, from_document

EVENT_CONTAINER = "event"
AUDITED_CONTAINERS = ("activity", "customer", "project", "project_type", "technology", "time_entry")


def record_documents(event_container: Any, container_id: str, documents: Iterable[Any]) -> int:
    """Record the audit events of changed documents; returns how many were recorded.

    Upserting by an id derived from the document's version makes a replay a no-op.
    """
    recorded = 0
    for document in documents:
        event = from_document(container_id, dict(document))
        if event is not None:
            record_event(event_container, event)
            recorded += 1
    return recorded


def record_event(event_container: Any, event: AuditEvent) -> None:
    event_container.upsert_item(event.as_document())
