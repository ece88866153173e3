"""The SQL outbox relay: claim pending changes, record their audit events, exactly once.

Run by the storage (`SqlStorage.dispatch_changes`, what `cli.py events dispatch` runs) and by
the events app's timer, on the application's own `outbox` and `events` tables. With the audit
event, in the same transaction, each change's deliveries are queued: to the tenant's webhooks
that want it, and to AMQP when asked (`webhooks.queue_deliveries`, idempotent too).

Each batch is one transaction: the claimed outbox rows are locked (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, MariaDB and SQL Server; SQLite serializes writers), their events are inserted into
`events` (ids from the outbox, so a replay inserts nothing new), and the rows are marked done.
A crash rolls the whole batch back; a failing row is rolled back alone, keeps its attempts and
last error, and waits out the next delay of `RETRY_DELAYS` before it is claimed again. When the
attempt after the last delay fails too, the row is parked as `dead` for an operator.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa

from commons.data_access_layer.ports import OutboxStatus
from commons.data_access_layer.sql.engine import IMMEDIATE
from commons.data_access_layer.sql.tables import events, outbox
from commons.data_access_layer.sql.webhooks import queue_deliveries
from commons.domain.audit import AuditEvent, outbox_event
from commons.domain.exceptions import NotFound
from commons.domain.retries import RETRY_DELAYS, describe, next_attempt

logger = logging.getLogger(__name__)

PENDING, DONE, DEAD = "pending", "done", "dead"


Handler = Callable[[AuditEvent, sa.Connection], None]


@dataclass
class BatchResult:
    delivered: int = 0
    failed: int = 0
    parked: int = 0

    @property
    def claimed(self) -> int:
        return self.delivered + self.failed + self.parked

    def add(self, other: BatchResult) -> None:
        """Count `other`'s changes in these totals."""
        self.delivered += other.delivered
        self.failed += other.failed
        self.parked += other.parked


def not_parked(ids: Sequence[str]) -> NotFound:
    """Changes asked to be retried that are not parked (unknown ids, or not dead)."""
    return NotFound(f"No parked change has the id {', '.join(ids)}")


def with_item(row: Mapping[Any, Any]) -> tuple[AuditEvent, Mapping[str, Any] | None]:
    """An outbox row's audit event and the record after the change (None if it has none)."""
    item = row.get("item")
    return outbox_event(dict(row)), orjson.loads(item) if item else None


def record_event(event: AuditEvent, connection: sa.Connection) -> None:
    """Insert the audit event unless it is there already (idempotent)."""
    exists = connection.execute(sa.select(events.c.id).where(events.c.id == event.id)).first()
    if exists is None:
        values = dataclasses.asdict(event)
        connection.execute(sa.insert(events).values(values))


def record_events(events_: list[AuditEvent], connection: sa.Connection) -> None:
    """Insert the audit events that are not there yet, in three statements whatever their number."""
    ids = [event.id for event in events_]
    present = set(connection.execute(sa.select(events.c.id).where(events.c.id.in_(ids))).scalars())
    missing = [dataclasses.asdict(event) for event in events_ if event.id not in present]
    if missing:
        connection.execute(sa.insert(events), missing)


def drain_once(
    engine: sa.Engine,
    batch_size: int = 100,
    handler: Handler | None = None,
    retry_delays: Sequence[timedelta] = RETRY_DELAYS,
    now: datetime | None = None,
    amqp: bool = False,
) -> BatchResult:
    """Deliver one batch of the pending changes that are due; returns what happened to it.

    Without a handler the batch is recorded in bulk; should that fail, each change is retried
    on its own, so one bad change cannot hold the others back. A change whose next attempt is
    still ahead (`now` by default the current time) is not claimed at all.
    """
    moment = now or datetime.now(UTC)
    result = BatchResult()
    with engine.connect() as connection:
        # The API's SQLite engines honour this option with BEGIN IMMEDIATE: one dispatcher at a
        # time. Elsewhere the rows themselves are locked, and a second dispatcher skips them.
        connection.execution_options(**{IMMEDIATE: True})
        with connection.begin():
            rows = (
                connection.execute(
                    sa.select(outbox)
                    .where(outbox.c.status == PENDING, _due(moment))
                    .order_by(outbox.c.occurred_at, outbox.c.id)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                )
                .mappings()
                .all()
            )
            rows = list(rows)
            if handler is None and rows and _deliver_in_bulk(connection, rows, moment, amqp):
                result.delivered = len(rows)
                return result
            for row in rows:
                handle = handler or record_event
                _deliver(connection, row, handle, retry_delays, moment, result, amqp)
    return result


def drain(
    engine: sa.Engine,
    batch_size: int = 100,
    max_batches: int | None = None,
    handler: Handler | None = None,
    now: datetime | None = None,
    amqp: bool = False,
) -> tuple[BatchResult, int]:
    """Drain batch after batch until one comes back short or fails; the totals and batch count.

    A batch with a failed change ends the run: its cause (a database going away, say) is likely
    to fail the next batch too, and the changes left wait for the next run rather than each
    spending an attempt now.
    """
    total, batches = BatchResult(), 0
    while max_batches is None or batches < max_batches:
        batch = drain_once(engine, batch_size, handler, now=now, amqp=amqp)
        batches += 1
        total.add(batch)
        if batch.claimed < batch_size or batch.failed or batch.parked:
            break
    return total, batches


def waiting(engine: sa.Engine, now: datetime | None = None) -> int:
    """How many pending changes wait for a next attempt that is still ahead."""
    moment = now or datetime.now(UTC)
    with engine.connect() as connection:
        count = connection.execute(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.status == PENDING, sa.not_(_due(moment)))
        ).scalar_one()
        return int(count)


def status(engine: sa.Engine) -> OutboxStatus:
    """The pending and parked changes, and when the oldest pending one happened: one statement
    on the index (status, occurred_at), which leaves the rows done untouched."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(outbox.c.status, sa.func.count(), sa.func.min(outbox.c.occurred_at))
            .where(outbox.c.status.in_((PENDING, DEAD)))
            .group_by(outbox.c.status)
        ).all()
    counted = {row[0]: (int(row[1]), row[2]) for row in rows}
    pending, oldest = counted.get(PENDING, (0, None))
    return OutboxStatus(pending, counted.get(DEAD, (0, None))[0], oldest)


def _due(moment: datetime) -> sa.ColumnElement[bool]:
    # NULL: never failed (or put back in line by an operator), due at once.
    return sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= moment)


def _deliver_in_bulk(
    connection: sa.Connection, rows: list[sa.RowMapping], now: datetime, amqp: bool
) -> bool:
    try:
        with connection.begin_nested():
            changes = [with_item(row) for row in rows]
            record_events([event for event, _ in changes], connection)
            queue_deliveries(connection, changes, amqp, now)
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_([row["id"] for row in rows]))
                .values(status=DONE, processed_at=now, last_error=None, next_attempt_at=None)
            )
        return True
    except Exception as error:  # noqa: BLE001 - fall back to one change at a time
        logger.warning("Batch delivery failed, retrying change by change: %s", error)
        return False


def _deliver(
    connection: sa.Connection,
    row: sa.RowMapping,
    handler: Handler,
    retry_delays: Sequence[timedelta],
    now: datetime,
    result: BatchResult,
    amqp: bool,
) -> None:
    try:
        with connection.begin_nested():
            event, item = with_item(row)
            handler(event, connection)
            queue_deliveries(connection, [(event, item)], amqp, now)
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.id == row["id"])
                .values(status=DONE, processed_at=now, last_error=None, next_attempt_at=None)
            )
        result.delivered += 1
    except Exception as error:  # noqa: BLE001 - any handler failure is retried, then parked
        attempts = (row["attempts"] or 0) + 1
        retry_at = next_attempt(attempts, now, retry_delays)
        parked = retry_at is None
        logger.warning(
            "Change %s failed (attempt %s, %s): %s",
            row["id"],
            attempts,
            "parked" if retry_at is None else f"next attempt at {retry_at:%Y-%m-%d %H:%M:%S} UTC",
            error,
        )
        connection.execute(
            sa.update(outbox)
            .where(outbox.c.id == row["id"])
            .values(
                attempts=attempts,
                last_error=describe(error),
                status=DEAD if parked else PENDING,
                next_attempt_at=retry_at,
            )
        )
        if parked:
            result.parked += 1
        else:
            result.failed += 1


def parked(engine: sa.Engine, limit: int = 100) -> list[dict[str, Any]]:
    """Changes parked as dead after too many failed attempts, oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(outbox)
            .where(outbox.c.status == DEAD)
            .order_by(outbox.c.occurred_at, outbox.c.id)
            .limit(limit)
        ).mappings()
        return [dict(row) for row in rows]


def retry_parked(engine: sa.Engine, ids: list[str] | None = None) -> int:
    """Put parked changes (all, or those ids) back in line, due at once, attempts reset.

    Raises NotFound, changing nothing, when one of the ids is not a parked change.
    """
    condition = outbox.c.status == DEAD
    if ids:
        condition = sa.and_(condition, outbox.c.id.in_(ids))
    with engine.begin() as connection:
        if ids:
            found = set(
                connection.execute(
                    sa.select(outbox.c.id).where(condition).with_for_update()
                ).scalars()
            )
            missing = [id_ for id_ in dict.fromkeys(ids) if id_ not in found]
            if missing:
                raise not_parked(missing)
        changed = connection.execute(
            sa.update(outbox)
            .where(condition)
            .values(status=PENDING, attempts=0, next_attempt_at=None)
        )
        return int(changed.rowcount or 0)
