"""Idempotent writes: a request with an Idempotency-Key claims the key before it does anything,
and its answer is stored in the transaction of its write (`commit`).

The request being served is held in a context variable: the HTTP layer begins and finishes
it around each request, and the write services store its answer through `commit`, so no
service signature has to carry it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from commons.data_access_layer.ports import Storage, UnitOfWork
from commons.domain.exceptions import IdempotencyKeyInUse, IdempotencyKeyReused
from commons.domain.idempotency import Answer, IdempotencyRecord, new_record, record_id
from commons.domain.principal import Principal

CLAIM_ATTEMPTS = 3
Renderer = Callable[[Any], Answer]


def _no_content(result: Any) -> Answer:
    return Answer(204)


@dataclass
class Pending:
    """The claim of the request being served, how its result becomes its answer, and the
    answer its write's transaction stored (None until that transaction has committed)."""

    record: IdempotencyRecord
    render: Renderer = field(default=_no_content)
    stored: Answer | None = None


_pending: ContextVar[Pending | None] = ContextVar("idempotent_request", default=None)


def begin(
    storage: Storage, principal: Principal, key: str, fingerprint: str, now: datetime | None = None
) -> Answer | None:
    """Claim `key` for the request with this fingerprint; None when the request is to be done
    (it is then the pending request), or the stored answer of the same request done before.

    IdempotencyKeyReused: the key was used with another request. IdempotencyKeyInUse: a request
    with the key is still being served.
    """
    forget()
    now = now or datetime.now(UTC)
    tenant_id, user_id = principal.tenant_id, principal.user_id
    wanted = record_id(tenant_id, user_id, key)
    for _ in range(CLAIM_ATTEMPTS):
        with storage.unit_of_work(write=True) as uow:
            keys = uow.idempotency
            found = keys.get(tenant_id, wanted)
            if found is None:
                claim = new_record(tenant_id, user_id, key, fingerprint, now)
                keys.purge(tenant_id, user_id, now)
                taken = keys.add(claim)
            elif found.expires_at <= now or (found.answer is None and found.lease_until <= now):
                # Expired, or claimed by a request that died before its write committed (a
                # committed write leaves its answer): the key is free.
                claim = found.claimed(fingerprint, now)
                taken = keys.replace(claim, found.lease_token)
            elif found.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            elif found.answer is not None:
                return found.answer
            else:
                wait = (found.lease_until - now).total_seconds()
                raise IdempotencyKeyInUse(retry_after=math.ceil(wait))
            if taken:
                uow.commit()
                _pending.set(Pending(claim))
                return None
        # Another request claimed it between our read and our write: look again.
    raise IdempotencyKeyInUse()


def current() -> Pending | None:
    """The pending idempotent request of this context, if any."""
    return _pending.get()


def render_with(render: Renderer) -> None:
    """Say how the pending request's result becomes its answer (status and body)."""
    pending = _pending.get()
    if pending is not None:
        pending.render = render


def commit(uow: UnitOfWork, result: Any = None) -> None:
    """Commit a write, storing the pending request's answer for `result` with it."""
    pending = _pending.get()
    if pending is None or pending.stored is not None:
        uow.commit()
        return
    answer = pending.render(result)
    uow.idempotency.complete(pending.record.completed(answer))
    uow.commit()
    pending.stored = answer


def finish(storage: Storage, answer: Answer | None) -> None:
    """End the pending request: keep `answer`, the one it was given (a success), or free the
    key (None: the request failed and changed nothing, so it may be sent again)."""
    pending = _pending.get()
    forget()
    if pending is None or (answer is not None and answer == pending.stored):
        return
    record = pending.record
    with storage.unit_of_work(write=True) as uow:
        if answer is None:
            uow.idempotency.release(record.tenant_id, record.id, record.lease_token)
        else:
            # A request whose answer no write stored (it changed nothing), or whose answer
            # differs from the one stored: the answer it was given is the one to replay.
            uow.idempotency.replace(record.completed(answer), record.lease_token)
        uow.commit()


def forget() -> None:
    """Leave no pending request in this context (a thread serves one request after another)."""
    _pending.set(None)
