"""Who is calling: identity from a verified token, roles from the token and tenant grants."""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN_GROUP = "time-tracker-admin"
TESTER_GROUP = "time-tracker-tester"
GROUPS = (ADMIN_GROUP, TESTER_GROUP)
ROLE_GROUPS = {"admin": ADMIN_GROUP, "test": TESTER_GROUP}
TENANT_ID_MAX_LENGTH = 64
USER_ID_MAX_LENGTH = 128
# RFC 5321 allows 64 + 1 + 255 characters; longer is no address.
EMAIL_MAX_LENGTH = 320
# An address as admins type it: one @ with text, and no spaces, on both sides.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
USER_NAME_MAX_LENGTH = 200
GROUP_NAME_MAX_LENGTH = 64


@dataclass(frozen=True)
class Identity:
    """The verified claims of a token, reduced to what the product needs."""

    tenant_id: str
    user_id: str
    email: str | None = None
    name: str | None = None
    token_groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Principal:
    """The acting user: identity plus every group they belong to in their tenant."""

    tenant_id: str
    user_id: str
    email: str | None = None
    name: str | None = None
    groups: frozenset[str] = field(default_factory=frozenset)
    session_id: str | None = None  # ties the changes of one request together in the audit log

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    @property
    def is_tester(self) -> bool:
        return TESTER_GROUP in self.groups
