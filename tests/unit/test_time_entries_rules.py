"""The rules of a person's timeline: intervals, the future, overlaps, technologies, durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from commons.domain.exceptions import ValidationFailed
from commons.domain.pagination import Position
from commons.domain.time_entries import (
    TimeEntry,
    clean_technologies,
    duration_parts,
    entry_position,
    intersects,
)
from commons.domain.time_windows import LATEST, Window, caller_zone
from commons.services.time_entries import EntryFilters, _window
from tests.clocks import CLOCKS

FROZEN = {name: moment for name, moment in CLOCKS.items() if moment is not None}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


def entry(start: datetime, end: datetime | None = None) -> TimeEntry:
    return TimeEntry(
        id="e1",
        tenant_id="t",
        owner_id="u",
        project_id="p",
        activity_id="a",
        start_date=start,
        end_date=end,
    )


def refusal(start: datetime, end: datetime | None, now: datetime) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as refused:
        entry(start, end).check_interval(now)
    return refused.value.errors


# --- start before end, nothing in the future (a minute of leeway for clocks apart) ---------------


@pytest.fixture(params=list(FROZEN))
def now(request: pytest.FixtureRequest) -> datetime:
    """Each frozen instant of tests/clocks.py, given explicitly: the domain reads no clock."""
    return FROZEN[request.param]


@pytest.mark.parametrize(
    "start, end",
    [
        (timedelta(hours=-8), timedelta(hours=-1)),
        (timedelta(hours=-1), timedelta(seconds=-1)),
        (timedelta(seconds=-1), timedelta(seconds=60)),  # ends exactly at the leeway
        (timedelta(seconds=-1), timedelta(0)),  # ends now
        (timedelta(seconds=10), timedelta(seconds=50)),  # wholly within the leeway
        (timedelta(days=-365 * 30), timedelta(days=-365 * 30, microseconds=1)),  # 1 µs, long ago
    ],
)
def test_a_finished_entry_that_ends_after_it_starts_and_not_in_the_future_is_accepted(
    now, start, end
):
    entry(now + start, now + end).check_interval(now)


@pytest.mark.parametrize(
    "start", [timedelta(0), timedelta(days=-3000), timedelta(seconds=59), timedelta(seconds=60)]
)
def test_a_timer_may_start_now_in_the_past_or_within_a_minute_ahead(now, start):
    entry(now + start).check_interval(now)


@pytest.mark.parametrize("start", [timedelta(seconds=60, microseconds=1), timedelta(days=1)])
def test_a_timer_cannot_start_in_the_future(now, start):
    assert refusal(now + start, None, now) == {"start_date": "must not be in the future"}


@pytest.mark.parametrize("length", [timedelta(0), timedelta(microseconds=-1), timedelta(hours=-2)])
def test_an_entry_must_end_after_it_starts(now, length):
    start = now - timedelta(hours=3)
    assert refusal(start, start + length, now) == {"end_date": "must be after start_date"}


@pytest.mark.parametrize(
    "start, end",
    [
        (timedelta(hours=-1), timedelta(seconds=60, microseconds=1)),
        (timedelta(hours=-1), timedelta(days=1)),
        (timedelta(days=2), timedelta(days=3)),  # all of it ahead: the end is what is named
    ],
)
def test_an_entry_cannot_end_in_the_future(now, start, end):
    assert refusal(now + start, now + end, now) == {"end_date": "must not be in the future"}


def test_an_end_before_the_start_is_reported_before_an_end_in_the_future():
    now = utc(2026, 6, 16, 13, 30)
    errors = refusal(utc(2026, 6, 18), utc(2026, 6, 17), now)
    assert errors == {"end_date": "must be after start_date"}


def test_an_entry_without_an_end_is_running():
    assert entry(utc(2026, 6, 16, 9)).running
    assert not entry(utc(2026, 6, 16, 9), utc(2026, 6, 16, 10)).running


# --- overlaps: half-open intervals, a running entry occupies [start, ∞) -------------------------


def overlaps(existing: tuple[int, int | None], new: tuple[int, int | None]) -> bool:
    """Whether a new entry (hours of 16 June, None: running) overlaps an existing one, as the
    storage checks it: the existing entry meets the window of the new one."""

    def at(hour: int | None) -> datetime | None:
        return None if hour is None else utc(2026, 6, 16, hour)

    start, end = at(new[0]), at(new[1])
    assert start is not None
    return intersects(at(existing[0]), at(existing[1]), Window(start, end or LATEST))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "existing, new, expected",
    [
        ((9, 12), (12, 13), False),  # the new one starts when the old one ends
        ((9, 12), (8, 9), False),  # the new one ends when the old one starts
        ((9, 12), (13, 14), False),
        ((9, 12), (6, 8), False),
        ((9, 12), (11, 13), True),  # overlaps its end
        ((9, 12), (8, 10), True),  # overlaps its start
        ((9, 12), (10, 11), True),  # inside it
        ((9, 12), (8, 13), True),  # around it
        ((9, 12), (9, 12), True),  # the same interval
        ((9, None), (8, 9), False),  # ends when the timer started
        ((9, None), (10, 11), True),  # a running entry occupies everything after its start
        ((9, None), (20, 21), True),
        ((9, None), (8, 10), True),
        ((9, 12), (12, None), False),  # a timer started when the last entry ended
        ((9, 12), (11, None), True),  # a timer started during another entry
        ((9, 12), (8, None), True),  # a timer started before another entry
        ((9, None), (13, None), True),  # two timers always overlap
    ],
)
def test_entries_overlap_when_their_half_open_intervals_share_an_instant(existing, new, expected):
    assert overlaps(existing, new) is expected


def test_a_microsecond_in_common_is_an_overlap():
    existing_start, existing_end = utc(2026, 6, 16, 9), utc(2026, 6, 16, 12)
    touching = Window(utc(2026, 6, 16, 12), utc(2026, 6, 16, 13))
    sharing = Window(utc(2026, 6, 16, 11, 59, 59, 999999), utc(2026, 6, 16, 13))
    assert not intersects(existing_start, existing_end, touching)
    assert intersects(existing_start, existing_end, sharing)


# --- technologies and durations -----------------------------------------------------------------


@pytest.mark.parametrize(
    "technologies",
    [[], ["python"], [f"t{i}" for i in range(10)], ["Python", "python"]],  # case matters
)
def test_up_to_ten_different_technologies_are_kept_as_given(technologies):
    assert clean_technologies(list(technologies)) == technologies


@pytest.mark.parametrize(
    "technologies", [[f"t{i}" for i in range(11)], ["python", "python"], ["a", "b", "a"]]
)
def test_more_than_ten_or_repeated_technologies_are_refused(technologies):
    with pytest.raises(ValidationFailed) as refused:
        clean_technologies(technologies)
    assert set(refused.value.errors) == {"technologies"}


@pytest.mark.parametrize(
    "seconds, parts",
    [
        (0, (0, 0, 0)),
        (59.999, (0, 0, 59)),  # whole seconds, rounded down
        (60, (0, 1, 0)),
        (2 * 3600 + 15 * 60, (2, 15, 0)),
        (3661.9, (1, 1, 1)),
        (25 * 3600 + 61, (25, 1, 1)),  # hours do not wrap into days
        (-5, (0, 0, 0)),  # never negative
    ],
)
def test_a_duration_splits_into_hours_minutes_and_seconds(seconds, parts):
    hours, minutes, whole = parts
    assert duration_parts(seconds) == {"hours": hours, "minutes": minutes, "seconds": whole}


def test_an_entry_stands_in_a_newest_first_list_by_its_start_then_its_id():
    assert entry_position(entry(utc(2026, 6, 16, 9))) == Position(utc(2026, 6, 16, 9), "e1")


# --- the default window of a list reads the clock: frozen clocks ---------------------------------


@pytest.mark.parametrize(
    "clock, offset, expected",
    [
        ("just-after-midnight-utc", 0, (utc(2026, 6, 1), utc(2026, 7, 1))),
        ("afternoon-utc", -840, (utc(2026, 5, 31, 10), utc(2026, 6, 30, 10))),
        ("berlin-dst-change", -60, (utc(2026, 9, 30, 23), utc(2026, 10, 31, 23))),
        ("first-of-a-month", 300, (utc(2026, 8, 1, 5), utc(2026, 9, 1, 5))),
        ("first-of-a-month", 0, (utc(2026, 9, 1), utc(2026, 10, 1))),
        ("new-years-eve", -60, (utc(2026, 12, 31, 23), utc(2027, 1, 31, 23))),
        ("new-years-eve", 300, (utc(2026, 12, 1, 5), utc(2027, 1, 1, 5))),
    ],
)
def test_a_list_without_dates_shows_the_callers_current_month(clock, offset, expected):
    with time_machine.travel(CLOCKS[clock], tick=False):
        assert _window(EntryFilters(zone=caller_zone(offset))) == Window(*expected)


@pytest.mark.parametrize(
    "offset, expected",
    [
        (-60, (utc(2026, 12, 31, 23), utc(2027, 1, 31, 23))),  # already 2027 in Paris
        (0, (utc(2026, 1, 1), utc(2026, 2, 1))),  # still 2026 in UTC
    ],
)
def test_a_month_without_a_year_is_of_the_callers_current_year(offset, expected):
    with time_machine.travel(CLOCKS["new-years-eve"], tick=False):
        assert _window(EntryFilters(zone=caller_zone(offset), month=1)) == Window(*expected)


def test_a_list_between_dates_ignores_the_clock():
    filters = EntryFilters(start_date=utc(2026, 3, 1), end_date=utc(2026, 3, 2), month=5)
    with time_machine.travel(CLOCKS["new-years-eve"], tick=False):
        assert _window(filters) == Window(utc(2026, 3, 1), utc(2026, 3, 2))
