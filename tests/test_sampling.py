"""Which cases of a matrix the sampling backends leave to SQLite and memory (tests/conftest.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.clocks import CLOCKS
from tests.conftest import SAMPLED_CLOCKS, SAMPLING_BACKENDS, sampled_out


def case(marker: Any = None, **params: Any) -> Any:
    return SimpleNamespace(
        callspec=SimpleNamespace(params=params), get_closest_marker=lambda name: marker
    )


@pytest.mark.parametrize("backend", sorted(SAMPLING_BACKENDS))
def test_a_sampling_backend_runs_the_sampled_clocks_and_the_values_a_test_names(backend):
    kept = [name for name in CLOCKS if not sampled_out(case(database=backend, clock=name))]
    assert kept == list(SAMPLED_CLOCKS)
    marker = pytest.mark.sampled(zone=("Europe/Berlin",)).mark
    assert not sampled_out(case(marker, database=backend, zone="Europe/Berlin"))
    assert sampled_out(case(marker, database=backend, zone="UTC"))
    assert not sampled_out(case(marker, database=backend, length=3))  # an axis it leaves alone


@pytest.mark.parametrize("backend", ["sqlite", "memory", None])
def test_sqlite_memory_and_tests_without_a_database_run_every_case(backend):
    marker = pytest.mark.sampled(zone=("Europe/Berlin",)).mark
    for name in CLOCKS:
        assert not sampled_out(case(marker, database=backend, clock=name, zone="UTC"))
    assert not sampled_out(SimpleNamespace(get_closest_marker=lambda name: marker))
