"""The in-memory outbox relay: pending changes become audit events and deliveries, once.

A change is written to the outbox with the change itself (the unit of work's commit publishes
both or neither). Draining a batch is one writing unit of work: each change's audit event is
recorded (under the change's id, so a replay records nothing new), its deliveries queued, and
the change marked done; a change that fails waits out the next of `RETRY_DELAYS`, and is
parked for an operator after the last.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from commons.data_access_layer.memory.repositories import EVENTS
from commons.data_access_layer.memory.tables import GLOBAL, Staged
from commons.data_access_layer.memory.webhooks import queue_deliveries
from commons.data_access_layer.ports import OutboxStatus
from commons.domain.audit import outbox_event
from commons.domain.exceptions import NotFound
from commons.domain.retries import RETRY_DELAYS, describe, next_attempt

logger = logging.getLogger(__name__)

OUTBOX = "outbox"
PENDING, DONE, DEAD = "pending", "done", "dead"

Transaction = Callable[[Callable[[Staged], Any]], Any]


def _in_line(row: dict[str, Any]) -> tuple[datetime, str]:
    return row["occurred_at"], row["id"]


def drain_once(staged: Staged, batch_size: int, amqp: bool) -> tuple[int, int, int]:
    """Deliver one batch of the due pending changes: how many were delivered, failed, parked."""
    now = datetime.now(UTC)
    rows = sorted(
        (
            row
            for row in staged.rows(OUTBOX, GLOBAL)
            if row["status"] == PENDING
            and (row["next_attempt_at"] is None or row["next_attempt_at"] <= now)
        ),
        key=_in_line,
    )[:batch_size]
    delivered = failed = parked = 0
    for row in rows:
        try:
            event = outbox_event(row)
            if staged.get(EVENTS, event.tenant_id, event.id) is None:
                staged.put(EVENTS, event.tenant_id, event.id, event)
            item = orjson.loads(row["item"]) if row["item"] else None
            queue_deliveries(staged, [(event, item)], amqp, now)
            row |= {"status": DONE, "processed_at": now, "last_error": None}
            row["next_attempt_at"] = None
            delivered += 1
        except Exception as error:  # noqa: BLE001 - any failure is retried, then parked
            attempts = row["attempts"] + 1
            retry_at = next_attempt(attempts, now, RETRY_DELAYS)
            logger.warning("Change %s failed (attempt %s): %s", row["id"], attempts, error)
            row |= {
                "attempts": attempts,
                "last_error": describe(error),
                "status": DEAD if retry_at is None else PENDING,
                "next_attempt_at": retry_at,
            }
            if retry_at is None:
                parked += 1
            else:
                failed += 1
        staged.put(OUTBOX, GLOBAL, row["id"], row)
    return delivered, failed, parked


def waiting(staged: Staged) -> int:
    """How many pending changes wait for a next attempt that is still ahead."""
    now = datetime.now(UTC)
    return sum(
        1
        for row in staged.rows(OUTBOX, GLOBAL)
        if row["status"] == PENDING
        and row["next_attempt_at"] is not None
        and row["next_attempt_at"] > now
    )


def status(staged: Staged) -> OutboxStatus:
    """The pending and parked changes, and when the oldest pending one happened."""
    rows = staged.rows(OUTBOX, GLOBAL)
    pending = [row["occurred_at"] for row in rows if row["status"] == PENDING]
    dead = sum(1 for row in rows if row["status"] == DEAD)
    return OutboxStatus(len(pending), dead, min(pending, default=None))


def parked(staged: Staged, limit: int = 100) -> list[dict[str, Any]]:
    """Changes parked after too many failed attempts, oldest first."""
    dead = [row for row in staged.rows(OUTBOX, GLOBAL) if row["status"] == DEAD]
    return sorted(dead, key=_in_line)[:limit]


def retry_parked(staged: Staged, ids: list[str] | None) -> int:
    """Put parked changes (all, or those ids) back in line, due at once, attempts reset;
    NotFound, changing nothing, when one of the ids is not a parked change."""
    dead = {row["id"]: row for row in staged.rows(OUTBOX, GLOBAL) if row["status"] == DEAD}
    if ids:
        missing = [id_ for id_ in dict.fromkeys(ids) if id_ not in dead]
        if missing:
            raise NotFound(f"No parked change has the id {', '.join(missing)}")
        dead = {id_: row for id_, row in dead.items() if id_ in ids}
    for row in dead.values():
        row |= {"status": PENDING, "attempts": 0, "next_attempt_at": None}
        staged.put(OUTBOX, GLOBAL, row["id"], row)
    return len(dead)
