"""The compiled serializers produce exactly what flask-restx's marshal produces, for every
model the API answers with, on objects and dictionaries, with missing and odd values."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from flask_restx import Model, fields, marshal
from flask_restx.marshalling import make

from time_tracker_api.api import create_api
from time_tracker_api.serialization import compile_model, json_array_chunks, json_bytes

# Every model marshalled by a response (schema models only document raw JSON).
MODELS = {name: m for name, m in create_api().models.items() if isinstance(m, Model)}


def sample(field: Any, rng: random.Random, depth: int = 0) -> Any:
    """A value the field may meet: right, missing, or of a type it must convert."""
    if rng.random() < 0.15:
        return None
    field = make(field)  # a model may name a field's class rather than an instance
    if isinstance(field, fields.List):
        return [sample(field.container, rng, depth + 1) for _ in range(rng.randrange(4))]
    if isinstance(field, fields.Nested):
        return None if depth > 3 else make_object(field.nested, rng, depth + 1)
    if isinstance(field, fields.DateTime):
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**8))
        return rng.choice(
            [
                moment,
                moment.replace(tzinfo=None),
                moment.astimezone(timezone(timedelta(hours=-5))),
                date(2026, 3, 1),
            ]
        )
    if isinstance(field, fields.Boolean):
        return rng.choice([True, False, 0, 1])
    if isinstance(field, (fields.Integer, fields.Float)):
        return rng.choice([0, 7, -3, 2.5, "12"])
    if isinstance(field, fields.String):
        return rng.choice(["", "ünïcode", "x" * 20, 42, uuid.UUID(int=rng.getrandbits(128))])
    return rng.choice(["raw", 3, {"a": 1}, [1, 2]])


def make_object(model: Any, rng: random.Random, depth: int = 0) -> Any:
    values = {
        key: sample(field, rng, depth)
        for key, field in getattr(model, "resolved", model).items()
        if rng.random() > 0.05  # sometimes the key is absent altogether
    }
    return values if rng.random() < 0.5 else SimpleNamespace(**values)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_serializes_as_flask_restx_marshals(name: str) -> None:
    model = MODELS[name]
    serialize = compile_model(model)
    rng = random.Random(name)
    for _ in range(200):
        data = make_object(model, rng)
        assert serialize(data) == marshal(data, model)
    batch = [make_object(model, rng) for _ in range(5)]
    assert serialize(batch) == marshal(batch, model)


def test_a_dataclass_with_properties_serializes_like_marshal() -> None:
    @dataclass
    class Entry:
        start: datetime
        end: datetime | None

        @property
        def running(self) -> bool:
            return self.end is None

    model = {"start": fields.DateTime, "end": fields.DateTime(), "running": fields.Boolean}
    entry = Entry(datetime(2026, 11, 2, 9, tzinfo=UTC), None)
    assert compile_model(model)(entry) == marshal(entry, model)
    assert compile_model(model)(entry) == {
        "start": "2026-11-02T09:00:00+00:00",
        "end": None,
        "running": True,
    }


def test_a_value_a_field_cannot_format_raises_as_marshal_does() -> None:
    model = {"when": fields.DateTime}
    data = {"when": object()}
    with pytest.raises(fields.MarshallingError) as ours:
        compile_model(model)(data)
    with pytest.raises(fields.MarshallingError) as theirs:
        marshal(data, model)
    assert str(ours.value) == str(theirs.value)


def test_defaults_attributes_and_dotted_paths_follow_marshal() -> None:
    model = {
        "name": fields.String(default="unnamed"),
        "label": fields.String(attribute="title"),
        "city": fields.String(attribute="address.city"),
        "count": fields.Integer(default=0),
        "tags": fields.List(fields.String, default=list),
    }
    for data in ({}, {"title": "T", "address": {"city": "Quito"}, "count": "3", "tags": ("a", 1)}):
        assert compile_model(model)(data) == marshal(data, model)


@pytest.mark.parametrize("sizes", [[], [0], [3], [2, 0, 1], [0, 0], [1, 1, 1, 4]])
def test_a_list_written_in_batches_is_the_bytes_of_one_body(sizes: list[int]) -> None:
    model = MODELS["TimeEntry"]
    serialize = compile_model(model)
    rng = random.Random(str(sizes))
    batches = [[make_object(model, rng) for _ in range(size)] for size in sizes]

    chunks = list(json_array_chunks(batches, serialize))

    assert b"".join(chunks) == json_bytes(serialize([item for batch in batches for item in batch]))
    assert len(chunks) == 2 + sum(1 for batch in batches if batch)
