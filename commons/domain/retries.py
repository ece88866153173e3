"""How a change whose event cannot be recorded is tried again, on every backend.

A change waits after its first, second, ... failure before it is tried again; one that fails
once more after the last wait is parked for an operator: one attempt and five retries spread
over about 2 h 36 min, so a store that is away for a while parks nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)


def next_attempt(
    attempts: int, now: datetime, delays: Sequence[timedelta] = RETRY_DELAYS
) -> datetime | None:
    """When a change that has failed `attempts` times is tried again; None: it is parked."""
    return None if attempts > len(delays) else now + delays[attempts - 1]


def describe(error: BaseException) -> str:
    """An error as a change records it (`last_error`)."""
    return f"{type(error).__name__}: {error}"[:2000]
