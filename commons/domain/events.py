"""Change events: what happened to which record, by whom, in which tenant.

Each is written with the change itself, in the same unit of work: an outbox row on SQL, a change
document in the record's transactional batch on Cosmos DB (the record also carries its latest
change in `_last_event_ctx`). Consumers turn them into the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class RecordChanged:
    tenant_id: str
    user_id: str
    container_id: str
    item_id: str
    description: str
    session_id: str | None = None

    action: ClassVar[str] = "update"

    def context(self) -> dict[str, str | None]:
        """The event as Cosmos DB documents carry it in `_last_event_ctx`."""
        return {
            "user_id": self.user_id,
            "tenant_id": self.tenant_id,
            "action": self.action,
            "description": self.description,
            "container_id": self.container_id,
            "session_id": self.session_id,
        }


@dataclass(frozen=True)
class RecordCreated(RecordChanged):
    action: ClassVar[str] = "create"


@dataclass(frozen=True)
class RecordUpdated(RecordChanged):
    action: ClassVar[str] = "update"


@dataclass(frozen=True)
class RecordArchived(RecordChanged):
    action: ClassVar[str] = "archive"


@dataclass(frozen=True)
class RecordDeleted(RecordChanged):
    action: ClassVar[str] = "delete"


@dataclass(frozen=True)
class TimeEntryStopped(RecordChanged):
    action: ClassVar[str] = "stop"


@dataclass(frozen=True)
class TimeEntryRestarted(RecordChanged):
    action: ClassVar[str] = "restart"
