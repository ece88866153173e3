"""The Cosmos DB storage gives each thread a client of its own: the SDK's client is not safe for
concurrent calls (tests/api/test_time_entry_races.py shows the failure under gunicorn)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest

from commons.bootstrap import create_storage
from commons.data_access_layer.cosmos.unit_of_work import _HTTP_ENVIRONMENT
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


class TunnelProxy:
    """An HTTPS proxy on loopback: it records each CONNECT it is asked for and tunnels it."""

    def __init__(self) -> None:
        self.connects: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        target = head.split(b" ")[1].decode()
        self.connects.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[TunnelProxy]:
    """A proxy of the test's own, and an environment that names no proxy and no CA bundle."""
    for name in list(os.environ):
        if name.lower() in _HTTP_ENVIRONMENT:
            monkeypatch.delenv(name)
    tunnel = TunnelProxy()
    yield tunnel
    tunnel.close()


def test_a_proxy_in_the_environment_carries_the_clients_requests(storage, proxy, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    storage.client.get_database_account()
    endpoint = urlsplit(storage.settings.cosmos_account_uri)
    assert f"{endpoint.hostname}:{endpoint.port}" in proxy.connects


def test_without_a_proxy_the_environment_is_not_read_again_for_each_request(
    storage, proxy, monkeypatch
):
    client = storage.client  # made while the environment names no proxy
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    client.get_database_account()
    assert proxy.connects == []
