"""Reports: which entries a report covers, how it groups them, and how time is split.

One definition of a report's filters serves the summary and the export alike. Storage adds up
seconds per group (`ReportRow`); this module turns those rows into the nested answer.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from commons.domain.exceptions import ValidationFailed
from commons.domain.time_windows import (
    Window,
    caller_zone,
    local_midnight,
    offset_minutes,
    parse_instant,
)

MAX_DAYS_APART = 366
MAX_ID_LENGTH = 100
MAX_USER_IDS = 100
MAX_TEXT_LENGTH = 500
TIME_UNITS = ("day", "week", "month")
RECORD_DIMENSIONS = ("customer", "project", "activity", "user", "technology")
DIMENSIONS = RECORD_DIMENSIONS + TIME_UNITS
# What storage groups by: a record dimension, `technologies` (an entry's whole list: one
# entry counts once in each of its technologies, which Python splits) or `bucket` (the index
# of a day, week or month).
TECHNOLOGIES = "technologies"
BUCKET = "bucket"
NONE_NAME = "(none)"


@dataclass(frozen=True)
class ReportFilters:
    """What a report covers, as the caller asked for it (validated)."""

    window: Window
    zone: tzinfo
    user_ids: tuple[str, ...] | None = None  # None: the caller; ("*",): the whole tenant
    customer_id: str | None = None
    project_id: str | None = None
    activity_id: str | None = None
    uri: str | None = None
    technology: str | None = None
    group_by: tuple[str, ...] = ()

    @property
    def time_unit(self) -> str | None:
        return next((name for name in self.group_by if name in TIME_UNITS), None)


@dataclass(frozen=True)
class ReportQuery:
    """The entries a report reads, as storage sees them: the tenant's live entries meeting
    the window, of these owners, with these references."""

    tenant_id: str
    window: Window
    owner_ids: tuple[str, ...] | None = None  # None: the whole tenant
    excluded_owner_ids: tuple[str, ...] = ()
    customer_id: str | None = None
    project_id: str | None = None
    activity_id: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class ReportRow:
    """Seconds and entries of one group: `key` holds a value per grouping dimension."""

    key: tuple[Any, ...]
    seconds: float
    entries: int


@dataclass(frozen=True)
class Bucket:
    """A day, a Monday-based week or a month of the caller, clipped to the report's window."""

    key: str
    name: str
    window: Window


def report_filters(args: Mapping[str, Any]) -> ReportFilters:
    """Validate a report's query arguments (strings, or None where absent)."""
    zone = caller_zone(_offset(args.get("timezone_offset")), _text(args, "timezone"))
    start_text, end_text = _text(args, "start_date"), _text(args, "end_date")
    problems = {
        name: "is required"
        for name, v in (("start_date", start_text), ("end_date", end_text))
        if not v
    }
    if problems:
        raise ValidationFailed("start_date and end_date are required", problems)
    assert start_text is not None and end_text is not None
    start = parse_instant(start_text, zone, "start_date")
    end = parse_instant(end_text, zone, "end_date", end_of_day=True)
    if end <= start:
        raise ValidationFailed(
            "end_date must be after start_date", {"end_date": "must be after start_date"}
        )
    first_day = start.astimezone(zone).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
    if (last_day - first_day).days > MAX_DAYS_APART:
        raise ValidationFailed(
            f"start_date and end_date are more than {MAX_DAYS_APART} days apart",
            {"end_date": f"must be at most {MAX_DAYS_APART} days after start_date"},
        )
    user_text = _text(args, "user_id")
    user_ids = None
    if user_text is not None:
        user_ids = tuple(dict.fromkeys(u.strip() for u in user_text.split(",") if u.strip()))
        if (
            not user_ids
            or len(user_ids) > MAX_USER_IDS
            or any(len(u) > MAX_ID_LENGTH for u in user_ids)
        ):
            raise ValidationFailed(
                "user_id is not a list of user ids",
                {"user_id": f"must be * or at most {MAX_USER_IDS} comma-separated user ids"},
            )
    return ReportFilters(
        window=Window(start, end),
        zone=zone,
        user_ids=user_ids,
        customer_id=_id(args, "customer_id"),
        project_id=_id(args, "project_id"),
        activity_id=_id(args, "activity_id"),
        uri=_text(args, "uri"),
        technology=_text(args, "technology"),
        group_by=_group_by(_text(args, "group_by")),
    )


def _text(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be text", {name: "must be text"})
    if "\x00" in value:
        raise ValidationFailed(f"{name} holds a NUL character", {name: "must not contain NUL"})
    if len(value) > MAX_TEXT_LENGTH * MAX_USER_IDS:
        raise ValidationFailed(f"{name} is too long", {name: "is too long"})
    value = value.strip()
    if name not in ("user_id",) and len(value) > MAX_TEXT_LENGTH:
        raise ValidationFailed(f"{name} is too long", {name: f"at most {MAX_TEXT_LENGTH}"})
    return value or None


def _id(args: Mapping[str, Any], name: str) -> str | None:
    value = _text(args, name)
    if value is not None and len(value) > MAX_ID_LENGTH:
        raise ValidationFailed(f"{name} is not an id", {name: "is not an id"})
    return value


def _offset(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return offset_minutes(str(value))
    except ValueError:
        raise ValidationFailed(
            "timezone_offset must be a whole number of minutes",
            {"timezone_offset": "must be an integer (JavaScript's sign: UTC-5 is 300)"},
        ) from None


def _group_by(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    names = tuple(name.strip() for name in text.split(","))
    unknown = [name for name in names if name not in DIMENSIONS]
    if unknown:
        raise ValidationFailed(
            "Unknown group_by value", {"group_by": f"must be among {', '.join(DIMENSIONS)}"}
        )
    if len(names) > 2:
        raise ValidationFailed("group_by takes one or two values", {"group_by": "at most two"})
    if len(set(names)) < len(names):
        raise ValidationFailed("group_by repeats a value", {"group_by": "must be different"})
    if sum(name in TIME_UNITS for name in names) > 1:
        raise ValidationFailed(
            "group_by takes one time unit", {"group_by": "at most one of day, week, month"}
        )
    return names


def buckets(window: Window, zone: tzinfo, unit: str) -> list[Bucket]:
    """The caller's days, weeks (from Monday) or months meeting the window, each clipped to
    it, in order; DST-correct for IANA zones (a local day may last 23 or 25 hours)."""
    day = window.start.astimezone(zone).date()
    if unit == "week":
        day -= timedelta(days=day.weekday())
    elif unit == "month":
        day = day.replace(day=1)
    found: list[Bucket] = []
    while True:
        following = _next(day, unit)
        start, end = local_midnight(day, zone), local_midnight(following, zone)
        if start >= window.end:
            return found
        if end > window.start:
            clipped = Window(max(start, window.start), min(end, window.end))
            found.append(Bucket(*_label(day, unit), clipped))
        day = following


def _next(day: date, unit: str) -> date:
    if unit == "day":
        return day + timedelta(days=1)
    if unit == "week":
        return day + timedelta(days=7)
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _label(day: date, unit: str) -> tuple[str, str]:
    if unit == "week":
        year, week, _ = day.isocalendar()
        return day.isoformat(), f"{year}-W{week:02d}"
    if unit == "month":
        return day.strftime("%Y-%m"), day.strftime("%Y-%m")
    return day.isoformat(), day.isoformat()


def counts_in(start: datetime, end: datetime, window: Window) -> bool:
    """Whether an entry over [start, end) counts in a window: it meets it, or (lasting no
    time at all) it starts inside it."""
    return start < window.end and (start >= window.start or end > window.start)


def seconds_inside(start: datetime, end: datetime, window: Window) -> float:
    """The seconds of [start, end) inside the window."""
    inside = (min(end, window.end) - max(start, window.start)).total_seconds()
    return max(inside, 0.0)


def storage_groupings(filters: ReportFilters) -> list[tuple[str, ...]]:
    """What storage groups by for a report: the total, the first level, the second level."""

    def stored(dimensions: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(
            BUCKET if d in TIME_UNITS else TECHNOLOGIES if d == "technology" else d
            for d in dimensions
        )
        if filters.technology is not None and TECHNOLOGIES not in names:
            names += (TECHNOLOGIES,)
        return names

    return [stored(filters.group_by[:depth]) for depth in range(len(filters.group_by) + 1)]


PARTITIONS = ("customer", "project", "activity", "user")


def stored_levels(filters: ReportFilters) -> list[int]:
    """The levels of `storage_groupings` storage must add up; the others follow from the level
    below them, where it only splits each entry's time among values of a partition (one
    customer, project, activity and user per entry; not days, nor technologies)."""
    depth = len(filters.group_by)
    return [
        level
        for level in range(depth + 1)
        if level == depth or filters.group_by[level] not in PARTITIONS
    ]


def derived(
    rows: Iterable[ReportRow], finer: tuple[str, ...], coarser: tuple[str, ...]
) -> list[ReportRow]:
    """Rows of a grouping added up from those of a finer one (see `stored_levels`)."""
    positions = [finer.index(name) for name in coarser]
    sums: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0, 0])
    for row in rows:
        total = sums[tuple(row.key[i] for i in positions)]
        total[0] += row.seconds
        total[1] += row.entries
    return [ReportRow(key, round(t[0], 6), int(t[1])) for key, t in sums.items()]


@dataclass(frozen=True)
class ReportRecord:
    """What aggregation in Python needs of an entry (Cosmos DB adds up this way)."""

    owner_id: str
    customer_id: str | None
    project_id: str | None
    activity_id: str | None
    technologies: tuple[str, ...]
    start: datetime
    end: datetime | None


def aggregate(
    records: Iterable[ReportRecord],
    groupings: Sequence[tuple[str, ...]],
    bucket_windows: Sequence[Window],
    window: Window,
    now: datetime,
) -> list[list[ReportRow]]:
    """`TimeEntryRepository.report` in one pass over the entries, for storage that cannot add
    up in the database."""
    starts = [b.start for b in bucket_windows]
    sums: list[dict[tuple[Any, ...], list[float]]] = [
        defaultdict(lambda: [0.0, 0]) for _ in groupings
    ]
    for record in records:
        end = record.end if record.end is not None else max(now, record.start)
        values = {
            "customer": record.customer_id,
            "project": record.project_id,
            "activity": record.activity_id,
            "user": record.owner_id,
            TECHNOLOGIES: tuple(sorted(record.technologies)),
        }
        parts: list[tuple[int, float]] = []
        if any(BUCKET in grouping for grouping in groupings):
            first = max(bisect.bisect_right(starts, record.start) - 1, 0)
            for index in range(first, len(bucket_windows)):
                bucket = bucket_windows[index]
                if bucket.start >= end and bucket.start > record.start:
                    break
                if counts_in(record.start, end, bucket):
                    parts.append((index, seconds_inside(record.start, end, bucket)))
        whole = (
            seconds_inside(record.start, end, window)
            if counts_in(record.start, end, window)
            else None
        )
        for grouping, sums_of in zip(groupings, sums, strict=True):
            if BUCKET in grouping:
                for index, seconds in parts:
                    key = tuple(index if d == BUCKET else values[d] for d in grouping)
                    total = sums_of[key]
                    total[0] += seconds
                    total[1] += 1
            elif whole is not None:
                total = sums_of[tuple(values[d] for d in grouping)]
                total[0] += whole
                total[1] += 1
    return [
        [ReportRow(key, round(total[0], 6), int(total[1])) for key, total in sums_of.items()]
        for sums_of in sums
    ]


def _reduce(
    rows: Iterable[ReportRow],
    grouping: tuple[str, ...],
    wanted: tuple[str, ...],
    technology: str | None,
) -> dict[tuple[Any, ...], tuple[float, int]]:
    """Rows of a storage grouping as sums per key of the report's dimensions `wanted`: the
    technology filter applied, an entry's technologies split into one group each."""
    sums: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0, 0])
    for row in rows:
        values = dict(zip(grouping, row.key, strict=True))
        techs = tuple(values.get(TECHNOLOGIES) or ())
        if technology is not None and technology not in techs:
            continue
        keys: list[tuple[Any, ...]] = [()]
        for dimension in wanted:
            if dimension == "technology":
                options: Sequence[Any] = techs or (None,)
            elif dimension in TIME_UNITS:
                options = (values[BUCKET],)
            else:
                options = (values[dimension],)
            keys = [key + (option,) for key in keys for option in options]
        for key in keys:
            total = sums[key]
            total[0] += row.seconds
            total[1] += row.entries
    return {key: (total[0], int(total[1])) for key, total in sums.items()}


def summary_answer(
    filters: ReportFilters,
    results: Sequence[Sequence[ReportRow]],
    bucket_list: Sequence[Bucket],
    names: Mapping[str, Mapping[Any, str]],
) -> dict[str, Any]:
    """The nested answer from storage's rows (`results` follows `storage_groupings`); `names`
    gives each record dimension's names by key."""
    groupings = storage_groupings(filters)
    levels = [
        _reduce(rows, grouping, filters.group_by[:depth], filters.technology)
        for depth, (rows, grouping) in enumerate(zip(results, groupings, strict=True))
    ]
    total_seconds, total_entries = levels[0].get((), (0.0, 0))

    def groups(prefix: tuple[Any, ...]) -> list[dict[str, Any]]:
        depth = len(prefix)
        if depth >= len(filters.group_by):
            return []
        dimension = filters.group_by[depth]
        found = []
        for key, (seconds, count) in levels[depth + 1].items():
            if key[:depth] != prefix:
                continue
            value = key[depth]
            if dimension in TIME_UNITS:
                bucket = bucket_list[value]
                order: tuple[Any, ...] = (bucket.window.start,)
                shown, name = bucket.key, bucket.name
            else:
                shown = value
                name = value if dimension == "technology" else names.get(dimension, {}).get(value)
                name = name if name is not None else (value if value is not None else NONE_NAME)
                order = (-round(seconds, 3), str(name).casefold(), str(value))
            found.append(
                (
                    order,
                    {
                        "key": shown,
                        "name": name,
                        "seconds": round(seconds, 3),
                        "entries": count,
                        "groups": groups(key),
                    },
                )
            )
        found.sort(key=lambda item: item[0])
        return [group for _, group in found]

    return {
        "total_seconds": round(total_seconds, 3),
        "entries": total_entries,
        "groups": groups(()),
    }


def grouped_keys(
    results: Sequence[Sequence[ReportRow]], groupings: Sequence[tuple[str, ...]]
) -> dict[str, set[Any]]:
    """The keys of each record dimension the rows hold, whose names the answer shows."""
    keys: dict[str, set[Any]] = defaultdict(set)
    for rows, grouping in zip(results, groupings, strict=True):
        for row in rows:
            for dimension, value in zip(grouping, row.key, strict=True):
                if dimension in ("customer", "project", "activity", "user") and value is not None:
                    keys[dimension].add(value)
    return keys


def hours_and_minutes(seconds: float) -> str:
    """A duration as h:mm (minutes rounded down)."""
    minutes = int(seconds // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def local(moment: datetime, zone: tzinfo) -> datetime:
    """A moment in the caller's zone."""
    return moment.astimezone(zone) if moment.tzinfo else moment.replace(tzinfo=UTC).astimezone(zone)
