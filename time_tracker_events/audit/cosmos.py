"""The Cosmos DB audit log: events upserted by their derived id into the `event` container."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .events import CHANGE_TYPE, AuditEvent, from_document

EVENT_CONTAINER = "event"
# `user` carries role and group changes (and the API's timeline locks, which have no event).
AUDITED_CONTAINERS = (
    "activity",
    "customer",
    "project",
    "project_type",
    "technology",
    "time_entry",
    "user",
)


def record_documents(event_container: Any, container_id: str, documents: Iterable[Any]) -> int:
    """Record the audit events of changed documents; returns how many were recorded.

    Only change documents make events, each under the change's own id: a replay is a no-op.
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


CHECKPOINT_ID = "local-dispatcher"
LEASES_CONTAINER = "leases"


def poll_changes(database: Any) -> int:
    """Record the audit events of documents changed since the last poll (local development).

    The Functions app reads the change feed; the emulator has none, so this polls `_ts`. Its
    resolution is a second: documents of the checkpoint's second are read again, which the
    change documents' own ids make harmless. Like the change feed, it reads every tenant's changes.
    """
    leases = database.get_container_client(LEASES_CONTAINER)
    events = database.get_container_client(EVENT_CONTAINER)
    try:
        checkpoint = leases.read_item(CHECKPOINT_ID, partition_key=CHECKPOINT_ID)
    except Exception as error:  # noqa: BLE001 - a missing checkpoint means: from the start
        if getattr(error, "status_code", None) != 404:
            raise
        checkpoint = {"id": CHECKPOINT_ID, "since": {}}
    recorded = 0
    for container_id in AUDITED_CONTAINERS:
        since = int(checkpoint["since"].get(container_id, 0))
        documents = list(
            database.get_container_client(container_id).query_items(
                "SELECT * FROM c WHERE c._ts >= @since AND c.type = @change",
                parameters=[
                    {"name": "@since", "value": since},
                    {"name": "@change", "value": CHANGE_TYPE},
                ],
                enable_cross_partition_query=True,
            )
        )
        recorded += record_documents(events, container_id, documents)
        if documents:
            checkpoint["since"][container_id] = max(int(d["_ts"]) for d in documents)
    leases.upsert_item({"id": CHECKPOINT_ID, "since": checkpoint["since"]})
    return recorded
