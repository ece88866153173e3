"""Run the product as its users do: `python cli.py …`, `python -c …`, servers, in subprocesses.

Every child gets a controlled environment: none of the product's variables leak in from the
machine running the tests, and INSTANCE_PATH points at a temporary folder so nothing touches
the repository's `instance/`.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60

# Every variable the product reads plus those that pick its environment.
PRODUCT_VARIABLES = (
    "APP_ENV",
    "AZURE_APP_CONFIGURATION_CONNECTION_STRING",
    "CORS_ORIGINS",
    "COSMOS_DATABASE_URI",
    "COSMOS_VERIFY_TLS",
    "FEATURE_FLAGS_FILE",
    "INSTANCE_PATH",
    "RATE_LIMIT",
    "RATE_LIMIT_STORAGE_URI",
    "SQL_DATABASE_URI",
)
PRODUCT_PREFIXES = ("DATABASE_", "JWT_", "FLASK_", "AMQP_", "WEBHOOKS_")


def clean_env(instance_path: Path, **variables: str) -> dict[str, str]:
    """The current environment without the product's variables, plus `variables`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in PRODUCT_VARIABLES and not name.startswith(PRODUCT_PREFIXES)
    }
    env["INSTANCE_PATH"] = str(instance_path)
    env.update(variables)
    return env


def untraced(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without what makes coverage measure a child (CI measures subprocesses), for servers
    under load: what a load test proves is how they behave, and tracing every request doubles
    its time; the code they run is measured in the tests that call it one request at a time."""
    return {
        name: value
        for name, value in env.items()
        if name not in ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")
    }


def run_cli(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`python cli.py *args` from the repository root."""
    return run_python("cli.py", *args, env=env)


def run_python(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`python *args` from the repository root, output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], starts_with: str) -> str:
    """A failure the user can act on: non-zero exit, one line on stderr, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, result
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(starts_with), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(port: int, path: str, headers: Mapping[str, str] | None = None) -> int:
    """The status of GET http://127.0.0.1:<port><path> (no proxies, no retries)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=dict(headers or {}))
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_until_healthy(
    process: subprocess.Popen[bytes], port: int, log: Path, within: float
) -> None:
    """Wait for a started server's `/health` to answer 200; fail with its log if it exits or
    stays silent for `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if http_get(port, "/health") == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
