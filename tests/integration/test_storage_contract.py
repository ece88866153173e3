"""The storage contract: every backend's repositories and unit of work behave the same.

The suite talks to the ports only (`storage.unit_of_work()`, repositories), so it runs unchanged
against each backend the `storage` fixture provides.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from commons.domain.audit import EventFilters, EventQuery, event_position
from commons.domain.catalog import (
    ACTIVITY,
    CUSTOMER,
    PROJECT,
    PROJECT_TYPE,
    Activity,
    Customer,
    Project,
    ProjectType,
)
from commons.domain.events import RecordCreated
from commons.domain.exceptions import AlreadyExists
from commons.domain.sync import SyncQuery, update_position
from commons.domain.time_entries import TimeEntry, TimeEntryQuery, entry_position
from commons.domain.time_windows import EARLIEST, LATEST, Window
from commons.domain.users import User, invited_user
from tests.backends import SQL_BACKENDS

pytestmark = pytest.mark.also_in_process


def activity(tenant, name="Development", **fields):
    return Activity(id=str(uuid.uuid4()), tenant_id=tenant, name=name, **fields)


def unstamped(record):
    """The record without the timestamps the storage set when it was written."""
    return dataclasses.replace(record, created_at=None, updated_at=None)


def add(storage, kind, item):
    with storage.unit_of_work(write=True) as uow:
        uow.catalog(kind).add(item)
        uow.commit()
    return item


def test_an_added_record_reads_back_equal(storage, tenant):
    item = add(storage, ACTIVITY, activity(tenant, description="Writing code"))
    with storage.unit_of_work() as uow:
        assert unstamped(uow.catalog(ACTIVITY).get(tenant, item.id)) == item


def test_reads_never_cross_tenants(storage, tenant):
    item = add(storage, ACTIVITY, activity(tenant))
    other = f"other-{uuid.uuid4()}"
    with storage.unit_of_work() as uow:
        assert uow.catalog(ACTIVITY).get(other, item.id) is None
        assert uow.catalog(ACTIVITY).list(other, {}) == []


def test_nothing_is_stored_without_commit(storage, tenant):
    item = activity(tenant)
    with storage.unit_of_work(write=True) as uow:
        uow.catalog(ACTIVITY).add(item)
    with storage.unit_of_work() as uow:
        assert uow.catalog(ACTIVITY).get(tenant, item.id) is None


def test_a_failure_in_a_unit_of_work_stores_none_of_it(storage, tenant):
    first, second = activity(tenant, "One"), activity(tenant, "Two")
    with pytest.raises(RuntimeError), storage.unit_of_work(write=True) as uow:
        uow.catalog(ACTIVITY).add(first)
        uow.catalog(ACTIVITY).add(second)
        raise RuntimeError("boom")
    with storage.unit_of_work() as uow:
        assert uow.catalog(ACTIVITY).list(tenant, {}) == []


def test_a_commit_that_fails_midway_stores_none_of_it_nor_its_events(storage, tenant):
    """The second of three writes is refused at commit (a taken name): the first and the third,
    and the change events of all three, are not stored either (on Cosmos DB: one
    transactional batch)."""
    taken = add(storage, ACTIVITY, activity(tenant, "Taken"))
    writes = [activity(tenant, "Fresh"), activity(tenant, "TAKEN"), activity(tenant, "Other")]
    with pytest.raises(AlreadyExists), storage.unit_of_work(write=True) as uow:
        for item in writes:
            uow.catalog(ACTIVITY).add(item)
            uow.add_event(RecordCreated(tenant, "someone", "activity", item.id, "Created"))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert [unstamped(item) for item in uow.catalog(ACTIVITY).list(tenant, {})] == [taken]
    assert tenant_events(storage, tenant) == []


def tenant_events(storage, tenant):
    """The tenant's audit log once every change has been dispatched."""
    storage.dispatch_changes()
    with storage.unit_of_work() as uow:
        return uow.events.page(EventQuery(tenant_id=tenant, filters=EventFilters()))


def test_a_taken_name_is_refused_whatever_its_case(storage, tenant):
    add(storage, ACTIVITY, activity(tenant, "Meetings"))
    with pytest.raises(AlreadyExists):
        add(storage, ACTIVITY, activity(tenant, "MEETINGS"))


def test_names_differing_only_in_accents_are_different(storage, tenant):
    add(storage, ACTIVITY, activity(tenant, "Cafe"))
    add(storage, ACTIVITY, activity(tenant, "Café"))
    with storage.unit_of_work() as uow:
        assert sorted(a.name for a in uow.catalog(ACTIVITY).list(tenant, {})) == ["Cafe", "Café"]


def test_a_soft_deleted_record_disappears_and_frees_its_name(storage, tenant):
    first = add(
        storage, PROJECT_TYPE, ProjectType(id=str(uuid.uuid4()), tenant_id=tenant, name="Old")
    )
    with storage.unit_of_work(write=True) as uow:
        uow.catalog(PROJECT_TYPE).update(dataclasses.replace(first, deleted=datetime.now(UTC)))
        uow.commit()
    second = add(
        storage, PROJECT_TYPE, ProjectType(id=str(uuid.uuid4()), tenant_id=tenant, name="old")
    )
    with storage.unit_of_work() as uow:
        assert uow.catalog(PROJECT_TYPE).get(tenant, first.id) is None
        assert [p.id for p in uow.catalog(PROJECT_TYPE).list(tenant, {})] == [second.id]


def test_lists_filter_by_field_and_sort_by_name(storage, tenant):
    add(
        storage,
        CUSTOMER,
        Customer(id=str(uuid.uuid4()), tenant_id=tenant, name="b", status="inactive"),
    )
    a = add(storage, CUSTOMER, Customer(id=str(uuid.uuid4()), tenant_id=tenant, name="A"))
    c = add(storage, CUSTOMER, Customer(id=str(uuid.uuid4()), tenant_id=tenant, name="c"))
    with storage.unit_of_work() as uow:
        assert [x.id for x in uow.catalog(CUSTOMER).list(tenant, {"status": "active"})] == [
            a.id,
            c.id,
        ]


def test_projects_read_with_their_customer(storage, tenant):
    customer = add(
        storage,
        CUSTOMER,
        Customer(id=str(uuid.uuid4()), tenant_id=tenant, name="Umbrella", description="Pharma"),
    )
    project = add(
        storage,
        PROJECT,
        Project(
            id=str(uuid.uuid4()),
            tenant_id=tenant,
            name="Hive",
            customer_id=customer.id,
            technologies=["c"],
        ),
    )
    with storage.unit_of_work() as uow:
        stored = uow.catalog(PROJECT).get(tenant, project.id)
    assert stored.customer_name == "Umbrella"
    assert stored.customer.description == "Pharma"
    assert stored.technologies == ["c"]
    assert stored.project_type is None


def test_users_are_recorded_refreshed_and_granted_groups(storage, tenant):
    user = User(
        id="u1",
        tenant_id=tenant,
        email="a@example.com",
        name="A",
        token_groups=frozenset({"time-tracker-tester"}),
    )
    with storage.unit_of_work(write=True) as uow:
        uow.users.record(user)
        uow.users.record(dataclasses.replace(user, email="b@example.com"))
        uow.users.grant(tenant, "u1", "time-tracker-admin")
        uow.users.grant(tenant, "u1", "time-tracker-admin")
        uow.commit()
    with storage.unit_of_work() as uow:
        stored = uow.users.get(tenant, "u1")
        assert uow.users.get(f"other-{uuid.uuid4()}", "u1") is None
    assert stored.email == "b@example.com"
    assert stored.groups == ["time-tracker-admin", "time-tracker-tester"]
    with storage.unit_of_work(write=True) as uow:
        uow.users.revoke(tenant, "u1", "time-tracker-admin")
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.users.get(tenant, "u1").granted_groups == frozenset()
        assert [u.id for u in uow.users.list(tenant)] == ["u1"]


def test_testers_are_found_by_their_token_or_a_grant_and_only_them(storage, tenant):
    def user(user_id, *groups, email=None):
        return User(id=user_id, tenant_id=tenant, email=email, token_groups=frozenset(groups))

    other = f"other-{uuid.uuid4()}"
    with storage.unit_of_work(write=True) as uow:
        uow.users.record(user("by-token", "time-tracker-tester"))
        uow.users.record(user("by-grant"))
        uow.users.grant(tenant, "by-grant", "time-tracker-tester")
        uow.users.record(user("admin", "time-tracker-admin"))
        # The group's name in another field is no membership.
        uow.users.record(user("lookalike", email="time-tracker-tester@example.com"))
        uow.users.record(user("revoked"))
        uow.users.grant(tenant, "revoked", "time-tracker-tester")
        uow.users.revoke(tenant, "revoked", "time-tracker-tester")
        uow.users.record(
            User(id="elsewhere", tenant_id=other, token_groups=frozenset({"time-tracker-tester"}))
        )
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.users.tester_ids(tenant) == ["by-grant", "by-token"]
        assert uow.users.tester_ids(f"none-{uuid.uuid4()}") == []


def test_an_invited_user_is_claimed_once_by_a_login_with_their_email(storage, tenant):
    invited = invited_user(tenant, "Ana@Example.com", "Ana")
    with storage.unit_of_work(write=True) as uow:
        assert not uow.users.email_taken(tenant, "ana@example.com")
        uow.users.invite(invited)
        uow.users.grant(tenant, invited.id, "time-tracker-tester")
        uow.commit()
    with storage.unit_of_work(write=True) as uow, pytest.raises(AlreadyExists):
        uow.users.invite(invited_user(tenant, "ANA@example.com"))
        uow.commit()
    with storage.unit_of_work(write=True) as uow:
        assert uow.users.email_taken(tenant, "ana@EXAMPLE.com")
        assert not uow.users.email_taken(f"other-{uuid.uuid4()}", "ana@example.com")
        assert not uow.users.claim_invitation(User(id="u2", tenant_id=tenant, email="b@x.org"))
        assert uow.users.claim_invitation(User(id="u1", tenant_id=tenant, email="ana@example.com"))
        uow.commit()
    with storage.unit_of_work(write=True) as uow:
        assert not uow.users.claim_invitation(User(id="u3", tenant_id=tenant, email="ana@x.org"))
        assert not uow.users.claim_invitation(
            User(id="u3", tenant_id=tenant, email="ana@example.com")
        )
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.users.get(tenant, invited.id) is None
        claimed = uow.users.get(tenant, "u1")
        assert claimed is not None
        assert claimed.granted_groups == frozenset({"time-tracker-tester"})
        assert [u.id for u in uow.users.list(tenant)] == ["u1"]


def at(hour_minute: str) -> datetime:
    return datetime.fromisoformat(f"2026-03-10T{hour_minute}:00+00:00")


def time_entry(tenant, start, end=None, owner="u1", **fields):
    return TimeEntry(
        id=str(uuid.uuid4()),
        tenant_id=tenant,
        owner_id=owner,
        project_id=str(uuid.uuid4()),
        activity_id=str(uuid.uuid4()),
        start_date=start,
        end_date=end,
        **fields,
    )


def add_entries(storage, *entries):
    with storage.unit_of_work(write=True) as uow:
        for entry in entries:
            uow.time_entries.add(entry)
        uow.commit()


def test_a_time_entry_reads_back_equal_in_utc(storage, tenant):
    bogota = timezone(timedelta(hours=-5))
    entry = time_entry(
        tenant,
        datetime(2026, 3, 10, 9, 0, 0, 123456, tzinfo=bogota),
        datetime(2026, 3, 10, 10, 30, 15, 999999, tzinfo=bogota),
        description="Login page",
        uri="TT-42",
        technologies=["python", "react"],
        timezone_offset=300,
    )
    add_entries(storage, entry)

    with storage.unit_of_work() as uow:
        stored = uow.time_entries.get(tenant, entry.id)
        assert uow.time_entries.get(f"other-{uuid.uuid4()}", entry.id) is None

    assert unstamped(stored) == entry
    assert stored.start_date.isoformat() == "2026-03-10T14:00:00.123456+00:00"
    assert stored.end_date.isoformat() == "2026-03-10T15:30:15.999999+00:00"


@pytest.mark.parametrize(
    "start, end, overlaps",
    [
        ("08:00", "09:00", False),
        ("10:00", "12:00", False),
        ("09:59", "10:30", True),
        ("08:00", "13:00", True),
        ("11:00", "12:01", True),
        ("13:00", "14:00", True),
        ("08:00", None, True),
        ("10:00", None, True),
    ],
)
def test_overlaps_are_half_open_and_running_entries_never_end(
    storage, tenant, start, end, overlaps
):
    finished = time_entry(tenant, at("09:00"), at("10:00"))
    running = time_entry(tenant, at("12:00"))
    add_entries(storage, finished, running)

    with storage.unit_of_work() as uow:
        repository = uow.time_entries
        assert repository.has_overlap(tenant, "u1", at(start), end and at(end)) is overlaps
        assert repository.has_overlap(tenant, "u2", at(start), end and at(end)) is False
        assert repository.has_overlap(f"other-{uuid.uuid4()}", "u1", at(start), None) is False
        # Asked together: another entry runs (counted for a running entry only), and overlaps.
        conflicts = repository.conflicts(tenant, "u1", at(start), end and at(end))
        assert conflicts == (end is None, overlaps)
        assert repository.conflicts(tenant, "u2", at(start), end and at(end)) == (False, False)


def test_conflicts_leave_out_the_entry_itself_and_deleted_ones(storage, tenant):
    running = time_entry(tenant, at("12:00"))
    gone = time_entry(tenant, at("09:00"), at("10:00"), deleted=datetime.now(UTC))
    add_entries(storage, running, gone, time_entry(f"other-{uuid.uuid4()}", at("08:00")))

    with storage.unit_of_work() as uow:
        repository = uow.time_entries
        assert repository.conflicts(tenant, "u1", at("12:00"), None, running.id) == (False, False)
        assert repository.conflicts(tenant, "u1", at("09:00"), at("10:00")) == (False, False)
        assert repository.conflicts(tenant, "u1", at("13:00"), None, "new") == (True, True)


def test_an_entry_never_overlaps_itself_or_deleted_entries(storage, tenant):
    entry = time_entry(tenant, at("09:00"), at("10:00"))
    gone = time_entry(tenant, at("11:00"), at("12:00"), deleted=datetime.now(UTC))
    add_entries(storage, entry, gone)

    with storage.unit_of_work() as uow:
        assert not uow.time_entries.has_overlap(tenant, "u1", at("09:00"), at("10:00"), entry.id)
        assert not uow.time_entries.has_overlap(tenant, "u1", at("11:00"), at("12:00"))


def test_running_finds_only_the_live_running_entry_of_the_user(storage, tenant):
    live = time_entry(tenant, at("12:00"))
    add_entries(
        storage,
        time_entry(tenant, at("09:00"), at("10:00")),
        time_entry(tenant, at("10:00"), deleted=datetime.now(UTC)),
        live,
        time_entry(tenant, at("08:00"), owner="u2", deleted=datetime.now(UTC)),
        time_entry(f"other-{uuid.uuid4()}", at("13:00")),
    )

    with storage.unit_of_work() as uow:
        assert unstamped(uow.time_entries.running(tenant, "u1")) == live
        assert uow.time_entries.running(tenant, "u2") is None


def test_worked_seconds_clip_entries_to_each_window(storage, tenant):
    add_entries(
        storage,
        time_entry(tenant, at("09:00"), at("11:00")),
        time_entry(tenant, at("12:00")),
        time_entry(tenant, at("11:00"), at("12:00"), deleted=datetime.now(UTC)),
        time_entry(tenant, at("11:00"), at("12:00"), owner="u2"),
    )
    windows = {
        "inside": Window(at("09:30"), at("10:00")),
        "across": Window(at("10:00"), at("12:15")),
        "day": Window(at("00:00"), at("00:00") + timedelta(days=1)),
        "before": Window(at("08:00"), at("09:00")),
        "between": Window(at("11:00"), at("12:00")),
    }

    with storage.unit_of_work() as uow:
        worked = uow.time_entries.worked_seconds(tenant, "u1", windows, now=at("12:30"))

    assert worked == {"inside": 1800, "across": 4500, "day": 9000, "before": 0, "between": 0}


def march_of_a_team(storage, tenant):
    """Entries of four people in March 2026 (the list's query for the whole tenant): ties
    only ids order, one spanning the month's start, one running since February, one deleted,
    one of April, and another tenant's."""
    team = []
    for day in ("02", "03", "04"):
        for owner in ("u1", "u2", "u3"):
            start = datetime.fromisoformat(f"2026-03-{day}T09:00:00+00:00")
            team.append(time_entry(tenant, start, start + timedelta(hours=1), owner=owner))
    april = datetime(2026, 4, 1, 9, tzinfo=UTC)
    team += [
        time_entry(tenant, at("23:00") - timedelta(days=10), at("01:00") - timedelta(days=9)),
        time_entry(tenant, datetime(2026, 2, 20, 8, tzinfo=UTC), owner="u4"),
        time_entry(tenant, at("12:00"), at("13:00"), owner="u2", deleted=datetime.now(UTC)),
        time_entry(tenant, april, april + timedelta(hours=1)),
        time_entry(f"other-{uuid.uuid4()}", at("09:00"), at("10:00")),
    ]
    add_entries(storage, *team)
    march = Window(datetime(2026, 3, 1, tzinfo=UTC), april.replace(hour=0))
    return TimeEntryQuery(tenant_id=tenant, window=march)


@pytest.mark.parametrize(
    "owners, expected",
    [({}, 11), ({"owner_ids": ("u1", "u4")}, 5), ({"excluded_owner_ids": ("u2",)}, 8)],
    ids=["everyone", "chosen", "all but one"],
)
def test_pages_by_position_or_after_a_cursor_follow_the_list(storage, tenant, owners, expected):
    query = dataclasses.replace(march_of_a_team(storage, tenant), **owners)
    with storage.unit_of_work() as uow:
        everything = uow.time_entries.list(query)
        total = uow.time_entries.count(query)
        walks, offsets = {}, {}
        for length in (1, 2, 4, 5, 11, 12):
            walks[length], after = [], None
            while page := uow.time_entries.page(dataclasses.replace(query, limit=length), after):
                walks[length] += page
                after = entry_position(page[-1])
            offsets[length] = [
                entry
                for start in range(0, len(everything) + length, length)
                for entry in uow.time_entries.page(
                    dataclasses.replace(query, offset=start, limit=length)
                )
            ]

    assert total == len(everything) == expected
    assert [(e.start_date, e.id) for e in everything] == sorted(
        ((e.start_date, e.id) for e in everything), reverse=True
    )
    for length in walks:
        assert walks[length] == offsets[length] == everything, length


def test_a_page_reads_the_names_of_its_entries(storage, tenant):
    customer = add(storage, CUSTOMER, Customer(id=str(uuid.uuid4()), tenant_id=tenant, name="Ac"))
    project = add(
        storage,
        PROJECT,
        Project(id=str(uuid.uuid4()), tenant_id=tenant, name="Web", customer_id=customer.id),
    )
    work = add(storage, ACTIVITY, activity(tenant, "Coding"))
    with storage.unit_of_work(write=True) as uow:
        uow.users.record(User(id="u1", tenant_id=tenant, email="u1@example.com"))
        uow.commit()
    entries = [
        dataclasses.replace(entry, project_id=project.id, activity_id=work.id)
        for entry in (
            time_entry(tenant, at(f"0{hour}:00"), at(f"0{hour}:30")) for hour in (7, 8, 9)
        )
    ]
    add_entries(storage, *entries)
    day = TimeEntryQuery(tenant_id=tenant, window=Window(at("00:00"), at("23:00")))

    with storage.unit_of_work() as uow:
        listed = uow.time_entries.list(day)
        deep = uow.time_entries.page(dataclasses.replace(day, offset=1, limit=1))
        after = uow.time_entries.page(dataclasses.replace(day, limit=5), entry_position(listed[0]))

    assert deep == listed[1:2] and after == listed[1:]
    assert {(e.project_name, e.activity_name, e.customer_name, e.owner_email) for e in listed} == {
        ("Web", "Coding", "Ac", "u1@example.com")
    }


def test_event_pages_after_a_cursor_follow_the_log(storage, tenant):
    with storage.unit_of_work(write=True) as uow:
        for number in range(7):
            uow.add_event(RecordCreated(tenant, "someone", "activity", f"item-{number}", "Made"))
        uow.commit()
    log = tenant_events(storage, tenant)
    query = EventQuery(tenant_id=tenant, filters=EventFilters(), limit=3)
    with storage.unit_of_work() as uow:
        count = uow.events.count(query)
        pages = [uow.events.page(query)]
        while pages[-1]:
            pages.append(uow.events.page(query, event_position(pages[-1][-1])))
        deep = uow.events.page(dataclasses.replace(query, offset=5))
        other = uow.events.page(dataclasses.replace(query, tenant_id=f"other-{uuid.uuid4()}"))

    assert count == len(log) == 7
    assert [event for page in pages for event in page] == log
    assert deep == log[5:] and other == []


# Cosmos DB has no snapshot across queries (see Storage.unit_of_work): SQL databases only.
@pytest.mark.parametrize("database", SQL_BACKENDS, indirect=True)
def test_a_snapshot_unit_of_work_reads_what_was_there_at_its_first_read(storage, tenant):
    query = march_of_a_team(storage, tenant)
    with storage.unit_of_work(snapshot=True) as uow:
        before = uow.time_entries.list(query)
        late = time_entry(tenant, at("05:00") - timedelta(days=9), at("06:00") - timedelta(days=9))
        add_entries(storage, late)
        with storage.unit_of_work(write=True) as writer:
            writer.time_entries.update(dataclasses.replace(before[0], deleted=datetime.now(UTC)))
            writer.commit()
        again = uow.time_entries.list(query)
        counted = uow.time_entries.count(query)
    with storage.unit_of_work() as uow:
        now = uow.time_entries.list(query)

    assert again == before and counted == len(before)
    assert {e.id for e in now} == {e.id for e in before[1:]} | {late.id}


def test_storage_answers_a_ping(storage):
    storage.ping()


def test_a_migrated_storage_has_no_pending_migrations(storage):
    assert storage.pending_migrations() == []


# Incremental sync: timestamps set by the storage, lists by update --------------------------------

MICROSECOND = timedelta(microseconds=1)


def read_activity(storage, tenant, item_id):
    with storage.unit_of_work() as uow:
        return uow.catalog(ACTIVITY).get(tenant, item_id)


def change_activity(storage, item, **changes):
    with storage.unit_of_work(write=True) as uow:
        uow.catalog(ACTIVITY).update(dataclasses.replace(item, **changes))
        uow.commit()
    return dataclasses.replace(item, **changes)


def test_the_storage_stamps_a_record_when_it_is_created_and_each_time_it_changes(storage, tenant):
    before = datetime.now(UTC)
    ancient = datetime(2000, 1, 1, tzinfo=UTC)  # what a caller says is not taken
    item = add(storage, ACTIVITY, activity(tenant, created_at=ancient, updated_at=ancient))
    created = read_activity(storage, tenant, item.id)
    assert before <= created.created_at == created.updated_at <= datetime.now(UTC)

    change_activity(storage, created, description="Changed", created_at=ancient)
    changed = read_activity(storage, tenant, item.id)
    change_activity(storage, changed, deleted=datetime.now(UTC))
    with storage.unit_of_work() as uow:
        [deleted] = uow.catalog(ACTIVITY).list(tenant, {}, SyncQuery(include_deleted=True))

    assert changed.created_at == deleted.created_at == created.created_at
    assert created.updated_at < changed.updated_at < deleted.updated_at <= datetime.now(UTC)


def test_the_storage_stamps_time_entries_when_created_and_each_time_they_change(storage, tenant):
    before = datetime.now(UTC)
    entry = time_entry(tenant, at("09:00"))
    add_entries(storage, entry)
    with storage.unit_of_work() as uow:
        created = uow.time_entries.get(tenant, entry.id)
    with storage.unit_of_work(write=True) as uow:
        uow.time_entries.update(dataclasses.replace(created, end_date=at("10:00")))
        uow.commit()
    with storage.unit_of_work() as uow:
        stopped = uow.time_entries.get(tenant, entry.id)

    assert before <= created.created_at == created.updated_at
    assert stopped.created_at == created.created_at
    assert created.updated_at < stopped.updated_at <= datetime.now(UTC)


def test_a_sync_list_of_the_catalog_shows_what_changed_since_by_update_then_id(storage, tenant):
    first, second, third = (add(storage, ACTIVITY, activity(tenant, name)) for name in "CBA")
    gone = change_activity(storage, read_activity(storage, tenant, second.id), deleted=at("09:00"))
    stamped = {item.id: item for item in _sync(storage, tenant, include_deleted=True)}
    third = stamped[third.id]

    assert [i.id for i in _sync(storage, tenant)] == [first.id, third.id]
    assert [i.id for i in _sync(storage, tenant, include_deleted=True)] == [
        first.id,
        third.id,
        gone.id,
    ]
    assert stamped[gone.id].deleted == at("09:00")
    # At or after: a record stamped at the very moment asked for is shown.
    assert [i.id for i in _sync(storage, tenant, updated_since=third.updated_at)] == [third.id]
    later = third.updated_at + MICROSECOND
    assert [i.id for i in _sync(storage, tenant, updated_since=later)] == []
    assert [i.id for i in _sync(storage, tenant, updated_since=later, include_deleted=True)] == [
        gone.id
    ]
    assert _sync(storage, f"other-{uuid.uuid4()}", include_deleted=True) == []


def _sync(storage, tenant, **sync):
    with storage.unit_of_work() as uow:
        return uow.catalog(ACTIVITY).list(tenant, {}, SyncQuery(**sync))


def test_a_sync_list_shows_projects_of_archived_customers(storage, tenant):
    customer = add(storage, CUSTOMER, Customer(id=str(uuid.uuid4()), tenant_id=tenant, name="A"))
    project = add(
        storage,
        PROJECT,
        Project(id=str(uuid.uuid4()), tenant_id=tenant, name="Web", customer_id=customer.id),
    )
    with storage.unit_of_work(write=True) as uow:
        uow.catalog(CUSTOMER).update(dataclasses.replace(customer, status="inactive"))
        uow.commit()
    with storage.unit_of_work() as uow:
        listed = uow.catalog(PROJECT).list(tenant, {})
        synced = uow.catalog(PROJECT).list(tenant, {}, SyncQuery())
    assert listed == []
    assert [p.id for p in synced] == [project.id]
    assert synced[0].customer_name == "A"


@pytest.mark.parametrize("include_deleted", [False, True])
def test_sync_pages_by_position_or_after_a_cursor_follow_the_list(storage, tenant, include_deleted):
    # Seeded entries share one stamp (ties broken by id); others change one by one after them.
    days = [timedelta(days=d) for d in range(5)]
    seeded = [time_entry(tenant, at("08:00") - d, at("08:30") - d) for d in days]
    with storage.unit_of_work(write=True) as uow:
        uow.time_entries.add_many(seeded)
        uow.commit()
    later = [time_entry(tenant, at(f"1{h}:00"), at(f"1{h}:30")) for h in range(4)]
    add_entries(storage, *later, time_entry(f"other-{uuid.uuid4()}", at("09:00")))
    with storage.unit_of_work(write=True) as uow:
        first = uow.time_entries.get(tenant, seeded[0].id)
        uow.time_entries.update(dataclasses.replace(first, deleted=datetime.now(UTC)))
        uow.commit()
    sync = SyncQuery(include_deleted=include_deleted)
    query = TimeEntryQuery(tenant, Window(EARLIEST, LATEST), sync=sync)
    with storage.unit_of_work() as uow:
        everything = uow.time_entries.list(query)
        total = uow.time_entries.count(query)
        walks, offsets = {}, {}
        for length in (1, 2, 3, 9, 10):
            walks[length], after = [], None
            while page := uow.time_entries.page(dataclasses.replace(query, limit=length), after):
                walks[length] += page
                after = update_position(page[-1])
            offsets[length] = [
                entry
                for start in range(0, len(everything) + length, length)
                for entry in uow.time_entries.page(
                    dataclasses.replace(query, offset=start, limit=length)
                )
            ]
        since = dataclasses.replace(
            query, sync=dataclasses.replace(sync, updated_since=everything[5].updated_at)
        )
        recent = uow.time_entries.list(since)

    assert total == len(everything) == (9 if include_deleted else 8)
    assert [(e.updated_at, e.id) for e in everything] == sorted(
        (e.updated_at, e.id) for e in everything
    )
    assert (everything[-1].id == first.id) is include_deleted
    for length in walks:
        assert walks[length] == offsets[length] == everything, length
    assert recent == [e for e in everything if e.updated_at >= everything[5].updated_at]
