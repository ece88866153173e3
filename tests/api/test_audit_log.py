"""The audit log over HTTP: admins read their tenant's events, newest first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from commons.data_access_layer.sql import tables
from tests.counting import counted_round_trips

MARCH = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def record_events(storage: Any, tenant_id: str, *dates: datetime, **fields: Any) -> list[str]:
    """Store audit events as the events app would, one per date; returns their ids."""
    events = [
        {
            "id": str(uuid.uuid4()),
            "date": date,
            "user_id": "someone",
            "action": "update",
            "description": "Changed something",
            "item_id": str(uuid.uuid4()),
            "container_id": "project",
            "session_id": None,
            "tenant_id": tenant_id,
            **fields,
        }
        for date in dates
    ]
    if hasattr(storage, "engine"):
        with storage.engine.begin() as connection:
            connection.execute(sa.insert(tables.events), events)
    else:
        container = storage.database.get_container_client("event")
        for event in events:
            date = event["date"].astimezone(UTC)
            container.upsert_item({**event, "date": date.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
    return [event["id"] for event in events]


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.json
    return [event["id"] for event in response.json["data"]]


def test_an_event_comes_back_with_every_field(storage, admin):
    [event_id] = record_events(
        storage,
        admin.tenant_id,
        MARCH,
        user_id="ana",
        action="create",
        description="Created Web",
        item_id="item-1",
        container_id="project",
        session_id="request-1",
    )

    response = admin.get("/events")

    assert response.status_code == 200, response.json
    assert response.json == {
        "records_total": 1,
        "data": [
            {
                "id": event_id,
                "date": "2026-03-01T09:30:15.123456+00:00",
                "user_id": "ana",
                "action": "create",
                "description": "Created Web",
                "item_id": "item-1",
                "container_id": "project",
                "session_id": "request-1",
                "tenant_id": admin.tenant_id,
            }
        ],
        "next": None,
    }


def test_events_are_listed_newest_first(storage, admin):
    oldest, newest, middle = record_events(
        storage, admin.tenant_id, MARCH, MARCH + timedelta(days=2), MARCH + timedelta(days=1)
    )

    assert ids(admin.get("/events")) == [newest, middle, oldest]


def test_events_of_the_same_instant_are_ordered_by_id_descending(storage, admin):
    tied = record_events(storage, admin.tenant_id, *[MARCH] * 5)

    assert ids(admin.get("/events")) == sorted(tied, reverse=True)


def test_dates_given_with_any_offset_come_back_in_utc(storage, admin):
    bogota = timezone(timedelta(hours=-5))
    record_events(storage, admin.tenant_id, datetime(2026, 3, 1, 22, 0, tzinfo=bogota))

    [event] = admin.get("/events").json["data"]

    assert event["date"] == "2026-03-02T03:00:00+00:00"


@pytest.mark.parametrize("field", ["item_id", "container_id", "user_id"])
def test_events_can_be_filtered_by_field(storage, admin, field):
    wanted = record_events(storage, admin.tenant_id, MARCH, MARCH, **{field: "wanted"})
    record_events(storage, admin.tenant_id, MARCH, **{field: "other"})

    response = admin.get(f"/events?{field}=wanted")

    assert sorted(ids(response)) == sorted(wanted)
    assert response.json["records_total"] == 2


def test_filters_combine(storage, admin):
    [wanted] = record_events(storage, admin.tenant_id, MARCH, user_id="ana", item_id="x")
    record_events(storage, admin.tenant_id, MARCH, user_id="ana", item_id="y")
    record_events(storage, admin.tenant_id, MARCH, user_id="bob", item_id="x")

    assert ids(admin.get("/events?user_id=ana&item_id=x&container_id=project")) == [wanted]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("start_date=2026-03-02", ["midnight 2nd", "noon 2nd", "midnight 3rd", "4th"]),
        ("end_date=2026-03-02", ["noon 2nd", "midnight 2nd", "1st"]),
        ("start_date=2026-03-02&end_date=2026-03-02", ["noon 2nd", "midnight 2nd"]),
        ("start_date=2026-03-02T12:00:00Z", ["midnight 3rd", "4th", "noon 2nd"]),
        ("start_date=2026-03-02T07:00:00-05:00&end_date=2026-03-03T00:00:00", ["noon 2nd"]),
        ("end_date=2026-03-02T12:00:00%2B00:00", ["midnight 2nd", "1st"]),
    ],
)
def test_events_can_be_filtered_by_date(storage, admin, query, expected):
    moments = {
        "1st": datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        "midnight 2nd": datetime(2026, 3, 2, tzinfo=UTC),
        "noon 2nd": datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
        "midnight 3rd": datetime(2026, 3, 3, tzinfo=UTC),
        "4th": datetime(2026, 3, 4, 10, 0, tzinfo=UTC),
    }
    names = dict(
        zip(record_events(storage, admin.tenant_id, *moments.values()), moments, strict=True)
    )

    response = admin.get(f"/events?{query}")

    assert sorted(names[i] for i in ids(response)) == sorted(expected)
    assert response.json["records_total"] == len(expected)


def test_pages_follow_start_and_length_and_count_every_match(storage, admin):
    dates = [MARCH + timedelta(hours=i) for i in range(5)]
    newest_first = list(reversed(record_events(storage, admin.tenant_id, *dates)))

    middle = admin.get("/events?start=1&length=2")
    last = admin.get("/events?start=4&length=2")
    beyond = admin.get("/events?start=10")

    assert ids(middle) == newest_first[1:3]
    assert ids(last) == newest_first[4:]
    assert ids(beyond) == []
    assert {r.json["records_total"] for r in (middle, last, beyond)} == {5}


def test_paging_through_events_of_one_instant_shows_each_once(storage, admin):
    tied = record_events(storage, admin.tenant_id, *[MARCH] * 7)
    [older] = record_events(storage, admin.tenant_id, MARCH - timedelta(seconds=1))

    pages = [ids(admin.get(f"/events?start={start}&length=3")) for start in (0, 3, 6)]

    assert [i for page in pages for i in page] == [*sorted(tied, reverse=True), older]


def walk(caller: Any, query: str, length: int) -> list[str]:
    """Every event id of the log, following `next` from the first page to the last."""
    seen: list[str] = []
    response = caller.get(f"/events?{query}&length={length}")
    while True:
        seen += ids(response)
        cursor = response.json["next"]
        if cursor is None:
            return seen
        assert len(response.json["data"]) == length
        response = caller.get(f"/events?{query}&length={length}&after={cursor}")


@pytest.mark.parametrize("length", [1, 2, 3, 4, 9, 10, 100])
def test_walking_the_pages_after_each_cursor_gives_the_log_in_order(storage, admin, length):
    record_events(storage, admin.tenant_id, *[MARCH] * 4, MARCH - timedelta(seconds=1))
    record_events(storage, admin.tenant_id, *[MARCH + timedelta(days=1)] * 3, MARCH)
    record_events(storage, admin.tenant_id, MARCH + timedelta(days=2), item_id="elsewhere")
    by_position = [
        event_id
        for start in range(0, 10, length)
        for event_id in ids(admin.get(f"/events?start={start}&length={length}"))
    ]
    everything = ids(admin.get("/events?length=500"))

    assert len(everything) == 10
    assert walk(admin, "container_id=project", length) == by_position == everything
    assert walk(admin, "item_id=elsewhere", length) == everything[:1]


def test_an_event_page_after_a_cursor_is_not_counted_unless_asked(storage, admin):
    record_events(storage, admin.tenant_id, *[MARCH + timedelta(minutes=i) for i in range(5)])
    first = admin.get("/events?length=2").json
    after = first["next"]

    assert first["records_total"] == 5
    assert admin.get(f"/events?length=2&after={after}").json["records_total"] is None
    assert admin.get(f"/events?length=2&after={after}&count=true").json["records_total"] == 5
    assert admin.get("/events?length=2&count=false").json["records_total"] is None
    assert (
        admin.get("/events?length=2&start=2&count=false").json
        == admin.get(f"/events?length=2&after={after}").json
    )


def test_start_and_after_together_are_refused_by_the_audit_log(storage, admin):
    record_events(storage, admin.tenant_id, MARCH, MARCH)
    after = admin.get("/events?length=1").json["next"]

    refused = admin.get(f"/events?start=1&after={after}")

    assert refused.status_code == 400
    assert refused.json["code"] == "validation_error"
    assert "start" in refused.json["errors"]


def test_another_tenants_event_cursor_shows_nothing_of_theirs(storage, admin, stranger):
    record_events(storage, admin.tenant_id, MARCH, MARCH)
    [own] = record_events(storage, stranger.tenant_id, MARCH - timedelta(days=1))
    theirs = admin.get("/events?length=1").json["next"]

    answer = stranger.get(f"/events?after={theirs}&count=true").json

    assert [event["id"] for event in answer["data"]] == [own]
    assert answer["records_total"] == 1 and answer["next"] is None


def test_a_page_holds_a_hundred_events_unless_asked_otherwise(storage, admin):
    record_events(storage, admin.tenant_id, *[MARCH + timedelta(seconds=i) for i in range(101)])

    response = admin.get("/events")

    assert len(ids(response)) == 100
    assert response.json["records_total"] == 101


def test_events_of_other_tenants_never_show(storage, admin, stranger):
    [mine] = record_events(storage, admin.tenant_id, MARCH, item_id="shared")
    [theirs] = record_events(storage, stranger.tenant_id, MARCH, item_id="shared")

    assert ids(admin.get("/events")) == [mine]
    assert ids(admin.get("/events?item_id=shared")) == [mine]
    assert ids(stranger.get("/events")) == [theirs]


def test_members_cannot_read_the_audit_log(storage, member):
    record_events(storage, member.tenant_id, MARCH)

    response = member.get("/events")

    assert response.status_code == 403
    assert response.json["code"] == "forbidden"


@pytest.mark.parametrize(
    "query",
    [
        "length=501",
        "length=0",
        "length=abc",
        "start=-1",
        "start=abc",
        "start_date=garbage",
        "end_date=2026-13-01",
        "start_date=2026-03-10&end_date=2026-03-01",
        "end_date=9999-12-31",
        "start_date=0001-01-01T00:00:00%2B05:00",
    ],
)
def test_bad_query_parameters_are_400(admin, query):
    response = admin.get(f"/events?{query}")

    assert response.status_code == 400, response.json
    assert response.json["code"] == "validation_error"
    assert response.json["errors"]


@pytest.mark.parametrize("query", ["length=10", "length=10&start=1", "length=10&after={after}"])
def test_reading_many_events_costs_no_more_round_trips_than_one(app, storage, admin, query):
    def round_trips() -> int:
        after = admin.get("/events?length=1").json["next"]  # the caller known, connections warm
        with counted_round_trips(storage) as trips:
            assert admin.get(f"/events?{query.format(after=after)}").status_code == 200
        return len(trips)

    record_events(storage, admin.tenant_id, MARCH, MARCH - timedelta(seconds=1))
    with_two = round_trips()
    record_events(storage, admin.tenant_id, *[MARCH + timedelta(seconds=i) for i in range(1, 30)])

    assert round_trips() == with_two
