"""Incremental sync over HTTP on every backend: `created_at` and `updated_at` set by the server,
lists of changes since a moment (`updated_since`, `include_deleted`) by `updated_at` then id,
paged after cursors of their own, and hostile values of the new parameters refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from commons.domain.pagination import Position, encode_cursor
from commons.domain.time_windows import current_month_window
from tests.conftest import Caller

RESOURCES = ["activities", "customers", "project-types", "projects", "technologies"]
ARCHIVED = {"activities", "customers", "projects"}  # DELETE archives these; the rest go
BERLIN = ZoneInfo("Europe/Berlin")


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def since(value: str | datetime) -> str:
    """A query value for `updated_since`, percent-encoded (`+` as `%2B`)."""
    return quote(value.isoformat() if isinstance(value, datetime) else value, safe="")


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), (response.status_code, response.json)
    return response.json


def create(admin: Caller, resource: str, name: str = "Thing") -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if resource == "projects":
        customer = ok(admin.post("/customers", json={"name": f"For {name} {uuid.uuid4().hex}"}))
        body["customer_id"] = customer["id"]
    return ok(admin.post(f"/{resource}", json=body))


def new_work(admin: Caller) -> dict[str, str]:
    customer = ok(admin.post("/customers", json={"name": f"C {uuid.uuid4().hex[:8]}"}))
    project = ok(admin.post("/projects", json={"name": "Web", "customer_id": customer["id"]}))
    activity = ok(admin.post("/activities", json={"name": f"A {uuid.uuid4().hex[:8]}"}))
    return {"project_id": project["id"], "activity_id": activity["id"]}


def entry(caller: Caller, work: dict[str, str], start: datetime, end: datetime | None = None):
    body = {**work, "start_date": start.isoformat()}
    if end is not None:
        body["end_date"] = end.isoformat()
    return ok(caller.post("/time-entries", json=body))


def day(number: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, number, hour, tzinfo=UTC)


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["id"] for record in records]


def by_update(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda record: (moment(record["updated_at"]), record["id"]))


def assert_error(response: Any, status: int, field: str) -> None:
    assert response.status_code == status, (response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/json"
    body = response.json
    assert body["code"] == "validation_error", body
    assert isinstance(body["message"], str) and body["message"]
    assert field in body["errors"], body


@pytest.fixture
def work(admin: Caller) -> dict[str, str]:
    return new_work(admin)


# Stamps ---------------------------------------------------------------------------------------


def test_the_server_stamps_each_change_with_its_clock(admin, member, work, clock):
    before = datetime.now(UTC)
    customer = create(admin, "customers", "Acme")
    after = datetime.now(UTC)
    renamed = ok(admin.put(f"/customers/{customer['id']}", json={"name": "Acme Inc"}))
    assert admin.delete(f"/customers/{customer['id']}").status_code == 204
    archived = ok(admin.get(f"/customers/{customer['id']}"))

    assert before <= moment(customer["created_at"]) == moment(customer["updated_at"]) <= after
    assert renamed["created_at"] == archived["created_at"] == customer["created_at"]
    stamps = [moment(r["updated_at"]) for r in (customer, renamed, archived)]
    assert stamps == sorted(set(stamps))
    assert stamps[-1] <= datetime.now(UTC)

    running = entry(member, work, datetime.now(UTC) - timedelta(minutes=5))
    stopped = ok(member.post(f"/time-entries/{running['id']}/stop"))
    restarted = ok(member.post(f"/time-entries/{running['id']}/restart"))
    assert running["created_at"] == stopped["created_at"] == restarted["created_at"]
    stamps = [moment(r["updated_at"]) for r in (running, stopped, restarted)]
    assert stamps == sorted(set(stamps))


def test_a_sync_reads_every_window_and_any_offset_of_the_moment(admin, member, work, clock):
    # Made now, but worked last month: a plain list of this month leaves it out, a sync not.
    month_start = current_month_window(datetime.now(UTC), UTC).start
    last_month = entry(member, work, month_start - timedelta(hours=2), month_start)
    this_month = entry(member, work, month_start, month_start + timedelta(minutes=1))
    stamp = moment(last_month["updated_at"])

    assert ids(ok(member.get("/time-entries"))) == [this_month["id"]]
    synced = ok(member.get(f"/time-entries?updated_since={since(stamp)}"))
    assert ids(synced) == [last_month["id"], this_month["id"]]
    # The same instant in Berlin (on the day its clocks go back, too) and in Bogota.
    for zone in (BERLIN, ZoneInfo("America/Bogota")):
        local = stamp.astimezone(zone).isoformat()
        assert ok(member.get(f"/time-entries?updated_since={since(local)}")) == synced
    # At or after: a microsecond later leaves the first out.
    later = since(stamp + timedelta(microseconds=1))
    assert ids(ok(member.get(f"/time-entries?updated_since={later}"))) == [this_month["id"]]
    # A client that sends the offset's + unencoded: it arrives as a space.
    raw = stamp.astimezone(BERLIN).isoformat()
    assert "+" in raw
    assert ok(member.get(f"/time-entries?updated_since={raw}")) == synced
    catalog = ok(admin.get(f"/activities?updated_since={raw}"))
    assert ids(catalog) == ids(ok(admin.get(f"/activities?updated_since={since(stamp)}")))


def test_users_answer_when_they_were_recorded_and_last_changed(admin, member):
    member.get("/activities")
    recorded = ok(admin.get(f"/users/{member.user_id}"))
    granted = ok(admin.post(f"/users/{member.user_id}/roles/admin/grant"))
    again = ok(admin.post(f"/users/{member.user_id}/roles/admin/grant"))

    assert recorded["created_at"] == granted["created_at"]
    assert moment(recorded["updated_at"]) < moment(granted["updated_at"])
    assert again["updated_at"] == granted["updated_at"]  # granting nothing new changes nothing


# Catalog --------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_catalog_sync_lists_changes_by_update_deleted_ones_when_asked(admin, resource):
    first, second, third = (create(admin, resource, name) for name in ("C", "B", "A"))
    ok(admin.put(f"/{resource}/{first['id']}", json={"name": "C2"}))
    assert admin.delete(f"/{resource}/{second['id']}").status_code == 204
    everything = ok(admin.get(f"/{resource}?include_deleted=true"))
    removed = next(r for r in everything if r["id"] == second["id"])

    assert ids(everything) == [third["id"], first["id"], second["id"]]
    assert everything == by_update(everything)
    live = ok(admin.get(f"/{resource}?include_deleted=false"))
    if resource in ARCHIVED:
        # Archived records are live, only inactive: every sync shows them.
        assert removed["deleted"] is None and removed["status"] == "inactive"
        assert live == everything
    else:
        assert moment(removed["deleted"]) <= moment(removed["updated_at"])
        assert ids(live) == [third["id"], first["id"]]
        assert second["id"] not in ids(ok(admin.get(f"/{resource}")))
    changed = ok(admin.get(f"/{resource}?updated_since={since(everything[1]['updated_at'])}"))
    assert ids(changed) == ids(live)[1:]
    # The plain list is still by name.
    names = [r["name"] for r in ok(admin.get(f"/{resource}"))]
    assert names == sorted(names, key=str.casefold)


def test_a_project_sync_shows_the_projects_of_archived_customers(admin):
    project = create(admin, "projects", "Web")
    assert admin.delete(f"/customers/{project['customer_id']}").status_code == 204

    assert project["id"] not in ids(ok(admin.get("/projects")))
    synced = ok(admin.get("/projects?include_deleted=false"))
    assert ids(synced) == [project["id"]]
    changed = ok(admin.get(f"/customers?updated_since={since(project['updated_at'])}"))
    assert [c["status"] for c in changed] == ["inactive"]


def test_a_sync_of_the_catalog_keeps_to_its_filters_and_its_tenant(admin, stranger):
    customer = create(admin, "customers", "Mine")
    other = create(admin, "customers", "Other")
    projects = [
        ok(admin.post("/projects", json={"name": n, "customer_id": customer["id"]}))
        for n in ("P1", "P2")
    ]
    ok(admin.post("/projects", json={"name": "P3", "customer_id": other["id"]}))
    create(stranger, "customers", "Theirs")

    mine = ok(admin.get(f"/projects?include_deleted=true&customer_id={customer['id']}"))
    assert ids(mine) == ids(projects)
    theirs = ok(stranger.get("/customers?include_deleted=true"))
    assert [c["name"] for c in theirs] == ["Theirs"]


# Time entries ---------------------------------------------------------------------------------


def test_a_deleted_entry_is_synced_with_deleted_set(member, work):
    kept = entry(member, work, day(2), day(2, 10))
    gone = entry(member, work, day(3), day(3, 10))
    assert member.delete(f"/time-entries/{gone['id']}").status_code == 204

    everything = ok(member.get("/time-entries?include_deleted=true"))
    assert ids(everything) == [kept["id"], gone["id"]]
    assert everything[1]["deleted"] is not None
    assert moment(everything[1]["updated_at"]) > moment(gone["updated_at"])
    assert ids(ok(member.get("/time-entries?include_deleted=false"))) == [kept["id"]]
    assert ids(ok(member.get("/time-entries?month=3&year=2026"))) == [kept["id"]]


def test_a_sync_keeps_to_a_window_that_is_given(member, work):
    march = entry(member, work, day(2), day(2, 10))
    entry(member, work, datetime(2026, 2, 2, 9, tzinfo=UTC), datetime(2026, 2, 2, 10, tzinfo=UTC))

    assert ids(ok(member.get("/time-entries?include_deleted=true&month=3&year=2026"))) == [
        march["id"]
    ]
    window = "start_date=2026-03-01&end_date=2026-03-31"
    assert ids(ok(member.get(f"/time-entries?include_deleted=true&{window}"))) == [march["id"]]


def test_an_admin_syncs_the_team_and_a_member_only_themselves(client, tenant, admin, member):
    work = new_work(admin)
    colleague = Caller(client, tenant, f"colleague-{uuid.uuid4().hex[:8]}")
    entries = [
        entry(person, work, day(d), day(d, 10)) for d, person in ((4, member), (5, colleague))
    ]
    ok(member.put(f"/time-entries/{entries[0]['id']}", json={"description": "Later"}))

    team = ok(admin.get("/time-entries?user_id=*&include_deleted=true"))
    assert ids(team) == [entries[1]["id"], entries[0]["id"]]
    assert team == by_update(team)
    assert ids(ok(member.get("/time-entries?include_deleted=true"))) == [entries[0]["id"]]
    refused = member.get(f"/time-entries?user_id={colleague.user_id}&include_deleted=true")
    assert refused.status_code == 403


def test_sync_pages_after_their_cursors_make_the_whole_sync(member, work):
    made = [entry(member, work, day(d), day(d, 10)) for d in range(1, 8)]
    for changed in (made[0], made[3]):
        ok(member.put(f"/time-entries/{changed['id']}", json={"description": "Changed"}))
    assert member.delete(f"/time-entries/{made[5]['id']}").status_code == 204
    query = "include_deleted=true"
    whole = ok(member.get(f"/time-entries?{query}"))

    walked, after, pages = [], "", 0
    while True:
        page = ok(member.get(f"/time-entries/paginated?{query}&length=2{after}"))
        walked += page["data"]
        pages += 1
        if page["next"] is None:
            break
        after = f"&after={page['next']}"
    by_position = [
        record
        for start in range(0, len(whole), 3)
        for record in ok(member.get(f"/time-entries/paginated?{query}&length=3&start={start}"))[
            "data"
        ]
    ]

    assert len(whole) == 7 and whole == by_update(whole)
    assert ids(whole[-3:]) == [made[0]["id"], made[3]["id"], made[5]["id"]]
    assert walked == by_position == whole
    assert pages == 4
    first = ok(member.get(f"/time-entries/paginated?{query}&length=2"))
    assert first["records_total"] == 7
    recent = ok(
        member.get(f"/time-entries/paginated?updated_since={since(whole[4]['updated_at'])}")
    )
    assert recent["data"] == [r for r in whole[4:] if r["deleted"] is None]


def test_a_cursor_of_one_order_is_refused_by_a_list_of_the_other(member, work):
    for d in (1, 2, 3):
        entry(member, work, day(d), day(d, 10))
    newest = ok(member.get("/time-entries/paginated?month=3&year=2026&length=1"))["next"]
    synced = ok(member.get("/time-entries/paginated?include_deleted=true&length=1"))["next"]
    assert newest and synced and newest != synced

    for path in (
        f"/time-entries/paginated?include_deleted=true&after={newest}",
        f"/time-entries/paginated?updated_since=2026-01-01T00:00:00Z&after={newest}",
        f"/time-entries/paginated?month=3&year=2026&after={synced}",
    ):
        assert_error(member.get(path), 400, "after")


def test_the_audit_log_refuses_a_sync_cursor(admin):
    cursor = encode_cursor(Position(datetime(2026, 3, 1, tzinfo=UTC), "x", by_update=True))
    assert_error(admin.get(f"/events?after={cursor}"), 400, "after")


# Hostile values ---------------------------------------------------------------------------------

SYNCED_LISTS = ["/time-entries", "/time-entries/paginated", "/customers", "/technologies"]


@pytest.mark.parametrize("path", SYNCED_LISTS)
@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "true",
        "2026-03-01",  # a date: a sync asks for an instant
        "2026-03-01T00:00:00",  # no offset
        "2026-03-01T00:00:00%2B25:00",
        "2026-13-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "1899-12-31T23:59:59Z",
        "1" * 5000,
        str(2**63),
        "-1",
        "2026-03-01T00:00:00Z%00",
        "%00",
        "2026-03-01T00:00:00%20%2001:00",
        "%FF%FE",
        "",
    ],
)
def test_an_updated_since_that_is_no_date_time_with_offset_is_400(admin, path, value):
    assert_error(admin.get(f"{path}?updated_since={value}"), 400, "updated_since")


@pytest.mark.parametrize("path", SYNCED_LISTS)
@pytest.mark.parametrize(
    "value",
    ["1", "yes", "TRUE", "", "null", "%00", "true%00", "9" * 400, "2026-03-01T00:00:00Z"],
)
def test_include_deleted_is_true_or_false(admin, path, value):
    assert_error(admin.get(f"{path}?include_deleted={value}"), 400, "include_deleted")


def test_the_sync_parameters_are_documented(client):
    document = client.get("/swagger.json").json
    for path in ("/time-entries", "/time-entries/paginated", "/customers", "/projects"):
        parameters = {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}
        assert parameters["updated_since"]["format"] == "date-time", path
        assert parameters["include_deleted"]["type"] == "boolean", path
    for model in ("TimeEntry", "Customer", "Project", "Technology", "User"):
        definition = document["definitions"][model]
        parts = definition.get("allOf", [definition])  # catalog models extend their input
        properties = {k: v for part in parts for k, v in part.get("properties", {}).items()}
        assert properties["created_at"]["format"] == "date-time", model
        assert properties["updated_at"]["readOnly"] is True, model
