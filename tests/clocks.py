"""Frozen clocks: time-sensitive tests run under each of them as well as under the real clock.

A test asks for the `clock` fixture (tests/conftest.py) and sees `datetime.now()` start at the
chosen instant and tick on from there, in the app, the services and the test alike. The instants
sit where calendar bugs hide: around midnight UTC, in the afternoon (when UTC+N callers are already
in tomorrow), on a day whose length daylight saving time changes, on the first of a month and at
the end of a year.
"""

from __future__ import annotations

from datetime import UTC, datetime

CLOCKS: dict[str, datetime | None] = {
    "real-clock": None,
    "just-after-midnight-utc": datetime(2026, 6, 16, 0, 0, 30, tzinfo=UTC),
    "afternoon-utc": datetime(2026, 6, 16, 13, 30, tzinfo=UTC),
    # 02:30 in Berlin, half an hour after its clocks went back from 03:00 CEST: a 25-hour day.
    "berlin-dst-change": datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    # Still 31 August west of UTC (22:00 in Bogota).
    "first-of-a-month": datetime(2026, 9, 1, 3, 0, tzinfo=UTC),
    "new-years-eve": datetime(2026, 12, 31, 23, 45, tzinfo=UTC),
}
