"""Users as the API knows them: recorded from their tokens, with tenant-local group grants."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from commons.domain.exceptions import AlreadyExists, ValidationFailed
from commons.domain.principal import (
    ADMIN_GROUP,
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    TESTER_GROUP,
    USER_NAME_MAX_LENGTH,
)

NOT_AN_EMAIL = "must be an email address, like someone@example.com"


@dataclass
class User:
    id: str
    tenant_id: str
    email: str | None = None
    name: str | None = None
    token_groups: frozenset[str] = field(default_factory=frozenset)
    granted_groups: frozenset[str] = field(default_factory=frozenset)
    # Set by the storage: when the user was first recorded, and last changed.
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def groups(self) -> list[str]:
        return sorted(self.token_groups | self.granted_groups)

    @property
    def roles(self) -> list[str]:
        return [group for group in (ADMIN_GROUP, TESTER_GROUP) if group in self.groups]

    @property
    def is_tester(self) -> bool:
        return TESTER_GROUP in self.groups


def invited_user(tenant_id: str, email: object, name: object = None) -> User:
    """A user an admin adds before their first login, under a new id until they log in."""
    errors = {}
    if not isinstance(email, str) or not re.fullmatch(EMAIL_PATTERN, email):
        errors["email"] = NOT_AN_EMAIL
    elif len(email) > EMAIL_MAX_LENGTH:
        errors["email"] = f"must be at most {EMAIL_MAX_LENGTH} characters"
    if name is not None and not isinstance(name, str):
        errors["name"] = "must be a string"
    elif isinstance(name, str) and len(name) > USER_NAME_MAX_LENGTH:
        errors["name"] = f"must be at most {USER_NAME_MAX_LENGTH} characters"
    if errors:
        raise ValidationFailed("Input payload validation failed", errors)
    assert isinstance(email, str) and (name is None or isinstance(name, str))
    return User(id=str(uuid.uuid4()), tenant_id=tenant_id, email=email, name=name or None)


def email_key(email: str) -> str:
    """What two spellings of one address have in common: its case-folded form, hashed so that
    the key has one length whatever the address (case folding can lengthen it)."""
    return hashlib.sha256(email.casefold().encode()).hexdigest()


def email_already_used() -> AlreadyExists:
    """The refusal of a second user with an email the tenant already has."""
    return AlreadyExists("A user with that email already exists", {"email": "already exists"})
