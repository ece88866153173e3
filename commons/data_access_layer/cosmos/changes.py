"""The Cosmos DB transactional outbox and its relay.

A unit of work writes a change document (`change_document`) per change into the changed
record's container and partition, in the record's transactional batch. The relay turns change
documents into audit events in the `event` container, each under its change's id (a replay is a
no-op): the events app's change feed triggers hand it what the feed delivers, and
`poll_changes` (what `cli.py events dispatch` runs; the emulator has no change feed) reads them
by `_ts`. A change whose event cannot be recorded is marked on its document and tried again
(`retry_due`) with the outbox's delays, then parked for an operator.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.cosmos import exceptions

from commons.data_access_layer.cosmos.containers import AUDITED_CONTAINERS, EVENT, LEASES
from commons.data_access_layer.cosmos.documents import instant, timestamp
from commons.data_access_layer.ports import OutboxStatus
from commons.domain.audit import AuditEvent
from commons.domain.events import RecordChanged
from commons.domain.exceptions import NotFound
from commons.domain.retries import RETRY_DELAYS, describe, next_attempt

logger = logging.getLogger(__name__)
# Queues the deliveries of recorded changes, each event with its record (None: none).
Deliveries = Callable[[Sequence[tuple[AuditEvent, Mapping[str, Any] | None]]], None]
CHANGE_TYPE = "change"
# Change documents go away after a month (their containers have a time to live, migration 0009):
# the change feed and the dispatcher read them within seconds to hours.
CHANGE_TTL_SECONDS = 30 * 24 * 3600
DESCRIPTION_MAX_LENGTH = 500
# Where a change document stands when recording its event failed (`delivery`; absent until then):
# waiting for its next attempt, parked for an operator, or recorded at a later attempt.
DELIVERY, FAILED, DEAD, DONE = "delivery", "failed", "dead", "done"


def change_document(
    event: RecordChanged, date: datetime | None = None, item: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The document a unit of work writes for one change, into the changed record's container
    and partition, in the same transactional batch as the record: created once and never
    changed, so the change feed carries every change, however quickly the record changes again.
    Its id is the audit event's; `item` is the record after the change, as events going out
    carry it."""
    change_id = str(uuid.uuid4())
    return {
        "id": change_id,
        "type": CHANGE_TYPE,
        "tenant_id": event.tenant_id,
        "container_id": event.container_id,
        "item_id": event.item_id,
        "action": event.action,
        "description": event.description[:DESCRIPTION_MAX_LENGTH],
        "user_id": event.user_id,
        "session_id": event.session_id,
        "date": timestamp(date or datetime.now(UTC)),
        "ttl": CHANGE_TTL_SECONDS,
        "item": dict(item) if item is not None else None,
        # The containers' unique keys (catalog names, the running entry) count a document
        # without the path as null, of which a partition holds one: a change holds its own slot.
        "uniqueness_key": f"{CHANGE_TYPE}|{change_id}",
        "running_key": f"{CHANGE_TYPE}|{change_id}",
    }


def from_document(container_id: str, document: Mapping[str, Any]) -> AuditEvent | None:
    """The audit event of a change document, or None for any other document: a record (whose
    `_last_event_ctx` only repeats its latest change), a lock, a migration record."""
    if document.get("type") != CHANGE_TYPE:
        return None
    date = instant(document["date"])
    assert date is not None
    return AuditEvent(
        id=str(document["id"]),
        date=date,
        user_id=document["user_id"],
        action=document["action"],
        description=document.get("description") or "",
        item_id=str(document["item_id"]),
        container_id=document.get("container_id") or container_id,
        session_id=document.get("session_id"),
        tenant_id=document["tenant_id"],
    )


def event_document(event: AuditEvent) -> dict[str, Any]:
    """The event as stored in the `event` container."""
    return {**dataclasses.asdict(event), "date": timestamp(event.date)}


@dataclass
class Tally:
    recorded: int = 0
    failed: int = 0  # to be tried again
    parked: int = 0

    def add(self, other: Tally) -> None:
        self.recorded += other.recorded
        self.failed += other.failed
        self.parked += other.parked


def record_documents(
    event_container: Any,
    container_id: str,
    documents: Iterable[Any],
    changes: Any | None = None,
    now: datetime | None = None,
    deliveries: Deliveries | None = None,
) -> Tally:
    """Record the audit events of the change documents among `documents`, and queue each one's
    deliveries through `deliveries` first (to webhooks and AMQP: `webhooks.queue_deliveries`).

    Only change documents make events, each under the change's own id: a replay is a no-op.
    With `changes` (the documents' container), a change whose event cannot be recorded does not
    fail the rest: it is marked on its document for a later attempt (`retry_due`), or parked
    after the last. A change already marked is left to `retry_due` when the feed brings it back.
    """
    now = now or datetime.now(UTC)
    tally = Tally()
    for document in documents:
        document = dict(document)
        if document.get("type") != CHANGE_TYPE or document.get(DELIVERY) is not None:
            continue
        recorded = _record(event_container, container_id, document, changes, now, deliveries)
        _count(tally, document, recorded)
    return tally


def _count(tally: Tally, document: dict[str, Any], recorded: bool) -> None:
    if recorded:
        tally.recorded += 1
    elif int(document.get("attempts") or 0) + 1 > len(RETRY_DELAYS):
        tally.parked += 1
    else:
        tally.failed += 1


def _record(
    event_container: Any,
    container_id: str,
    document: dict[str, Any],
    changes: Any,
    now: datetime,
    deliveries: Deliveries | None,
) -> bool:
    try:
        event = from_document(container_id, document)
        if event is not None:
            if deliveries is not None:
                deliveries([(event, document.get("item"))])
            record_event(event_container, event)
    except Exception as error:  # noqa: BLE001 - any failure is tried again, then parked
        if changes is None:
            raise
        _failed(changes, document, error, now)
        return False
    return True


def _failed(changes: Any, document: dict[str, Any], error: BaseException, now: datetime) -> None:
    attempts = int(document.get("attempts") or 0) + 1
    retry_at = next_attempt(attempts, now)
    logger.warning(
        "Change %s failed (attempt %s, %s): %s",
        document["id"],
        attempts,
        "parked" if retry_at is None else f"next attempt at {retry_at:%Y-%m-%d %H:%M:%S} UTC",
        error,
    )
    _mark(
        changes,
        document,
        delivery=DEAD if retry_at is None else FAILED,
        attempts=attempts,
        last_error=describe(error),
        next_attempt_at=timestamp(retry_at) if retry_at else None,
    )


def _mark(changes: Any, document: dict[str, Any], **fields: Any) -> None:
    """Replace the change document with `fields` changed, unless it changed meanwhile (then
    another dispatcher has seen to it)."""
    body = {k: v for k, v in document.items() if not k.startswith("_")} | fields
    try:
        changes.replace_item(
            document["id"],
            body,
            etag=document.get("_etag"),
            match_condition=MatchConditions.IfNotModified,
        )
    except exceptions.CosmosAccessConditionFailedError:
        logger.info("Change %s was seen to by another dispatcher", document["id"])


def retry_due(
    database: Any, now: datetime | None = None, deliveries: Deliveries | None = None
) -> Tally:
    """Try again the changes whose next attempt is due."""
    now = now or datetime.now(UTC)
    events = database.get_container_client(EVENT)
    tally = Tally()
    for container_id in AUDITED_CONTAINERS:
        changes = database.get_container_client(container_id)
        due = _change_documents(
            changes,
            "c.delivery = @failed AND c.next_attempt_at <= @now",
            failed=FAILED,
            now=timestamp(now),
        )
        for document in due:
            recorded = _record(events, container_id, document, changes, now, deliveries)
            if recorded:
                _mark(changes, document, delivery=DONE, next_attempt_at=None, last_error=None)
            _count(tally, document, recorded)
    return tally


def parked_changes(database: Any) -> list[dict[str, Any]]:
    """The change documents parked after their last attempt failed, oldest first."""
    parked = []
    for container_id in AUDITED_CONTAINERS:
        parked += [
            {k: v for k, v in document.items() if not k.startswith("_")}
            for document in _parked(database.get_container_client(container_id))
        ]
    return sorted(parked, key=lambda change: (change["date"], change["id"]))


def retry_parked(database: Any, ids: list[str] | None = None) -> int:
    """Put parked changes (all, or those ids) back in line, due at once, attempts reset.

    Raises NotFound, changing nothing, when one of the ids is not a parked change.
    """
    found = {
        document["id"]: (database.get_container_client(container_id), document)
        for container_id in AUDITED_CONTAINERS
        for document in _parked(database.get_container_client(container_id))
    }
    wanted = list(dict.fromkeys(ids)) if ids else list(found)
    missing = [change_id for change_id in wanted if change_id not in found]
    if missing:
        raise NotFound(f"No parked change has the id {', '.join(missing)}")
    now = timestamp(datetime.now(UTC))
    for change_id in wanted:
        changes, document = found[change_id]
        _mark(changes, document, delivery=FAILED, attempts=0, next_attempt_at=now)
    return len(wanted)


def outbox_status(database: Any) -> OutboxStatus:
    """The changes waiting for a retry and those parked, of every tenant, and when the oldest
    waiting one happened: counted on the containers' indexes, none read in full.

    A change the change feed has not handed over yet is pending too, but only the feed's lease
    knows which: what is counted here are the changes whose first attempt failed.
    """
    pending = parked = 0
    oldest: list[datetime] = []
    for container_id in AUDITED_CONTAINERS:
        changes = database.get_container_client(container_id)
        parked += _aggregate(changes, "COUNT(1)", DEAD, sum) or 0
        waiting = _aggregate(changes, "COUNT(1)", FAILED, sum) or 0
        if waiting:
            pending += waiting
            moment = _moment(_aggregate(changes, "MIN(c.date)", FAILED, min))
            if moment is not None:
                oldest.append(moment)
    return OutboxStatus(pending, parked, min(oldest) if oldest else None)


def _moment(value: Any) -> datetime | None:
    """A stored instant; None when it is missing or malformed (which may be why it failed)."""
    try:
        return instant(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _aggregate(changes: Any, aggregate: str, delivery: str, combine: Callable[..., Any]) -> Any:
    # A cross-partition aggregate may come back one value a partition range: combined here.
    values = [
        value
        for value in changes.query_items(
            f"SELECT VALUE {aggregate} FROM c WHERE c.type = @change AND c.delivery = @delivery",
            parameters=[
                {"name": "@change", "value": CHANGE_TYPE},
                {"name": "@delivery", "value": delivery},
            ],
            enable_cross_partition_query=True,
        )
        if value is not None
    ]
    return combine(values) if values else None


def _parked(changes: Any) -> list[dict[str, Any]]:
    return _change_documents(changes, "c.delivery = @dead", dead=DEAD)


def _change_documents(changes: Any, condition: str, **values: Any) -> list[dict[str, Any]]:
    """The change documents of a container, of every tenant, that meet `condition`."""
    parameters = [{"name": f"@{name}", "value": value} for name, value in values.items()]
    return list(
        changes.query_items(
            f"SELECT * FROM c WHERE c.type = @change AND {condition}",
            parameters=[{"name": "@change", "value": CHANGE_TYPE}, *parameters],
            enable_cross_partition_query=True,
        )
    )


def record_event(event_container: Any, event: AuditEvent) -> None:
    event_container.upsert_item(event_document(event))


CHECKPOINT_ID = "local-dispatcher"


def outlet(database: Any, amqp: bool) -> Deliveries:
    """How the relay queues the deliveries of the changes it records, in `database`: each
    tenant's webhooks are read once per outlet (one relay run), not once per change."""
    from commons.data_access_layer.cosmos.webhooks import queue_deliveries

    subscribed: dict[str, Any] = {}

    def queue(changes: Sequence[tuple[AuditEvent, Mapping[str, Any] | None]]) -> None:
        queue_deliveries(database, changes, amqp, datetime.now(UTC), subscribed)

    return queue


def poll_changes(database: Any, now: datetime | None = None, amqp: bool = False) -> Tally:
    """Record the audit events of documents changed since the last poll, and try again the
    failed changes that are due (local development: the Functions app does both there).

    The Functions app reads the change feed; the emulator has none, so this polls `_ts`. Its
    resolution is a second: documents of the checkpoint's second are read again, which the
    change documents' own ids make harmless. Like the change feed, it reads every tenant's changes.
    """
    leases = database.get_container_client(LEASES)
    events = database.get_container_client(EVENT)
    try:
        checkpoint = leases.read_item(CHECKPOINT_ID, partition_key=CHECKPOINT_ID)
    except Exception as error:  # noqa: BLE001 - a missing checkpoint means: from the start
        if getattr(error, "status_code", None) != 404:
            raise
        checkpoint = {"id": CHECKPOINT_ID, "since": {}}
    deliveries = outlet(database, amqp)
    tally = retry_due(database, now, deliveries)
    for container_id in AUDITED_CONTAINERS:
        since = int(checkpoint["since"].get(container_id, 0))
        changes = database.get_container_client(container_id)
        documents = _change_documents(changes, "c._ts >= @since", since=since)
        tally.add(record_documents(events, container_id, documents, changes, now, deliveries))
        if documents:
            checkpoint["since"][container_id] = max(int(d["_ts"]) for d in documents)
    leases.upsert_item({"id": CHECKPOINT_ID, "since": checkpoint["since"]})
    return tally
