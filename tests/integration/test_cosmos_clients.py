"""The Cosmos DB storage gives each thread a client of its own: the SDK's client is not safe for
concurrent calls (tests/api/test_time_entry_races.py shows the failure under gunicorn)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from commons.bootstrap import create_storage
from commons.settings import StorageSettings
from tests.cosmos_emulator import Emulator

THREADS = 4


@pytest.fixture
def storage(cosmos_emulator: Emulator) -> Any:
    settings = StorageSettings(
        backend="cosmos",
        cosmos_account_uri=cosmos_emulator.endpoint,
        cosmos_master_key=cosmos_emulator.key,
        cosmos_verify_tls=False,
    )
    return create_storage(settings, default_sql_url="")


def in_threads_at_once(count: int, call: Callable[[], Any]) -> list[Any]:
    """What `call` returns in each of `count` threads that are all alive at the same time."""
    barrier = threading.Barrier(count)

    def together(_: int) -> Any:
        result = call()
        barrier.wait(timeout=30)
        return result

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(together, range(count)))


def in_a_new_thread(call: Callable[[], Any]) -> Any:
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(call()))
    thread.start()
    thread.join()
    return results[0]


def test_each_thread_has_a_client_of_its_own_and_passes_it_on_when_it_ends(storage):
    def the_threads_client_twice() -> Any:
        first = storage.client
        assert storage.client is first  # a thread keeps its client
        return first

    clients = in_threads_at_once(THREADS, the_threads_client_twice)

    assert len({id(client) for client in clients}) == THREADS
    # Those threads have ended: a new thread takes one of their clients instead of connecting.
    later = in_a_new_thread(lambda: storage.client)
    assert any(later is client for client in clients)
