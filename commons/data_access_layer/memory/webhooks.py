"""In-memory webhooks, their queue of deliveries and its attempts, as the SQL adapter keeps them.

Each queue operation is a writing unit of work of its own: dispatchers claim due deliveries
for a lease, send them outside any unit of work, and record each outcome after.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from commons.data_access_layer.memory.tables import GLOBAL, Staged
from commons.data_access_layer.ports import Claimed
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

WEBHOOKS, DELIVERIES, ATTEMPTS = "webhooks", "deliveries", "delivery_attempts"
DISABLED_REASON = "Disabled: its deliveries failed for 3 days"


def _queued(delivery: Delivery, now: datetime) -> dict[str, Any]:
    """A delivery as the queue keeps it: its fields, its lease and when it was done."""
    return delivery.stored() | {
        "next_attempt_at": delivery.next_attempt_at or now,
        "created_at": delivery.created_at or now,
        "claimed_until": None,
        "done_at": None,
    }


class MemoryWebhookRepository:
    """One tenant's webhooks at a time."""

    def __init__(self, staged: Staged):
        self.staged = staged

    def get(self, tenant_id: str, webhook_id: str) -> Webhook | None:
        webhook: Webhook | None = self.staged.get(WEBHOOKS, tenant_id, webhook_id)
        return webhook

    def list(self, tenant_id: str) -> builtins.list[Webhook]:
        hooks = builtins.list(self.staged.rows(WEBHOOKS, tenant_id))
        return sorted(hooks, key=lambda hook: (hook.created_at, hook.id))

    def add(self, webhook: Webhook) -> None:
        self.staged.put(WEBHOOKS, webhook.tenant_id, webhook.id, webhook)

    def update(self, webhook: Webhook) -> None:
        stored = self.get(webhook.tenant_id, webhook.id)
        if stored is not None:  # its secret never changes
            changed = dataclasses.replace(webhook, secret=stored.secret)
            self.staged.put(WEBHOOKS, webhook.tenant_id, webhook.id, changed)

    def delete(self, tenant_id: str, webhook_id: str) -> None:
        for attempt in builtins.list(self.staged.rows(ATTEMPTS, GLOBAL)):
            if attempt.tenant_id == tenant_id and attempt.webhook_id == webhook_id:
                self.staged.delete(ATTEMPTS, GLOBAL, attempt.id)
        for row in builtins.list(self.staged.rows(DELIVERIES, GLOBAL)):
            if row["tenant_id"] == tenant_id and row["sink"] == webhook_id:
                self.staged.delete(DELIVERIES, GLOBAL, row["id"])
        self.staged.delete(WEBHOOKS, tenant_id, webhook_id)

    def enqueue(self, delivery: Delivery) -> None:
        now = delivery.created_at or delivery.next_attempt_at
        assert now is not None
        self.staged.put(DELIVERIES, GLOBAL, delivery.id, _queued(delivery, now))

    def attempts(
        self, tenant_id: str, webhook_id: str, offset: int, limit: int
    ) -> builtins.list[Attempt]:
        made = sorted(
            self._attempts(tenant_id, webhook_id),
            key=lambda a: (a.attempted_at, a.id),
            reverse=True,
        )
        return made[offset : offset + limit]

    def count_attempts(self, tenant_id: str, webhook_id: str) -> int:
        return len(self._attempts(tenant_id, webhook_id))

    def _attempts(self, tenant_id: str, webhook_id: str) -> builtins.list[Attempt]:
        return [
            attempt
            for attempt in self.staged.rows(ATTEMPTS, GLOBAL)
            if attempt.tenant_id == tenant_id and attempt.webhook_id == webhook_id
        ]


def queue_deliveries(
    staged: Staged,
    changes: Sequence[tuple[AuditEvent, Mapping[str, Any] | None]],
    amqp: bool,
    now: datetime,
) -> int:
    """Queue the deliveries of recorded changes, to each enabled webhook of the change's tenant
    that wants it and to AMQP when `amqp`; those queued before (a replay) are not queued again.
    Returns how many were queued."""
    queued = 0
    for event, item in changes:
        hooks = [hook for hook in staged.rows(WEBHOOKS, event.tenant_id) if hook.enabled]
        for delivery in fan_out(event, item, hooks, amqp, now):
            if staged.get(DELIVERIES, GLOBAL, delivery.id) is None:
                staged.put(DELIVERIES, GLOBAL, delivery.id, _queued(delivery, now))
                queued += 1
    return queued


# How the queue runs each of its operations: in a writing unit of work of its own, committed.
Transaction = Callable[[Callable[[Staged], Any]], Any]


class MemoryDeliveryQueue:
    """Every tenant's deliveries, for the dispatchers."""

    def __init__(self, transaction: Transaction):
        self.transaction = transaction

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

        def claim(staged: Staged) -> builtins.list[Claimed]:
            due = sorted(
                (
                    row
                    for row in staged.rows(DELIVERIES, GLOBAL)
                    if row["status"] == PENDING
                    and row["next_attempt_at"] <= now
                    and (row["claimed_until"] is None or row["claimed_until"] <= now)
                    and (row["sink"] == AMQP_SINK) == amqp
                    and row["sink"] not in busy
                ),
                key=lambda row: (row["next_attempt_at"], row["created_at"], row["id"]),
            )
            candidates = due[: limit if per_sink is None else limit * 4]
            claimed = []
            for row in _fair_share(candidates, limit, per_sink):
                hook = None if amqp else staged.get(WEBHOOKS, row["tenant_id"], row["sink"])
                if not amqp and (hook is None or not hook.enabled):
                    row |= {"status": FAILED, "done_at": now, "claimed_until": None}
                else:
                    row["claimed_until"] = now + CLAIM_LEASE
                    claimed.append(Claimed(Delivery.from_stored(row), hook))
                staged.put(DELIVERIES, GLOBAL, row["id"], row)
            return claimed

        result: builtins.list[Claimed] = self.transaction(claim)
        return result

    def succeeded(self, taken: Sequence[tuple[Delivery, Attempt]], now: datetime) -> None:
        if not taken:
            return

        def succeed(staged: Staged) -> None:
            for delivery, attempt in taken:
                staged.put(ATTEMPTS, GLOBAL, attempt.id, Attempt.from_stored(attempt.stored()))
                self._done(staged, delivery.id, DONE, now)
            for tenant_id, sink in sorted({(d.tenant_id, d.sink) for d, _ in taken}):
                hook = staged.get(WEBHOOKS, tenant_id, sink)
                if hook is not None and hook.failing_since is not None:
                    staged.put(
                        WEBHOOKS, tenant_id, sink, dataclasses.replace(hook, failing_since=None)
                    )

        self.transaction(succeed)

    def failed(
        self,
        delivery: Delivery,
        attempt: Attempt | None,
        retry_at: datetime | None,
        now: datetime,
        disable_failing_since: datetime | None = None,
    ) -> None:
        def fail(staged: Staged) -> None:
            if attempt is not None:
                staged.put(ATTEMPTS, GLOBAL, attempt.id, Attempt.from_stored(attempt.stored()))
            row = staged.get(DELIVERIES, GLOBAL, delivery.id)
            if row is not None:
                row |= {"attempts": delivery.attempts + 1, "claimed_until": None}
                if retry_at is None:
                    row |= {"status": FAILED, "done_at": now}
                else:
                    row["next_attempt_at"] = retry_at
                staged.put(DELIVERIES, GLOBAL, delivery.id, row)
            if delivery.sink == AMQP_SINK:
                return
            hook = staged.get(WEBHOOKS, delivery.tenant_id, delivery.sink)
            if hook is None:
                return
            if hook.failing_since is None:
                hook = dataclasses.replace(
                    hook, failing_since=attempt.attempted_at if attempt else now
                )
            disable = (
                disable_failing_since is not None
                and hook.enabled
                and hook.failing_since <= disable_failing_since
            )
            if disable:
                hook = dataclasses.replace(
                    hook, enabled=False, disabled_reason=DISABLED_REASON, updated_at=now
                )
            staged.put(WEBHOOKS, delivery.tenant_id, delivery.sink, hook)
            if disable:
                # Nothing more goes to it until an admin enables it again.
                for other in builtins.list(staged.rows(DELIVERIES, GLOBAL)):
                    if (
                        other["tenant_id"] == delivery.tenant_id
                        and other["sink"] == delivery.sink
                        and other["status"] == PENDING
                    ):
                        other |= {"status": FAILED, "done_at": now, "claimed_until": None}
                        staged.put(DELIVERIES, GLOBAL, other["id"], other)

        self.transaction(fail)

    def published(self, deliveries: Sequence[Delivery], now: datetime) -> None:
        if not deliveries:
            return

        def publish(staged: Staged) -> None:
            for delivery in deliveries:
                self._done(staged, delivery.id, DONE, now)

        self.transaction(publish)

    def pending(self, now: datetime) -> tuple[int, int]:
        def count(staged: Staged) -> tuple[int, int]:
            waiting = [r for r in staged.rows(DELIVERIES, GLOBAL) if r["status"] == PENDING]
            due = sum(1 for row in waiting if row["next_attempt_at"] <= now)
            return due, len(waiting) - due

        result: tuple[int, int] = self.transaction(count)
        return result

    def purge(self, before: datetime) -> int:
        def purge(staged: Staged) -> int:
            for attempt in builtins.list(staged.rows(ATTEMPTS, GLOBAL)):
                if attempt.attempted_at < before:
                    staged.delete(ATTEMPTS, GLOBAL, attempt.id)
            gone = 0
            for row in builtins.list(staged.rows(DELIVERIES, GLOBAL)):
                if row["status"] in (DONE, FAILED) and row["done_at"] < before:
                    staged.delete(DELIVERIES, GLOBAL, row["id"])
                    gone += 1
            return gone

        result: int = self.transaction(purge)
        return result

    @staticmethod
    def _done(staged: Staged, delivery_id: str, status: str, now: datetime) -> None:
        row = staged.get(DELIVERIES, GLOBAL, delivery_id)
        if row is not None:
            row |= {
                "status": status,
                "attempts": row["attempts"] + 1,
                "done_at": now,
                "claimed_until": None,
            }
            staged.put(DELIVERIES, GLOBAL, delivery_id, row)


def _fair_share(
    rows: Sequence[dict[str, Any]], limit: int, per_sink: int | None
) -> builtins.list[dict[str, Any]]:
    """The first `limit` rows, at most `per_sink` of each sink."""
    if per_sink is None:
        return builtins.list(rows[:limit])
    taken: dict[str, int] = {}
    chosen = []
    for row in rows:
        if taken.get(row["sink"], 0) < per_sink:
            taken[row["sink"]] = taken.get(row["sink"], 0) + 1
            chosen.append(row)
            if len(chosen) == limit:
                break
    return chosen
