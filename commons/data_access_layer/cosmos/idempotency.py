"""Idempotency keys on Cosmos DB: a document each in the `idempotency` container (partitioned by
tenant, cleared by TTL). Claims are conditional writes made at once; an answer is staged after
the unit of work's other writes, conditional on the claim still being the request's own."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.cosmos import exceptions

from commons.data_access_layer.cosmos import containers
from commons.data_access_layer.cosmos.documents import instant, timestamp
from commons.domain.exceptions import IdempotencyKeyInUse
from commons.domain.idempotency import IN_PROGRESS, IdempotencyRecord

TIMESTAMPS = ("lease_until", "expires_at")

if TYPE_CHECKING:
    from commons.data_access_layer.cosmos.unit_of_work import CosmosUnitOfWork


class CosmosIdempotencyRepository:
    def __init__(self, uow: CosmosUnitOfWork):
        self.uow = uow
        self.container = uow.container(containers.IDEMPOTENCY)

    def get(self, tenant_id: str, record_id: str) -> IdempotencyRecord | None:
        document = self.uow.read(self.container, record_id, tenant_id)
        return _record(document) if document else None

    def add(self, record: IdempotencyRecord) -> bool:
        try:
            self.container.create_item(_document(record))
        except exceptions.CosmosResourceExistsError:
            return False
        return True

    def replace(self, record: IdempotencyRecord, lease_token: str) -> bool:
        current = self.uow.read(self.container, record.id, record.tenant_id)
        if current is None or current.get("lease_token") != lease_token:
            return False
        try:
            self.container.replace_item(
                record.id,
                _document(record),
                etag=current["_etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (
            exceptions.CosmosAccessConditionFailedError,
            exceptions.CosmosResourceNotFoundError,
        ):
            return False
        return True

    def complete(self, record: IdempotencyRecord) -> None:
        current = self.uow.read(self.container, record.id, record.tenant_id)
        if (
            current is None
            or current.get("lease_token") != record.lease_token
            or current.get("status") != IN_PROGRESS
        ):
            raise IdempotencyKeyInUse()
        self.uow.stage(
            self.container, "replace", _document(record), IdempotencyKeyInUse, current["_etag"]
        )

    def release(self, tenant_id: str, record_id: str, lease_token: str) -> None:
        current = self.uow.read(self.container, record_id, tenant_id)
        if current is None or current.get("lease_token") != lease_token:
            return
        if current.get("status") == IN_PROGRESS:
            self.uow.delete_if_unchanged(self.container, current, tenant_id)

    def purge(self, tenant_id: str, user_id: str, now: datetime) -> None:
        """Nothing to do: the container's time to live removes expired documents."""


def _document(record: IdempotencyRecord) -> dict[str, Any]:
    document = record.stored()
    for name in TIMESTAMPS:
        document[name] = timestamp(document[name])
    # JSON documents hold text: the body goes base64 encoded.
    if document["answer_body"] is not None:
        document["answer_body"] = base64.b64encode(document["answer_body"]).decode()
    return document


def _record(document: dict[str, Any]) -> IdempotencyRecord:
    fields = {**document, **{name: instant(document[name]) for name in TIMESTAMPS}}
    if fields.get("answer_body") is not None:
        fields["answer_body"] = base64.b64decode(fields["answer_body"])
    return IdempotencyRecord.from_stored(fields)
