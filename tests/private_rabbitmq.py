"""A RabbitMQ node of the tests' own, which a test may stop and start again (a broker restart).

It runs from a temporary directory (its data, logs, configuration and Erlang cookie) on free
loopback ports, under a node name of its own, and reads none of the machine's RabbitMQ
configuration; the shared broker on 5672 is never touched.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 60
# Debian's /usr/sbin scripts switch to the rabbitmq user and log to /var/log; these do neither.
PACKAGED_SCRIPTS = Path("/usr/lib/rabbitmq/bin")


class PrivateRabbitMQUnavailable(Exception):
    """The machine cannot run a RabbitMQ node of the tests' own."""


def _script(name: str) -> str:
    packaged = PACKAGED_SCRIPTS / name
    if packaged.is_file() and os.access(packaged, os.X_OK):
        return str(packaged)
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise PrivateRabbitMQUnavailable(f"{name} is not installed")
    return found


def _free_port(low: int, high: int) -> int:
    """A free loopback port in [low, high): the command line tools talk to the node from its
    distribution port + 10000, so that one must stay well below 55535."""
    for _ in range(200):
        port = random.randrange(low, high)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise PrivateRabbitMQUnavailable(f"no free port in {low}..{high}")


class PrivateRabbitMQ:
    """A private node: `url` to connect, `stop()` and `start()` to restart it (data kept)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.server = _script("rabbitmq-server")
        self.rabbitmqctl = _script("rabbitmqctl")
        self.node = f"tt-test-{uuid.uuid4().hex[:10]}@localhost"
        self.port = _free_port(20000, 30000)
        self.dist_port = _free_port(30000, 40000)
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.log = directory / "server.out"
        self.process: subprocess.Popen[bytes] | None = None
        self.app_stopped = False  # the VM runs, the broker in it was stopped
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "rabbitmq-env.conf").write_text("")
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "disk_free_limit.absolute = 10MB\n"
            "log.console = false\n"
        )
        self.env = {
            **os.environ,
            "HOME": str(directory),  # its own Erlang cookie, made at first start
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(directory / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the node (again, on the same ports and data) and wait until it serves."""
        if self.running and self.app_stopped:
            self.ctl("start_app")
            self.ctl("await_startup", "--timeout", "30")
            self.app_stopped = False
            return
        if self.running:
            return
        self.app_stopped = False
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [self.server],
                env=self.env,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise PrivateRabbitMQUnavailable(f"rabbitmq-server exited: {self._tail()}")
            if self._ctl("await_startup", "--timeout", "30").returncode == 0:
                return
            if time.monotonic() > deadline:
                self.kill()
                raise PrivateRabbitMQUnavailable(f"not started in {START_TIMEOUT_S} s")
            time.sleep(0.3)

    def stop(self) -> None:
        """Stop the broker cleanly, as an operator's restart does (`rabbitmqctl stop_app`: every
        connection closed, nothing listening, the data on disk); `start()` starts it again.
        The Erlang VM stays up, which halves the restart; `kill()` ends it too."""
        if not self.running or self.app_stopped:
            return
        self.ctl("stop_app")
        self.app_stopped = True

    def kill(self) -> None:
        """End the node at once, as a crash does."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, 9)  # its own session: the script and its Erlang VM
        self.process.wait()
        self.app_stopped = False

    def ctl(self, *args: str) -> str:
        """Run `rabbitmqctl` on this node (e.g. `set_vm_memory_high_watermark 0.4`); its output."""
        result = self._ctl(*args)
        if result.returncode != 0:
            raise AssertionError(f"rabbitmqctl {' '.join(args)}: {result.stderr[-500:]}")
        return result.stdout

    def _ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.rabbitmqctl, "-n", self.node, "-q", *args],
            env=self.env,
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-800:] if self.log.exists() else ""


@contextmanager
def private_rabbitmq(directory: Path) -> Iterator[PrivateRabbitMQ]:
    """Start a private RabbitMQ node in `directory`; end it (and its VM) afterwards: its data
    is temporary, so nothing needs a clean stop."""
    node = PrivateRabbitMQ(directory)
    node.start()
    try:
        yield node
    finally:
        node.kill()
