"""Reports: time split at the caller's day boundaries (DST included), totals per group, and the
nested answer, all from hand-computed entries and without storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from commons.domain.exceptions import ValidationFailed
from commons.domain.reports import (
    NONE_NAME,
    ReportRecord,
    ReportRow,
    aggregate,
    buckets,
    counts_in,
    derived,
    grouped_keys,
    local,
    report_filters,
    seconds_inside,
    storage_groupings,
    stored_levels,
    summary_answer,
)
from commons.domain.time_windows import Window

PARIS = ZoneInfo("Europe/Paris")
HOUR = 3600.0


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


def record(
    start: datetime,
    end: datetime | None,
    project: str = "p1",
    activity: str = "a1",
    technologies: tuple[str, ...] = (),
    owner: str = "u1",
    customer: str | None = "c1",
) -> ReportRecord:
    return ReportRecord(owner, customer, project, activity, technologies, start, end)


def by_key(rows: list[ReportRow]) -> dict[tuple[Any, ...], tuple[float, int]]:
    return {row.key: (row.seconds, row.entries) for row in rows}


def split_by_day(
    records: list[ReportRecord], args: dict[str, str], now: datetime
) -> dict[str, tuple[float, int]]:
    """Seconds and entries per day of the caller, as storage without SQL adds them up."""
    filters = report_filters(args)
    days = buckets(filters.window, filters.zone, "day")
    [per_bucket] = aggregate(records, [("bucket",)], [d.window for d in days], filters.window, now)
    return {days[key[0]].key: value for key, value in by_key(per_bucket).items()}


# --- which entries count, and how much of them ---------------------------------------------------

MORNING = Window(utc(2026, 6, 16, 9), utc(2026, 6, 16, 12))


@pytest.mark.parametrize(
    "start, end, counts",
    [
        (utc(2026, 6, 16, 8), utc(2026, 6, 16, 9), False),  # ends at the start
        (utc(2026, 6, 16, 12), utc(2026, 6, 16, 13), False),  # starts at the end
        (utc(2026, 6, 16, 8), utc(2026, 6, 16, 10), True),
        (utc(2026, 6, 16, 11), utc(2026, 6, 16, 13), True),
        (utc(2026, 6, 16, 9), utc(2026, 6, 16, 9), True),  # lasts no time, starts inside
        (utc(2026, 6, 16, 12), utc(2026, 6, 16, 12), False),  # lasts no time, at the end
        (utc(2026, 6, 16, 8), utc(2026, 6, 16, 8), False),
    ],
)
def test_an_entry_counts_in_a_window_it_meets_or_where_an_instant_entry_starts(start, end, counts):
    assert counts_in(start, end, MORNING) is counts


@pytest.mark.parametrize(
    "start, end, seconds",
    [
        (utc(2026, 6, 16, 8), utc(2026, 6, 16, 10), HOUR),
        (utc(2026, 6, 16, 10), utc(2026, 6, 16, 10, 30), HOUR / 2),
        (utc(2026, 6, 16, 8), utc(2026, 6, 16, 13), 3 * HOUR),
        (utc(2026, 6, 16, 13), utc(2026, 6, 16, 14), 0.0),  # never negative
        (utc(2026, 6, 16, 11, 59, 59, 500000), utc(2026, 6, 16, 13), 0.5),
    ],
)
def test_only_the_seconds_inside_the_window_count(start, end, seconds):
    assert seconds_inside(start, end, MORNING) == seconds


# --- splitting at the caller's midnight ----------------------------------------------------------


def test_an_entry_across_the_callers_midnight_is_split_into_its_two_days():
    # New York in winter (300): 22:00 on the 5th to 02:00 on the 6th, local time.
    crossing = record(utc(2026, 1, 6, 3), utc(2026, 1, 6, 7))
    args = {"start_date": "2026-01-05", "end_date": "2026-01-06", "timezone_offset": "300"}
    assert split_by_day([crossing], args, now=utc(2026, 1, 10)) == {
        "2026-01-05": (2 * HOUR, 1),
        "2026-01-06": (2 * HOUR, 1),
    }


def test_the_same_entry_is_one_day_for_a_caller_in_utc():
    crossing = record(utc(2026, 1, 6, 3), utc(2026, 1, 6, 7))
    args = {"start_date": "2026-01-05", "end_date": "2026-01-06"}
    assert split_by_day([crossing], args, now=utc(2026, 1, 10)) == {"2026-01-06": (4 * HOUR, 1)}


def test_an_entry_across_a_paris_midnight_when_clocks_spring_forward_loses_an_hour_of_wall_time():
    # 22:00 CET on 28 March to 04:00 CEST on the 29th: six hours on the wall, five in truth.
    night = record(utc(2026, 3, 28, 21), utc(2026, 3, 29, 2))
    args = {"start_date": "2026-03-28", "end_date": "2026-03-29", "timezone": "Europe/Paris"}
    assert split_by_day([night], args, now=utc(2026, 4, 1)) == {
        "2026-03-28": (2 * HOUR, 1),
        "2026-03-29": (3 * HOUR, 1),
    }


def test_a_whole_paris_day_when_clocks_fall_back_lasts_25_hours():
    day = record(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    args = {"start_date": "2026-10-25", "end_date": "2026-10-25", "timezone": "Europe/Paris"}
    assert split_by_day([day], args, now=utc(2026, 11, 1)) == {"2026-10-25": (25 * HOUR, 1)}


def test_a_fixed_offset_keeps_24_hour_days_across_a_change_of_daylight_saving_time():
    # The Paris browser still sends its winter -60: 29 March is 23:00 to 23:00 UTC.
    night = record(utc(2026, 3, 28, 21), utc(2026, 3, 29, 2))
    late = record(utc(2026, 3, 29, 22, 30), utc(2026, 3, 29, 23, 30))
    args = {"start_date": "2026-03-28", "end_date": "2026-03-30", "timezone_offset": "-60"}
    assert split_by_day([night, late], args, now=utc(2026, 4, 1)) == {
        "2026-03-28": (2 * HOUR, 1),
        "2026-03-29": (3 * HOUR + HOUR / 2, 2),
        "2026-03-30": (HOUR / 2, 1),
    }


def test_an_entry_spanning_the_reports_start_counts_only_from_it():
    early = record(utc(2026, 6, 14, 22), utc(2026, 6, 15, 2))
    args = {"start_date": "2026-06-15", "end_date": "2026-06-15"}
    assert split_by_day([early], args, now=utc(2026, 6, 20)) == {"2026-06-15": (2 * HOUR, 1)}


def test_a_running_entry_counts_until_now_and_into_each_day_it_has_run():
    running = record(utc(2026, 6, 15, 20), None)
    args = {"start_date": "2026-06-15", "end_date": "2026-06-17"}
    assert split_by_day([running], args, now=utc(2026, 6, 16, 6)) == {
        "2026-06-15": (4 * HOUR, 1),
        "2026-06-16": (6 * HOUR, 1),
    }


def test_an_entry_lasting_no_time_at_midnight_counts_in_the_day_it_starts():
    instant = record(utc(2026, 6, 16), utc(2026, 6, 16))
    args = {"start_date": "2026-06-15", "end_date": "2026-06-16"}
    assert split_by_day([instant], args, now=utc(2026, 6, 20)) == {"2026-06-16": (0.0, 1)}


# --- buckets: days, Monday weeks, months, clipped to the window ---------------------------------


def test_months_are_clipped_to_the_reports_window():
    window = Window(utc(2026, 1, 15), utc(2026, 3, 11))
    months = buckets(window, UTC, "month")
    assert [(m.key, m.window) for m in months] == [
        ("2026-01", Window(utc(2026, 1, 15), utc(2026, 2, 1))),
        ("2026-02", Window(utc(2026, 2, 1), utc(2026, 3, 1))),
        ("2026-03", Window(utc(2026, 3, 1), utc(2026, 3, 11))),
    ]


def test_a_leap_februarys_buckets_are_29_days():
    days = buckets(Window(utc(2028, 2, 28), utc(2028, 3, 2)), UTC, "day")
    assert [d.key for d in days] == ["2028-02-28", "2028-02-29", "2028-03-01"]


@pytest.mark.parametrize(
    "window, keys, names",
    [
        (
            Window(utc(2026, 12, 30), utc(2027, 1, 5)),
            ["2026-12-28", "2027-01-04"],
            ["2026-W53", "2027-W01"],
        ),
        # ISO week 1 of 2025 starts on Monday 30 December 2024.
        (
            Window(utc(2024, 12, 31), utc(2025, 1, 2)),
            ["2024-12-30"],
            ["2025-W01"],
        ),
    ],
)
def test_weeks_are_keyed_by_their_monday_and_named_by_their_iso_week(window, keys, names):
    weeks = buckets(window, UTC, "week")
    assert [w.key for w in weeks] == keys
    assert [w.name for w in weeks] == names
    assert weeks[0].window.start == window.start


def test_days_of_a_new_york_caller_start_at_their_local_midnight():
    window = Window(utc(2026, 11, 1, 4), utc(2026, 11, 3, 5))
    days = buckets(window, ZoneInfo("America/New_York"), "day")
    assert [(d.key, d.window) for d in days] == [
        ("2026-11-01", Window(utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))),  # 25 hours
        ("2026-11-02", Window(utc(2026, 11, 2, 5), utc(2026, 11, 3, 5))),
    ]


# --- totals per project, activity, day; the nested answer ---------------------------------------

NEW_YORK_WEEK_ARGS = {
    "start_date": "2026-01-05",
    "end_date": "2026-01-06",
    "timezone_offset": "300",
}
NOW = utc(2026, 1, 6, 22)
ENTRIES = [
    record(utc(2026, 1, 6, 3), utc(2026, 1, 6, 7), "p1", "a1"),  # 2 h on the 5th, 2 h the 6th
    record(utc(2026, 1, 6, 12), utc(2026, 1, 6, 13, 30), "p2", "a1"),  # 1.5 h on the 6th
    record(utc(2026, 1, 6, 20), None, "p1", "a2"),  # running: 2 h until now, the 6th
    record(utc(2026, 1, 5, 4), utc(2026, 1, 5, 6), "p2", "a2"),  # 1 h inside, the 5th
    record(utc(2026, 1, 7, 5), utc(2026, 1, 7, 6), "p1", "a1"),  # starts at the window's end
]


def test_entries_add_up_per_project_per_day_and_in_total():
    filters = report_filters(NEW_YORK_WEEK_ARGS)
    days = buckets(filters.window, filters.zone, "day")
    groupings = [(), ("bucket",), ("project",), ("bucket", "project")]
    total, per_day, per_project, per_day_project = aggregate(
        ENTRIES, groupings, [d.window for d in days], filters.window, NOW
    )
    assert by_key(total) == {(): (8.5 * HOUR, 4)}
    assert by_key(per_day) == {(0,): (3 * HOUR, 2), (1,): (5.5 * HOUR, 3)}
    assert by_key(per_project) == {("p1",): (6 * HOUR, 2), ("p2",): (2.5 * HOUR, 2)}
    assert by_key(per_day_project) == {
        (0, "p1"): (2 * HOUR, 1),
        (0, "p2"): (HOUR, 1),
        (1, "p1"): (4 * HOUR, 2),
        (1, "p2"): (1.5 * HOUR, 1),
    }


def test_the_summary_nests_projects_in_days_biggest_first():
    filters = report_filters({**NEW_YORK_WEEK_ARGS, "group_by": "day,project"})
    days = buckets(filters.window, filters.zone, "day")
    groupings = storage_groupings(filters)
    assert groupings == [(), ("bucket",), ("bucket", "project")]
    results = aggregate(ENTRIES, groupings, [d.window for d in days], filters.window, NOW)
    names = {"project": {"p1": "Web", "p2": "Api"}}

    def group(key: str, name: str, hours: float, entries: int, groups: list) -> dict:
        return {
            "key": key,
            "name": name,
            "seconds": hours * HOUR,
            "entries": entries,
            "groups": groups,
        }

    assert summary_answer(filters, results, days, names) == {
        "total_seconds": 8.5 * HOUR,
        "entries": 4,
        "groups": [
            group(
                "2026-01-05",
                "2026-01-05",
                3,
                2,
                [group("p1", "Web", 2, 1, []), group("p2", "Api", 1, 1, [])],
            ),
            group(
                "2026-01-06",
                "2026-01-06",
                5.5,
                3,
                [group("p1", "Web", 4, 2, []), group("p2", "Api", 1.5, 1, [])],
            ),
        ],
    }


def test_project_then_activity_totals_are_derived_from_the_finest_grouping_alone():
    filters = report_filters({**NEW_YORK_WEEK_ARGS, "group_by": "project,activity"})
    groupings = storage_groupings(filters)
    assert groupings == [(), ("project",), ("project", "activity")]
    assert stored_levels(filters) == [2]
    [finest] = aggregate(ENTRIES, [groupings[2]], [], filters.window, NOW)
    assert by_key(finest) == {
        ("p1", "a1"): (4 * HOUR, 1),
        ("p1", "a2"): (2 * HOUR, 1),
        ("p2", "a1"): (1.5 * HOUR, 1),
        ("p2", "a2"): (HOUR, 1),
    }
    assert by_key(derived(finest, groupings[2], ("project",))) == {
        ("p1",): (6 * HOUR, 2),
        ("p2",): (2.5 * HOUR, 2),
    }
    assert by_key(derived(finest, groupings[2], ("activity",))) == {
        ("a1",): (5.5 * HOUR, 2),
        ("a2",): (3 * HOUR, 2),
    }
    assert by_key(derived(finest, groupings[2], ())) == {(): (8.5 * HOUR, 4)}


@pytest.mark.parametrize(
    "group_by, levels",
    [
        ("", [0]),
        ("project", [1]),
        ("day", [0, 1]),  # a day is not a partition: an entry may fall in two
        ("technology", [0, 1]),  # one entry counts in each of its technologies
        ("day,project", [0, 2]),  # days follow from days and projects
        ("project,day", [1, 2]),
        ("user,technology", [1, 2]),
    ],
)
def test_storage_adds_up_only_levels_that_do_not_follow_from_a_finer_one(group_by, levels):
    args = {"start_date": "2026-06-01", "end_date": "2026-06-30", "group_by": group_by}
    assert stored_levels(report_filters(args)) == levels


def technology_summary(technology: str | None = None) -> dict[str, Any]:
    entries = [
        record(utc(2026, 6, 16, 9), utc(2026, 6, 16, 10), technologies=("sql", "python")),
        record(utc(2026, 6, 16, 10), utc(2026, 6, 16, 12), technologies=("python",)),
        record(utc(2026, 6, 16, 12), utc(2026, 6, 16, 12, 30)),
    ]
    args = {"start_date": "2026-06-16", "end_date": "2026-06-16", "group_by": "technology"}
    if technology:
        args["technology"] = technology
    filters = report_filters(args)
    results = aggregate(entries, storage_groupings(filters), [], filters.window, utc(2026, 7, 1))
    return summary_answer(filters, results, [], {})


def test_an_entry_counts_once_in_each_of_its_technologies():
    answer = technology_summary()
    assert (answer["total_seconds"], answer["entries"]) == (3.5 * HOUR, 3)
    assert [(g["key"], g["name"], g["seconds"], g["entries"]) for g in answer["groups"]] == [
        ("python", "python", 3 * HOUR, 2),
        ("sql", "sql", HOUR, 1),
        (None, NONE_NAME, HOUR / 2, 1),
    ]


def test_a_technology_filter_keeps_only_the_entries_naming_it_in_each_of_their_technologies():
    answer = technology_summary("sql")
    assert (answer["total_seconds"], answer["entries"]) == (HOUR, 1)
    groups = [(g["key"], g["seconds"], g["entries"]) for g in answer["groups"]]
    assert groups == [("python", HOUR, 1), ("sql", HOUR, 1)]


def test_groups_of_equal_time_are_ordered_by_name_and_unnamed_keys_show_themselves():
    filters = report_filters(
        {"start_date": "2026-06-16", "end_date": "2026-06-16", "group_by": "project"}
    )
    rows = [ReportRow((), 3.5 * HOUR, 4)]
    by_project = [
        ReportRow(("p-b",), HOUR, 1),
        ReportRow(("p-a",), HOUR, 1),
        ReportRow(("p-gone",), HOUR, 1),
        ReportRow((None,), HOUR / 2, 1),
    ]
    names = {"project": {"p-a": "zebra", "p-b": "Alpha"}}
    answer = summary_answer(filters, [rows, by_project], [], names)
    assert [(g["key"], g["name"]) for g in answer["groups"]] == [
        ("p-b", "Alpha"),
        ("p-gone", "p-gone"),
        ("p-a", "zebra"),
        (None, NONE_NAME),
    ]


def test_the_names_a_summary_needs_are_the_record_keys_its_rows_hold():
    groupings = [(), ("bucket", "project"), ("user", "technologies")]
    results = [
        [ReportRow((), 1.0, 1)],
        [ReportRow((0, "p1"), 1.0, 1), ReportRow((1, None), 1.0, 1)],
        [ReportRow(("u1", ("python",)), 1.0, 1)],
    ]
    assert grouped_keys(results, groupings) == {"project": {"p1"}, "user": {"u1"}}


def test_an_empty_report_has_no_time_and_no_groups():
    filters = report_filters({"start_date": "2026-06-16", "end_date": "2026-06-16"})
    assert summary_answer(filters, [[]], [], {}) == {
        "total_seconds": 0.0,
        "entries": 0,
        "groups": [],
    }


# --- the report's filters ------------------------------------------------------------------------


def test_an_inclusive_end_date_covers_its_whole_local_day():
    filters = report_filters(
        {"start_date": "2026-06-16", "end_date": "2026-06-16", "timezone_offset": "-120"}
    )
    assert filters.window == Window(utc(2026, 6, 15, 22), utc(2026, 6, 16, 22))
    assert filters.window.end - filters.window.start == timedelta(days=1)


@pytest.mark.parametrize(
    "args, field",
    [
        ({"end_date": "2026-06-16"}, {"start_date"}),
        ({"start_date": "2026-06-16"}, {"end_date"}),
        ({}, {"start_date", "end_date"}),
        ({"start_date": " ", "end_date": "2026-06-16"}, {"start_date"}),
        ({"start_date": "2026-06-17", "end_date": "2026-06-16"}, {"end_date"}),
        ({"start_date": "2026-06-16T12:00:00", "end_date": "2026-06-16T12:00:00"}, {"end_date"}),
        ({"start_date": "2026-06-16", "end_date": "2026-06-16", "user_id": ","}, {"user_id"}),
        (
            {"start_date": "2026-06-16", "end_date": "2026-06-16", "project_id": "x" * 101},
            {"project_id"},
        ),
        ({"start_date": "2026-06-16", "end_date": "2026-06-16", "uri": "a\x00b"}, {"uri"}),
    ],
)
def test_report_filters_name_the_argument_they_refuse(args, field):
    with pytest.raises(ValidationFailed) as refused:
        report_filters(args)
    assert set(refused.value.errors) == field


def test_a_report_may_span_at_most_366_local_days():
    report_filters({"start_date": "2026-01-01", "end_date": "2027-01-02"})  # 367 days, 366 apart
    with pytest.raises(ValidationFailed) as refused:
        report_filters({"start_date": "2026-01-01", "end_date": "2027-01-03"})
    assert set(refused.value.errors) == {"end_date"}


@pytest.mark.parametrize(
    "sent, user_ids",
    [
        (None, None),
        ("*", ("*",)),
        ("u1", ("u1",)),
        (" u1 , u2,u1,, ", ("u1", "u2")),
    ],
)
def test_user_ids_are_a_trimmed_list_without_repeats(sent, user_ids):
    args = {"start_date": "2026-06-16", "end_date": "2026-06-16"}
    if sent is not None:
        args["user_id"] = sent
    assert report_filters(args).user_ids == user_ids


def test_at_most_a_hundred_user_ids_are_taken():
    args = {"start_date": "2026-06-16", "end_date": "2026-06-16"}
    report_filters({**args, "user_id": ",".join(f"u{i}" for i in range(100))})
    with pytest.raises(ValidationFailed):
        report_filters({**args, "user_id": ",".join(f"u{i}" for i in range(101))})


@pytest.mark.parametrize(
    "group_by, parsed, time_unit",
    [
        ("", (), None),
        ("project", ("project",), None),
        (" project , day ", ("project", "day"), "day"),
        ("month,user", ("month", "user"), "month"),
    ],
)
def test_group_by_is_read_in_order_with_its_time_unit(group_by, parsed, time_unit):
    filters = report_filters(
        {"start_date": "2026-06-16", "end_date": "2026-06-16", "group_by": group_by}
    )
    assert (filters.group_by, filters.time_unit) == (parsed, time_unit)


@pytest.mark.parametrize(
    "moment, zone, shown",
    [
        (utc(2026, 3, 29, 0, 30), PARIS, datetime(2026, 3, 29, 1, 30)),  # CET
        (utc(2026, 3, 29, 1, 30), PARIS, datetime(2026, 3, 29, 3, 30)),  # CEST
        (datetime(2026, 3, 29, 1, 30), PARIS, datetime(2026, 3, 29, 3, 30)),  # naive: UTC
        (utc(2026, 1, 6, 3), timezone(timedelta(hours=-5)), datetime(2026, 1, 5, 22)),
    ],
)
def test_a_moment_is_shown_in_the_callers_zone_a_naive_one_read_as_utc(moment, zone, shown):
    assert local(moment, zone).replace(tzinfo=None) == shown


@pytest.mark.parametrize("sent", ["3_00", "\u0663\u0660\u0660", "1.5", "300 minutes"])
def test_a_report_offset_other_than_ascii_whole_minutes_is_refused(sent):
    with pytest.raises(ValidationFailed) as refused:
        report_filters(
            {"start_date": "2026-06-01", "end_date": "2026-06-30", "timezone_offset": sent}
        )
    assert "timezone_offset" in refused.value.errors
