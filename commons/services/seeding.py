"""Realistic fake data for a tenant: a catalog, users and their timelines, written in bulk."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from commons.data_access_layer.ports import Storage
from commons.domain.catalog import (
    ACTIVITY,
    CUSTOMER,
    PROJECT,
    PROJECT_TYPE,
    TECHNOLOGY,
    Activity,
    CatalogItem,
    CatalogKind,
    Customer,
    Project,
    ProjectType,
    Technology,
)
from commons.domain.exceptions import Conflict
from commons.domain.time_entries import TimeEntry
from commons.domain.users import User

CUSTOMERS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka"]
PROJECT_KINDS = ["Web portal", "Mobile app", "Data platform"]
PROJECT_TYPES = ["Fixed price", "Time and materials", "Retainer"]
ACTIVITIES = [
    "Development",
    "Code review",
    "Meetings",
    "Design",
    "Testing",
    "Support",
    "Research",
    "Documentation",
]
TECHNOLOGIES = [
    "python",
    "flask",
    "postgresql",
    "react",
    "typescript",
    "azure",
    "docker",
    "kubernetes",
    "kotlin",
    "swift",
    "terraform",
    "redis",
]
FIRST_NAMES = ["Ana", "Luis", "Maria", "John", "Wei", "Fatima", "Olga", "Kenji", "Sara", "Omar"]
LAST_NAMES = ["Garcia", "Smith", "Chen", "Okafor", "Novak", "Sato", "Silva", "Haddad", "Berg"]
BATCH = 20_000


@dataclass(frozen=True)
class SeedReport:
    users: int
    entries: int
    catalog: int


def seed_tenant(
    storage: Storage,
    tenant_id: str,
    users: int,
    days: int,
    seed: int = 1,
    today: date | None = None,
    progress: Callable[[int], None] = lambda written: None,
) -> SeedReport:
    """Fill an empty tenant: a catalog, `users` people, and `days` of their working days.

    Each person works Monday to Friday, three to five entries a day, one after another with
    short breaks: no entry overlaps another, and none is in the future.
    """
    rng = random.Random(seed)
    catalog = _catalog(tenant_id, rng)
    with storage.unit_of_work(write=True) as uow:
        if uow.catalog(ACTIVITY).list(tenant_id, {}):
            raise Conflict(f"Tenant {tenant_id} already has a catalog; seed an empty tenant")
        for kind, item in catalog:
            uow.catalog(kind).add(item)
        people = [_user(tenant_id, number) for number in range(1, users + 1)]
        for person in people:
            uow.users.record(person)
        uow.commit()
    projects = [item for kind, item in catalog if kind is PROJECT]
    activities = [item for kind, item in catalog if kind is ACTIVITY]
    technologies = [item.name for kind, item in catalog if kind is TECHNOLOGY]
    last_day = (today or datetime.now(UTC).date()) - timedelta(days=1)
    written = 0
    batch: list[TimeEntry] = []
    for person in people:
        for entry in _timeline(rng, person, last_day, days, projects, activities, technologies):
            batch.append(entry)
            if len(batch) >= BATCH:
                written += _write(storage, batch)
                progress(written)
    written += _write(storage, batch)
    progress(written)
    return SeedReport(users=users, entries=written, catalog=len(catalog))


def _write(storage: Storage, batch: list[TimeEntry]) -> int:
    with storage.unit_of_work(write=True) as uow:
        uow.time_entries.add_many(batch)
        uow.commit()
    count = len(batch)
    batch.clear()
    return count


def _catalog(tenant_id: str, rng: random.Random) -> list[tuple[CatalogKind, CatalogItem]]:
    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    items: list[tuple[CatalogKind, CatalogItem]] = []
    project_types = [ProjectType(new_id(), tenant_id, name) for name in PROJECT_TYPES]
    items += [(PROJECT_TYPE, item) for item in project_types]
    items += [(ACTIVITY, Activity(new_id(), tenant_id, name)) for name in ACTIVITIES]
    now = datetime.now(UTC)
    items += [
        (TECHNOLOGY, Technology(new_id(), tenant_id, n, creation_date=now)) for n in TECHNOLOGIES
    ]
    for customer_name in CUSTOMERS:
        customer = Customer(new_id(), tenant_id, customer_name, description=f"{customer_name} Inc.")
        items.append((CUSTOMER, customer))
        for kind in PROJECT_KINDS:
            project = Project(
                new_id(),
                tenant_id,
                f"{customer_name} {kind}",
                customer_id=customer.id,
                project_type_id=rng.choice(project_types).id,
                technologies=rng.sample(TECHNOLOGIES, 3),
            )
            items.append((PROJECT, project))
    return items


def _user(tenant_id: str, number: int) -> User:
    first = FIRST_NAMES[number % len(FIRST_NAMES)]
    last = LAST_NAMES[number // len(FIRST_NAMES) % len(LAST_NAMES)]
    return User(
        id=f"seed-user-{number:05d}",
        tenant_id=tenant_id,
        email=f"{first.lower()}.{last.lower()}.{number}@example.com",
        name=f"{first} {last}",
    )


def _timeline(
    rng: random.Random,
    person: User,
    last_day: date,
    days: int,
    projects: list[CatalogItem],
    activities: list[CatalogItem],
    technologies: list[str],
) -> Iterator[TimeEntry]:
    assigned = rng.sample(projects, 3)  # people work on a few projects each
    for offset in range(days - 1, -1, -1):
        day = last_day - timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        moment = datetime.combine(day, time(8), tzinfo=UTC) + timedelta(minutes=rng.randrange(90))
        for _ in range(rng.randint(3, 5)):
            end = moment + timedelta(minutes=rng.randrange(30, 150, 5))
            project = rng.choice(assigned)
            yield TimeEntry(
                id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                tenant_id=person.tenant_id,
                owner_id=person.id,
                project_id=project.id,
                activity_id=rng.choice(activities).id,
                start_date=moment,
                end_date=end,
                description=f"{rng.choice(ACTIVITIES)} for {project.name}",
                uri=f"TT-{rng.randrange(1, 5000)}" if rng.random() < 0.4 else None,
                technologies=rng.sample(technologies, rng.randint(0, 2)),
            )
            moment = end + timedelta(minutes=rng.randrange(0, 30, 5))
