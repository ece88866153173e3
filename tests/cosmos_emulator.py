"""The Cosmos DB emulator for tests: `node scripts/cosmos-emulator.js`, or TEST_COSMOS_ENDPOINT.

The emulator is @vercel/cosmosdb-server from package.json (installed by `scripts/test.sh`, or
`npm ci`): data in memory, HTTPS with a self-signed certificate, any base64 key. Set
TEST_COSMOS_ENDPOINT (and TEST_COSMOS_KEY) to use an emulator that is already running or a real
account instead of launching one.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "scripts" / "cosmos-emulator.js"
PACKAGE = REPO_ROOT / "node_modules" / "@vercel" / "cosmosdb-server"
# The emulator accepts any base64 key; a real account needs its own in TEST_COSMOS_KEY.
EMULATOR_KEY = base64.b64encode(b"time-tracker-tests").decode()
READY = re.compile(r"Ready to accept HTTPS connections at (\S+):(\d+)")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class EmulatorUnavailable(RuntimeError):
    """The tests cannot get a Cosmos DB endpoint."""


class EmulatorNotInstalled(EmulatorUnavailable):
    """Node.js or the emulator's npm package is missing."""


class EmulatorFailedToStart(EmulatorUnavailable):
    """The emulator exited or stayed silent instead of listening."""


class EndpointUnreachable(EmulatorUnavailable):
    """TEST_COSMOS_ENDPOINT names a server that does not answer."""


@dataclass
class Emulator:
    """A Cosmos DB endpoint and key; `stop()` ends the emulator if the tests launched it."""

    endpoint: str
    key: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log: Path | None = field(default=None, repr=False)

    def stop(self) -> None:
        """Terminate the launched emulator (kill it if it lingers); nothing for a given endpoint."""
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.log is not None:
            self.log.unlink(missing_ok=True)
            self.log = None


def start_emulator() -> Emulator:
    """TEST_COSMOS_ENDPOINT if it is set, else a newly launched emulator on a free port."""
    given = os.environ.get("TEST_COSMOS_ENDPOINT")
    if given:
        _check_reachable(given)
        return Emulator(given.rstrip("/"), os.environ.get("TEST_COSMOS_KEY") or EMULATOR_KEY)
    return _launch()


def _check_reachable(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    address = (parts.hostname or "", parts.port or 443)
    try:
        socket.create_connection(address, timeout=5).close()
    except OSError as error:
        raise EndpointUnreachable(f"TEST_COSMOS_ENDPOINT={endpoint}: {error}") from error


def _launch() -> Emulator:
    node = shutil.which("node")
    if node is None:
        raise EmulatorNotInstalled("node is missing: run scripts/test.sh (or install Node.js)")
    if not PACKAGE.is_dir():
        raise EmulatorNotInstalled(f"{PACKAGE} is missing: run scripts/test.sh (or npm ci)")
    # Output goes to a file rather than a pipe nobody reads after start, which could fill up and
    # stall the server; stdin stays an open pipe so the emulator exits if the tests die.
    handle, name = tempfile.mkstemp(prefix="cosmos-emulator-", suffix=".log")
    log = Path(name)
    with os.fdopen(handle, "wb") as output:
        process = subprocess.Popen(
            [node, str(SCRIPT), "0", "127.0.0.1", "--exit-when-stdin-closes"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    emulator = Emulator("", EMULATOR_KEY, process, log)
    try:
        host, port = _wait_until_ready(process, log)
    except BaseException:
        emulator.stop()
        raise
    emulator.endpoint = f"https://{host}:{port}"
    return emulator


def _wait_until_ready(process: subprocess.Popen[bytes], log: Path) -> tuple[str, str]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        output = _read(log)
        if match := READY.search(output):
            return match.group(1), match.group(2)
        if process.poll() is not None:
            raise EmulatorFailedToStart(
                f"the emulator exited with {process.returncode}: {output.strip() or 'no output'}"
            )
        time.sleep(0.05)
    raise EmulatorFailedToStart(
        f"the emulator did not listen within {START_TIMEOUT:.0f} s: {_read(log).strip()}"
    )


def _read(log: Path) -> str:
    return log.read_text(errors="replace")
