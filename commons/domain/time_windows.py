"""Time zones and the calendar windows (day, Monday-based week, month) of a caller."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from commons.domain.exceptions import ValidationFailed

MAX_OFFSET_MINUTES = 14 * 60


@dataclass(frozen=True)
class Window:
    """A half-open interval of real time, [start, end)."""

    start: datetime
    end: datetime


OFFSET_SPELLING = re.compile(r"[+-]?[0-9]{1,4}")


def offset_minutes(text: str) -> int:
    """A `timezone_offset` as sent: whole minutes in ASCII digits with an optional sign; spaces
    around it are dropped (a `+` the client did not escape arrives as one). ValueError otherwise:
    `int()` alone would also read "3_00" and other scripts' digits."""
    text = text.strip()
    if not OFFSET_SPELLING.fullmatch(text):
        raise ValueError("must be a whole number of minutes in digits 0-9")
    return int(text)


def caller_zone(timezone_offset: int | None = None, timezone_name: str | None = None) -> tzinfo:
    """The caller's zone: an IANA name wins over an offset in minutes (JavaScript's sign)."""
    if timezone_name:
        try:
            return ZoneInfo(timezone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed(
                f"Unknown time zone {timezone_name!r}", {"timezone": "must be an IANA time zone"}
            ) from None
    if timezone_offset is None:
        return UTC
    if abs(timezone_offset) > MAX_OFFSET_MINUTES:
        raise ValidationFailed(
            "The time zone offset is out of range",
            {"timezone_offset": f"must be between -{MAX_OFFSET_MINUTES} and {MAX_OFFSET_MINUTES}"},
        )
    # JavaScript's getTimezoneOffset() is UTC minus local time: Bogota (UTC-5) says 300.
    return timezone(timedelta(minutes=-timezone_offset))


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The instant a local day starts (DST-correct for IANA zones)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def day_window(now: datetime, zone: tzinfo) -> Window:
    today = now.astimezone(zone).date()
    return Window(local_midnight(today, zone), local_midnight(today + timedelta(days=1), zone))


def week_window(now: datetime, zone: tzinfo) -> Window:
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    return Window(local_midnight(monday, zone), local_midnight(monday + timedelta(days=7), zone))


def month_window(year: int, month: int, zone: tzinfo) -> Window:
    if not 1 <= month <= 12:
        raise ValidationFailed("The month must be 1 to 12", {"month": "must be 1 to 12"})
    if not 1 <= year <= 9998:
        raise ValidationFailed("The year is out of range", {"year": "must be 1 to 9998"})
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    try:
        return Window(local_midnight(first, zone), local_midnight(following, zone))
    except OverflowError:  # January of year 1 east of UTC starts before the first instant
        raise ValidationFailed(
            "The month is out of range in that time zone", {"year": "is out of range"}
        ) from None


def current_month_window(now: datetime, zone: tzinfo) -> Window:
    local = now.astimezone(zone)
    return month_window(local.year, local.month, zone)


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def parse_instant(value: str, zone: tzinfo, field: str, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date-time (no offset = UTC), or a date meaning local midnight in `zone`.

    With `end_of_day`, a bare date means the end of that local day (an inclusive end date).
    """
    text = value.strip()
    try:
        day = _date_only(text)
        if day is not None:
            return local_midnight(day + timedelta(days=1) if end_of_day else day, zone)
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except ValueError:
        raise ValidationFailed(
            f"{field} is not an ISO 8601 date or date-time", {field: "must be ISO 8601"}
        ) from None
    except OverflowError:  # 9999-12-31 as an end date, 0001-01-01 east of UTC
        raise ValidationFailed(
            f"{field} is out of range", {field: "must be between years 1 and 9999 in UTC"}
        ) from None


def _date_only(text: str) -> date | None:
    """The day `text` names when it is an ISO 8601 date alone, in any of its forms (2026-06-16,
    20260616, 2026-W25-2), else None."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def window_between(start: datetime | None, end: datetime | None) -> Window:
    """An explicit window; a missing side is open."""
    window = Window(start or EARLIEST, end or LATEST)
    if window.end <= window.start:
        raise ValidationFailed(
            "end_date must be after start_date", {"end_date": "must be after start_date"}
        )
    return window
