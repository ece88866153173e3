"""The catalog: activities, customers, project types, projects and technologies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from commons.domain.exceptions import ValidationFailed

ACTIVE = "active"
INACTIVE = "inactive"
STATUSES = (ACTIVE, INACTIVE)
# Longest values, in characters (code points), on every backend; SQL columns are sized from them.
NAME_MAX_LENGTH = 50
DESCRIPTION_MAX_LENGTH = 250  # customers, project types, projects
ACTIVITY_DESCRIPTION_MAX_LENGTH = 1500


def normalized_name(name: str) -> str:
    """The form in which names are compared: trimmed and case-folded."""
    return name.strip().casefold()


def clean_name(name: object) -> str:
    """Trim a name, refusing one that is blank."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("The name must not be blank", {"name": "must not be blank"})
    return name.strip()


@dataclass
class CatalogItem:
    id: str
    tenant_id: str
    name: str
    deleted: datetime | None = None
    # Set by the storage at each write: when the record was created, and last changed.
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class Activity(CatalogItem):
    description: str | None = None
    status: str = ACTIVE


@dataclass
class Customer(CatalogItem):
    description: str | None = None
    status: str = ACTIVE


@dataclass
class ProjectType(CatalogItem):
    description: str | None = None
    customer_id: str | None = None
    parent_id: str | None = None


@dataclass
class NamedSummary:
    name: str
    description: str | None = None


@dataclass
class Project(CatalogItem):
    description: str | None = None
    customer_id: str | None = None
    project_type_id: str | None = None
    technologies: list[str] = field(default_factory=list)
    status: str = ACTIVE
    # Read model: filled by the repository from the referenced records.
    customer: NamedSummary | None = None
    project_type: NamedSummary | None = None

    @property
    def customer_name(self) -> str | None:
        return self.customer.name if self.customer else None


@dataclass
class Technology(CatalogItem):
    first_use_time_entry_id: str | None = None
    creation_date: datetime | None = None


@dataclass(frozen=True)
class Reference:
    """A field naming another catalog record that must exist in the same tenant."""

    field: str
    kind: str


@dataclass(frozen=True)
class CatalogKind:
    """What distinguishes one kind of catalog record from another."""

    key: str
    label: str
    entity: type[CatalogItem]
    archivable: bool
    members_may_create: bool = False
    name_scope: str | None = None
    references: tuple[Reference, ...] = ()

    def uniqueness_scope(self, item: CatalogItem) -> str:
        """The value within which the item's name must be unique ('' = the whole tenant)."""
        return (getattr(item, self.name_scope) or "") if self.name_scope else ""


ACTIVITY = CatalogKind("activity", "Activity", Activity, archivable=True)
CUSTOMER = CatalogKind("customer", "Customer", Customer, archivable=True)
PROJECT_TYPE = CatalogKind(
    "project_type",
    "Project type",
    ProjectType,
    archivable=False,
    name_scope="customer_id",
    references=(Reference("customer_id", "customer"), Reference("parent_id", "project_type")),
)
PROJECT = CatalogKind(
    "project",
    "Project",
    Project,
    archivable=True,
    name_scope="customer_id",
    references=(Reference("customer_id", "customer"), Reference("project_type_id", "project_type")),
)
TECHNOLOGY = CatalogKind(
    "technology", "Technology", Technology, archivable=False, members_may_create=True
)
KINDS = {kind.key: kind for kind in (ACTIVITY, CUSTOMER, PROJECT_TYPE, PROJECT, TECHNOLOGY)}
