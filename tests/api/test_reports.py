"""Reports over HTTP on every backend: totals checked against sums computed here from the raw
entries, across time zones, daylight saving time and day/week/month boundaries; exports read
back with `csv` and openpyxl; hostile input refused with the JSON error body."""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from commons.domain.principal import ADMIN_GROUP, Principal
from commons.domain.reports import report_filters
from commons.services import reports
from tests.conftest import Caller

# Nothing here reads a table or a container directly: the memory backend answers it all too.
pytestmark = pytest.mark.also_in_process

ZONES: dict[str, tuple[dict[str, Any], tzinfo]] = {
    "utc": ({}, UTC),
    "berlin": ({"timezone": "Europe/Berlin"}, ZoneInfo("Europe/Berlin")),
    "kolkata-half-hour": ({"timezone": "Asia/Kolkata"}, ZoneInfo("Asia/Kolkata")),
    "js-offset-bogota": ({"timezone_offset": "300"}, timezone(timedelta(hours=-5))),
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def new_work(admin: Caller, name: str) -> dict[str, Any]:
    customer = admin.post("/customers", json={"name": f"{name} Inc"}).json
    project = admin.post("/projects", json={"name": name, "customer_id": customer["id"]}).json
    activity = admin.post("/activities", json={"name": f"{name} work"}).json
    return {
        "project_id": project["id"],
        "activity_id": activity["id"],
        "customer": customer["id"],
        "names": (customer["name"], project["name"], activity["name"]),
    }


def log(caller: Caller, work: dict[str, Any], start: datetime, end: datetime | None, **more):
    body = {"project_id": work["project_id"], "activity_id": work["activity_id"], **more}
    body["start_date"] = start.isoformat()
    if end is not None:
        body["end_date"] = end.isoformat()
    answer = caller.post("/time-entries", json=body)
    assert answer.status_code == 201, answer.json
    return {
        **answer.json,
        "customer": work["customer"],
        "names": work["names"],
        "start": start,
        "end": end,
        "user": caller.user_id,
    }


@pytest.fixture
def march(admin: Caller, member: Caller) -> list[dict[str, Any]]:
    """Entries around the boundaries of March 2026 (Berlin's clocks go forward on the 29th)."""
    web, ops = new_work(admin, "Web"), new_work(admin, "Ops")
    entries = [
        log(member, web, at("2026-02-28T22:30:00"), at("2026-03-01T01:15:00")),
        log(member, web, at("2026-03-01T01:30:00"), at("2026-03-01T06:00:00"), uri="=cmd|x"),
        log(
            member,
            ops,
            at("2026-03-28T22:30:00"),
            at("2026-03-29T02:00:00"),
            technologies=["python"],
        ),
        log(
            member,
            ops,
            at("2026-03-29T21:00:00"),
            at("2026-03-30T01:30:00"),
            technologies=["python", "sql"],
        ),
        log(member, web, at("2026-03-31T20:00:00"), at("2026-04-01T03:00:00"), description="-1+1"),
        log(admin, ops, at("2026-03-15T10:00:00"), at("2026-03-15T12:45:30"), technologies=["sql"]),
        log(admin, web, at("2026-03-16T23:50:00"), at("2026-03-17T00:20:00")),
    ]
    deleted = log(member, ops, at("2026-03-10T08:00:00"), at("2026-03-10T09:00:00"))
    assert member.delete(f"/time-entries/{deleted['id']}").status_code == 204
    return entries


def midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def period(day: date, unit: str | None) -> str | None:
    if unit == "day":
        return day.isoformat()
    if unit == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    if unit == "month":
        return day.strftime("%Y-%m")
    return None


def expected(entries, zone, first: date, last: date, dims: tuple[str, ...], now=None):
    """Seconds and entries per group key, added up here one local day at a time."""
    unit = next((d for d in dims if d in ("day", "week", "month")), None)
    seconds: dict[tuple, float] = defaultdict(float)
    counted: dict[tuple, set] = defaultdict(set)
    day = first
    while day <= last:
        start, end = midnight(day, zone), midnight(day + timedelta(days=1), zone)
        for entry in entries:
            stop = entry["end"] or now
            part = (min(stop, end) - max(entry["start"], start)).total_seconds()
            if part <= 0:
                continue
            values = {
                "customer": [entry["customer"]],
                "project": [entry["project_id"]],
                "activity": [entry["activity_id"]],
                "user": [entry["user"]],
                "technology": entry["technologies"] or [None],
            }
            keys = [()]
            for dim in dims:
                options = [period(day, unit)] if dim == unit else values[dim]
                keys = [key + (option,) for key in keys for option in options]
            # An entry counts once in each group (a technology list splits only its level).
            for prefix in {key[:depth] for key in keys for depth in range(len(key) + 1)}:
                seconds[prefix] += part
                counted[prefix].add(entry["id"])
        day += timedelta(days=1)
    return {key: (round(s, 3), len(counted[key])) for key, s in seconds.items()}


def flattened(answer: dict[str, Any]) -> dict[tuple, tuple[float, int]]:
    found = {(): (answer["total_seconds"], answer["entries"])}

    def walk(groups, prefix):
        for group in groups:
            key = prefix + (group["key"],)
            found[key] = (group["seconds"], group["entries"])
            walk(group["groups"], key)

    walk(answer["groups"], ())
    return found


def summary(caller: Caller, **args: Any):
    return caller.get(f"/reports/summary?{urlencode(args)}")


GROUPINGS = [
    "",
    "day",
    "week",
    "month",
    "project",
    "customer,day",
    "user,technology",
    "week,activity",
]


@pytest.mark.parametrize("zone_name", list(ZONES))
@pytest.mark.parametrize("group_by", GROUPINGS)
@pytest.mark.sampled(zone_name=("berlin", "js-offset-bogota"))  # a DST day, a JS offset
def test_the_summary_adds_up_as_the_raw_entries_do(admin, member, march, zone_name, group_by):
    zone_args, zone = ZONES[zone_name]
    dims = tuple(group_by.split(",")) if group_by else ()
    args = {"start_date": "2026-03-01", "end_date": "2026-03-31", "user_id": "*", **zone_args}
    if group_by:
        args["group_by"] = group_by
    answer = summary(admin, **args)
    assert answer.status_code == 200, answer.json
    assert flattened(answer.json) == expected(
        march, zone, date(2026, 3, 1), date(2026, 3, 31), dims
    )


def test_groups_come_by_seconds_and_periods_in_order(admin, member, march):
    args = {"start_date": "2026-03-01", "end_date": "2026-03-31", "user_id": "*"}
    by_project = summary(admin, **args, group_by="project").json["groups"]
    assert [g["seconds"] for g in by_project] == sorted(
        (g["seconds"] for g in by_project), reverse=True
    )
    assert {g["name"] for g in by_project} == {"Web", "Ops"}
    by_day = summary(admin, **args, group_by="day").json["groups"]
    assert [g["key"] for g in by_day] == sorted(g["key"] for g in by_day)


def test_a_berlin_day_of_daylight_saving_lasts_23_hours(admin, member):
    work = new_work(admin, "Night")
    entry = log(member, work, at("2026-03-28T23:00:00"), at("2026-03-29T22:00:00"))
    answer = summary(
        member, start_date="2026-03-29", end_date="2026-03-29", timezone="Europe/Berlin"
    ).json
    assert answer["total_seconds"] == 23 * 3600
    assert answer["entries"] == 1
    del entry


def test_members_see_only_their_own_time(admin, member, march):
    args = {"start_date": "2026-03-01", "end_date": "2026-03-31"}
    mine = [e for e in march if e["user"] == member.user_id]
    answer = summary(member, **args, group_by="user").json
    assert flattened(answer) == expected(mine, UTC, date(2026, 3, 1), date(2026, 3, 31), ("user",))
    refused = summary(member, **args, user_id=admin.user_id)
    assert refused.status_code == 403
    assert refused.json["code"]


def test_a_running_entry_counts_until_now(admin, member, clock):
    work = new_work(admin, "Live")
    now = datetime.now(UTC)
    finished = log(member, work, now - timedelta(hours=5), now - timedelta(hours=3))
    running = log(member, work, now - timedelta(minutes=90), None)
    first, last = (now - timedelta(days=2)).date(), (now + timedelta(days=1)).date()
    answer = summary(
        member,
        start_date=first.isoformat(),
        end_date=last.isoformat(),
        timezone="Europe/Berlin",
        group_by="day",
    )
    assert answer.status_code == 200, answer.json
    seen = datetime.now(UTC)
    assert answer.json["entries"] == 2
    total = answer.json["total_seconds"]
    at_least = expected([finished, running], UTC, first, last, (), now=now)[()][0]
    at_most = expected([finished, running], UTC, first, last, (), now=seen)[()][0]
    assert at_least - 0.01 <= total <= at_most + 0.01
    assert sum(g["seconds"] for g in answer.json["groups"]) == pytest.approx(total, abs=0.01)


def test_a_running_entry_does_not_count_in_a_window_yet_to_begin(admin, member, clock):
    work = new_work(admin, "Later")
    log(member, work, datetime.now(UTC) - timedelta(hours=2), None)
    later = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    for group_by in ("", "project", "day"):
        answer = summary(member, start_date=later, end_date=later, group_by=group_by)
        assert answer.status_code == 200, answer.json
        found = (answer.json["total_seconds"], answer.json["entries"], answer.json["groups"])
        assert found == (0, 0, []), group_by


def test_the_technology_and_customer_filters_narrow_the_summary(admin, member, march):
    args = {"start_date": "2026-03-01", "end_date": "2026-03-31", "user_id": "*"}
    sql = [e for e in march if "sql" in e["technologies"]]
    answer = summary(admin, **args, technology="sql").json
    assert flattened(answer) == expected(sql, UTC, date(2026, 3, 1), date(2026, 3, 31), ())
    customer = march[0]["customer"]
    theirs = [e for e in march if e["customer"] == customer]
    answer = summary(admin, **args, customer_id=customer, group_by="project").json
    assert flattened(answer) == expected(
        theirs, UTC, date(2026, 3, 1), date(2026, 3, 31), ("project",)
    )


def test_the_csv_holds_every_entry_of_the_window_in_the_callers_zone(admin, member, march):
    answer = admin.get(
        "/reports/entries?"
        + urlencode(
            {
                "start_date": "2026-03-01",
                "end_date": "2026-03-31",
                "user_id": "*",
                "timezone": "Europe/Berlin",
            }
        )
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert "filename=" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8"))))
    header, body = rows[0], rows[1:]
    assert header[0] == "User" and len(header) == 12
    assert len(body) == len(march)  # all meet March in Berlin; the deleted one is gone
    by_start = {row[2]: row for row in body}
    last = by_start["2026-03-31T22:00:00+02:00"]
    assert last[3] == "2026-04-01T05:00:00+02:00"
    assert last[4] == "7:00" and last[5] == "7.00"
    assert last[9] == "'-1+1"  # no formula
    assert any(row[10] == "'=cmd|x" for row in body)
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in body for cell in row)
    berlin = ZoneInfo("Europe/Berlin")
    for entry in march:
        row = by_start[entry["start"].astimezone(berlin).isoformat()]
        assert row[0] == f"{entry['user']}@example.com"
        assert row[1] == entry["start"].astimezone(berlin).date().isoformat()
        assert tuple(row[6:9]) == entry["names"]
        assert row[11] == ", ".join(entry["technologies"])
    assert by_start["2026-03-29T23:00:00+02:00"][6:9] == ["Ops Inc", "Ops", "Ops work"]
    assert by_start["2026-03-29T23:00:00+02:00"][11] == "python, sql"
    assert by_start["2026-03-01T02:30:00+01:00"][1] == "2026-03-01"
    assert by_start["2026-02-28T23:30:00+01:00"][1] == "2026-02-28"


def test_the_xlsx_has_real_dates_and_numbers(admin, member, march):
    query = urlencode({"start_date": "2026-03-01", "end_date": "2026-03-31"})
    for answer in (
        member.get(f"/reports/entries?{query}&format=xlsx"),
        member.get(
            f"/reports/entries?{query}",
            headers={"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        ),
    ):
        assert answer.status_code == 200
        assert ".xlsx" in answer.headers["Content-Disposition"]
        sheet = openpyxl.load_workbook(io.BytesIO(answer.data), read_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0] == "User"
        mine = [e for e in march if e["user"] == member.user_id]
        assert len(rows) - 1 == len(mine)
        assert all(
            isinstance(row[2], datetime) and isinstance(row[5], float | int) for row in rows[1:]
        )
        hours = sorted(round(row[5], 2) for row in rows[1:])
        assert hours == sorted(
            round((e["end"] - e["start"]).total_seconds() / 3600, 2) for e in mine
        )
        by_start = {row[2]: row for row in rows[1:]}
        for entry in mine:  # no zone asked for: UTC, written without an offset
            row = by_start[entry["start"].replace(tzinfo=None)]
            assert row[1] == datetime.combine(entry["start"].date(), time(0))
            assert row[3] == entry["end"].replace(tzinfo=None)
            # The h:mm cell is a spreadsheet duration: a fraction of a day, read as a timedelta.
            assert isinstance(row[4], timedelta)
            assert abs(row[4] - (entry["end"] - entry["start"])) < timedelta(seconds=1)
        first = by_start[datetime(2026, 2, 28, 22, 30)]
        assert first[1] == datetime(2026, 2, 28) and first[5] == pytest.approx(2.75)


HOSTILE = [
    {},
    {"start_date": "2026-03-01"},
    {"start_date": "2026-03-31", "end_date": "2026-03-01"},
    {"start_date": "2026-01-01", "end_date": "2027-01-03"},
    {"start_date": "yesterday", "end_date": "2026-03-01"},
    {"start_date": "2026-03-01\x00", "end_date": "2026-03-02"},
    {"start_date": "2026-03-01", "end_date": "9" * 400},
    {"start_date": "2026-03-01", "end_date": "2026-03-02", "timezone_offset": "9" * 40},
    {"start_date": "2026-03-01", "end_date": "2026-03-02", "timezone_offset": "abc"},
    {"start_date": "2026-03-01", "end_date": "2026-03-02", "timezone": "Mars/Olympus"},
    {"start_date": "2026-03-01", "end_date": "2026-03-02", "group_by": "planet"},
    {"start_date": "2026-03-01", "end_date": "2026-03-02", "group_by": "user,project,day"},
    {"start_date": "2026-03-01", "end_date": "2026-03-02", "group_by": "day,month"},
    {"start_date": "2026-03-01", "end_date": "2026-03-02", "format": "pdf"},
]


@pytest.mark.parametrize("path", ["/reports/summary", "/reports/entries"])
@pytest.mark.parametrize("args", HOSTILE)
def test_bad_input_is_a_json_error(admin, path, args):
    if path.endswith("summary") and "format" in args:
        args = {**args, "group_by": "week,week"}
    if path.endswith("entries") and "group_by" in args:
        args = {**args, "format": "group_by is no export argument"}
    answer = admin.get(f"{path}?{urlencode(args)}")
    assert answer.status_code == 400, answer.data[:200]
    assert answer.json["code"] and answer.json["message"]


def test_another_tenants_ids_are_refused(admin, stranger, member, march):
    theirs = new_work(stranger, "Elsewhere")
    for name in ("project_id", "customer_id", "activity_id"):
        value = theirs[name] if name != "customer_id" else theirs["customer"]
        answer = summary(admin, start_date="2026-03-01", end_date="2026-03-31", **{name: value})
        assert answer.status_code == 400
        assert answer.json["code"] == "invalid_reference"


def test_archived_records_keep_their_names_in_the_summary(admin, member, march):
    project = march[0]["project_id"]
    assert admin.delete(f"/customers/{march[0]['customer']}").status_code == 204
    assert admin.delete(f"/projects/{project}").status_code == 204
    args = {"start_date": "2026-03-01", "end_date": "2026-03-31", "user_id": "*"}
    groups = summary(admin, **args, group_by="customer,project").json["groups"]
    named = {sub["key"]: sub["name"] for g in groups for sub in g["groups"]}
    assert named[project].startswith("Web")


def test_the_export_refuses_a_member_naming_users_before_any_row(admin, member, march):
    query = urlencode({"start_date": "2026-03-01", "end_date": "2026-03-31", "user_id": "*"})
    answer = member.get(f"/reports/entries?{query}")
    assert answer.status_code == 403
    assert answer.headers["Content-Type"] == "application/json"


def test_the_export_takes_the_customer_and_technology_filters(admin, member, march):
    customer = march[0]["customer"]
    args = {"start_date": "2026-03-01", "end_date": "2026-03-31", "user_id": "*"}
    for extra, wanted in (
        ({"customer_id": customer}, [e for e in march if e["customer"] == customer]),
        ({"technology": "python"}, [e for e in march if "python" in e["technologies"]]),
    ):
        answer = admin.get("/reports/entries?" + urlencode({**args, **extra}))
        rows = list(csv.DictReader(io.StringIO(answer.data.decode("utf-8"))))
        assert len(rows) == len(wanted)


def test_the_summary_reads_cosmos_db_page_by_page(admin, member, march, monkeypatch):
    # Two entries a page: the continuation tokens are followed to the end (no-op on SQL).
    monkeypatch.setattr("commons.data_access_layer.cosmos.repositories.REPORT_PAGE", 2)
    args = {"start_date": "2026-03-01", "end_date": "2026-03-31", "user_id": "*"}
    answer = summary(admin, **args, group_by="week").json
    assert flattened(answer) == expected(march, UTC, date(2026, 3, 1), date(2026, 3, 31), ("week",))


def test_the_project_activity_and_ticket_filters_narrow_both_reports(admin, member, march):
    # An entry of Web's project with Ops' activity: the two filters pick different entries.
    ops_activity = next(e["activity_id"] for e in march if e["names"][1] == "Ops")
    web = {
        "project_id": march[0]["project_id"],
        "activity_id": ops_activity,
        "customer": march[0]["customer"],
        "names": ("Web Inc", "Web", "Ops work"),
    }
    mixed = log(admin, web, at("2026-03-20T09:00:00"), at("2026-03-20T10:00:00"), uri="TT-7")
    entries = [*march, mixed]
    args = {"start_date": "2026-03-01", "end_date": "2026-03-31", "user_id": "*"}
    for name, value, wanted in (
        ("project_id", march[0]["project_id"], lambda e: e["project_id"] == march[0]["project_id"]),
        ("activity_id", ops_activity, lambda e: e["activity_id"] == ops_activity),
        ("uri", "=cmd|x", lambda e: e["uri"] == "=cmd|x"),
        ("uri", "TT-7", lambda e: e["uri"] == "TT-7"),
    ):
        theirs = [e for e in entries if wanted(e)]
        assert 0 < len(theirs) < len(entries)
        answer = summary(admin, **args, **{name: value}, group_by="project,activity")
        assert answer.status_code == 200, answer.json
        assert flattened(answer.json) == expected(
            theirs, UTC, date(2026, 3, 1), date(2026, 3, 31), ("project", "activity")
        ), name
        exported = admin.get("/reports/entries?" + urlencode({**args, name: value}))
        assert exported.status_code == 200
        rows = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8"))))
        assert sorted(row["Start"] for row in rows) == sorted(
            e["start"].isoformat() for e in theirs
        ), name


def test_an_admin_reports_on_the_users_named(client, tenant, admin, member, march):
    other = Caller(client, tenant, f"other-{uuid.uuid4().hex[:8]}")
    log(other, new_work(admin, "Third"), at("2026-03-12T09:00:00"), at("2026-03-12T11:00:00"))
    args = {"start_date": "2026-03-01", "end_date": "2026-03-31"}
    for named, users in (
        (member.user_id, {member.user_id}),
        (f"{admin.user_id}, {member.user_id}", {admin.user_id, member.user_id}),
        (f"{member.user_id},{member.user_id}", {member.user_id}),
    ):
        theirs = [e for e in march if e["user"] in users]
        answer = summary(admin, **args, user_id=named, group_by="user")
        assert answer.status_code == 200, answer.json
        assert flattened(answer.json) == expected(
            theirs, UTC, date(2026, 3, 1), date(2026, 3, 31), ("user",)
        ), named
        exported = admin.get("/reports/entries?" + urlencode({**args, "user_id": named}))
        rows = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8"))))
        assert {row["User"] for row in rows} == {f"{user}@example.com" for user in users}
        assert len(rows) == len(theirs)


@pytest.mark.parametrize("batch", [1, 2, 3, 7])
def test_an_export_reads_every_entry_once_in_order_across_batches(
    storage, admin, member, march, batch
):
    # Two entries starting at the same moment (of two users): the keyset's tie-break on ids.
    twins = new_work(admin, "Twins")
    same = at("2026-03-20T09:00:00")
    entries = [
        *march,
        log(admin, twins, same, same + timedelta(hours=1)),
        log(member, twins, same, same + timedelta(hours=2)),
    ]
    principal = Principal(admin.tenant_id, admin.user_id, groups=frozenset({ADMIN_GROUP}))
    filters = report_filters({"start_date": "2026-03-01", "end_date": "2026-03-31", "user_id": "*"})
    batches = list(reports.report_entries(storage, principal, filters, batch=batch))
    assert len(batches) == -(-len(entries) // batch)  # full batches, then the rest
    assert all(len(rows) == batch for rows in batches[:-1])
    read = [entry.id for rows in batches for entry in rows]
    newest_first = sorted(entries, key=lambda e: (e["start"], e["id"]), reverse=True)
    assert read == [e["id"] for e in newest_first]


def test_a_repeated_user_id_names_each_user(admin, member):
    work = new_work(admin, "Both")
    log(admin, work, at("2026-03-02T09:00:00"), at("2026-03-02T10:00:00"))
    log(member, work, at("2026-03-02T09:00:00"), at("2026-03-02T11:00:00"))
    query = urlencode(
        [("start_date", "2026-03-01"), ("end_date", "2026-03-31")]
        + [("user_id", admin.user_id), ("user_id", member.user_id)]
    )
    answer = admin.get(f"/reports/summary?{query}")
    assert answer.status_code == 200, answer.json
    assert answer.json["total_seconds"] == 3 * 3600


@pytest.mark.parametrize("path", ["/reports/summary", "/reports/entries"])
def test_another_filter_given_twice_is_400(admin, path):
    work = new_work(admin, "Twice")
    query = urlencode(
        [("start_date", "2026-03-01"), ("end_date", "2026-03-31")]
        + [("project_id", work["project_id"])] * 2
    )
    answer = admin.get(f"{path}?{query}")
    assert answer.status_code == 400
    assert set(answer.json["errors"]) == {"project_id"}
