"""Use cases on the in-memory storage: the real services, each test in milliseconds.

The storage contract suite shows that the memory backend behaves as the real ones do; here the
services' rules are exercised on it without a database server.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from commons.data_access_layer.memory.unit_of_work import MemoryStorage
from commons.domain.audit import EventFilters, EventQuery
from commons.domain.catalog import ACTIVITY, CUSTOMER, PROJECT, TECHNOLOGY
from commons.domain.exceptions import (
    AlreadyExists,
    AlreadyStopped,
    Forbidden,
    OverlappingTimeEntry,
    RunningEntryExists,
)
from commons.domain.principal import ADMIN_GROUP, Identity, Principal
from commons.domain.time_entries import TimeEntryQuery
from commons.domain.time_windows import EARLIEST, LATEST, Window
from commons.services import catalog, time_entries, users

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def tenant() -> str:
    return f"tenant-{uuid.uuid4()}"


@pytest.fixture
def admin(storage: MemoryStorage, tenant: str) -> Principal:
    identity = Identity(tenant, "admin", "admin@example.com", token_groups=frozenset({ADMIN_GROUP}))
    return users.resolve_principal(storage, identity)


@pytest.fixture
def member(storage: MemoryStorage, tenant: str) -> Principal:
    return users.resolve_principal(storage, Identity(tenant, "member", "member@example.com"))


@pytest.fixture
def work(storage: MemoryStorage, admin: Principal) -> dict[str, str]:
    """A project and an activity to log time against."""
    project = catalog.create_item(storage, PROJECT, admin, {"name": "Website"})
    activity = catalog.create_item(storage, ACTIVITY, admin, {"name": "Development"})
    return {"project_id": project.id, "activity_id": activity.id}


def at(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def test_a_started_timer_is_the_running_entry(storage, member, work):
    started = time_entries.create_entry(storage, member, {**work, "start_date": at(1)}, now=NOW)

    running = time_entries.running_entry(storage, member)

    assert running is not None and running.id == started.id
    assert (running.project_name, running.activity_name) == ("Website", "Development")


def test_a_second_running_entry_is_rejected(storage, member, work):
    time_entries.create_entry(storage, member, {**work, "start_date": at(2)}, now=NOW)

    with pytest.raises(RunningEntryExists):
        time_entries.create_entry(storage, member, {**work, "start_date": at(1)}, now=NOW)


def test_a_stopped_timer_ends_now_and_no_longer_runs(storage, member, work):
    started = time_entries.create_entry(storage, member, {**work, "start_date": at(1)}, now=NOW)

    stopped = time_entries.stop_entry(storage, member, started.id, now=NOW)

    assert stopped.end_date == NOW
    assert time_entries.running_entry(storage, member) is None
    with pytest.raises(AlreadyStopped):
        time_entries.stop_entry(storage, member, started.id, now=NOW)


def test_a_new_timer_may_start_once_the_last_one_stopped(storage, member, work):
    first = time_entries.create_entry(storage, member, {**work, "start_date": at(2)}, now=NOW)
    time_entries.stop_entry(storage, member, first.id, now=at(1))

    second = time_entries.create_entry(storage, member, {**work, "start_date": at(1)}, now=NOW)

    assert time_entries.running_entry(storage, member).id == second.id


def test_an_entry_overlapping_another_is_refused(storage, member, work):
    logged = {**work, "start_date": at(3), "end_date": at(2)}
    time_entries.create_entry(storage, member, logged, now=NOW)

    with pytest.raises(OverlappingTimeEntry):
        overlapping = {**work, "start_date": at(2.5), "end_date": at(1.5)}
        time_entries.create_entry(storage, member, overlapping, now=NOW)


def test_an_entry_starting_when_another_ends_does_not_overlap(storage, member, work):
    time_entries.create_entry(storage, member, {**work, "start_date": at(3), "end_date": at(2)})

    after = time_entries.create_entry(
        storage, member, {**work, "start_date": at(2), "end_date": at(1)}
    )

    assert after.start_date == at(2)


def test_others_entries_never_overlap_the_callers(storage, admin, member, work):
    logged = {**work, "start_date": at(3), "end_date": at(2)}
    time_entries.create_entry(storage, admin, logged, now=NOW)

    assert time_entries.create_entry(storage, member, logged, now=NOW).owner_id == "member"


def test_parallel_timers_of_one_user_leave_one_running(storage, member, work):
    errors: list[Exception] = []

    def start() -> None:
        try:
            time_entries.create_entry(storage, member, {**work, "start_date": at(1)}, now=NOW)
        except RunningEntryExists as error:
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(errors) == 7
    with storage.unit_of_work() as uow:
        assert uow.time_entries.count(_everything(member)) == 1


def _everything(principal: Principal) -> TimeEntryQuery:
    return TimeEntryQuery(principal.tenant_id, Window(EARLIEST, LATEST), (principal.user_id,))


def test_only_the_owner_changes_an_entry(storage, admin, member, work):
    entry = time_entries.create_entry(storage, member, {**work, "start_date": at(1)}, now=NOW)

    with pytest.raises(Forbidden):
        time_entries.stop_entry(storage, admin, entry.id, now=NOW)


def test_an_admin_reads_a_members_entry_and_a_member_not_an_admins(storage, admin, member, work):
    mine = time_entries.create_entry(storage, member, {**work, "start_date": at(1)}, now=NOW)
    theirs = time_entries.create_entry(storage, admin, {**work, "start_date": at(1)}, now=NOW)

    assert time_entries.get_entry(storage, admin, mine.id).id == mine.id
    with pytest.raises(Forbidden):
        time_entries.get_entry(storage, member, theirs.id)


def test_only_admins_list_other_users_entries(storage, admin, member, work):
    time_entries.create_entry(storage, member, {**work, "start_date": at(1)}, now=NOW)
    everyone = time_entries.EntryFilters(user_ids=("*",), start_date=at(24), end_date=NOW)

    assert [e.owner_id for e in time_entries.list_entries(storage, admin, everyone)] == ["member"]
    with pytest.raises(Forbidden):
        time_entries.list_entries(storage, member, everyone)


@pytest.mark.parametrize(
    "kind, member_may", [(CUSTOMER, False), (PROJECT, False), (ACTIVITY, False), (TECHNOLOGY, True)]
)
def test_members_create_only_technologies_and_admins_everything(
    storage, admin, member, kind, member_may
):
    assert catalog.create_item(storage, kind, admin, {"name": "By admin"}).name == "By admin"
    if member_may:
        assert catalog.create_item(storage, kind, member, {"name": "By member"}).name == "By member"
    else:
        with pytest.raises(Forbidden):
            catalog.create_item(storage, kind, member, {"name": "By member"})


def test_a_member_may_not_grant_roles_and_an_admin_may(storage, admin, member):
    with pytest.raises(Forbidden):
        users.grant_role(storage, member, "member", "admin")

    promoted = users.grant_role(storage, admin, "member", "admin")

    assert ADMIN_GROUP in promoted.groups
    again = users.resolve_principal(
        storage, Identity(member.tenant_id, "member", "member@example.com")
    )
    assert again.is_admin


def test_a_taken_name_is_refused_in_any_case(storage, admin):
    catalog.create_item(storage, CUSTOMER, admin, {"name": "Acme"})

    with pytest.raises(AlreadyExists):
        catalog.create_item(storage, CUSTOMER, admin, {"name": "ACME "})


def test_each_change_is_recorded_in_the_audit_log_once(storage, member, work):
    entry = time_entries.create_entry(storage, member, {**work, "start_date": at(1)}, now=NOW)
    time_entries.stop_entry(storage, member, entry.id, now=NOW)

    first, again = storage.dispatch_changes(), storage.dispatch_changes()

    assert (first.delivered, again.delivered) == (4, 0)  # the catalog's two, then start, stop
    with storage.unit_of_work() as uow:
        log = uow.events.page(EventQuery(member.tenant_id, EventFilters(item_id=entry.id)))
    assert [event.action for event in log] == ["stop", "create"]


def test_the_outbox_status_counts_the_changes_still_to_deliver(storage, member, work):
    assert storage.outbox_status().pending == 2  # the catalog's two
    time_entries.create_entry(storage, member, {**work, "start_date": at(1)}, now=NOW)

    waiting = storage.outbox_status()
    storage.dispatch_changes()

    assert (waiting.pending, waiting.parked) == (3, 0)
    with storage.unit_of_work() as uow:
        first = uow.events.page(EventQuery(member.tenant_id, EventFilters()))[-1]
    assert waiting.oldest_pending_at == first.date
    assert storage.outbox_status().pending == 0
    assert storage.outbox_status().oldest_pending_at is None


def test_a_failed_unit_of_work_changes_nothing(storage, member):
    with pytest.raises(RuntimeError), storage.unit_of_work(write=True) as uow:
        uow.catalog(CUSTOMER).add(
            CUSTOMER.entity(id="c1", tenant_id=member.tenant_id, name="Half done")
        )
        raise RuntimeError("boom")

    assert catalog.list_items(storage, CUSTOMER, member, {}) == []


def test_a_unit_of_work_reads_what_was_there_when_it_began(storage, admin):
    catalog.create_item(storage, CUSTOMER, admin, {"name": "Before"})
    with storage.unit_of_work(snapshot=True) as reader:
        catalog.create_item(storage, CUSTOMER, admin, {"name": "After"})
        seen = [c.name for c in reader.catalog(CUSTOMER).list(admin.tenant_id, {})]

    assert seen == ["Before"]
    assert len(catalog.list_items(storage, CUSTOMER, admin, {})) == 2


def test_a_read_record_is_a_copy_the_caller_may_change(storage, admin):
    project = catalog.create_item(
        storage, PROJECT, admin, {"name": "Web", "technologies": ["python"]}
    )
    project.technologies.append("changed behind the storage's back")

    assert catalog.get_item(storage, PROJECT, admin, project.id).technologies == ["python"]
