"""The caller's zone and calendar windows (day, Monday week, month), computed by hand.

Offsets follow JavaScript's `Date.getTimezoneOffset()`: minutes, positive west of UTC
(New York in winter says 300, Paris in winter -60). The 2026 changes of daylight saving time:
Paris 29 March (01:00 UTC, 02:00 → 03:00) and 25 October (01:00 UTC, 03:00 → 02:00);
New York 8 March (07:00 UTC, 02:00 → 03:00) and 1 November (06:00 UTC, 02:00 → 01:00).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from commons.domain.exceptions import ValidationFailed
from commons.domain.reports import report_filters
from commons.domain.time_entries import intersects
from commons.domain.time_windows import (
    Window,
    caller_zone,
    current_month_window,
    day_window,
    local_midnight,
    month_window,
    parse_instant,
    week_window,
    window_between,
)
from time_tracker_api.time_entries.time_entries_namespace import _offset_minutes
from time_tracker_api.validation import query_instant

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


def window(start: datetime, end: datetime) -> Window:
    return Window(start, end)


# --- caller_zone: the JavaScript sign ---------------------------------------------------------


@pytest.mark.parametrize(
    "offset, utc_offset",
    [
        (300, timedelta(hours=-5)),  # New York in winter, Bogota
        (240, timedelta(hours=-4)),  # New York in summer
        (-60, timedelta(hours=1)),  # Paris in winter
        (-120, timedelta(hours=2)),  # Paris in summer
        (-330, timedelta(hours=5, minutes=30)),  # India
        (-345, timedelta(hours=5, minutes=45)),  # Nepal
        (0, timedelta(0)),
        (840, timedelta(hours=-14)),
        (-840, timedelta(hours=14)),  # Kiribati, the easternmost zone
    ],
)
def test_an_offset_is_read_with_javascripts_sign_positive_west_of_utc(offset, utc_offset):
    assert caller_zone(offset).utcoffset(None) == utc_offset


def test_no_offset_and_no_name_means_utc():
    assert caller_zone() is UTC
    assert caller_zone(None, None) is UTC
    assert caller_zone(None, "") is UTC


@pytest.mark.parametrize("offset", [841, -841, 24 * 60, -10_000])
def test_an_offset_beyond_fourteen_hours_is_refused(offset):
    with pytest.raises(ValidationFailed) as refused:
        caller_zone(offset)
    assert set(refused.value.errors) == {"timezone_offset"}


def test_an_iana_name_wins_over_an_offset():
    zone = caller_zone(-60, "America/New_York")
    assert zone.utcoffset(datetime(2026, 1, 15)) == timedelta(hours=-5)
    assert zone.utcoffset(datetime(2026, 7, 15)) == timedelta(hours=-4)


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus_Mons",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "Europe/",
        "Europe",  # a folder of the database
        "zone.tab",  # a file of the database that is no zone
        "UTC+1",
        " Europe/Paris",
        "a\x00b",
        "a" * 300,
    ],
)
def test_an_unknown_time_zone_name_is_refused(name):
    with pytest.raises(ValidationFailed) as refused:
        caller_zone(None, name)
    assert set(refused.value.errors) == {"timezone"}


# --- local_midnight ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, zone, instant",
    [
        (date(2026, 6, 16), UTC, utc(2026, 6, 16)),
        (date(2026, 6, 16), timezone(timedelta(hours=-5)), utc(2026, 6, 16, 5)),
        (date(2026, 6, 16), timezone(timedelta(hours=14)), utc(2026, 6, 15, 10)),
        (date(2026, 3, 29), PARIS, utc(2026, 3, 28, 23)),  # still CET at midnight
        (date(2026, 3, 30), PARIS, utc(2026, 3, 29, 22)),  # CEST from then on
        (date(2026, 10, 25), PARIS, utc(2026, 10, 24, 22)),  # still CEST at midnight
        (date(2026, 10, 26), PARIS, utc(2026, 10, 25, 23)),
        (date(2026, 3, 8), NEW_YORK, utc(2026, 3, 8, 5)),
        (date(2026, 3, 9), NEW_YORK, utc(2026, 3, 9, 4)),
        (date(2026, 11, 1), NEW_YORK, utc(2026, 11, 1, 4)),
        (date(2026, 11, 2), NEW_YORK, utc(2026, 11, 2, 5)),
    ],
)
def test_a_local_day_starts_at_its_zones_midnight(day, zone, instant):
    assert local_midnight(day, zone) == instant


# --- day windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now, offset, expected",
    [
        # Just after midnight UTC it is still yesterday evening in New York...
        (utc(2026, 6, 16, 0, 0, 30), 300, window(utc(2026, 6, 15, 5), utc(2026, 6, 16, 5))),
        # ...and already 01:00 today in Paris (winter offset).
        (utc(2026, 6, 16, 0, 0, 30), -60, window(utc(2026, 6, 15, 23), utc(2026, 6, 16, 23))),
        (utc(2026, 6, 16, 0, 0, 30), 0, window(utc(2026, 6, 16), utc(2026, 6, 17))),
        # In the afternoon UTC, UTC+14 is already in tomorrow.
        (utc(2026, 6, 16, 13, 30), -840, window(utc(2026, 6, 16, 10), utc(2026, 6, 17, 10))),
        # ...while UTC-14 is still at 23:30 yesterday.
        (utc(2026, 6, 16, 13, 30), 840, window(utc(2026, 6, 15, 14), utc(2026, 6, 16, 14))),
        # Exactly at midnight UTC the new UTC day has begun.
        (utc(2026, 6, 16), 0, window(utc(2026, 6, 16), utc(2026, 6, 17))),
        # A microsecond before local midnight is still the old day.
        (
            utc(2026, 6, 16, 4, 59, 59, 999999),
            300,
            window(utc(2026, 6, 15, 5), utc(2026, 6, 16, 5)),
        ),
        (utc(2026, 6, 16, 5), 300, window(utc(2026, 6, 16, 5), utc(2026, 6, 17, 5))),
        # New Year's Eve 23:45 UTC: Paris is in 2027 already, New York is not.
        (utc(2026, 12, 31, 23, 45), -60, window(utc(2026, 12, 31, 23), utc(2027, 1, 1, 23))),
        (utc(2026, 12, 31, 23, 45), 300, window(utc(2026, 12, 31, 5), utc(2027, 1, 1, 5))),
        # India's half hour.
        (
            utc(2026, 6, 16, 18, 45),
            -330,
            window(utc(2026, 6, 16, 18, 30), utc(2026, 6, 17, 18, 30)),
        ),
    ],
)
def test_the_day_window_is_the_callers_local_day(now, offset, expected):
    assert day_window(now, caller_zone(offset)) == expected


BERLIN_25_OCTOBER = window(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))


@pytest.mark.parametrize(
    "now, zone, expected, hours",
    [
        (utc(2026, 3, 29, 12), PARIS, window(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)), 23),
        (utc(2026, 10, 25, 12), PARIS, window(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)), 25),
        (utc(2026, 3, 8, 12), NEW_YORK, window(utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)), 23),
        (utc(2026, 11, 1, 12), NEW_YORK, window(utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)), 25),
        # tests/clocks.py "berlin-dst-change": 02:30 CET, half an hour after 03:00 CEST fell back.
        (utc(2026, 10, 25, 1, 30), BERLIN, BERLIN_25_OCTOBER, 25),
        # In the repeated hour, before the change (02:30 CEST), the day is the same one.
        (utc(2026, 10, 25, 0, 30), BERLIN, BERLIN_25_OCTOBER, 25),
    ],
)
def test_a_named_zones_day_lasts_23_or_25_hours_when_daylight_saving_time_changes(
    now, zone, expected, hours
):
    day = day_window(now, zone)
    assert day == expected
    assert day.end - day.start == timedelta(hours=hours)


@pytest.mark.parametrize(
    "now, offset, expected",
    [
        # A Paris browser at 00:30 on 29 March (CET) sends -60: a fixed UTC+1 day of 24 hours.
        (utc(2026, 3, 28, 23, 30), -60, window(utc(2026, 3, 28, 23), utc(2026, 3, 29, 23))),
        # The same browser at noon (CEST) sends -120: the same date, an hour earlier.
        (utc(2026, 3, 29, 10), -120, window(utc(2026, 3, 28, 22), utc(2026, 3, 29, 22))),
        # A New York browser on 1 November: 240 at 00:30 EDT, 300 at noon EST.
        (utc(2026, 11, 1, 4, 30), 240, window(utc(2026, 11, 1, 4), utc(2026, 11, 2, 4))),
        (utc(2026, 11, 1, 17), 300, window(utc(2026, 11, 1, 5), utc(2026, 11, 2, 5))),
    ],
)
def test_a_browsers_offset_differs_on_each_side_of_a_change_and_gives_a_24_hour_day(
    now, offset, expected
):
    day = day_window(now, caller_zone(offset))
    assert day == expected
    assert day.end - day.start == timedelta(hours=24)


# --- week windows --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now, offset, expected",
    [
        # Tuesday 16 June 2026 00:00:30 UTC: still Monday 15 in New York.
        (utc(2026, 6, 16, 0, 0, 30), 300, window(utc(2026, 6, 15, 5), utc(2026, 6, 22, 5))),
        (utc(2026, 6, 16, 13, 30), 0, window(utc(2026, 6, 15), utc(2026, 6, 22))),
        # Monday 03:00 UTC is still Sunday evening in New York: the week before.
        (utc(2026, 6, 15, 3), 300, window(utc(2026, 6, 8, 5), utc(2026, 6, 15, 5))),
        (utc(2026, 6, 15, 3), -60, window(utc(2026, 6, 14, 23), utc(2026, 6, 21, 23))),
        # Sunday 23:59:59 UTC is the last second of the week.
        (utc(2026, 6, 21, 23, 59, 59), 0, window(utc(2026, 6, 15), utc(2026, 6, 22))),
        (utc(2026, 6, 22), 0, window(utc(2026, 6, 22), utc(2026, 6, 29))),
        # The week across New Year: Monday 28 December 2026 to Monday 4 January 2027.
        (utc(2026, 12, 31, 23, 45), 0, window(utc(2026, 12, 28), utc(2027, 1, 4))),
        (utc(2026, 12, 31, 23, 45), -60, window(utc(2026, 12, 27, 23), utc(2027, 1, 3, 23))),
    ],
)
def test_the_week_window_runs_from_the_callers_monday(now, offset, expected):
    assert week_window(now, caller_zone(offset)) == expected


def test_a_week_with_a_change_of_daylight_saving_time_is_an_hour_shorter_or_longer():
    spring = week_window(utc(2026, 3, 29, 12), PARIS)  # Sunday
    assert spring == window(utc(2026, 3, 22, 23), utc(2026, 3, 29, 22))
    assert spring.end - spring.start == timedelta(days=7, hours=-1)
    autumn = week_window(utc(2026, 10, 20, 12), PARIS)  # Tuesday of the week of the 25th
    assert autumn == window(utc(2026, 10, 18, 22), utc(2026, 10, 25, 23))
    assert autumn.end - autumn.start == timedelta(days=7, hours=1)


# --- month windows -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "year, month, zone, expected",
    [
        (2026, 1, UTC, window(utc(2026, 1, 1), utc(2026, 2, 1))),
        (2026, 2, UTC, window(utc(2026, 2, 1), utc(2026, 3, 1))),
        (2028, 2, UTC, window(utc(2028, 2, 1), utc(2028, 3, 1))),
        (2026, 12, UTC, window(utc(2026, 12, 1), utc(2027, 1, 1))),
        (2026, 12, caller_zone(300), window(utc(2026, 12, 1, 5), utc(2027, 1, 1, 5))),
        (2026, 12, caller_zone(-60), window(utc(2026, 11, 30, 23), utc(2026, 12, 31, 23))),
        (2026, 3, PARIS, window(utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))),
        (2026, 10, PARIS, window(utc(2026, 9, 30, 22), utc(2026, 10, 31, 23))),
        (2026, 3, NEW_YORK, window(utc(2026, 3, 1, 5), utc(2026, 4, 1, 4))),
        (2026, 11, NEW_YORK, window(utc(2026, 11, 1, 4), utc(2026, 12, 1, 5))),
        (9998, 12, UTC, window(utc(9998, 12, 1), utc(9999, 1, 1))),
        (1, 1, caller_zone(300), window(utc(1, 1, 1, 5), utc(1, 2, 1, 5))),
    ],
)
def test_the_month_window_is_the_callers_calendar_month(year, month, zone, expected):
    assert month_window(year, month, zone) == expected


@pytest.mark.parametrize("year, days", [(2026, 28), (2027, 28), (2028, 29), (2100, 28), (2000, 29)])
def test_february_has_29_days_in_leap_years_only(year, days):
    february = month_window(year, 2, UTC)
    assert february.end - february.start == timedelta(days=days)


@pytest.mark.parametrize(
    "year, month, field",
    [(2026, 0, "month"), (2026, 13, "month"), (0, 5, "year"), (9999, 1, "year"), (-1, 1, "year")],
)
def test_a_month_out_of_range_is_refused(year, month, field):
    with pytest.raises(ValidationFailed) as refused:
        month_window(year, month, UTC)
    assert set(refused.value.errors) == {field}


def test_january_of_year_one_east_of_utc_is_refused_rather_than_overflowing():
    with pytest.raises(ValidationFailed) as refused:
        month_window(1, 1, caller_zone(-60))
    assert set(refused.value.errors) == {"year"}


@pytest.mark.parametrize(
    "now, offset, expected",
    [
        # tests/clocks.py "first-of-a-month": 03:00 UTC on 1 September is 22:00 on 31 August
        # in Bogota.
        (utc(2026, 9, 1, 3), 300, window(utc(2026, 8, 1, 5), utc(2026, 9, 1, 5))),
        (utc(2026, 9, 1, 3), 0, window(utc(2026, 9, 1), utc(2026, 10, 1))),
        # 31 January 23:30 UTC is already February in Paris: a 28-day month.
        (utc(2026, 1, 31, 23, 30), -60, window(utc(2026, 1, 31, 23), utc(2026, 2, 28, 23))),
        (utc(2026, 1, 31, 23, 30), 0, window(utc(2026, 1, 1), utc(2026, 2, 1))),
        # 29 February 2028, and 1 March 02:00 UTC still 29 February in New York.
        (utc(2028, 2, 29, 12), 0, window(utc(2028, 2, 1), utc(2028, 3, 1))),
        (utc(2028, 3, 1, 2), 300, window(utc(2028, 2, 1, 5), utc(2028, 3, 1, 5))),
        # New Year's Eve 23:45 UTC: January 2027 in Paris, December 2026 in UTC.
        (utc(2026, 12, 31, 23, 45), -60, window(utc(2026, 12, 31, 23), utc(2027, 1, 31, 23))),
        (utc(2026, 12, 31, 23, 45), 0, window(utc(2026, 12, 1), utc(2027, 1, 1))),
        (utc(2026, 6, 1, 3), 300, window(utc(2026, 5, 1, 5), utc(2026, 6, 1, 5))),
        (utc(2026, 6, 16, 0, 0, 30), 300, window(utc(2026, 6, 1, 5), utc(2026, 7, 1, 5))),
    ],
)
def test_the_current_month_is_the_callers_local_month(now, offset, expected):
    assert current_month_window(now, caller_zone(offset)) == expected


# --- window boundaries: half-open [start, end) ---------------------------------------------------

JUNE = window(utc(2026, 6, 1), utc(2026, 7, 1))


@pytest.mark.parametrize(
    "start, end, inside",
    [
        (utc(2026, 7, 1), utc(2026, 7, 1, 1), False),  # starts exactly at the window's end
        (utc(2026, 5, 31, 23), utc(2026, 6, 1), False),  # ends exactly at the window's start
        (utc(2026, 6, 1), utc(2026, 6, 1, 1), True),  # starts exactly at the window's start
        (utc(2026, 6, 30, 23), utc(2026, 7, 1), True),  # ends exactly at the window's end
        (utc(2026, 5, 31, 23), utc(2026, 6, 1, 0, 0, 1), True),  # spans the start by a second
        (utc(2026, 6, 30, 23, 59, 59), utc(2026, 7, 1, 1), True),  # spans the end
        (utc(2026, 5, 1), utc(2026, 8, 1), True),  # covers the window
        (utc(2026, 5, 1), None, True),  # running since before the window
        (utc(2026, 6, 15), None, True),  # running, started inside
        (utc(2026, 7, 1), None, False),  # running, started at the end
        (utc(2026, 4, 1), utc(2026, 5, 1), False),  # wholly before
    ],
)
def test_an_entry_belongs_to_a_window_when_its_half_open_interval_meets_it(start, end, inside):
    assert intersects(start, end, JUNE) is inside


# --- explicit windows and dates in the query ----------------------------------------------------


def test_a_window_with_no_sides_covers_1900_to_9999():
    assert window_between(None, None) == window(utc(1900, 1, 1), utc(9999, 1, 1))


def test_a_window_with_one_side_is_open_on_the_other():
    assert window_between(utc(2026, 6, 1), None) == window(utc(2026, 6, 1), utc(9999, 1, 1))
    assert window_between(None, utc(2026, 6, 1)) == window(utc(1900, 1, 1), utc(2026, 6, 1))


@pytest.mark.parametrize(
    "start, end", [(utc(2026, 6, 2), utc(2026, 6, 1)), (utc(2026, 6, 1), utc(2026, 6, 1))]
)
def test_a_window_must_end_after_it_starts(start, end):
    with pytest.raises(ValidationFailed) as refused:
        window_between(start, end)
    assert set(refused.value.errors) == {"end_date"}


@pytest.mark.parametrize(
    "text, zone, end_of_day, instant",
    [
        ("2026-06-16", UTC, False, utc(2026, 6, 16)),
        ("2026-06-16", UTC, True, utc(2026, 6, 17)),
        ("2026-06-16", caller_zone(300), False, utc(2026, 6, 16, 5)),
        ("2026-06-16", caller_zone(300), True, utc(2026, 6, 17, 5)),
        ("2026-06-16", caller_zone(-60), False, utc(2026, 6, 15, 23)),
        (" 2026-06-16 ", UTC, False, utc(2026, 6, 16)),
        ("2026-03-29", PARIS, False, utc(2026, 3, 28, 23)),
        ("2026-03-29", PARIS, True, utc(2026, 3, 29, 22)),
        ("2026-10-25", PARIS, True, utc(2026, 10, 25, 23)),
        ("2026-12-31", caller_zone(-60), True, utc(2026, 12, 31, 23)),
        ("2028-02-29", UTC, True, utc(2028, 3, 1)),
        ("2026-01-31", UTC, True, utc(2026, 2, 1)),
        # A date-time without an offset is UTC, whatever the caller's zone.
        ("2026-06-16T10:00:00", caller_zone(300), False, utc(2026, 6, 16, 10)),
        ("2026-06-16T10:00:00", caller_zone(300), True, utc(2026, 6, 16, 10)),
        ("2026-06-16T10:00:00+02:00", UTC, False, utc(2026, 6, 16, 8)),
        ("2026-06-16T10:00:00-05:00", UTC, False, utc(2026, 6, 16, 15)),
        ("2026-06-16T10:00:00Z", PARIS, False, utc(2026, 6, 16, 10)),
        ("2026-06-16T00:00:00.250000+00:00", UTC, False, utc(2026, 6, 16, 0, 0, 0, 250000)),
    ],
)
def test_a_query_date_is_local_midnight_and_a_date_time_is_an_instant(
    text, zone, end_of_day, instant
):
    assert parse_instant(text, zone, "start_date", end_of_day) == instant


@pytest.mark.parametrize("text", ["2026-02-29", "2026-13-01", "16/06/2026", "yesterday", ""])
def test_a_query_date_that_is_not_iso_8601_is_refused_naming_the_field(text):
    with pytest.raises(ValidationFailed) as refused:
        parse_instant(text, UTC, "end_date")
    assert refused.value.errors == {"end_date": "must be ISO 8601"}


@pytest.mark.parametrize(
    "text, zone, end_of_day",
    [("9999-12-31", UTC, True), ("0001-01-01", caller_zone(-60), False)],
)
def test_a_query_date_beyond_the_calendar_is_refused_rather_than_overflowing(
    text, zone, end_of_day
):
    with pytest.raises(ValidationFailed) as refused:
        parse_instant(text, zone, "end_date", end_of_day)
    assert set(refused.value.errors) == {"end_date"}
    assert "out of range" in refused.value.message


@pytest.mark.parametrize(
    "text, instant",
    [
        # `+01:00` sent unencoded in a query string decodes as a space.
        ("2026-11-29T00:00:00 01:00", utc(2026, 11, 28, 23)),
        ("2026-11-29T00:00:00.5 05:30", utc(2026, 11, 28, 18, 30, 0, 500000)),
        ("2026-11-29T00:00:00+01:00", utc(2026, 11, 28, 23)),
        ("2026-11-29T00:00:00-01:00", utc(2026, 11, 29, 1)),
        ("2026-11-29", utc(2026, 11, 29)),
    ],
)
def test_an_offset_whose_plus_arrived_as_a_space_is_read_as_plus(text, instant):
    assert query_instant(text, UTC, "start_date") == instant


@pytest.mark.parametrize(
    "text", ["2026-11-29T00:00:00 1:00", "2026-11-29 T00:00:00", "2026-11-29T00:00:00  01:00"]
)
def test_any_other_space_in_a_query_date_time_is_refused(text):
    with pytest.raises(ValidationFailed) as refused:
        query_instant(text, UTC, "start_date")
    assert set(refused.value.errors) == {"start_date"}


@pytest.mark.parametrize(
    "sent, utc_offset",
    [
        ("300", timedelta(hours=-5)),
        ("-60", timedelta(hours=1)),
        ("+60", timedelta(hours=-1)),
        (" 60", timedelta(hours=-1)),  # `+60` unencoded: the plus decoded as a space
        ("0", timedelta(0)),
    ],
)
def test_a_reports_timezone_offset_is_read_from_text_with_javascripts_sign(sent, utc_offset):
    filters = report_filters(
        {"start_date": "2026-06-01", "end_date": "2026-06-30", "timezone_offset": sent}
    )
    assert filters.zone.utcoffset(None) == utc_offset


def test_an_empty_reports_timezone_offset_means_utc():
    filters = report_filters(
        {"start_date": "2026-06-01", "end_date": "2026-06-30", "timezone_offset": ""}
    )
    assert filters.window == window(utc(2026, 6, 1), utc(2026, 7, 1))


@pytest.mark.parametrize("sent", ["1.5", "UTC-5", "five", "1 20", "900"])
def test_a_reports_timezone_offset_that_is_not_whole_minutes_in_range_is_refused(sent):
    with pytest.raises(ValidationFailed) as refused:
        report_filters(
            {"start_date": "2026-06-01", "end_date": "2026-06-30", "timezone_offset": sent}
        )
    assert set(refused.value.errors) == {"timezone_offset"}


SANTIAGO = ZoneInfo("America/Santiago")


@pytest.mark.parametrize(
    "now, expected, hours",
    [
        # Chile springs forward at midnight: 6 September 2026 starts at 01:00 -03 (04:00 UTC).
        (utc(2026, 9, 6, 12), window(utc(2026, 9, 6, 4), utc(2026, 9, 7, 3)), 23),
        # It falls back at midnight ending 4 April: 23:00 to 24:00 that Saturday happens twice.
        (utc(2026, 4, 4, 12), window(utc(2026, 4, 4, 3), utc(2026, 4, 5, 4)), 25),
    ],
)
def test_a_day_whose_midnight_is_skipped_or_repeated_starts_at_its_first_instant(
    now, expected, hours
):
    day = day_window(now, SANTIAGO)
    assert day == expected
    assert day.end - day.start == timedelta(hours=hours)


def test_a_basic_format_date_is_a_local_day_like_an_extended_one():
    zone = caller_zone(300)
    assert parse_instant("20260616", zone, "start_date") == utc(2026, 6, 16, 5)
    assert parse_instant("20260616", zone, "end_date", end_of_day=True) == utc(2026, 6, 17, 5)


@pytest.mark.parametrize(
    "sent, minutes",
    [("300", 300), ("-60", -60), ("+60", 60), (" 60", 60), ("840", 840), ("-840", -840)],
)
def test_a_lists_timezone_offset_query_argument_reads_a_plus_sent_as_a_space(sent, minutes):
    assert _offset_minutes(sent) == minutes


@pytest.mark.parametrize(
    "sent", ["841", "-841", "1.5", "UTC-5", "", "6 0", "3_00", "\u0663\u0660\u0660", "+-5", "0x10"]
)
def test_a_lists_timezone_offset_query_argument_out_of_range_or_not_whole_is_refused(sent):
    with pytest.raises(ValueError):
        _offset_minutes(sent)
