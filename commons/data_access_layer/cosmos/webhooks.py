"""Events out on Cosmos DB: the tenants' webhooks (`webhook` container) and the deliveries and
their attempts (`delivery` container), every document partitioned by tenant.

Writes take effect at once, not with the unit of work's commit: no webhook write shares a batch
with a record. A delivery's id follows from its sink and event (`delivery_id`), so the relay
creating it again finds it there (409) and a replayed change queues nothing new. Dispatchers claim
a delivery by replacing its document on its etag: of racing claims one wins. Done and failed
deliveries, and attempts, expire after `DONE_TTL_SECONDS`.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.cosmos import exceptions

from commons.data_access_layer.cosmos import containers
from commons.data_access_layer.cosmos.documents import instant, timestamp
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

if TYPE_CHECKING:
    from commons.data_access_layer.cosmos.unit_of_work import CosmosUnitOfWork

WEBHOOK_TYPE, DELIVERY_TYPE, ATTEMPT_TYPE = "webhook", "delivery", "attempt"
# Done deliveries and attempts are kept for a month, then expire.
DONE_TTL_SECONDS = 30 * 24 * 3600
DISABLED_REASON = "Disabled: its deliveries failed for 3 days"
WEBHOOK_TIMES = ("failing_since", "created_at", "updated_at")
DELIVERY_TIMES = ("next_attempt_at", "created_at")
ATTEMPT_TIMES = ("attempted_at", "next_attempt_at")


def _stored(document: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if not key.startswith("_")}


def _document(fields: dict[str, Any], type_: str, times: tuple[str, ...]) -> dict[str, Any]:
    """A stored entity's fields as a document of `type_`, its `times` as timestamps."""
    return {**fields, "type": type_, **{name: timestamp(fields[name]) for name in times}}


def _fields(document: Mapping[str, Any], times: tuple[str, ...]) -> dict[str, Any]:
    """A document's fields, its `times` as instants."""
    return {**document, **{name: instant(document.get(name)) for name in times}}


def _webhook_document(webhook: Webhook) -> dict[str, Any]:
    return _document(webhook.stored(), WEBHOOK_TYPE, WEBHOOK_TIMES)


def _webhook(document: Mapping[str, Any]) -> Webhook:
    return Webhook.from_stored(_fields(document, WEBHOOK_TIMES))


def _delivery_document(delivery: Delivery) -> dict[str, Any]:
    return {**_document(delivery.stored(), DELIVERY_TYPE, DELIVERY_TIMES), "claimed_until": None}


def _delivery(document: Mapping[str, Any]) -> Delivery:
    return Delivery.from_stored(_fields(document, DELIVERY_TIMES))


def _attempt_document(attempt: Attempt) -> dict[str, Any]:
    document = _document(attempt.stored(), ATTEMPT_TYPE, ATTEMPT_TIMES)
    return {**document, "ttl": DONE_TTL_SECONDS}


def _attempt(document: Mapping[str, Any]) -> Attempt:
    return Attempt.from_stored(_fields(document, ATTEMPT_TIMES))


def _query(container: Any, sql: str, **values: Any) -> builtins.list[dict[str, Any]]:
    """A query over every tenant's documents (the relay's and dispatchers' view)."""
    parameters = [{"name": f"@{name}", "value": value} for name, value in values.items()]
    return list(
        container.query_items(sql, parameters=parameters, enable_cross_partition_query=True)
    )


class CosmosWebhookRepository:
    def __init__(self, uow: CosmosUnitOfWork):
        self.uow = uow
        self.webhooks = uow.container(containers.WEBHOOK)
        self.deliveries = uow.container(containers.DELIVERY)

    def get(self, tenant_id: str, webhook_id: str) -> Webhook | None:
        document = self.uow.read(self.webhooks, webhook_id, tenant_id)
        return _webhook(document) if document and document.get("type") == WEBHOOK_TYPE else None

    def list(self, tenant_id: str) -> builtins.list[Webhook]:
        documents = self.uow.query(
            self.webhooks,
            "SELECT * FROM c WHERE c.tenant_id = @tenant_id AND c.type = @type",
            tenant_id,
            type=WEBHOOK_TYPE,
        )
        hooks = [_webhook(document) for document in documents]
        return sorted(hooks, key=lambda hook: (hook.created_at or datetime.min, hook.id))

    def add(self, webhook: Webhook) -> None:
        self.webhooks.create_item(_webhook_document(webhook))

    def update(self, webhook: Webhook) -> None:
        current = self.uow.read(self.webhooks, webhook.id, webhook.tenant_id)
        if current is None:
            return
        # The dispatchers' fields (failing since) are theirs: an admin's change keeps the rest.
        document = {**_stored(current), **_webhook_document(webhook), "secret": current["secret"]}
        self.webhooks.replace_item(webhook.id, document)

    def delete(self, tenant_id: str, webhook_id: str) -> None:
        documents = self.uow.query(
            self.deliveries,
            "SELECT c.id FROM c WHERE c.tenant_id = @tenant_id AND "
            "(c.sink = @webhook_id OR c.webhook_id = @webhook_id)",
            tenant_id,
            webhook_id=webhook_id,
        )
        for document in documents:
            with contextlib.suppress(exceptions.CosmosResourceNotFoundError):
                self.deliveries.delete_item(document["id"], partition_key=tenant_id)
        with contextlib.suppress(exceptions.CosmosResourceNotFoundError):
            self.webhooks.delete_item(webhook_id, partition_key=tenant_id)

    def enqueue(self, delivery: Delivery) -> None:
        self.deliveries.create_item(_delivery_document(delivery))

    def attempts(
        self, tenant_id: str, webhook_id: str, offset: int, limit: int
    ) -> builtins.list[Attempt]:
        # The emulator has no OFFSET/LIMIT: the page is cut here (a webhook keeps a month's).
        documents = self.uow.query(
            self.deliveries,
            "SELECT * FROM c WHERE c.tenant_id = @tenant_id AND c.type = @type "
            "AND c.webhook_id = @webhook_id",
            tenant_id,
            type=ATTEMPT_TYPE,
            webhook_id=webhook_id,
        )
        documents.sort(key=lambda d: (d["attempted_at"], d["id"]), reverse=True)
        return [_attempt(document) for document in documents[offset : offset + limit]]

    def count_attempts(self, tenant_id: str, webhook_id: str) -> int:
        counted = self.uow.query(
            self.deliveries,
            "SELECT VALUE COUNT(1) FROM c WHERE c.tenant_id = @tenant_id AND c.type = @type "
            "AND c.webhook_id = @webhook_id",
            tenant_id,
            type=ATTEMPT_TYPE,
            webhook_id=webhook_id,
        )
        return int(sum(counted))


def queue_deliveries(
    database: Any,
    changes: Sequence[tuple[AuditEvent, Mapping[str, Any] | None]],
    amqp: bool,
    now: datetime,
    subscribed: dict[str, builtins.list[Webhook]] | None = None,
) -> int:
    """Queue the deliveries of recorded changes (each event with its record): to each enabled
    webhook of its tenant that wants it, and to AMQP when `amqp`. Those queued before (a replay)
    are there already. Returns how many were queued. `subscribed` keeps each tenant's enabled
    webhooks once read, for a caller queueing change by change (one relay run)."""
    if not changes:
        return 0
    hooks_container = database.get_container_client(containers.WEBHOOK)
    deliveries = database.get_container_client(containers.DELIVERY)
    subscribed = {} if subscribed is None else subscribed
    queued = 0
    for event, item in changes:
        if event.tenant_id not in subscribed:
            documents = hooks_container.query_items(
                "SELECT * FROM c WHERE c.tenant_id = @tenant_id AND c.type = @type "
                "AND c.enabled = true",
                parameters=[
                    {"name": "@tenant_id", "value": event.tenant_id},
                    {"name": "@type", "value": WEBHOOK_TYPE},
                ],
                partition_key=event.tenant_id,
            )
            subscribed[event.tenant_id] = [_webhook(document) for document in documents]
        for delivery in fan_out(event, item, subscribed[event.tenant_id], amqp, now):
            try:
                deliveries.create_item(_delivery_document(delivery))
            except exceptions.CosmosResourceExistsError:
                continue
            queued += 1
    return queued


_DUE = (
    "SELECT * FROM c WHERE c.type = @type AND c.status = @pending "
    "AND c.next_attempt_at <= @now AND (NOT IS_DEFINED(c.claimed_until) "
    "OR IS_NULL(c.claimed_until) OR c.claimed_until <= @now) AND c.sink "
)
_AMQP_DUE, _WEBHOOKS_DUE = _DUE + "= @amqp", _DUE + "!= @amqp"


class CosmosDeliveryQueue:
    """Every tenant's deliveries, for the dispatchers."""

    def __init__(self, database: Any):
        self.deliveries = database.get_container_client(containers.DELIVERY)
        self.webhooks = database.get_container_client(containers.WEBHOOK)

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
        documents = _query(
            self.deliveries,
            _AMQP_DUE if amqp else _WEBHOOKS_DUE,
            type=DELIVERY_TYPE,
            pending=PENDING,
            now=timestamp(now),
            amqp=AMQP_SINK,
        )
        # Due ones go in the order of their changes: they are queued as the relay reads the
        # change documents, whose `_ts` order is only to the second.
        documents.sort(key=lambda d: (d["created_at"], d["id"]))
        taken: dict[str, int] = {}
        hooks: dict[tuple[str, str], Webhook | None] = {}
        claimed: builtins.list[Claimed] = []
        for document in documents:
            if len(claimed) == limit:
                break
            if document["sink"] in busy or (
                per_sink is not None and taken.get(document["sink"], 0) >= per_sink
            ):
                continue
            hook = None
            if not amqp:
                key = (document["tenant_id"], document["sink"])
                if key not in hooks:
                    hooks[key] = self._webhook(*key)
                hook = hooks[key]
                if hook is None or not hook.enabled:
                    self._mark(document, status=FAILED, claimed_until=None, ttl=DONE_TTL_SECONDS)
                    continue
            if self._mark(document, claimed_until=timestamp(now + CLAIM_LEASE)):
                taken[document["sink"]] = taken.get(document["sink"], 0) + 1
                claimed.append(Claimed(_delivery(document), hook))
        return claimed

    def _webhook(self, tenant_id: str, webhook_id: str) -> Webhook | None:
        try:
            document = self.webhooks.read_item(webhook_id, partition_key=tenant_id)
        except exceptions.CosmosResourceNotFoundError:
            return None
        return _webhook(document) if document.get("tenant_id") == tenant_id else None

    def _mark(self, document: Mapping[str, Any], **fields: Any) -> bool:
        """Replace the delivery's document with `fields` changed, unless it changed since it was
        read (another dispatcher claimed it): False then."""
        try:
            self.deliveries.replace_item(
                document["id"],
                {**_stored(document), **fields},
                etag=document["_etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (
            exceptions.CosmosAccessConditionFailedError,
            exceptions.CosmosResourceNotFoundError,
        ):
            return False
        return True

    def _finish(self, delivery: Delivery, **fields: Any) -> None:
        try:
            current = self.deliveries.read_item(delivery.id, partition_key=delivery.tenant_id)
        except exceptions.CosmosResourceNotFoundError:
            return  # its webhook was deleted meanwhile
        self.deliveries.replace_item(
            delivery.id,
            {**_stored(current), "attempts": delivery.attempts + 1, "claimed_until": None} | fields,
        )

    def _webhook_failing(
        self, delivery: Delivery, failing_since: datetime | None, now: datetime, **fields: Any
    ) -> dict[str, Any] | None:
        """Set the webhook's `failing_since` (and `fields`) as it is now; its new document."""
        for _ in range(5):  # another dispatcher may change it meanwhile: read it again
            try:
                current = self.webhooks.read_item(delivery.sink, partition_key=delivery.tenant_id)
            except exceptions.CosmosResourceNotFoundError:
                return None
            changed = {**_stored(current), **fields}
            if failing_since is None or current.get("failing_since") is None:
                changed["failing_since"] = timestamp(failing_since)
            if changed == _stored(current):
                return current
            try:
                return self.webhooks.replace_item(  # type: ignore[no-any-return]
                    delivery.sink,
                    changed,
                    etag=current["_etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except exceptions.CosmosAccessConditionFailedError:
                continue
        return None

    def succeeded(self, taken: Sequence[tuple[Delivery, Attempt]], now: datetime) -> None:
        for delivery, attempt in taken:
            self.deliveries.upsert_item(_attempt_document(attempt))
            self._finish(delivery, status=DONE, ttl=DONE_TTL_SECONDS)
        seen = set()
        for delivery, _ in taken:
            if (delivery.tenant_id, delivery.sink) not in seen:
                seen.add((delivery.tenant_id, delivery.sink))
                self._webhook_failing(delivery, None, now)

    def failed(
        self,
        delivery: Delivery,
        attempt: Attempt | None,
        retry_at: datetime | None,
        now: datetime,
        disable_failing_since: datetime | None = None,
    ) -> None:
        if attempt is not None:
            self.deliveries.upsert_item(_attempt_document(attempt))
        if retry_at is None:
            self._finish(delivery, status=FAILED, ttl=DONE_TTL_SECONDS)
        else:
            self._finish(delivery, next_attempt_at=timestamp(retry_at))
        if delivery.sink == AMQP_SINK:
            return
        since = attempt.attempted_at if attempt else now
        hook = self._webhook_failing(delivery, since, now)
        if hook is None or disable_failing_since is None or not hook.get("enabled"):
            return
        failing = instant(hook.get("failing_since"))
        if failing is None or failing > disable_failing_since:
            return
        self._webhook_failing(
            delivery,
            since,
            now,
            enabled=False,
            disabled_reason=DISABLED_REASON,
            updated_at=timestamp(now),
        )
        # Nothing more goes to it until an admin enables it again.
        pending = _query(
            self.deliveries,
            "SELECT * FROM c WHERE c.tenant_id = @tenant_id AND c.type = @type "
            "AND c.sink = @sink AND c.status = @pending",
            tenant_id=delivery.tenant_id,
            type=DELIVERY_TYPE,
            sink=delivery.sink,
            pending=PENDING,
        )
        for document in pending:
            self._mark(document, status=FAILED, claimed_until=None, ttl=DONE_TTL_SECONDS)

    def published(self, published: Sequence[Delivery], now: datetime) -> None:
        for delivery in published:
            self._finish(delivery, status=DONE, ttl=DONE_TTL_SECONDS)

    def pending(self, now: datetime) -> tuple[int, int]:
        """How many deliveries are due now, and how many wait for a later attempt."""
        counted = _query(
            self.deliveries,
            "SELECT c.next_attempt_at FROM c WHERE c.type = @type AND c.status = @pending",
            type=DELIVERY_TYPE,
            pending=PENDING,
        )
        moment = timestamp(now) or ""
        due = sum(1 for document in counted if document["next_attempt_at"] <= moment)
        return due, len(counted) - due

    def purge(self, before: datetime) -> int:
        return 0  # done deliveries and attempts carry a time to live
