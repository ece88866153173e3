"""Events out in SQL: the tenants' webhooks, the queue of deliveries, and their attempts.

The outbox relay queues deliveries in the transaction that records a change's audit event
(`queue_deliveries`): a relay replaying a change queues nothing new (one delivery per sink and
event, a unique index). Dispatchers claim due deliveries for a lease (`FOR UPDATE SKIP LOCKED`
where the database has it; SQLite serializes writers), send them outside any transaction, and
record each outcome in a transaction of its own.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from commons.data_access_layer.ports import Claimed
from commons.data_access_layer.sql import tables
from commons.data_access_layer.sql.engine import IMMEDIATE
from commons.domain.audit import AuditEvent
from commons.domain.deliveries import (
    AMQP_SINK,
    CLAIM_LEASE,
    DONE,
    FAILED,
    PENDING,
    Attempt,
    Delivery,
    fan_out,
)
from commons.domain.webhooks import Webhook

webhooks = tables.webhooks
deliveries = tables.deliveries
attempts = tables.delivery_attempts
DISABLED_REASON = "Disabled: its deliveries failed for 3 days"
GAVE_UP = "Its webhook was disabled"


def _webhook(row: Mapping[Any, Any]) -> Webhook:
    return Webhook.from_stored(row)


def _webhook_values(webhook: Webhook) -> dict[str, Any]:
    return webhook.stored()


def _delivery(row: Mapping[Any, Any]) -> Delivery:
    return Delivery.from_stored(row)


def _delivery_values(delivery: Delivery, now: datetime) -> dict[str, Any]:
    return delivery.stored() | {
        "next_attempt_at": delivery.next_attempt_at or now,
        "created_at": delivery.created_at or now,
        "claimed_until": None,
        "done_at": None,
    }


def _attempt(row: Mapping[Any, Any]) -> Attempt:
    return Attempt.from_stored(row)


class SqlWebhookRepository:
    """One tenant's webhooks at a time, on the unit of work's connection."""

    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def get(self, tenant_id: str, webhook_id: str) -> Webhook | None:
        row = (
            self.connection.execute(
                sa.select(webhooks).where(
                    webhooks.c.tenant_id == tenant_id, webhooks.c.id == webhook_id
                )
            )
            .mappings()
            .first()
        )
        return _webhook(row) if row else None

    def list(self, tenant_id: str) -> builtins.list[Webhook]:
        rows = self.connection.execute(
            sa.select(webhooks)
            .where(webhooks.c.tenant_id == tenant_id)
            .order_by(webhooks.c.created_at, webhooks.c.id)
        ).mappings()
        return [_webhook(row) for row in rows]

    def add(self, webhook: Webhook) -> None:
        self.connection.execute(sa.insert(webhooks).values(_webhook_values(webhook)))

    def update(self, webhook: Webhook) -> None:
        values = _webhook_values(webhook)
        self.connection.execute(
            sa.update(webhooks)
            .where(webhooks.c.tenant_id == webhook.tenant_id, webhooks.c.id == webhook.id)
            .values({k: v for k, v in values.items() if k not in ("tenant_id", "id", "secret")})
        )

    def delete(self, tenant_id: str, webhook_id: str) -> None:
        for table, column in ((attempts, attempts.c.webhook_id), (deliveries, deliveries.c.sink)):
            self.connection.execute(
                sa.delete(table).where(table.c.tenant_id == tenant_id, column == webhook_id)
            )
        self.connection.execute(
            sa.delete(webhooks).where(
                webhooks.c.tenant_id == tenant_id, webhooks.c.id == webhook_id
            )
        )

    def enqueue(self, delivery: Delivery) -> None:
        now = delivery.created_at or delivery.next_attempt_at
        assert now is not None
        self.connection.execute(sa.insert(deliveries).values(_delivery_values(delivery, now)))

    def attempts(
        self, tenant_id: str, webhook_id: str, offset: int, limit: int
    ) -> builtins.list[Attempt]:
        rows = self.connection.execute(
            sa.select(attempts)
            .where(attempts.c.tenant_id == tenant_id, attempts.c.webhook_id == webhook_id)
            .order_by(attempts.c.attempted_at.desc(), attempts.c.id.desc())
            .offset(offset)
            .limit(limit)
        ).mappings()
        return [_attempt(row) for row in rows]

    def count_attempts(self, tenant_id: str, webhook_id: str) -> int:
        counted = (
            sa.select(sa.func.count())
            .select_from(attempts)
            .where(attempts.c.tenant_id == tenant_id, attempts.c.webhook_id == webhook_id)
        )
        return int(self.connection.execute(counted).scalar_one())


def queue_deliveries(
    connection: sa.Connection,
    changes: Sequence[tuple[AuditEvent, Mapping[str, Any] | None]],
    amqp: bool,
    now: datetime,
) -> int:
    """Queue the deliveries of recorded changes (each event with its record): to each enabled
    webhook of its tenant that wants it, and to AMQP when `amqp`. Those queued before (a replay)
    are not queued again. Returns how many were queued."""
    if not changes:
        return 0
    tenants = sorted({event.tenant_id for event, _ in changes})
    subscribed: dict[str, list[Webhook]] = {}
    rows = connection.execute(
        sa.select(webhooks).where(webhooks.c.tenant_id.in_(tenants), webhooks.c.enabled)
    ).mappings()
    for row in rows:
        subscribed.setdefault(row["tenant_id"], []).append(_webhook(row))
    wanted = [
        _delivery_values(delivery, now)
        for event, item in changes
        for delivery in fan_out(event, item, subscribed.get(event.tenant_id, ()), amqp, now)
    ]
    if not wanted:
        return 0
    queued = set(
        connection.execute(
            sa.select(deliveries.c.id).where(deliveries.c.id.in_([v["id"] for v in wanted]))
        ).scalars()
    )
    missing = [values for values in wanted if values["id"] not in queued]
    if missing:
        connection.execute(sa.insert(deliveries), missing)
    return len(missing)


class SqlDeliveryQueue:
    """Every tenant's deliveries, for the dispatchers; each call is a transaction of its own."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def claim(
        self,
        now: datetime,
        limit: int,
        amqp: bool,
        busy: Collection[str] = (),
        per_sink: int | None = None,
    ) -> builtins.list[Claimed]:
        if limit <= 0:
            return []
        sink = deliveries.c.sink
        condition = sa.and_(
            deliveries.c.status == PENDING,
            deliveries.c.next_attempt_at <= now,
            sa.or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until <= now),
            sink == AMQP_SINK if amqp else sink != AMQP_SINK,
        )
        if busy:
            condition = sa.and_(condition, sink.not_in(list(busy)))
        # More candidates than claimed, so that one busy webhook cannot take every slot.
        candidates = limit if per_sink is None else limit * 4
        with self.engine.connect() as connection:
            connection.execution_options(**{IMMEDIATE: True})
            with connection.begin():
                rows = (
                    connection.execute(
                        sa.select(deliveries)
                        .where(condition)
                        .order_by(
                            deliveries.c.next_attempt_at, deliveries.c.created_at, deliveries.c.id
                        )
                        .limit(candidates)
                        .with_for_update(skip_locked=True)
                    )
                    .mappings()
                    .all()
                )
                chosen = _fair_share(rows, limit, per_sink)
                if not chosen:
                    return []
                connection.execute(
                    sa.update(deliveries)
                    .where(deliveries.c.id.in_([row["id"] for row in chosen]))
                    .values(claimed_until=now + CLAIM_LEASE)
                )
                hooks = {} if amqp else self._webhooks(connection, chosen)
                claimed, orphans = [], []
                for row in chosen:
                    hook = hooks.get((row["tenant_id"], row["sink"]))
                    if not amqp and (hook is None or not hook.enabled):
                        orphans.append(row["id"])
                        continue
                    claimed.append(Claimed(_delivery(row), hook))
                if orphans:
                    connection.execute(
                        sa.update(deliveries)
                        .where(deliveries.c.id.in_(orphans))
                        .values(status=FAILED, done_at=now, claimed_until=None)
                    )
        return claimed

    @staticmethod
    def _webhooks(
        connection: sa.Connection, rows: Sequence[Mapping[Any, Any]]
    ) -> dict[tuple[str, str], Webhook]:
        ids = sorted({row["sink"] for row in rows})
        found = connection.execute(sa.select(webhooks).where(webhooks.c.id.in_(ids))).mappings()
        return {(row["tenant_id"], row["id"]): _webhook(row) for row in found}

    def succeeded(self, taken: Sequence[tuple[Delivery, Attempt]], now: datetime) -> None:
        if not taken:
            return
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(attempts), [_attempt_values(attempt) for _, attempt in taken]
            )
            connection.execute(
                sa.update(deliveries)
                .where(deliveries.c.id.in_([delivery.id for delivery, _ in taken]))
                .values(
                    status=DONE,
                    attempts=deliveries.c.attempts + 1,
                    done_at=now,
                    claimed_until=None,
                )
            )
            for tenant_id, sink in sorted({(d.tenant_id, d.sink) for d, _ in taken}):
                connection.execute(
                    sa.update(webhooks)
                    .where(
                        webhooks.c.tenant_id == tenant_id,
                        webhooks.c.id == sink,
                        webhooks.c.failing_since.is_not(None),
                    )
                    .values(failing_since=None)
                )

    def failed(
        self,
        delivery: Delivery,
        attempt: Attempt | None,
        retry_at: datetime | None,
        now: datetime,
        disable_failing_since: datetime | None = None,
    ) -> None:
        with self.engine.begin() as connection:
            if attempt is not None:
                connection.execute(sa.insert(attempts).values(_attempt_values(attempt)))
            values: dict[str, Any] = {"attempts": delivery.attempts + 1, "claimed_until": None}
            if retry_at is None:
                values |= {"status": FAILED, "done_at": now}
            else:
                values["next_attempt_at"] = retry_at
            connection.execute(
                sa.update(deliveries).where(deliveries.c.id == delivery.id).values(values)
            )
            if delivery.sink == AMQP_SINK:
                return
            this = sa.and_(
                webhooks.c.tenant_id == delivery.tenant_id, webhooks.c.id == delivery.sink
            )
            connection.execute(
                sa.update(webhooks)
                .where(this, webhooks.c.failing_since.is_(None))
                .values(failing_since=attempt.attempted_at if attempt else now)
            )
            if disable_failing_since is None:
                return
            disabled = connection.execute(
                sa.update(webhooks)
                .where(this, webhooks.c.enabled, webhooks.c.failing_since <= disable_failing_since)
                .values(enabled=False, disabled_reason=DISABLED_REASON, updated_at=now)
            )
            if disabled.rowcount:
                # Nothing more goes to it until an admin enables it again.
                connection.execute(
                    sa.update(deliveries)
                    .where(
                        deliveries.c.tenant_id == delivery.tenant_id,
                        deliveries.c.sink == delivery.sink,
                        deliveries.c.status == PENDING,
                    )
                    .values(status=FAILED, done_at=now, claimed_until=None)
                )

    def published(self, published: Sequence[Delivery], now: datetime) -> None:
        if not published:
            return
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(deliveries)
                .where(deliveries.c.id.in_([delivery.id for delivery in published]))
                .values(
                    status=DONE,
                    attempts=deliveries.c.attempts + 1,
                    done_at=now,
                    claimed_until=None,
                )
            )

    def pending(self, now: datetime) -> tuple[int, int]:
        """How many deliveries are due now, and how many wait for a later attempt."""
        due = sa.case((deliveries.c.next_attempt_at <= now, 1), else_=0)
        with self.engine.connect() as connection:
            counted = connection.execute(
                sa.select(sa.func.count(), sa.func.sum(due))
                .select_from(deliveries)
                .where(deliveries.c.status == PENDING)
            ).one()
        pending, due_now = int(counted[0] or 0), int(counted[1] or 0)
        return due_now, pending - due_now

    def purge(self, before: datetime) -> int:
        with self.engine.begin() as connection:
            connection.execute(sa.delete(attempts).where(attempts.c.attempted_at < before))
            gone = connection.execute(
                sa.delete(deliveries).where(
                    deliveries.c.status.in_((DONE, FAILED)), deliveries.c.done_at < before
                )
            )
        return int(gone.rowcount or 0)


def _fair_share(
    rows: Sequence[Mapping[Any, Any]], limit: int, per_sink: int | None
) -> builtins.list[Mapping[Any, Any]]:
    """The first `limit` rows, at most `per_sink` of each sink."""
    if per_sink is None:
        return list(rows[:limit])
    taken: dict[str, int] = {}
    chosen = []
    for row in rows:
        if taken.get(row["sink"], 0) < per_sink:
            taken[row["sink"]] = taken.get(row["sink"], 0) + 1
            chosen.append(row)
            if len(chosen) == limit:
                break
    return chosen


def _attempt_values(attempt: Attempt) -> dict[str, Any]:
    return attempt.stored()
