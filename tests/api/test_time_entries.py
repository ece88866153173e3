"""Time entries over HTTP on every SQL backend: timers, timesheets, windows, rules, permissions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from commons.domain.time_entries import TimeEntry
from commons.domain.time_windows import current_month_window, day_window, week_window
from tests.backends import SQL_BACKENDS
from tests.conftest import ADMIN, TESTER, Caller
from tests.counting import counted_round_trips

FEBRUARY = "month=2&year=2026"
MARCH = "month=3&year=2026"


def on(hour_minute: str, day: str = "2026-03-10") -> str:
    """An instant of a past day, in UTC: on("09:30") is 2026-03-10T09:30:00+00:00."""
    return f"{day}T{hour_minute}:00+00:00"


def iso(moment: datetime | str | None) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else moment


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def new_work(admin: Caller, name: str) -> dict[str, str]:
    """A fresh active project (of a customer of its own) and activity, as an entry payload."""
    customer = admin.post("/customers", json={"name": name, "description": "A customer"}).json
    project = admin.post("/projects", json={"name": name, "customer_id": customer["id"]}).json
    activity = admin.post("/activities", json={"name": name}).json
    return {"project_id": project["id"], "activity_id": activity["id"]}


@pytest.fixture
def work(admin: Caller) -> dict[str, str]:
    return new_work(admin, "Web")


@pytest.fixture
def colleague(client, tenant: str) -> Caller:
    """Another member of the member's tenant."""
    return Caller(client, tenant, f"colleague-{uuid.uuid4().hex[:8]}")


def post_entry(caller: Caller, work: dict[str, str], start=None, end=None, **fields):
    """POST an entry from `start` to `end` (None: running; no start: now)."""
    body = {**work, **fields}
    if start is not None:
        body["start_date"] = iso(start)
    if end is not None:
        body["end_date"] = iso(end)
    return caller.post("/time-entries", json=body)


def create_entry(caller: Caller, work: dict[str, str], start=None, end=None, **fields) -> dict:
    response = post_entry(caller, work, start, end, **fields)
    assert response.status_code == 201, response.json
    return response.json


def read(caller: Caller, entry: dict) -> dict:
    response = caller.get(f"/time-entries/{entry['id']}")
    assert response.status_code == 200, response.json
    return response.json


def listed(caller: Caller, query: str = MARCH) -> list[str]:
    """The ids `GET /time-entries?<query>` answers, in its order."""
    response = caller.get(f"/time-entries?{query}")
    assert response.status_code == 200, response.json
    return [entry["id"] for entry in response.json]


def ids(*entries: dict) -> list[str]:
    return [entry["id"] for entry in entries]


def assert_refused(response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.json
    assert response.json["code"] == code
    if message is not None:
        assert response.json["message"] == message


# Create


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_a_created_entry_answers_every_field(admin, member, work):
    response = post_entry(
        member,
        work,
        on("09:00"),
        on("10:30"),
        description="Login page",
        uri="TT-42",
        technologies=["python", "react"],
        timezone_offset=300,
    )

    assert response.status_code == 201, response.json
    body = response.json
    uuid.UUID(body["id"], version=4)
    project = admin.get(f"/projects/{work['project_id']}").json
    assert body["created_at"] == body["updated_at"]
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert body == {
        "id": body["id"],
        "tenant_id": member.tenant_id,
        "deleted": None,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "project_id": work["project_id"],
        "activity_id": work["activity_id"],
        "description": "Login page",
        "start_date": "2026-03-10T09:00:00+00:00",
        "end_date": "2026-03-10T10:30:00+00:00",
        "uri": "TT-42",
        "technologies": ["python", "react"],
        "timezone_offset": 300,
        "running": False,
        "owner_id": member.user_id,
        "owner_email": f"{member.user_id}@example.com",
        "project_name": "Web",
        "activity_name": "Web",
        "customer_id": project["customer_id"],
        "customer_name": "Web",
    }
    assert read(member, body) == body


def test_an_entry_without_end_runs_and_starts_now_by_default(member, work, clock):
    before = datetime.now(UTC)
    body = create_entry(member, work)
    after = datetime.now(UTC)

    assert body["running"] is True
    assert body["end_date"] is None
    assert before <= instant(body["start_date"]) <= after


@pytest.mark.parametrize(
    "start, end, stored_start, stored_end",
    [
        (
            "2026-03-10T09:00:00-05:00",
            "2026-03-10T17:15:30.250000+02:00",
            "2026-03-10T14:00:00+00:00",
            "2026-03-10T15:15:30.250000+00:00",
        ),
        ("2026-03-10T09:00:00", "2026-03-10T10:00:00", on("09:00"), on("10:00")),
        ("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", on("09:00"), on("10:00")),
    ],
    ids=["with offsets", "without offset", "with Z"],
)
def test_dates_come_back_in_utc(member, work, start, end, stored_start, stored_end):
    body = create_entry(member, work, start, end)

    stored = read(member, body)
    assert (body["start_date"], body["end_date"]) == (stored_start, stored_end)
    assert (stored["start_date"], stored["end_date"]) == (stored_start, stored_end)


def test_the_project_name_says_when_the_project_is_archived(admin, member, work):
    entry = create_entry(member, work, on("09:00"), on("10:00"))
    assert admin.delete(f"/projects/{work['project_id']}").status_code == 204

    assert read(member, entry)["project_name"] == "Web (archived)"
    assert member.get(f"/time-entries?{MARCH}").json[0]["project_name"] == "Web (archived)"


def test_a_client_cannot_set_read_only_fields(member, work):
    forged = {
        "id": str(uuid.uuid4()),
        "tenant_id": "tenant-forged",
        "owner_id": "someone-else",
        "deleted": on("11:00"),
        "running": True,
        "project_name": "Forged",
    }
    body = create_entry(member, work, on("09:00"), on("10:00"), **forged)

    assert body["id"] != forged["id"]
    assert (body["tenant_id"], body["owner_id"]) == (member.tenant_id, member.user_id)
    assert (body["deleted"], body["running"], body["project_name"]) == (None, False, "Web")


def test_references_in_upper_case_name_the_same_records_on_every_backend(member, work):
    shouted = {field: value.upper() for field, value in work.items()}

    body = create_entry(member, shouted, on("09:00"), on("10:00"))

    assert (body["project_id"], body["activity_id"]) == (work["project_id"], work["activity_id"])
    assert listed(member, f"{MARCH}&project_id={work['project_id']}") == ids(body)


# Rules


def test_a_second_running_entry_is_rejected(member, work):
    create_entry(member, work, on("09:00"))

    response = post_entry(member, work, on("11:00"))

    assert_refused(response, 409, "running_entry_exists")


@pytest.mark.parametrize(
    "start, end",
    [
        (on("09:30"), on("10:30")),
        (on("08:00"), on("09:01")),
        (on("10:59"), on("12:00")),
        (on("09:15"), on("09:45")),
        (on("08:00"), on("12:00")),
        (on("09:00"), on("11:00")),
        (on("10:00"), None),
    ],
)
def test_an_overlapping_entry_is_rejected(member, work, start, end):
    create_entry(member, work, on("09:00"), on("11:00"))

    response = post_entry(member, work, start, end)

    assert_refused(
        response, 422, "overlapping_time_entry", "There is another time entry in that date range"
    )


def test_entries_may_touch_because_intervals_are_half_open(member, work):
    create_entry(member, work, on("12:00"), on("13:00"))

    create_entry(member, work, on("13:00"), on("14:00"))
    create_entry(member, work, on("11:00"), on("12:00"))
    create_entry(member, work, on("14:00"))


def test_a_running_entry_occupies_all_time_after_its_start(member, work):
    create_entry(member, work, on("09:00"))

    assert_refused(
        post_entry(member, work, on("10:00"), on("11:00")), 422, "overlapping_time_entry"
    )
    assert_refused(
        post_entry(member, work, on("10:00", "2026-04-01"), on("11:00", "2026-04-01")),
        422,
        "overlapping_time_entry",
    )
    create_entry(member, work, on("08:00"), on("09:00"))


def test_other_users_entries_never_overlap_mine(member, colleague, work):
    create_entry(colleague, work, on("09:00"))

    create_entry(member, work, on("09:00"), on("10:00"))
    create_entry(member, work, on("10:00"))


@pytest.mark.parametrize("end", [on("09:00"), on("08:59")], ids=["at its start", "before"])
def test_an_entry_must_end_after_it_started(member, work, end):
    response = post_entry(member, work, on("09:00"), end)

    assert_refused(
        response, 400, "validation_error", "You must end the time entry after it started"
    )
    assert "end_date" in response.json["errors"]


def test_an_entry_cannot_end_in_the_future(member, work, clock):
    now = datetime.now(UTC)

    response = post_entry(member, work, now - timedelta(hours=1), now + timedelta(minutes=5))

    assert_refused(response, 400, "validation_error", "You cannot end a time entry in the future")
    assert "end_date" in response.json["errors"]


def test_an_end_within_the_clock_leeway_is_accepted(member, work, clock):
    now = datetime.now(UTC)

    create_entry(member, work, now - timedelta(hours=1), now + timedelta(seconds=30))


@pytest.fixture(params=["unknown", "archived", "another tenant's"])
def unusable_work(request, admin, stranger) -> dict[str, str]:
    """A project and an activity that no entry of the admin's tenant may use."""
    if request.param == "unknown":
        return {"project_id": str(uuid.uuid4()), "activity_id": str(uuid.uuid4())}
    if request.param == "archived":
        archived = new_work(admin, "Archived")
        admin.delete(f"/projects/{archived['project_id']}")
        admin.delete(f"/activities/{archived['activity_id']}")
        return archived
    return new_work(stranger, "Theirs")


@pytest.mark.parametrize("field", ["project_id", "activity_id"])
def test_entries_need_an_active_project_and_activity_of_the_tenant(
    member, work, unusable_work, field
):
    created = post_entry(member, {**work, field: unusable_work[field]}, on("09:00"), on("10:00"))
    entry = create_entry(member, work, on("11:00"), on("12:00"))
    updated = member.put(f"/time-entries/{entry['id']}", json={field: unusable_work[field]})

    for response in (created, updated):
        assert_refused(response, 400, "invalid_reference")
        assert field in response.json["errors"]
    assert read(member, entry) == entry


INVALID_BODIES = [
    ({"project_id": "not-a-uuid"}, "project_id"),
    ({"activity_id": "1234"}, "activity_id"),
    ({"project_id": None}, "project_id"),
    ({"description": "x" * 1501}, "description"),
    ({"description": 42}, "description"),
    ({"technologies": [f"tech-{i}" for i in range(11)]}, "technologies"),
    ({"technologies": ["python", "python"]}, "technologies"),
    ({"technologies": "python"}, "technologies"),
    ({"technologies": [1, 2]}, "technologies"),
    ({"uri": ["TT-1"]}, "uri"),
    ({"timezone_offset": "300"}, "timezone_offset"),
    ({"timezone_offset": 10_000}, "timezone_offset"),
    ({"start_date": "yesterday"}, "start_date"),
    ({"start_date": "2026-03-10"}, "start_date"),
    ({"start_date": 1_773_133_200}, "start_date"),
    ({"end_date": "2026-02-30T10:00:00Z"}, "end_date"),
    ({"end_date": "10:00"}, "end_date"),
]


@pytest.mark.parametrize("fields, field", INVALID_BODIES)
def test_an_invalid_body_is_refused_on_create(member, work, fields, field):
    body = {**work, "start_date": on("09:00"), "end_date": on("10:00"), **fields}

    response = member.post("/time-entries", json=body)

    assert response.status_code == 400, response.json
    assert field in response.json["errors"]
    assert listed(member) == []


@pytest.mark.parametrize("fields, field", INVALID_BODIES)
def test_an_invalid_body_is_refused_on_update(member, work, fields, field):
    entry = create_entry(member, work, on("09:00"), on("10:00"))

    response = member.put(f"/time-entries/{entry['id']}", json=fields)

    assert response.status_code == 400, response.json
    assert field in response.json["errors"]
    assert read(member, entry) == entry


# Update


def test_an_update_changes_only_the_given_fields(admin, member, work):
    entry = create_entry(
        member,
        work,
        on("09:00"),
        on("10:00"),
        description="Before",
        uri="TT-1",
        technologies=["go"],
    )
    other = new_work(admin, "Mobile")

    described = member.put(f"/time-entries/{entry['id']}", json={"description": "After"})
    moved = member.put(
        f"/time-entries/{entry['id']}",
        json={"project_id": other["project_id"], "end_date": on("11:00")},
    )

    assert described.status_code == 200, described.json
    assert described.json == {
        **entry,
        "description": "After",
        "updated_at": described.json["updated_at"],
    }
    assert moment(described.json["updated_at"]) > moment(entry["updated_at"])
    assert moved.status_code == 200, moved.json
    assert moved.json == {
        **described.json,
        "project_id": other["project_id"],
        "project_name": "Mobile",
        "customer_id": moved.json["customer_id"],
        "customer_name": "Mobile",
        "end_date": on("11:00"),
        "updated_at": moved.json["updated_at"],
    }
    assert moved.json["created_at"] == entry["created_at"]
    assert moved.json["customer_id"] != entry["customer_id"]
    assert read(member, entry) == moved.json


def test_an_update_cannot_create_an_overlap(member, work):
    create_entry(member, work, on("09:00"), on("10:00"))
    later = create_entry(member, work, on("11:00"), on("12:00"))

    response = member.put(f"/time-entries/{later['id']}", json={"start_date": on("09:30")})

    assert_refused(response, 422, "overlapping_time_entry")
    assert read(member, later) == later


def test_an_update_may_shorten_the_previous_entry_instead_of_failing(member, work):
    previous = create_entry(member, work, on("09:00"), on("11:00"))
    entry = create_entry(member, work, on("11:00"), on("12:00"))

    response = member.put(
        f"/time-entries/{entry['id']}",
        json={"start_date": on("10:00"), "update_last_entry_if_overlap": True},
    )

    assert response.status_code == 200, response.json
    assert response.json == {
        **entry,
        "start_date": on("10:00"),
        "updated_at": response.json["updated_at"],
    }
    assert moment(response.json["updated_at"]) > moment(entry["updated_at"])
    shortened = read(member, previous)
    assert shortened == {**previous, "end_date": on("10:00"), "updated_at": shortened["updated_at"]}
    assert moment(shortened["updated_at"]) > moment(previous["updated_at"])


def test_without_the_flag_the_same_update_fails_and_changes_nothing(member, work):
    previous = create_entry(member, work, on("09:00"), on("11:00"))
    entry = create_entry(member, work, on("11:00"), on("12:00"))

    response = member.put(f"/time-entries/{entry['id']}", json={"start_date": on("10:00")})

    assert_refused(response, 422, "overlapping_time_entry")
    assert (read(member, previous), read(member, entry)) == (previous, entry)


# Stop and restart


def test_stop_ends_a_running_entry_now(member, work, clock):
    entry = create_entry(member, work, datetime.now(UTC) - timedelta(hours=1))

    before = datetime.now(UTC)
    response = member.post(f"/time-entries/{entry['id']}/stop")
    after = datetime.now(UTC)

    assert response.status_code == 200, response.json
    assert response.json["running"] is False
    assert before <= instant(response.json["end_date"]) <= after
    assert response.json == {
        **entry,
        "running": False,
        "end_date": response.json["end_date"],
        "updated_at": response.json["updated_at"],
    }
    assert before <= moment(response.json["updated_at"]) <= after
    assert member.get("/time-entries/running").status_code == 204


def test_a_stopped_entry_cannot_be_stopped_again(member, work):
    entry = create_entry(member, work, on("09:00"), on("10:00"))

    response = member.post(f"/time-entries/{entry['id']}/stop")

    assert_refused(response, 422, "already_stopped", "The specified time entry is already stopped")
    assert read(member, entry) == entry


def test_restart_makes_a_stopped_entry_run_again(member, work):
    entry = create_entry(member, work, on("09:00"), on("10:00"))

    response = member.post(f"/time-entries/{entry['id']}/restart")

    assert response.status_code == 200, response.json
    assert response.json == {
        **entry,
        "running": True,
        "end_date": None,
        "updated_at": response.json["updated_at"],
    }
    assert moment(response.json["updated_at"]) > moment(entry["updated_at"])
    assert member.get("/time-entries/running").json["id"] == entry["id"]


def test_a_running_entry_cannot_be_restarted(member, work):
    entry = create_entry(member, work, on("09:00"))

    response = member.post(f"/time-entries/{entry['id']}/restart")

    assert_refused(response, 422, "already_running", "The specified time entry is already running")


def test_restart_is_refused_while_another_entry_runs(member, work):
    stopped = create_entry(member, work, on("09:00"), on("10:00"))
    create_entry(member, work, on("11:00"))

    response = member.post(f"/time-entries/{stopped['id']}/restart")

    assert_refused(response, 409, "running_entry_exists")
    assert read(member, stopped) == stopped


def test_restart_is_refused_when_a_later_entry_exists(member, work):
    stopped = create_entry(member, work, on("09:00"), on("10:00"))
    create_entry(member, work, on("11:00"), on("12:00"))

    response = member.post(f"/time-entries/{stopped['id']}/restart")

    assert_refused(response, 422, "overlapping_time_entry")
    assert read(member, stopped) == stopped


# Permissions and deletion

CHANGES = [
    ("put", "", {"description": "Not yours"}),
    ("delete", "", None),
    ("post", "/stop", None),
    ("post", "/restart", None),
]


@pytest.mark.parametrize(
    "method, suffix, body", CHANGES, ids=["update", "delete", "stop", "restart"]
)
@pytest.mark.parametrize(
    "intruder, status", [("colleague", 403), ("admin", 403), ("stranger", 404)]
)
def test_only_the_owner_changes_an_entry(
    request, member, work, method, suffix, body, intruder, status
):
    entry = create_entry(member, work, on("09:00"))
    caller = request.getfixturevalue(intruder)

    response = getattr(caller, method)(f"/time-entries/{entry['id']}{suffix}", json=body)

    assert response.status_code == status, response.json
    assert response.json["code"] == {403: "forbidden", 404: "not_found"}[status]
    assert read(member, entry) == entry


@pytest.mark.parametrize(
    "reader, status", [("member", 200), ("admin", 200), ("colleague", 403), ("stranger", 404)]
)
def test_the_owner_and_admins_read_an_entry(request, member, work, reader, status):
    entry = create_entry(member, work, on("09:00"), on("10:00"))

    response = request.getfixturevalue(reader).get(f"/time-entries/{entry['id']}")

    assert response.status_code == status, response.json
    if status == 200:
        assert response.json == entry


def test_another_tenant_never_lists_an_entry(member, stranger, work):
    create_entry(member, work, on("09:00"), on("10:00"))

    assert listed(stranger) == []
    assert listed(stranger, f"{MARCH}&user_id=*") == []
    assert listed(stranger, f"{MARCH}&user_id={member.user_id}") == []


@pytest.mark.parametrize("entry_id", ["not-a-uuid", "3f1c2b8e-6a4d-4e0f-9b7a-2d5e8c1f0a93"])
def test_an_unknown_entry_is_not_found(member, entry_id):
    for response in (
        member.get(f"/time-entries/{entry_id}"),
        member.put(f"/time-entries/{entry_id}", json={"description": "x"}),
        member.delete(f"/time-entries/{entry_id}"),
        member.post(f"/time-entries/{entry_id}/stop"),
        member.post(f"/time-entries/{entry_id}/restart"),
    ):
        assert_refused(response, 404, "not_found")


def test_a_member_cannot_list_other_users_entries(member, colleague):
    response = member.get(f"/time-entries?user_id={colleague.user_id}")

    assert_refused(response, 403, "forbidden")


def test_a_deleted_entry_is_gone_for_good(admin, member, work):
    entry = create_entry(member, work, on("09:00"), on("10:00"))

    assert member.delete(f"/time-entries/{entry['id']}").status_code == 204

    path = f"/time-entries/{entry['id']}"
    for response in (
        member.get(path),
        admin.get(path),
        member.put(path, json={"description": "Back"}),
        member.delete(path),
        member.post(f"{path}/restart"),
    ):
        assert_refused(response, 404, "not_found")
    assert listed(member) == []
    assert listed(admin, f"{MARCH}&user_id=*") == []
    assert member.get("/time-entries/latest").json == []
    create_entry(member, work, on("09:00"), on("10:00"))


def test_deleting_the_running_entry_lets_the_user_start_another(member, work):
    running = create_entry(member, work, on("09:00"))

    assert member.delete(f"/time-entries/{running['id']}").status_code == 204

    assert member.get("/time-entries/running").status_code == 204
    create_entry(member, work, on("10:00"))


# Running


def test_the_running_entry_is_answered(member, work):
    create_entry(member, work, on("08:00"), on("09:00"))
    running = create_entry(member, work, on("09:00"))

    response = member.get("/time-entries/running")

    assert response.status_code == 200
    assert response.json == running


def test_no_running_entry_is_204_without_a_body(member, work):
    create_entry(member, work, on("08:00"), on("09:00"))

    response = member.get("/time-entries/running")

    assert response.status_code == 204
    assert response.data == b""


def test_another_users_running_entry_is_not_mine(member, colleague, work):
    create_entry(colleague, work, on("09:00"))

    assert member.get("/time-entries/running").status_code == 204


# Lists


def test_the_list_defaults_to_the_current_month(member, work, clock):
    month_start = current_month_window(datetime.now(UTC), UTC).start
    last_month = create_entry(member, work, month_start - timedelta(hours=1), month_start)
    running = create_entry(member, work, month_start)

    assert listed(member, "") == ids(running)
    previous = month_start - timedelta(days=1)
    assert listed(member, f"month={previous.month}&year={previous.year}") == ids(last_month)


def test_the_list_shows_entries_intersecting_the_month_newest_first(member, work):
    february = create_entry(member, work, on("10:00", "2026-02-27"), on("11:00", "2026-02-27"))
    spanning = create_entry(member, work, on("23:00", "2026-02-28"), on("01:00", "2026-03-01"))
    early = create_entry(member, work, on("01:00", "2026-03-01"), on("02:00", "2026-03-01"))
    late = create_entry(member, work, on("23:00", "2026-03-31"), on("23:59", "2026-03-31"))
    create_entry(member, work, on("00:00", "2026-04-01"), on("01:00", "2026-04-01"))

    assert listed(member, MARCH) == ids(late, early, spanning)
    assert listed(member, FEBRUARY) == ids(spanning, february)
    assert listed(member, "month=1&year=2026") == []


def test_a_running_entry_started_earlier_is_in_later_months(member, work):
    running = create_entry(member, work, on("10:00", "2026-02-20"))

    assert listed(member, MARCH) == ids(running)
    assert listed(member, "month=1&year=2026") == []


def test_the_list_takes_an_explicit_date_range(member, work):
    before = create_entry(member, work, on("22:00", "2026-03-09"), on("23:00", "2026-03-09"))
    morning = create_entry(member, work, on("09:00"), on("10:00"))
    night = create_entry(member, work, on("23:00"), on("23:30"))
    next_day = create_entry(member, work, on("00:00", "2026-03-11"), on("01:00", "2026-03-11"))

    assert listed(member, "start_date=2026-03-10&end_date=2026-03-10") == ids(night, morning)
    assert listed(member, "start_date=2026-03-10T09:30:00Z&end_date=2026-03-11") == ids(
        next_day, night, morning
    )
    assert listed(member, "start_date=2026-03-09T23:00:00Z&end_date=2026-03-10T09:00:00Z") == []
    assert listed(member, "end_date=2026-03-09") == ids(before)
    assert listed(member, "start_date=2026-03-11") == ids(next_day)


def test_the_list_filters_by_project_activity_uri_and_limit(admin, member, work):
    other = new_work(admin, "Mobile")
    first = create_entry(member, work, on("09:00"), on("10:00"), uri="TT-1")
    second = create_entry(member, other, on("10:00"), on("11:00"), uri="TT-12")
    third = create_entry(
        member,
        {"project_id": work["project_id"], "activity_id": other["activity_id"]},
        on("11:00"),
        on("12:00"),
        uri="https://tickets.example.com/TT-1",
    )

    assert listed(member, f"{MARCH}&project_id={work['project_id']}") == ids(third, first)
    assert listed(member, f"{MARCH}&activity_id={other['activity_id']}") == ids(third, second)
    assert listed(member, f"{MARCH}&uri=TT-1") == ids(first)
    assert listed(member, f"{MARCH}&limit=2") == ids(third, second)
    assert listed(member, f"{MARCH}&project_id={uuid.uuid4()}") == []


def test_admins_list_chosen_users_or_the_whole_tenant(admin, member, colleague, work):
    mine = create_entry(member, work, on("09:00"), on("10:00"))
    theirs = create_entry(colleague, work, on("09:30"), on("10:30"))
    admins = create_entry(admin, work, on("11:00"), on("12:00"))

    assert listed(admin) == ids(admins)
    assert listed(admin, f"{MARCH}&user_id={member.user_id}") == ids(mine)
    assert listed(admin, f"{MARCH}&user_id={member.user_id},{colleague.user_id}") == ids(
        theirs, mine
    )
    assert listed(admin, f"{MARCH}&user_id=*") == ids(admins, theirs, mine)


def test_testers_are_listed_to_testers_only(client, tenant, admin, member, work):
    tester = Caller(client, tenant, f"tester-{uuid.uuid4().hex[:8]}", (TESTER,))
    testing_admin = Caller(client, tenant, f"qa-{uuid.uuid4().hex[:8]}", (ADMIN, TESTER))
    tested = create_entry(tester, work, on("11:00"), on("12:00"))
    real = create_entry(member, work, on("09:00"), on("10:00"))

    assert listed(admin, f"{MARCH}&user_id=*") == ids(real)
    assert listed(admin, f"{MARCH}&user_id={tester.user_id},{member.user_id}") == ids(real)
    assert listed(testing_admin, f"{MARCH}&user_id=*") == ids(tested, real)


def test_an_empty_list_is_an_empty_array(member):
    response = member.get("/time-entries")

    assert response.status_code == 200
    assert response.json == []


@pytest.mark.parametrize(
    "path, query",
    [
        ("/time-entries", "month=abc"),
        ("/time-entries", "month=13"),
        ("/time-entries", "month=0"),
        ("/time-entries", "year=abc"),
        ("/time-entries", "limit=0"),
        ("/time-entries", "limit=x"),
        ("/time-entries", "timezone_offset=abc"),
        ("/time-entries", "timezone_offset=100000"),
        ("/time-entries", "timezone=Mars/Base"),
        ("/time-entries", "start_date=garbage"),
        ("/time-entries", "end_date=2026-13-01"),
        ("/time-entries", "start_date=2026-03-10&end_date=2026-03-01"),
        ("/time-entries", "project_id=nope"),
        ("/time-entries/paginated", "length=501"),
        ("/time-entries/paginated", "length=0"),
        ("/time-entries/paginated", "start=-1"),
        ("/time-entries/paginated", "month=abc"),
        ("/time-entries/summary", "timezone_offset=abc"),
        ("/time-entries/summary", "time_offset=abc"),
        ("/time-entries/summary", "timezone=Mars/Base"),
    ],
)
def test_bad_query_parameters_are_400(member, path, query):
    response = member.get(f"{path}?{query}")

    assert response.status_code == 400, response.json
    assert response.json["code"] == "validation_error"
    assert response.json["errors"]


# Time zones

BOGOTA_EVENING = ("2026-03-01T03:00:00+00:00", "2026-03-01T04:00:00+00:00")


@pytest.mark.parametrize(
    "zone, inside, outside",
    [
        ("", MARCH, FEBRUARY),
        ("timezone_offset=0", MARCH, FEBRUARY),
        ("timezone=UTC", MARCH, FEBRUARY),
        ("timezone=America/Bogota", FEBRUARY, MARCH),
        ("timezone_offset=300", FEBRUARY, MARCH),
        ("timezone_offset=-120", MARCH, FEBRUARY),
    ],
)
def test_the_callers_time_zone_chooses_the_month(member, work, zone, inside, outside):
    entry = create_entry(member, work, *BOGOTA_EVENING)

    assert listed(member, f"{inside}&{zone}") == ids(entry)
    assert listed(member, f"{outside}&{zone}") == []


def test_the_callers_time_zone_moves_an_explicit_date_range(member, work):
    entry = create_entry(member, work, *BOGOTA_EVENING)

    assert listed(member, "start_date=2026-02-28&end_date=2026-02-28&timezone=America/Bogota") == (
        ids(entry)
    )
    assert listed(member, "start_date=2026-02-28&end_date=2026-02-28") == []


def test_month_windows_follow_daylight_saving_time(member, work):
    zone = "timezone=America/New_York"
    before_march = create_entry(member, work, on("04:00", "2026-03-01"), on("05:00", "2026-03-01"))
    first_of_march = create_entry(
        member, work, on("05:00", "2026-03-01"), on("05:30", "2026-03-01")
    )
    last_of_march = create_entry(member, work, on("03:30", "2026-04-01"), on("04:00", "2026-04-01"))
    first_of_april = create_entry(
        member, work, on("04:00", "2026-04-01"), on("04:30", "2026-04-01")
    )

    assert listed(member, f"{MARCH}&{zone}") == ids(last_of_march, first_of_march)
    assert listed(member, f"{FEBRUARY}&{zone}") == ids(before_march)
    assert listed(member, f"month=4&year=2026&{zone}") == ids(first_of_april)
    assert listed(member, MARCH) == ids(first_of_march, before_march)


# Summary


def noon_offset_hours(now: datetime) -> int:
    """A UTC offset (never 0) that puts `now` in the early afternoon, far from any midnight."""
    return (12 - now.hour + 12) % 24 - 12 or 1


def zone_query(parameter: str, hours: int) -> str:
    """The summary's zone parameter for UTC+hours, in each spelling the API accepts, encoded."""
    if parameter == "timezone":
        return urlencode({"timezone": f"Etc/GMT{-hours:+d}"})  # POSIX sign: Etc/GMT-3 is UTC+3
    return urlencode({parameter: -hours * 60})  # JavaScript sign: UTC+3 is -180


def total_seconds(parts: dict[str, int]) -> int:
    return parts["hours"] * 3600 + parts["minutes"] * 60 + parts["seconds"]


def summary(caller: Caller, query: str = "") -> dict:
    response = caller.get(f"/time-entries/summary?{query}")
    assert response.status_code == 200, response.json
    assert set(response.json) == {"day", "week", "month"}
    return response.json


def test_the_summary_of_nothing_is_zero(member, clock):
    zero = {"hours": 0, "minutes": 0, "seconds": 0}

    assert summary(member) == {"day": zero, "week": zero, "month": zero}


def test_the_summary_splits_worked_time_into_hours_minutes_and_seconds(member, work, clock):
    now = datetime.now(UTC).replace(microsecond=0)
    hours = noon_offset_hours(now)
    create_entry(member, work, now - timedelta(hours=3), now - timedelta(minutes=45))

    worked = summary(member, zone_query("timezone_offset", hours))

    two_hours_fifteen = {"hours": 2, "minutes": 15, "seconds": 0}
    assert worked == {
        "day": two_hours_fifteen,
        "week": two_hours_fifteen,
        "month": two_hours_fifteen,
    }


def test_a_running_entry_counts_until_now(member, work, clock):
    now = datetime.now(UTC)
    hours = noon_offset_hours(now)
    start = now - timedelta(hours=1)
    create_entry(member, work, start)

    worked = summary(member, zone_query("timezone_offset", hours))
    elapsed = (datetime.now(UTC) - start).total_seconds()

    assert worked["day"] == worked["week"] == worked["month"]
    assert 3600 <= total_seconds(worked["day"]) <= elapsed


@pytest.mark.parametrize("parameter", ["timezone_offset", "time_offset", "timezone"])
def test_entries_crossing_a_boundary_count_only_their_part_inside_it(
    member, work, parameter, clock
):
    now = datetime.now(UTC).replace(microsecond=0)
    hours = noon_offset_hours(now)
    zone = timezone(timedelta(hours=hours))
    windows = {
        "day": day_window(now, zone),
        "week": week_window(now, zone),
        "month": current_month_window(now, zone),
    }
    midnight = windows["day"].start
    start, end = midnight - timedelta(hours=1), midnight + timedelta(minutes=30)
    create_entry(member, work, start, end)

    worked = summary(member, zone_query(parameter, hours))

    expected = {
        name: (min(end, window.end) - max(start, window.start)).total_seconds()
        for name, window in windows.items()
    }
    assert expected["day"] == 30 * 60
    assert {name: total_seconds(parts) for name, parts in worked.items()} == expected


def local_windows(now: datetime, zone: ZoneInfo) -> dict[str, tuple[datetime, datetime]]:
    """Today, this week (from Monday) and this month in `zone`, worked out from the wall clock."""

    def midnight(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)

    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return {
        "day": (midnight(today), midnight(today + timedelta(days=1))),
        "week": (midnight(monday), midnight(monday + timedelta(days=7))),
        "month": (midnight(first), midnight(following)),
    }


@pytest.mark.parametrize(
    "zone", ["UTC", "Europe/Berlin", "America/Bogota", "Asia/Kolkata", "Pacific/Kiritimati"]
)
@pytest.mark.sampled(zone=("Europe/Berlin", "Pacific/Kiritimati"))  # DST; 14 hours ahead
def test_the_summary_counts_the_last_forty_hours_into_the_callers_calendar(
    member, work, clock, zone
):
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(hours=40), now - timedelta(seconds=1)
    create_entry(member, work, start, end)

    worked = summary(member, urlencode({"timezone": zone}))

    expected = {
        name: max(0, (min(end, window_end) - max(start, window_start)).total_seconds())
        for name, (window_start, window_end) in local_windows(now, ZoneInfo(zone)).items()
    }
    assert {name: total_seconds(parts) for name, parts in worked.items()} == expected


# Latest, pages and recent projects


def test_latest_answers_the_most_recent_entry_of_each_project(admin, member, colleague, work):
    other = new_work(admin, "Mobile")
    create_entry(member, work, on("09:00"), on("10:00"))
    mobile = create_entry(member, other, on("10:00"), on("11:00"))
    web = create_entry(member, work, on("11:00"), on("12:00"))
    create_entry(colleague, other, on("13:00"), on("14:00"))

    response = member.get("/time-entries/latest")

    assert response.status_code == 200
    assert response.json == [web, mobile]


def test_pages_answer_the_total_and_one_slice(member, work):
    first = create_entry(member, work, on("09:00"), on("10:00"))
    second = create_entry(member, work, on("10:00"), on("11:00"))
    third = create_entry(member, work, on("11:00"), on("12:00"))

    whole = member.get(f"/time-entries/paginated?{MARCH}")
    middle = member.get(f"/time-entries/paginated?{MARCH}&start=1&length=1")
    beyond = member.get(f"/time-entries/paginated?{MARCH}&start=3&length=10")

    assert whole.json == {"records_total": 3, "data": [third, second, first], "next": None}
    assert {**middle.json, "next": "…"} == {"records_total": 3, "data": [second], "next": "…"}
    assert beyond.json == {"records_total": 3, "data": [], "next": None}
    after_middle = member.get(f"/time-entries/paginated?{MARCH}&after={middle.json['next']}")
    assert after_middle.json == {"records_total": None, "data": [first], "next": None}


def page_of(caller: Caller, query: str) -> dict:
    response = caller.get(f"/time-entries/paginated?{query}")
    assert response.status_code == 200, response.json
    return response.json


def walk(caller: Caller, query: str, length: int, after: str | None = None) -> list[str]:
    """Every id of the list after `after` (from the top without it), following `next` from
    page to page to the last."""
    seen: list[str] = []
    page = page_of(caller, f"{query}&length={length}" + (f"&after={after}" if after else ""))
    while True:
        seen += [entry["id"] for entry in page["data"]]
        if page["next"] is None:
            return seen
        assert len(page["data"]) == length
        page = page_of(caller, f"{query}&length={length}&after={page['next']}")


@pytest.fixture
def team_march(client, tenant: str, admin: Caller, member: Caller, colleague: Caller, work):
    """A tenant's March in which several people start entries at the same instants (ties that
    only ids order), one spans the month's start, one runs since February, one is deleted."""
    third = Caller(client, tenant, f"third-{uuid.uuid4().hex[:8]}")
    for day in ("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"):
        for caller in (member, colleague, admin):
            create_entry(caller, work, on("09:00", day), on("10:00", day))
        create_entry(member, work, on("11:00", day), on("12:00", day))
    create_entry(colleague, work, on("23:00", "2026-02-28"), on("01:00", "2026-03-01"))
    create_entry(third, work, on("08:00", "2026-02-20"))
    gone = create_entry(member, work, on("13:00", "2026-03-02"), on("14:00", "2026-03-02"))
    assert member.delete(f"/time-entries/{gone['id']}").status_code == 204
    return f"{MARCH}&user_id=*"


@pytest.mark.parametrize("length", [1, 2, 3, 5, 17, 18, 100])
@pytest.mark.sampled(length=(1, 5, 18))  # one by one, pages with a rest, one page exactly
def test_walking_the_pages_after_each_cursor_gives_the_list_in_order(admin, team_march, length):
    everything = listed(admin, team_march)
    assert len(everything) == 18

    by_position = [
        entry["id"]
        for start in range(0, len(everything), length)
        for entry in page_of(admin, f"{team_march}&start={start}&length={length}")["data"]
    ]

    assert walk(admin, team_march, length) == by_position == everything


def test_a_page_after_a_cursor_is_not_counted_unless_asked(admin, team_march):
    first = page_of(admin, f"{team_march}&length=4")
    after = first["next"]

    assert first["records_total"] == 18
    assert page_of(admin, f"{team_march}&length=4&after={after}")["records_total"] is None
    assert page_of(admin, f"{team_march}&length=4&after={after}&count=true")["records_total"] == 18
    assert page_of(admin, f"{team_march}&length=4&count=false")["records_total"] is None
    assert page_of(admin, f"{team_march}&length=4&start=4&count=false") == page_of(
        admin, f"{team_march}&length=4&after={after}"
    )


def test_the_last_page_has_no_next_and_an_empty_page_neither(admin, team_march):
    last = page_of(admin, f"{team_march}&start=16&length=3")
    exact = page_of(admin, f"{team_march}&start=14&length=4")
    beyond = page_of(admin, f"{team_march}&start=18")

    assert len(last["data"]) == 2 and last["next"] is None
    assert len(exact["data"]) == 4 and exact["next"] is None
    assert beyond == {"records_total": 18, "data": [], "next": None}


def test_a_cursor_keeps_its_place_when_entries_come_and_go(admin, member, work, team_march):
    first = page_of(admin, f"{team_march}&length=5")
    rest = walk(admin, team_march, 5, after=first["next"])
    newer = create_entry(member, work, on("09:00", "2026-03-20"), on("10:00", "2026-03-20"))
    gone = next(entry for entry in rest if entry in set(listed(member)))
    assert member.delete(f"/time-entries/{gone}").status_code == 204

    assert walk(admin, team_march, 5, after=first["next"]) == [e for e in rest if e != gone]
    assert listed(admin, team_march)[0] == newer["id"]


def test_start_and_after_together_are_refused(admin, team_march):
    after = page_of(admin, f"{team_march}&length=2")["next"]

    refused = admin.get(f"/time-entries/paginated?{team_march}&start=2&after={after}")
    from_zero = admin.get(f"/time-entries/paginated?{team_march}&start=0&after={after}")

    assert_refused(refused, 400, "validation_error")
    assert "start" in refused.json["errors"]
    assert from_zero.status_code == 200


def test_another_tenants_cursor_shows_nothing_of_theirs(admin, stranger, work, team_march):
    theirs = page_of(admin, f"{team_march}&length=2")["next"]
    own = create_entry(stranger, new_work(stranger, "Own"), on("08:00", "2026-03-01"), on("09:00"))

    answer = page_of(stranger, f"{MARCH}&user_id=*&after={theirs}&count=true")

    assert answer == {"records_total": 1, "data": [own], "next": None}


# Long lists


def add_entries(storage, owner: Caller, work: dict[str, str], count: int, first: datetime):
    """`count` entries of the owner, 20 minutes every half hour from `first` on, straight into
    the storage (the API would take minutes for a thousand)."""
    entries = [
        TimeEntry(
            id=str(uuid.uuid4()),
            tenant_id=owner.tenant_id,
            owner_id=owner.user_id,
            project_id=work["project_id"],
            activity_id=work["activity_id"],
            start_date=first + timedelta(minutes=30 * number),
            end_date=first + timedelta(minutes=30 * number + 20),
            description=f"Entry {number}",
            technologies=["python"],
        )
        for number in range(count)
    ]
    with storage.unit_of_work(write=True) as uow:
        uow.time_entries.add_many(entries)
        uow.commit()
    return entries


@pytest.fixture
def busy_member(storage, admin, member, work) -> Caller:
    """A member with 1,100 entries in March 2026 (more than two batches of a long list)."""
    member.get("/time-entries/running")  # the member is known, with their email
    add_entries(storage, member, work, 1100, datetime(2026, 3, 2, tzinfo=UTC))
    return member


@pytest.mark.parametrize(
    "query, count",
    [(MARCH, 1100), (f"{MARCH}&limit=700", 700), (f"{MARCH}&limit=1000", 1000)],
)
def test_a_long_admin_list_is_streamed_with_the_bytes_of_one_body(admin, busy_member, query, count):
    plain = busy_member.get(f"/time-entries?{query}")
    streamed = admin.get(f"/time-entries?{query}&user_id={busy_member.user_id}")

    assert streamed.status_code == plain.status_code == 200
    # Written as it is read: no length known up front (chunked over HTTP/1.1).
    assert "Content-Length" not in streamed.headers
    assert int(plain.headers["Content-Length"]) == len(plain.get_data())
    assert streamed.headers["Content-Type"] == plain.headers["Content-Type"]
    assert streamed.get_data() == plain.get_data()
    assert len(streamed.json) == count


def test_a_streamed_list_still_answers_the_fields_a_mask_asks_for(admin, busy_member):
    mask = {"X-Fields": "id,start_date,owner_email"}
    plain = busy_member.get(f"/time-entries?{MARCH}", headers=mask)
    streamed = admin.get(f"/time-entries?{MARCH}&user_id=*", headers=mask)

    assert "Content-Length" not in streamed.headers
    assert streamed.get_data() == plain.get_data()
    assert set(streamed.json[0]) == {"id", "start_date", "owner_email"}


def test_a_short_admin_list_is_one_body_as_before(admin, member, work):
    entry = create_entry(member, work, on("09:00"), on("10:00"))

    answer = admin.get(f"/time-entries?{MARCH}&user_id=*")

    assert answer.json == [entry]
    assert int(answer.headers["Content-Length"]) == len(answer.get_data())


# Cosmos DB has no snapshot across queries (see Storage.unit_of_work): SQL databases only.
@pytest.mark.parametrize("database", SQL_BACKENDS, indirect=True)
def test_a_streamed_list_reads_one_snapshot(storage, admin, busy_member, work):
    oldest = listed(busy_member)[-1]
    streamed = admin.get(f"/time-entries?{MARCH}&user_id=*")  # its first two batches are read
    # Changed before its last batch is read, where that batch reads: neither change shows.
    late = create_entry(busy_member, work, on("09:00", "2026-03-01"), on("10:00", "2026-03-01"))
    assert busy_member.delete(f"/time-entries/{oldest}").status_code == 204

    shown = [entry["id"] for entry in streamed.json]

    assert len(shown) == 1100 and shown[-1] == oldest
    assert late["id"] not in shown


def test_recent_projects_are_the_active_ones_of_the_latest_twenty_entries(admin, member, work):
    web, mobile, legacy, forgotten = (
        work,
        new_work(admin, "Mobile"),
        new_work(admin, "Legacy"),
        new_work(admin, "Forgotten"),
    )
    day = datetime(2026, 3, 10, tzinfo=UTC)
    projects = [forgotten] + [web] * 17 + [legacy, mobile, web]
    for hour, project in enumerate(projects):
        start = day + timedelta(hours=hour)
        create_entry(member, project, start, start + timedelta(minutes=30))
    admin.delete(f"/projects/{legacy['project_id']}")

    response = member.get("/projects/recent")

    assert response.status_code == 200
    assert [p["id"] for p in response.json] == [web["project_id"], mobile["project_id"]]
    assert response.json[0]["name"] == "Web"


def test_recent_projects_of_a_user_without_entries_are_none(member):
    assert member.get("/projects/recent").json == []


# Statement counts


def statements_for(app, caller: Caller, path: str) -> int:
    caller.get(path)  # the caller is known and every connection warm before counting
    with counted_round_trips(app.extensions["storage"]) as statements:
        response = caller.get(path)
    assert response.status_code == 200, response.json
    return len(statements)


@pytest.mark.parametrize(
    "path",
    [f"/time-entries?{MARCH}", f"/time-entries/paginated?{MARCH}", "/time-entries/latest"],
)
def test_reading_many_entries_costs_no_more_statements_than_one(app, admin, member, path):
    day = datetime(2026, 3, 10, tzinfo=UTC)
    slots = [day + timedelta(minutes=30 * i) for i in range(25)]
    create_entry(member, new_work(admin, "Work 0"), slots[0], slots[0] + timedelta(minutes=20))
    with_one = statements_for(app, member, path)

    for i, start in enumerate(slots[1:], start=1):
        create_entry(member, new_work(admin, f"Work {i}"), start, start + timedelta(minutes=20))
    with_many = statements_for(app, member, path)

    assert len(member.get("/time-entries/latest").json) == 25
    assert with_many == with_one


@pytest.mark.parametrize(
    "query",
    [
        "time_offset=-841&timezone_offset=0",
        "timezone_offset=900",
    ],
)
def test_a_summary_offset_out_of_range_is_refused(member, query):
    response = member.get(f"/time-entries/summary?{query}")
    assert response.status_code == 400
    assert response.json["code"] == "validation_error"


def test_january_of_year_one_east_of_utc_is_refused_not_a_crash(member):
    response = member.get("/time-entries?month=1&year=1&timezone_offset=-840")
    assert response.status_code == 400
    assert response.json["errors"] == {"year": "is out of range"}
