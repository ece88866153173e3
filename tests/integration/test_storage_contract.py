"""The storage contract: every backend's repositories and unit of work behave the same.

The suite talks to the ports only (`storage.unit_of_work()`, repositories), so it runs unchanged
against each backend the `storage` fixture provides.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest

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
from commons.domain.exceptions import AlreadyExists
from commons.domain.users import User


def activity(tenant, name="Development", **fields):
    return Activity(id=str(uuid.uuid4()), tenant_id=tenant, name=name, **fields)


def add(storage, kind, item):
    with storage.unit_of_work(write=True) as uow:
        uow.catalog(kind).add(item)
        uow.commit()
    return item


def test_an_added_record_reads_back_equal(storage, tenant):
    item = add(storage, ACTIVITY, activity(tenant, description="Writing code"))
    with storage.unit_of_work() as uow:
        assert uow.catalog(ACTIVITY).get(tenant, item.id) == item


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


def test_storage_answers_a_ping(storage):
    storage.ping()
