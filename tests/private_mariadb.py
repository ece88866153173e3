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
    install = shutil.which("mariadb-install-db")
    server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/local/sbin")
    if not install or not server:
        raise PrivateMariaDBUnavailable("mariadb-install-db or mariadbd is not installed")
    data = directory / "data"
    # mariadbd refuses to run as root unless told to; elsewhere it runs as the current user.
    as_user = ["--user=root"] if os.geteuid() == 0 else []
    installed = subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *as_user,
        ],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    if installed.returncode != 0:
        raise PrivateMariaDBUnavailable(f"mariadb-install-db failed: {installed.stderr[-500:]}")
    port = free_port()
    log = directory / "error.log"
    instance = PrivateMariaDB(port, directory / "mariadb.sock")
    process = subprocess.Popen(
        [
            server,
            "--no-defaults",
            f"--datadir={data}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={instance.socket}",
            f"--pid-file={directory / 'mariadb.pid'}",
            f"--log-error={log}",
            "--innodb-buffer-pool-size=16M",
            *as_user,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(process, log)
        yield instance
    finally:
        process.terminate()
        try:
            process.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
