"""The report filters and the caller's periods, without storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commons.domain.exceptions import ValidationFailed
from commons.domain.reports import buckets, hours_and_minutes, report_filters

BERLIN = ZoneInfo("Europe/Berlin")


def test_an_inclusive_year_of_a_leap_year_is_allowed_and_a_day_more_is_not():
    report_filters({"start_date": "2028-01-01", "end_date": "2028-12-31"})
    report_filters({"start_date": "2028-01-01", "end_date": "2029-01-01"})
    with pytest.raises(ValidationFailed):
        report_filters({"start_date": "2028-01-01", "end_date": "2029-01-02"})


def test_weeks_start_on_monday_and_days_follow_daylight_saving_time():
    filters = report_filters(
        {"start_date": "2026-03-25", "end_date": "2026-04-02", "timezone": "Europe/Berlin"}
    )
    weeks = buckets(filters.window, BERLIN, "week")
    assert [w.key for w in weeks] == ["2026-03-23", "2026-03-30"]
    assert weeks[0].window.start == datetime(2026, 3, 24, 23, tzinfo=UTC)  # clipped: Wednesday
    days = buckets(filters.window, BERLIN, "day")
    lengths = {d.key: d.window.end - d.window.start for d in days}
    assert lengths["2026-03-29"] == timedelta(hours=23)
    assert lengths["2026-03-28"] == timedelta(hours=24)
    months = buckets(filters.window, BERLIN, "month")
    assert [m.key for m in months] == ["2026-03", "2026-04"]


@pytest.mark.parametrize(
    "group_by", ["planet", "day,week", "user,user", "user,project,day", "project,"]
)
def test_group_by_takes_one_or_two_known_different_values(group_by):
    with pytest.raises(ValidationFailed):
        report_filters({"start_date": "2026-03-01", "end_date": "2026-03-02", "group_by": group_by})


def test_durations_show_as_hours_and_minutes():
    assert hours_and_minutes(0) == "0:00"
    assert hours_and_minutes(3599) == "0:59"
    assert hours_and_minutes(36 * 3600 + 5 * 60) == "36:05"
