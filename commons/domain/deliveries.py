"""Events out: what a change becomes for the world outside the audit log.

A change event reaches each of the tenant's webhooks whose patterns match its type, and the AMQP
exchange when one is configured, as a *delivery*: one message to one sink, queued in the
storage by the relay that records the audit event, and sent (and retried) on its own, so a slow
or dead receiver never holds up the API or another receiver.

The message is the same JSON for every sink (`envelope`): the event's id, its type
`<container>.<action>`, when it happened, and the change itself with the record as the API
returns it after the change.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Protocol

import orjson

from commons.domain.audit import AuditEvent

AMQP_SINK = "amqp"
PING_TYPE = "webhook.ping"
# The actions that happen to each container, as its service records them: the catalog archives
# the records that have a status and deletes the others, only time entries stop and restart,
# users are added and change groups, and a webhook is pinged on request (PING_TYPE).
EVENT_ACTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "activity": ("create", "update", "archive"),
        "customer": ("create", "update", "archive"),
        "project": ("create", "update", "archive"),
        "project_type": ("create", "update", "delete"),
        "technology": ("create", "update", "delete"),
        "time_entry": ("create", "update", "stop", "restart", "delete"),
        "user": ("create", "update"),
        "webhook": ("ping",),
    }
)
# Every event type that occurs, `<container>.<action>`: what webhooks subscribe to and receive.
EVENT_TYPES: tuple[str, ...] = tuple(
    f"{container}.{action}" for container, actions in EVENT_ACTIONS.items() for action in actions
)
# Pending: waiting for its (next) attempt; done: the sink took it; failed: given up on.
PENDING, DONE, FAILED = "pending", "done", "failed"

# A webhook answers within this, with a 2xx, or the attempt failed.
WEBHOOK_TIMEOUT = timedelta(seconds=10)
# After the first failed attempt, the next waits this long; after the last, the delivery failed.
WEBHOOK_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=1),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
)
# A webhook none of whose deliveries succeeded for this long is disabled.
DISABLE_AFTER = timedelta(days=3)
# The broker is never given up on: the waits grow to the last one and stay there.
AMQP_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
)
# A claimed delivery is another dispatcher's to send once this passes without an outcome (its
# dispatcher died mid-way): longer than any attempt takes.
CLAIM_LEASE = timedelta(minutes=2)
# What an attempt keeps of its error.
ERROR_MAX_LENGTH = 500


def stored_values(cls: type, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The values of a dataclass's fields among stored `fields` (a row, a document)."""
    return {
        field.name: fields[field.name] for field in dataclasses.fields(cls) if field.name in fields
    }


def event_type(container_id: str, action: str) -> str:
    """The type of an event, as webhooks subscribe to it: `time_entry.stop`."""
    return f"{container_id}.{action}"


def envelope(event: AuditEvent, item: Mapping[str, Any] | None) -> dict[str, Any]:
    """The JSON every sink receives for an event; `item` is the record after the change."""
    return {
        "id": event.id,
        "type": event_type(event.container_id, event.action),
        "timestamp": iso_instant(event.date),
        "data": {
            "tenant_id": event.tenant_id,
            "user_id": event.user_id,
            "item_id": event.item_id,
            "container_id": event.container_id,
            "action": event.action,
            "description": event.description,
            "item": dict(item) if item is not None else None,
        },
    }


def formatted_item(
    record_format: Callable[[str, object], Mapping[str, Any] | None] | None,
    container_id: str,
    record: object | None,
) -> dict[str, Any] | None:
    """The record of a change as events going out carry it (None: no record, or no format)."""
    # Through JSON and back: dates become the strings the API answers with.
    text = item_json(record_format, container_id, record)
    return orjson.loads(text) if text is not None else None


def item_json(
    record_format: Callable[[str, object], Mapping[str, Any] | None] | None,
    container_id: str,
    record: object | None,
) -> str | None:
    """`formatted_item` as JSON text, as the SQL outbox keeps it."""
    if record is None or record_format is None:
        return None
    item = record_format(container_id, record)
    return orjson.dumps(item).decode("utf-8") if item is not None else None


def iso_instant(moment: datetime) -> str:
    """A moment as the envelope writes it: ISO 8601 in UTC, `Z`-suffixed."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Delivery:
    """One event to one sink (a webhook's id, or AMQP_SINK), until the sink took it."""

    id: str
    tenant_id: str
    sink: str
    event_id: str
    event_type: str
    body: str  # the envelope's JSON, the same bytes on every attempt
    attempts: int = 0
    status: str = PENDING
    next_attempt_at: datetime | None = None
    created_at: datetime | None = None

    def stored(self) -> dict[str, Any]:
        """Its fields as both backends store them."""
        return dataclasses.asdict(self)

    @classmethod
    def from_stored(cls, fields: Mapping[str, Any]) -> Delivery:
        return cls(**stored_values(cls, fields))


@dataclass(frozen=True)
class Attempt:
    """What one attempt to send a delivery to a webhook came to."""

    id: str
    tenant_id: str
    webhook_id: str
    delivery_id: str
    event_id: str
    event_type: str
    attempted_at: datetime
    duration_ms: int
    response_status: int | None = None  # None: no answer (refused, timed out)
    error: str | None = None  # None: the receiver took it (2xx)
    next_attempt_at: datetime | None = None  # None: none follows (taken, or given up)

    @property
    def succeeded(self) -> bool:
        return self.error is None

    def stored(self) -> dict[str, Any]:
        """Its fields as both backends store them (the error cut to what they keep)."""
        fields = dataclasses.asdict(self)
        fields["error"] = self.error[:ERROR_MAX_LENGTH] if self.error else None
        return fields

    @classmethod
    def from_stored(cls, fields: Mapping[str, Any]) -> Attempt:
        return cls(**stored_values(cls, fields))


def next_attempt(
    attempts: int, now: datetime, delays: tuple[timedelta, ...], give_up: bool
) -> datetime | None:
    """When a delivery that failed `attempts` times is tried again; None: it has failed for good
    (only when `give_up`: otherwise the last delay repeats)."""
    if attempts > len(delays):
        return None if give_up else now + delays[-1]
    return now + delays[attempts - 1]


class Subscriber(Protocol):
    @property
    def id(self) -> str: ...

    def wants(self, event_type: str) -> bool: ...


# Delivery ids follow from their sink and event: queueing one again finds it there.
_DELIVERY_IDS = uuid.UUID("5b0e0f7a-4c1e-4a59-9d3b-0b6c9a1f2e70")


def delivery_id(sink: str, event_id: str) -> str:
    """The id of the delivery of an event to a sink, the same whoever queues it."""
    return str(uuid.uuid5(_DELIVERY_IDS, f"{sink}:{event_id}"))


def fan_out(
    event: AuditEvent,
    item: Mapping[str, Any] | None,
    subscribers: Iterable[Subscriber],
    amqp: bool,
    now: datetime,
) -> list[Delivery]:
    """The deliveries of a recorded change: one to each subscriber that wants its type (and is
    enabled), and one to AMQP when `amqp`; all due at once, with the same body."""
    type_ = event_type(event.container_id, event.action)
    sinks = [subscriber.id for subscriber in subscribers if subscriber.wants(type_)]
    if amqp:
        sinks.append(AMQP_SINK)
    if not sinks:
        return []
    body = orjson.dumps(envelope(event, item)).decode("utf-8")
    return [
        Delivery(
            delivery_id(sink, event.id),
            event.tenant_id,
            sink,
            event.id,
            type_,
            body,
            next_attempt_at=now,
            # When the change happened: due together, deliveries go in the order of changes.
            created_at=event.date,
        )
        for sink in sinks
    ]
