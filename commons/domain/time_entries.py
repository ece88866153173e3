"""Time entries: the rules of a person's timeline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from commons.domain.exceptions import ValidationFailed
from commons.domain.pagination import Position
from commons.domain.sync import SyncQuery
from commons.domain.time_windows import Window

FUTURE_LEEWAY = timedelta(seconds=60)
MAX_TECHNOLOGIES = 10
# Longest values, in characters (code points), on every backend; SQL columns are sized from them.
DESCRIPTION_MAX_LENGTH = 1500
URI_MAX_LENGTH = 2000
ARCHIVED_SUFFIX = " (archived)"


@dataclass
class TimeEntry:
    id: str
    tenant_id: str
    owner_id: str
    project_id: str
    activity_id: str
    start_date: datetime
    end_date: datetime | None = None
    description: str | None = None
    uri: str | None = None
    technologies: list[str] = field(default_factory=list)
    timezone_offset: int | None = None
    deleted: datetime | None = None
    # Set by the storage at each write: when the entry was created, and last changed.
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Read model: filled by the repository from the referenced records.
    owner_email: str | None = None
    project_name: str | None = None
    activity_name: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None

    @property
    def running(self) -> bool:
        return self.end_date is None

    def check_interval(self, now: datetime) -> None:
        """An entry ends after it starts, and not in the future; a timer never starts later."""
        if self.end_date is None:
            if self.start_date > now + FUTURE_LEEWAY:
                raise ValidationFailed(
                    "You cannot start a time entry in the future",
                    {"start_date": "must not be in the future"},
                )
            return
        if self.end_date <= self.start_date:
            raise ValidationFailed(
                "You must end the time entry after it started",
                {"end_date": "must be after start_date"},
            )
        if self.end_date > now + FUTURE_LEEWAY:
            raise ValidationFailed(
                "You cannot end a time entry in the future",
                {"end_date": "must not be in the future"},
            )


def intersects(start: datetime, end: datetime | None, window: Window) -> bool:
    """Whether [start, end) meets the window; intervals are half-open and an entry without an
    end runs forever, so one ending at 13:00 and one starting at 13:00 do not overlap."""
    return start < window.end and (end is None or end > window.start)


def worked_seconds_in(
    spans: Iterable[tuple[datetime, datetime | None]], windows: Mapping[str, Window], now: datetime
) -> dict[str, float]:
    """The seconds of the (start, end) spans inside each window; a span without an end runs
    until `now`. For storages that cannot add durations themselves (Cosmos DB, in memory)."""
    totals = dict.fromkeys(windows, 0.0)
    for start, end in spans:
        for name, window in windows.items():
            inside = (min(end or now, window.end) - max(start, window.start)).total_seconds()
            totals[name] += max(inside, 0.0)
    return {name: round(value, 6) for name, value in totals.items()}


def clean_technologies(values: list[str]) -> list[str]:
    """At most ten different technology names."""
    if len(values) > MAX_TECHNOLOGIES or len(set(values)) != len(values):
        raise ValidationFailed(
            "Give at most ten different technologies",
            {"technologies": f"must be at most {MAX_TECHNOLOGIES} unique strings"},
        )
    return values


@dataclass(frozen=True)
class TimeEntryQuery:
    """Which entries a list or page shows."""

    tenant_id: str
    window: Window
    owner_ids: tuple[str, ...] | None = None  # None: the whole tenant
    excluded_owner_ids: tuple[str, ...] = ()
    project_id: str | None = None
    activity_id: str | None = None
    uri: str | None = None
    limit: int | None = None
    offset: int = 0
    # A sync list: ordered by (updated_at, id), filtered by `updated_since`, with deleted
    # entries when asked; None: the newest-first list of live entries.
    sync: SyncQuery | None = None


def entry_position(entry: TimeEntry) -> Position:
    """Where an entry stands in a newest-first list: a page's cursor."""
    return Position(entry.start_date, entry.id)


def duration_parts(seconds: float) -> dict[str, int]:
    """2 h 15 min → {"hours": 2, "minutes": 15, "seconds": 0}."""
    whole = max(int(seconds), 0)
    return {"hours": whole // 3600, "minutes": whole % 3600 // 60, "seconds": whole % 60}
