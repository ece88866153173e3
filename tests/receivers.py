"""Real HTTP receivers for webhook tests: a threaded server on a free loopback port that keeps
every request it gets and answers as the test tells it (a status, a delay, or a closed port)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """What a receiver got, and how it answers next: `statuses` one after another (the last one
    repeats), each after `delay` seconds, or once `hold` is set when it is given, each with the
    JSON body `reply` (none when empty)."""

    port: int = 0
    statuses: list[int] = field(default_factory=lambda: [204])
    delay: float = 0.0
    hold: threading.Event | None = None
    reply: bytes = b""
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/time-tracker?source=tests"

    def answer(self, request: Received) -> tuple[int, float]:
        with self.lock:
            self.received.append(request)
            status = self.statuses[min(self.answered, len(self.statuses) - 1)]
            self.answered += 1
            return status, self.delay

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} requests received, {count} expected")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, delay = receiver.answer(Received(self.path, headers, body))
            if delay:
                time.sleep(delay)
            if receiver.hold is not None:
                receiver.hold.wait(30)
            try:
                self.send_response(status)
                if receiver.reply:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(receiver.reply)))
                self.end_headers()
                self.wfile.write(receiver.reply)
            except OSError:
                pass  # the sender gave up waiting

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving(port: int = 0, **answers: Any) -> Iterator[Receiver]:
    """A receiver listening on loopback (`port`, or a free one) until the block ends."""
    receiver = Receiver(**answers)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A loopback port nothing listens on (just now)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
