"""What goes out to webhooks and AMQP: the retry schedule as the documentation promises it, and
the event types, one list the services, the validation of patterns and the docs agree on."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from commons.domain.catalog import KINDS
from commons.domain.deliveries import (
    DISABLE_AFTER,
    EVENT_ACTIONS,
    EVENT_TYPES,
    PING_TYPE,
    WEBHOOK_DELAYS,
    WEBHOOK_TIMEOUT,
)
from commons.domain.events import (
    RecordArchived,
    RecordCreated,
    RecordDeleted,
    RecordUpdated,
    TimeEntryRestarted,
    TimeEntryStopped,
)
from commons.domain.exceptions import ValidationFailed
from commons.domain.webhooks import ACTIONS, CONTAINERS, clean_patterns
from time_tracker_api.webhooks.webhooks_namespace import EVENT_PATTERN


def test_the_retry_schedule_is_the_documented_one():
    schedule = {"delays": WEBHOOK_DELAYS, "timeout": WEBHOOK_TIMEOUT, "disabled": DISABLE_AFTER}
    assert schedule == {
        "delays": (
            timedelta(seconds=5),
            timedelta(minutes=1),
            timedelta(minutes=10),
            timedelta(hours=1),
            timedelta(hours=6),
            timedelta(hours=24),
        ),
        "timeout": timedelta(seconds=10),
        "disabled": timedelta(days=3),
    }


def test_the_event_types_are_what_the_services_record():
    for key, kind in KINDS.items():
        removal = RecordArchived if kind.archivable else RecordDeleted
        assert EVENT_ACTIONS[key] == (RecordCreated.action, RecordUpdated.action, removal.action)
    assert EVENT_ACTIONS["time_entry"] == (
        RecordCreated.action,
        RecordUpdated.action,
        TimeEntryStopped.action,
        TimeEntryRestarted.action,
        RecordDeleted.action,
    )
    assert EVENT_ACTIONS["user"] == (RecordCreated.action, RecordUpdated.action)
    assert set(EVENT_ACTIONS) == {*KINDS, "time_entry", "user", "webhook"}
    assert PING_TYPE in EVENT_TYPES
    assert len(set(EVENT_TYPES)) == len(EVENT_TYPES)


@pytest.mark.parametrize(
    "pattern",
    ["*", "*.*", "time_entry.*", "*.restart", "project.archive", "technology.delete", PING_TYPE],
)
def test_a_pattern_matching_an_event_type_is_accepted(pattern: str):
    assert clean_patterns([pattern]) == (pattern,)


@pytest.mark.parametrize(
    "pattern", ["customer.stop", "user.delete", "project.delete", "technology.archive", "a.*"]
)
def test_a_pattern_matching_no_event_type_is_refused(pattern: str):
    with pytest.raises(ValidationFailed) as refused:
        clean_patterns([pattern])
    assert "time_entry.stop" in refused.value.errors["events"]


def test_the_swagger_pattern_accepts_what_the_validation_accepts():
    names = [*CONTAINERS, *ACTIONS, "*", "time_entries", ""]
    for pattern in ["*", "time_entry", *(f"{left}.{right}" for left in names for right in names)]:
        try:
            accepted = bool(clean_patterns([pattern]))
        except ValidationFailed:
            accepted = False
        assert bool(re.fullmatch(EVENT_PATTERN, pattern)) is accepted, pattern
