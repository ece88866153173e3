"""Idempotency keys in SQL: claims are rows; an answer is written in its write's transaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from commons.data_access_layer.sql import tables
from commons.domain.exceptions import IdempotencyKeyInUse
from commons.domain.idempotency import IN_PROGRESS, IdempotencyRecord

keys = tables.idempotency_keys


class SqlIdempotencyRepository:
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def get(self, tenant_id: str, record_id: str) -> IdempotencyRecord | None:
        row = (
            self.connection.execute(
                sa.select(keys).where(keys.c.id == record_id, keys.c.tenant_id == tenant_id)
            )
            .mappings()
            .first()
        )
        return IdempotencyRecord.from_stored(dict(row)) if row else None

    def add(self, record: IdempotencyRecord) -> bool:
        try:
            with self.connection.begin_nested():
                self.connection.execute(sa.insert(keys).values(record.stored()))
        except sa.exc.IntegrityError:
            return False  # a racing request claimed it first
        return True

    def replace(self, record: IdempotencyRecord, lease_token: str) -> bool:
        return self._update(record, lease_token) == 1

    def complete(self, record: IdempotencyRecord) -> None:
        if self._update(record, record.lease_token, unanswered=True) != 1:
            raise IdempotencyKeyInUse()

    def release(self, tenant_id: str, record_id: str, lease_token: str) -> None:
        self.connection.execute(
            sa.delete(keys).where(
                keys.c.id == record_id,
                keys.c.tenant_id == tenant_id,
                keys.c.lease_token == lease_token,
                keys.c.status == IN_PROGRESS,
            )
        )

    def purge(self, tenant_id: str, user_id: str, now: datetime) -> None:
        self.connection.execute(
            sa.delete(keys).where(
                keys.c.tenant_id == tenant_id, keys.c.user_id == user_id, keys.c.expires_at < now
            )
        )

    def _update(self, record: IdempotencyRecord, lease_token: str, unanswered: bool = False) -> int:
        statement = sa.update(keys).where(
            keys.c.id == record.id,
            keys.c.tenant_id == record.tenant_id,
            keys.c.lease_token == lease_token,
        )
        if unanswered:
            statement = statement.where(keys.c.status == IN_PROGRESS)
        return self.connection.execute(statement.values(record.stored())).rowcount
