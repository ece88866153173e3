"""Realistic fake data for a tenant: a catalog, users and their timelines up to now, in bulk.

A timeline is a pure function of the seed, the person and the day (each day draws from its own
random generator), so seeding a tenant again later extends every timeline to the new `now`
without rewriting what is there: the same seed gives the same entries for the same days.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from commons.data_access_layer.ports import Storage, UnitOfWork
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
from commons.domain.time_entries import TimeEntry, TimeEntryQuery
from commons.domain.time_windows import Window
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
# The people whose timer is running now: the first ones by number (seed-user-00001 ...), so
# the last fifth never has one and can start a timer (the benchmark's S2 writes as them).
RUNNING_SHARE = 0.8
# Nothing ends or starts later than this before `now` (the API refuses entries in the future).
MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class SeedReport:
    users: int
    entries: int  # written by this call
    catalog: int  # catalog records written by this call (0 when extending)
    stopped: int = 0  # running entries of an earlier call that have ended by now
    extended: bool = False  # the tenant was seeded before: its timelines were extended
    running: int = 0  # people whose timer runs now


def seed_tenant(
    storage: Storage,
    tenant_id: str,
    users: int,
    days: int,
    seed: int = 1,
    now: datetime | None = None,
    progress: Callable[[int], None] = lambda written: None,
    running_share: float = RUNNING_SHARE,
) -> SeedReport:
    """Fill a tenant with a catalog, `users` people and their working days up to `now`, or
    bring a tenant this seed filled before up to `now`.

    Each person works Monday to Friday (and today, whatever day it is, so that the current day
    and month are never empty), three to five entries a day from about 08:00 UTC, one after
    another with short breaks: no entry overlaps another, and none is in the future. Today's
    entries end before `now` (moved earlier when it is too early for one), and the first
    `running_share` of the people have a timer running: the block of the day in progress, or
    one started after their last. A new person's timeline starts `days` days back, today
    included.

    Seeding again (the same seed; a catalog this seed did not make is refused) adds what the
    timelines hold from each person's latest entry up to the new `now`: a running entry ends
    at its planned length once that has passed, the days since are filled, and today's
    entries and running timers are made as above. Run twice with the same `now`, the second
    call writes nothing.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    rng = random.Random(seed)
    catalog = _catalog(tenant_id, rng, now)
    seeded_activities = {item.id for kind, item in catalog if kind is ACTIVITY}
    people = [_user(tenant_id, number) for number in range(1, users + 1)]
    with storage.unit_of_work(write=True) as uow:
        activities_there = {item.id for item in uow.catalog(ACTIVITY).list(tenant_id, {})}
        extended = bool(activities_there)
        if extended and activities_there != seeded_activities:
            raise Conflict(
                f"Tenant {tenant_id} already has a catalog that `seed --seed {seed}` did not"
                " make; seed an empty tenant"
            )
        if not extended:
            for kind, item in catalog:
                uow.catalog(kind).add(item)
        known = {user.id for user in uow.users.list(tenant_id)} if extended else set()
        for person in people:
            if person.id not in known:
                uow.users.record(person)
        uow.commit()
    projects = [item for kind, item in catalog if kind is PROJECT]
    activities = [item for kind, item in catalog if kind is ACTIVITY]
    technologies = [item.name for kind, item in catalog if kind is TECHNOLOGY]
    timers = int(running_share * users + 1e-9)
    first_day = (now - MARGIN).date() - timedelta(days=days - 1)
    written = stopped = running = 0
    batch: list[TimeEntry] = []
    for number, person in enumerate(people, start=1):
        tail = _Tail(first_day)
        if extended:
            tail = _read_tail(storage, tenant_id, person.id, seed, now, first_day)
            stopped += tail.stopped
        timeline = _Timeline(seed, person, projects, activities, technologies)
        for entry in timeline.entries(tail, now, timer=number <= timers):
            running += entry.end_date is None
            batch.append(entry)
            if len(batch) >= BATCH:
                written += _write(storage, batch)
                progress(written)
        running += tail.running
    written += _write(storage, batch)
    progress(written)
    return SeedReport(
        users=users,
        entries=written,
        catalog=0 if extended else len(catalog),
        stopped=stopped,
        extended=extended,
        running=running,
    )


def _write(storage: Storage, batch: list[TimeEntry]) -> int:
    if not batch:
        return 0
    with storage.unit_of_work(write=True) as uow:
        uow.time_entries.add_many(batch)
        uow.commit()
    count = len(batch)
    batch.clear()
    return count


def _catalog(
    tenant_id: str, rng: random.Random, now: datetime
) -> list[tuple[CatalogKind, CatalogItem]]:
    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    items: list[tuple[CatalogKind, CatalogItem]] = []
    project_types = [ProjectType(new_id(), tenant_id, name) for name in PROJECT_TYPES]
    items += [(PROJECT_TYPE, item) for item in project_types]
    items += [(ACTIVITY, Activity(new_id(), tenant_id, name)) for name in ACTIVITIES]
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


@dataclass
class _Tail:
    """Where a person's stored timeline ends: new entries start on `day`, not before `floor`."""

    day: date
    floor: datetime | None = None
    ids: frozenset[str] = frozenset()  # entries already there on and after `day`
    running: int = 0  # 1: a running entry that has not ended yet (nothing may follow it)
    stopped: int = 0  # 1: a running entry ended now


def _read_tail(
    storage: Storage, tenant_id: str, owner_id: str, seed: int, now: datetime, first_day: date
) -> _Tail:
    """The end of a person's stored timeline; a running entry past its length is ended."""
    with storage.unit_of_work(write=True) as uow:
        latest = uow.time_entries.previous(tenant_id, owner_id, now + timedelta(days=1), "")
        if latest is None:
            return _Tail(first_day)
        day = latest.start_date.astimezone(UTC).date()
        there = _entries_since(uow, tenant_id, owner_id, day, now)
        ids = frozenset(entry.id for entry in there)
        current = next((entry for entry in there if entry.end_date is None), None)
        stopped = 0
        if current is not None:
            end = current.start_date + _running_length(seed, current.id)
            if end > now - MARGIN:
                return _Tail(day, ids=ids, running=1)
            uow.time_entries.update(replace(current, end_date=end))
            uow.commit()
            stopped = 1
        ends = [entry.end_date for entry in there if entry.end_date is not None]
        if current is not None:
            ends.append(current.start_date + _running_length(seed, current.id))
        return _Tail(day, floor=max(ends), ids=ids, stopped=stopped)


def _entries_since(
    uow: UnitOfWork, tenant_id: str, owner_id: str, day: date, now: datetime
) -> list[TimeEntry]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    window = Window(start, now + timedelta(days=1))
    return uow.time_entries.list(TimeEntryQuery(tenant_id, window, owner_ids=(owner_id,)))


def _running_length(seed: int, entry_id: str) -> timedelta:
    """How long a running entry runs before seeding again ends it."""
    return timedelta(minutes=random.Random(f"{seed}/{entry_id}").randrange(30, 150, 5))


class _Timeline:
    """A person's working days: each from its own generator, so any day can be made alone."""

    def __init__(
        self,
        seed: int,
        person: User,
        projects: list[CatalogItem],
        activities: list[CatalogItem],
        technologies: list[str],
    ) -> None:
        self.seed, self.person = seed, person
        self.projects = random.Random(f"{seed}/{person.id}").sample(projects, 3)
        self.activities, self.technologies = activities, technologies

    def entries(self, tail: _Tail, now: datetime, timer: bool) -> Iterator[TimeEntry]:
        """The entries from the tail up to `now`, ending with a running one when `timer`."""
        if tail.running:
            return
        ceiling = now - MARGIN
        today = ceiling.date()
        floor = tail.floor
        day = tail.day
        while day < today:
            if day.weekday() < 5:
                for entry in self.plan(day)[:-1]:
                    if entry.id not in tail.ids and (floor is None or entry.start_date >= floor):
                        yield entry
                        floor = entry.end_date
            day += timedelta(days=1)
        if day == today:
            yield from self.today(today, tail.ids, floor, ceiling, timer)

    def today(
        self,
        today: date,
        ids: frozenset[str],
        floor: datetime | None,
        ceiling: datetime,
        timer: bool,
    ) -> Iterator[TimeEntry]:
        """Today: the blocks that ended before `ceiling`, then (timer) the one running now."""
        midnight = datetime.combine(today, time(0), tzinfo=UTC)
        lower = max(midnight, floor) if floor else midnight
        plan = [entry for entry in self.plan(today) if entry.id not in ids]
        if not plan:
            return
        if lower == midnight and plan[0].end_date is not None and plan[0].end_date > ceiling:
            # Too early for the day's first block to have ended: the day started earlier.
            shift = plan[0].end_date - ceiling
            plan = [
                replace(
                    entry,
                    start_date=entry.start_date - shift,
                    end_date=entry.end_date - shift if entry.end_date else None,
                )
                for entry in plan
            ]
            plan[0] = replace(plan[0], start_date=max(plan[0].start_date, lower))
        for index, entry in enumerate(plan):
            assert entry.end_date is not None
            if entry.start_date < lower:
                continue
            last = index == len(plan) - 1  # the spare block: only ever a running one
            if not last and entry.end_date <= ceiling:
                if entry.end_date > entry.start_date:
                    yield entry
                    lower = entry.end_date
                continue
            if timer:
                start = max(lower, min(entry.start_date, ceiling))
                yield replace(entry, start_date=start, end_date=None)
            return

    def plan(self, day: date) -> list[TimeEntry]:
        """The day's three to five blocks and a spare one after them (a timer left running)."""
        rng = random.Random(f"{self.seed}/{self.person.id}/{day.isoformat()}")
        moment = datetime.combine(day, time(8), tzinfo=UTC) + timedelta(minutes=rng.randrange(90))
        blocks = []
        for _ in range(rng.randint(3, 5) + 1):
            end = moment + timedelta(minutes=rng.randrange(30, 150, 5))
            project = rng.choice(self.projects)
            blocks.append(
                TimeEntry(
                    id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    tenant_id=self.person.tenant_id,
                    owner_id=self.person.id,
                    project_id=project.id,
                    activity_id=rng.choice(self.activities).id,
                    start_date=moment,
                    end_date=end,
                    description=f"{rng.choice(ACTIVITIES)} for {project.name}",
                    uri=f"TT-{rng.randrange(1, 5000)}" if rng.random() < 0.4 else None,
                    technologies=rng.sample(self.technologies, rng.randint(0, 2)),
                )
            )
            moment = end + timedelta(minutes=rng.randrange(0, 30, 5))
        return blocks
