"""Users as the API knows them: recorded from their tokens, with tenant-local group grants."""

from __future__ import annotations

from dataclasses import dataclass, field

from commons.domain.principal import ADMIN_GROUP, TESTER_GROUP


@dataclass
class User:
    id: str
    tenant_id: str
    email: str | None = None
    name: str | None = None
    token_groups: frozenset[str] = field(default_factory=frozenset)
    granted_groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def groups(self) -> list[str]:
        return sorted(self.token_groups | self.granted_groups)

    @property
    def roles(self) -> list[str]:
        return [group for group in (ADMIN_GROUP, TESTER_GROUP) if group in self.groups]

    @property
    def is_tester(self) -> bool:
        return TESTER_GROUP in self.groups
