"""A MariaDB server of the tests' own, for what the shared one cannot show (a port other than 3306).

It runs from a temporary data directory on a free port of 127.0.0.1, reads no option file of the
machine, and stops when the tests are done; the shared server is never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

START_TIMEOUT_S = 60
READY = "ready for connections"


class PrivateMariaDBUnavailable(Exception):
    """The machine cannot run a MariaDB server of the tests' own."""


@dataclass(frozen=True)
class PrivateMariaDB:
    port: int
    socket: Path

    def url(self, user: str = "root", password: str = "", database: str = "mysql") -> str:
        """A mariadb+pyodbc URL of this server that names its port."""
        credentials = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
        return (
            f"mariadb+pyodbc://{credentials}@127.0.0.1:{self.port}/{database}"
            "?driver=MariaDB+Unicode"
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def private_mariadb(directory: Path) -> Iterator[PrivateMariaDB]:
    """Initialize a data directory in `directory`, serve it on a free port, stop it afterwards."""
    server = MariaDBServer(directory)
    server.start()
    try:
        yield server.instance
    finally:
        server.stop()


class MariaDBServer:
    """A private server that a test may also kill (as a crash would) and start again."""

    def __init__(self, directory: Path):
        install = shutil.which("mariadb-install-db")
        binary = shutil.which("mariadbd") or shutil.which(
            "mariadbd", path="/usr/sbin:/usr/local/sbin"
        )
        if not install or not binary:
            raise PrivateMariaDBUnavailable("mariadb-install-db or mariadbd is not installed")
        self.directory = directory
        self.binary = binary
        self.data = directory / "data"
        self.log = directory / "error.log"
        # mariadbd refuses to run as root unless told to; elsewhere it runs as the current user.
        self.as_user = ["--user=root"] if os.geteuid() == 0 else []
        self.instance = PrivateMariaDB(free_port(), directory / "mariadb.sock")
        self.process: subprocess.Popen[bytes] | None = None
        installed = subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *self.as_user,
            ],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
        if installed.returncode != 0:
            raise PrivateMariaDBUnavailable(f"mariadb-install-db failed: {installed.stderr[-500:]}")

    def start(self) -> None:
        """Serve the data directory (again) on the server's port."""
        self.log.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary,
                "--no-defaults",
                f"--datadir={self.data}",
                f"--port={self.instance.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.instance.socket}",
                f"--pid-file={self.directory / 'mariadb.pid'}",
                f"--log-error={self.log}",
                "--innodb-buffer-pool-size=16M",
                *self.as_user,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_ready(self.process, self.log)

    def kill(self) -> None:
        """End the server at once, as a crash or a lost machine does (no clean shutdown)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_until_ready(process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if process.poll() is not None:
            raise PrivateMariaDBUnavailable(f"mariadbd exited: {text[-500:]}")
        if READY in text:
            return
        time.sleep(0.1)
    raise PrivateMariaDBUnavailable(f"mariadbd was not ready in {START_TIMEOUT_S}s")
