"""Idempotency keys: a retried write gets the first answer instead of being done twice.

A client sends `Idempotency-Key: <key>` with a POST, PUT or DELETE. The first request with a
key claims it for a short lease and, in the transaction of its write, stores its answer; a
repetition (same key, same user, same request) within `KEY_LIFETIME` gets that answer back.
The same key with another request is refused, and so is a repetition while the first one is
still being worked on. A request that fails (4xx or 5xx) frees its key: it changed nothing,
so doing it again is safe.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from commons.domain.exceptions import ValidationFailed

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
KEY_LIFETIME = timedelta(hours=24)
# How long a claim holds a key before another request may take it over: longer than any
# request runs (a worker that died mid-request leaves its claim to expire).
LEASE = timedelta(seconds=30)
# Visible ASCII, and spaces inside.
KEY_PATTERN = re.compile(rf"[!-~](?:[ -~]{{0,{KEY_MAX_LENGTH - 2}}}[!-~])?")
IN_PROGRESS, DONE = "in_progress", "done"


def parse_key(header: str) -> str:
    """The key of an `Idempotency-Key` header: 1–255 visible ASCII characters (spaces allowed
    inside), taken as sent: `"abc"`, the draft standard's quoted form, is another key than `abc`."""
    key = header.strip()
    if not KEY_PATTERN.fullmatch(key):
        raise ValidationFailed(
            f"{HEADER} must be 1 to {KEY_MAX_LENGTH} visible ASCII characters",
            {HEADER: f"1 to {KEY_MAX_LENGTH} visible ASCII characters"},
        )
    return key


@dataclass(frozen=True)
class Answer:
    """A response as stored for replay: status and body bytes (JSON, or empty)."""

    status: int
    body: bytes = b""


@dataclass(frozen=True)
class IdempotencyRecord:
    """A key of one user of one tenant, and what became of its request."""

    id: str  # derived from tenant, user and key: see `record_id`
    tenant_id: str
    user_id: str
    fingerprint: str
    lease_token: str  # whose claim it is; renewed by every claim
    lease_until: datetime
    expires_at: datetime
    status: str = IN_PROGRESS
    answer: Answer | None = None

    def claimed(self, fingerprint: str, now: datetime) -> IdempotencyRecord:
        """A fresh claim of this key, by a new request."""
        return replace(
            self,
            fingerprint=fingerprint,
            lease_token=uuid.uuid4().hex,
            lease_until=now + LEASE,
            expires_at=now + KEY_LIFETIME,
            status=IN_PROGRESS,
            answer=None,
        )

    def completed(self, answer: Answer) -> IdempotencyRecord:
        return replace(self, status=DONE, answer=answer)

    def stored(self) -> dict[str, Any]:
        """The record as flat fields, as both backends store it (the answer in two fields)."""
        fields = {name: getattr(self, name) for name in STORED_FIELDS}
        fields["answer_status"] = self.answer.status if self.answer else None
        fields["answer_body"] = self.answer.body if self.answer else None
        return fields

    @classmethod
    def from_stored(cls, fields: Mapping[str, Any]) -> IdempotencyRecord:
        status, body = fields["answer_status"], fields["answer_body"]
        answer = None if status is None else Answer(int(status), bytes(body or b""))
        return cls(**{name: fields[name] for name in STORED_FIELDS}, answer=answer)


STORED_FIELDS = (
    "id",
    "tenant_id",
    "user_id",
    "fingerprint",
    "lease_token",
    "lease_until",
    "expires_at",
    "status",
)


def record_id(tenant_id: str, user_id: str, key: str) -> str:
    """A fixed-width id of a user's key (keys are per tenant and user; the id is safe in any
    database and as a Cosmos DB document id)."""
    return hashlib.sha256("\0".join((tenant_id, user_id, key)).encode()).hexdigest()


def new_record(
    tenant_id: str, user_id: str, key: str, fingerprint: str, now: datetime
) -> IdempotencyRecord:
    return IdempotencyRecord(
        id=record_id(tenant_id, user_id, key),
        tenant_id=tenant_id,
        user_id=user_id,
        fingerprint="",
        lease_token="",
        lease_until=now,
        expires_at=now,
    ).claimed(fingerprint, now)
