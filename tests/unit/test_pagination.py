"""Page requests and cursors, without storage or HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from commons.domain.exceptions import ValidationFailed
from commons.domain.pagination import (
    MAX_CURSOR_LENGTH,
    Page,
    PageRequest,
    Position,
    decode_cursor,
    encode_cursor,
)

MOMENT = datetime(2026, 3, 10, 9, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "position",
    [
        Position(MOMENT, "3f1c2b8e-6a4d-4e0f-9b7a-2d5e8c1f0a93"),
        Position(datetime(1900, 1, 1, tzinfo=UTC), "a"),
        Position(datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "é|😀" * 16),
        Position(MOMENT, "3f1c2b8e-6a4d-4e0f-9b7a-2d5e8c1f0a93", by_update=True),
        Position(datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "é|😀" * 16, True),
    ],
)
def test_a_cursor_gives_back_its_position(position):
    cursor = encode_cursor(position)

    assert decode_cursor(cursor) == position
    assert len(cursor) <= MAX_CURSOR_LENGTH
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_a_sync_cursor_is_not_the_newest_first_cursor_of_the_same_row():
    newest, synced = Position(MOMENT, "x"), Position(MOMENT, "x", by_update=True)

    assert encode_cursor(newest) != encode_cursor(synced)
    assert not decode_cursor(encode_cursor(newest)).by_update
    assert decode_cursor(encode_cursor(synced)).by_update


def test_a_cursor_holds_its_moment_in_utc():
    bogota = MOMENT.astimezone(timezone(timedelta(hours=-5)))

    assert encode_cursor(Position(bogota, "x")) == encode_cursor(Position(MOMENT, "x"))
    assert decode_cursor(encode_cursor(Position(bogota, "x"))).moment.tzinfo == UTC


@pytest.mark.parametrize("value", [None, 12, b"MXw", "", "A" * (MAX_CURSOR_LENGTH + 1)])
def test_anything_but_a_string_of_a_cursors_length_is_no_cursor(value):
    with pytest.raises(ValueError, match="next"):
        decode_cursor(value)


def test_pages_are_asked_from_a_position_or_after_a_cursor_never_both():
    after = Position(MOMENT, "x")

    assert PageRequest().counts and not PageRequest(after=after).counts
    assert PageRequest(after=after, count=True).counts and not PageRequest(count=False).counts
    with pytest.raises(ValidationFailed) as refused:
        PageRequest(start=1, after=after)
    assert set(refused.value.errors) == {"start"}
    for wrong in ({"start": -1}, {"length": 0}, {"length": 501}):
        with pytest.raises(ValidationFailed):
            PageRequest(**wrong)


def test_a_page_read_one_beyond_its_length_knows_whether_another_follows():
    def position(number: int) -> Position:
        return Position(MOMENT - timedelta(minutes=number), str(number))

    full = Page.of([1, 2, 3], 2, 7, position)
    last = Page.of([1, 2], 2, None, position)

    assert (full.data, full.records_total) == ([1, 2], 7)
    assert decode_cursor(full.next) == position(2)
    assert last.next is None and Page.of([], 2, 0, position).next is None
