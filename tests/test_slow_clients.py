"""Clients that send their request body slowly do not hold up anybody else.

The server buffers whole requests before the application sees them; what it refuses itself
(malformed, or a body far over the limit) still gets the API's JSON error.

The server is started exactly as the image starts it (`docker-entrypoint.sh serve`) with fewer
threads than slow clients: each slow client would pin a thread if bodies were read by threads.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import REPO_ROOT, clean_env, free_port, run_cli, wait_until_healthy
from time_tracker_api.config import DEFAULT_MAX_REQUEST_BYTES

ENTRYPOINT = REPO_ROOT / "docker-entrypoint.sh"
SLOW_CLIENTS = 24
THREADS = 4
# Generous: an idle server answers in milliseconds; a server with every thread pinned never does.
ANSWERS_WITHIN = 5
SERVER_STARTS_WITHIN = 30


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, str, Path]]:
    """The entrypoint's server on a migrated SQLite database: port, a token, the log."""
    port = free_port()
    env = clean_env(
        tmp_path / "instance",
        HOME=str(tmp_path),
        APP_ENV="production",
        JWT_SECRET_KEY="a-production-secret-for-the-slow-clients-test-0123456789",
        SQL_DATABASE_URI=f"sqlite:///{tmp_path / 'served.db'}",
        PORT=str(port),
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS=str(THREADS),
    )
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    migrated = run_cli("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    issued = run_cli("create_token", "--tenant-id", "slow", "--user-id", "me", env=env)
    assert issued.returncode == 0, issued.stderr
    log = tmp_path / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(ENTRYPOINT), "serve"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_healthy(process, port, log, SERVER_STARTS_WITHIN)
        yield port, issued.stdout.strip(), log
    finally:
        process.terminate()
        process.wait(timeout=30)


def trickling_connections(port: int, count: int, stop: threading.Event) -> threading.Thread:
    """`count` POSTs whose declared body arrives one byte a second until `stop`."""
    connections = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        connection.sendall(
            b"POST /activities HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        connections.append(connection)

    def trickle() -> None:
        while not stop.wait(1):
            for connection in connections:
                with contextlib.suppress(OSError):
                    connection.sendall(b" ")
        for connection in connections:
            connection.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    return thread


def test_requests_are_answered_while_slow_clients_send_their_bodies(server):
    port, token, log = server
    stop = threading.Event()
    trickler = trickling_connections(port, SLOW_CLIENTS, stop)
    try:
        time.sleep(1)  # every slow client has been accepted and has sent a byte of its body
        for _ in range(3):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWERS_WITHIN)
            try:
                connection.request(
                    "GET", "/activities", headers={"Authorization": f"Bearer {token}"}
                )
                response = connection.getresponse()
                assert response.status == 200, response.read()
                assert response.read().startswith(b"[")
            finally:
                connection.close()
    finally:
        stop.set()
        trickler.join(timeout=10)
    assert '"GET /activities HTTP/1.1" 200' in log.read_text()


def raw_request(port: int, request: bytes) -> tuple[int, dict]:
    """Send `request` as given; the status and the JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWERS_WITHIN) as connection:
        connection.sendall(request)
        response = http.client.HTTPResponse(connection)
        response.begin()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(response.read())


def test_a_body_far_over_the_limit_is_refused_with_the_json_error_before_it_is_read(server):
    port, token, _ = server
    status, body = raw_request(
        port,
        b"POST /activities HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\n".encode()
        + f"Content-Length: {DEFAULT_MAX_REQUEST_BYTES * 100}\r\n\r\n".encode(),
    )
    assert status == 413
    assert body["code"] == "payload_too_large"
    assert body["errors"] == {"body": f"must be at most {DEFAULT_MAX_REQUEST_BYTES} bytes"}


def test_a_malformed_request_gets_the_json_error(server):
    port, _, _ = server
    status, body = raw_request(
        port, b"GET /activities HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon\r\n\r\n"
    )
    assert status == 400
    assert body["code"] == "bad_request"
    assert body["message"]
