"""The benchmark: the API served as in production on 1M entries, beside its floors and a peer.

Run on demand, never in tests; `bench/run.sh` installs what it needs first (wrk, TimeTagger):

    bench/run.sh                                   # everything: about 25 min on 2 cores
    bench/run.sh --duration 2 --warmup 1 --repeat 1 --scenarios S1,S2,S3,P,D2 --no-scaling
    bench/run.sh --backends postgresql --no-peer   # PostgreSQL only, without TimeTagger
    bench/run.sh --reseed                          # drop and seed the databases again

In one run it

1. brings the data up to now: `cli.py seed` fills the PostgreSQL database `tt_bench` and the
   SQLite file bench/.data/tt_bench.sqlite with 500 people x 730 days (about 1.04M entries;
   seed-user-00001...00400 with a timer running, 00401...00500 without: S2's), and
   PostgreSQL's and MariaDB's `tt_bench_100k` with the first 50 of them (about 104k; MariaDB
   takes 6 min to seed 1M: --mariadb-dataset 1M asks for it). A database without the data is
   seeded; one whose newest entry is older than today is extended to now by the same command
   (it writes only what is missing, ends the timers that ran out and starts today's); the
   command ends with ANALYZE. Every database is migrated.
2. serves `time_tracker_api:create_app()` on each backend with gunicorn as
   docker-entrypoint.sh does (APP_ENV=production, its flags, a fresh random JWT_SECRET_KEY)
   on a free loopback port, and beside it, under the same gunicorn settings, the framework
   floor F (bench/floor_app.py: bare Flask verifying the same JWT) and the Python floor P
   (bench/python_floor.py: a plain WSGI callable verifying the JWT, running S1's SQL with
   psycopg, dumping the rows with orjson); and TimeTagger (bench/peer_timetagger.py).
3. measures, at 1 and 16 clients, each scenario together with what it is compared with, the
   runs of the group alternating (S1 on PostgreSQL, S1 on SQLite, S1 on MariaDB, F, P, D1,
   T1, S1 on PostgreSQL, ...) so that the machine's drift falls on all of them alike: S1 with
   F, P, D1 and T1; S2 with D2, T2 and T2c; S3 with D3 (TimeTagger has no summary); S4 with
   D4; then S5 and S6. D1-D4, the database floors, replay the statements the scenario sends,
   captured from the app, with psycopg (bench/db_floor.py); D2's replays are real writes
   (fresh ids, the clock's timestamps, committed). S1-S3 run on every backend, the rest on
   PostgreSQL only.
4. measures S1 and S3 on the 1M and the 100k PostgreSQL databases, alternating (scaling).

Each measurement is a --warmup, then --repeat runs of --duration seconds; the run with the
median throughput is reported, with requests/s, p50/p95/p99, peak RSS per worker (VmHWM),
CPU of the load generator and the server, and how busy the machine was. The size of each
scenario's answer (entries, bytes of JSON) is taken once before. Figures go to
bench/results/<timestamp>.json (or --output) and, with the ratios and the targets, to the
.md beside it. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import platform
import resource
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import jwt
import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench.* and the application, when run as bench/harness.py
RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "bench" / ".data"  # the SQLite database (ignored by git: bench/.gitignore)
TENANT = "bench-tenant"
MEMBER = "seed-user-00001"
ADMIN = "seed-user-00002"  # a seeded user given the admin role in the token
ADMIN_ROLE = "time-tracker-admin"
# S2 client n (1, 2, ...) writes as seed-user-(400 + n): `cli.py seed` runs no timer for them.
S2_FIRST_USER = 400
S2_MARK = "bench-harness S2"  # the description of S2's (and D2's) entries, so they can be removed
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tt_bench"
SCALING_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tt_bench_100k"
SQLITE_URLS = {
    name: f"sqlite:///{DATA / f'tt_bench{suffix}.sqlite'}"
    for name, suffix in (("1M", ""), ("100k", "_100k"))
}
MARIADB_URLS = {
    name: f"mariadb+pyodbc://root:@127.0.0.1:3306/tt_bench{suffix}?driver=MariaDB+Unicode"
    for name, suffix in (("1M", ""), ("100k", "_100k"))
}
# The datasets of SQLite and MariaDB. Seeding 1M entries takes SQLite 2.3 min on this machine
# but MariaDB (over ODBC, batched INSERTs) 6.3 min, so MariaDB gets the 100k dataset unless
# asked (--mariadb-dataset 1M): a person's month is the same size in both (see scaling).
OTHER_DATASETS = {"sqlite": "1M", "mariadb": "100k"}
BACKENDS = ("postgresql", "sqlite", "mariadb")
NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite", "mariadb": "MariaDB"}
EVERY_BACKEND = ("S1", "S2", "S3")  # the scenarios measured on every backend
DATASETS = {  # (users, days) seeded through `cli.py seed`
    "1M": (500, 730),  # about 1,044,000 entries
    "100k": (50, 730),  # the same timelines for 50 people: about 104,000 entries
}
SCALING = ("S1", "S3")
PAIRED = "1M paired"  # the 1M figures measured alongside the 100k ones
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


_TODAY = datetime.now(UTC)
LAST_MONTH = (_TODAY.replace(day=1) - timedelta(days=1)).date()  # S1L's month


DEEP = 500_000  # the position of S8's and S9's deep pages
EVENTS = 1_000_000  # the audit log S9 pages: inserted into the 1M database when it has fewer


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    path: str = ""
    admin: bool = False
    kind: str = "api"  # api, framework (F), python (P), database (D...), peer (T...)
    floor_of: str = ""  # a database floor: the SQL of this API scenario, run with psycopg
    group: str = ""  # measured with this API scenario, their runs alternating
    stack: str = ""  # kind "stack": the API served by another server (see STACKS)
    clients: tuple[int, ...] = ()  # measured at these client counts only (default --clients)
    cursor_at: int = 0  # the path's {after}: the `next` of the page ending at this position


def _deep_pages(name: str, title: str, path: str) -> tuple[Scenario, ...]:
    """A million rows paged four ways: the first page (counted), the first page without its
    count, the page at DEEP by offset (not counted), and the page after DEEP by cursor."""
    page = partial(Scenario, admin=True, clients=(1,))
    return (
        page(name, f"{title}: first page, counted", path),
        page(f"{name}n", f"{title}: first page, count=false", f"{path}&count=false"),
        page(
            f"{name}d",
            f"{title}: start={DEEP:,}, count=false",
            f"{path}&start={DEEP}&count=false",
        ),
        page(
            f"{name}k",
            f"{title}: the page after row {DEEP:,} (after=<cursor>)",
            f"{path}&after={{after}}",
            cursor_at=DEEP,
        ),
    )


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("S1", "member lists their current month", "/time-entries"),
        Scenario(
            "S1L",
            "member lists last month: a whole month on any date",
            f"/time-entries?month={LAST_MONTH.month}&year={LAST_MONTH.year}",
            group="S1L",
        ),
        Scenario("S2", "member starts then stops a timer"),
        Scenario("S3", "member's summary", "/time-entries/summary"),
        Scenario(
            "S4",
            "admin pages the tenant's month",
            "/time-entries/paginated?user_id=*&length=100",
            admin=True,
        ),
        Scenario("S5", "member's latest entries", "/time-entries/latest"),
        Scenario("S6", "GET /projects", "/projects"),
        Scenario(
            "S7",
            "admin lists the whole tenant's last month (streamed)",
            f"/time-entries?user_id=*&month={LAST_MONTH.month}&year={LAST_MONTH.year}",
            admin=True,
            clients=(1,),
        ),
        *_deep_pages(
            "S8",
            "admin pages every entry of the tenant (1M)",
            "/time-entries/paginated?user_id=*&start_date=2000-01-01&length=100",
        ),
        *_deep_pages("S9", "admin pages the tenant's audit log (1M events)", "/events?length=100"),
        Scenario(
            "F",
            "framework floor: bare Flask verifies the JWT, returns a constant",
            "/floor",
            kind="framework",
            group="S1",
        ),
        Scenario(
            "P",
            "Python floor of S1: plain WSGI verifies the JWT, runs S1's SQL with psycopg,"
            " dumps the rows with orjson",
            "/p",
            kind="python",
            group="S1",
        ),
        Scenario(
            "D1",
            "database floor of S1: its SQL run with psycopg",
            kind="database",
            floor_of="S1",
            group="S1",
        ),
        Scenario(
            "D2",
            "database floor of S2: its start's and stop's SQL run with psycopg, fresh ids",
            kind="database",
            floor_of="S2",
            group="S2",
        ),
        Scenario(
            "D3",
            "database floor of S3: its SQL run with psycopg",
            kind="database",
            floor_of="S3",
            group="S3",
        ),
        Scenario(
            "D4",
            "database floor of S4: its SQL run with psycopg",
            kind="database",
            floor_of="S4",
            group="S4",
        ),
        Scenario(
            "W1",
            "S1 served by gunicorn's own gthread worker instead of the production worker",
            "/time-entries",
            kind="stack",
            group="S1",
            stack="gthread",
        ),
        Scenario(
            "W2",
            "S1 served by granian (Rust HTTP server, WSGI on a pool of threads)",
            "/time-entries",
            kind="stack",
            group="S1",
            stack="granian",
        ),
        Scenario("T1", "TimeTagger: list one user's month", kind="peer", group="S1"),
        Scenario("T1L", "TimeTagger: list one user's last month", kind="peer", group="S1L"),
        Scenario("T2", "TimeTagger: start then stop a timer", kind="peer", group="S2"),
        Scenario("T2c", "TimeTagger: put one finished record", kind="peer", group="S2"),
    )
}
PEER_OF = {
    "S1": ("T1",),
    "S1L": ("T1L",),
    "S2": ("T2", "T2c"),
}  # TimeTagger's comparable operations
API_APP = "time_tracker_api:create_app()"
# What docker-entrypoint.sh serves with: gunicorn managing workers that buffer whole requests
# (waitress) before a thread runs the app.
PRODUCTION_WORKER = "time_tracker_api.serving.Worker"
STACKS = ("gunicorn", "gthread", "granian")  # gunicorn: with --worker-class (production's)
FLOOR_APP = "bench.floor_app:create_app()"
PYTHON_FLOOR_APP = "bench.python_floor:create_app()"


@dataclass
class Result:
    scenario: str
    clients: int
    duration_s: float
    requests: int
    errors: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    loadgen_cpu_s: float
    server_cpu_s: float
    machine_busy_pct: float
    worker_peak_rss_mb: list[float] = field(default_factory=list)
    note: str = ""
    dataset: str = "1M"
    runs_requests_per_s: list[float] = field(default_factory=list)  # every run; median reported
    backend: str = "postgresql"  # "" for TimeTagger


# --- the server ---------------------------------------------------------------------------


class Server:
    """gunicorn as docker-entrypoint.sh runs it, on a free loopback port."""

    def __init__(
        self,
        database_url: str,
        args: argparse.Namespace,
        log: Path,
        app: str = API_APP,
        env: dict[str, str] | None = None,
        stack: str = "gunicorn",
    ) -> None:
        """`args`: the harness's --workers, --threads, --worker-class and --gunicorn; `env`:
        more environment variables for the app; `stack`: one of STACKS, with the same
        workers, threads and access log."""
        self.port = free_port()
        self.database_url = database_url
        self.secret = secrets.token_urlsafe(32)
        if stack == "granian":
            command = [
                str(Path(sys.executable).with_name("granian")),
                "--interface",
                "wsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(args.workers),
                "--blocking-threads",
                str(args.threads),
                "--access-log",
                "--factory",
                app.removesuffix("()"),
            ]
        else:
            command = [
                str(Path(sys.executable).with_name("gunicorn")),
                app,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--worker-class",
                "gthread" if stack == "gthread" else args.worker_class,
                *args.gunicorn,
                "--access-logfile",
                "-",
                "--error-logfile",
                "-",
                "--worker-tmp-dir",
                "/dev/shm",  # noqa: S108 - as docker-entrypoint.sh
                "--no-control-socket",
                "--reuse-port",
            ]
        env = {
            **os.environ,
            "APP_ENV": "production",
            "SQL_DATABASE_URI": database_url,
            "JWT_SECRET_KEY": self.secret,
            # A few tokens send thousands of requests a second: measure the API, not the limiter.
            "RATE_LIMIT": "off",
            **(env or {}),
        }
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own server
            command, cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        self.workers = args.workers

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=1) as response:  # noqa: S310
                    if response.status == 200 and len(self.worker_pids()) == self.workers:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer /health in {timeout} s; see {self.log}")

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its live workers."""
        return cpu_seconds([self.process.pid, *self.worker_pids()])

    def peak_rss_mb(self) -> list[float]:
        """VmHWM (peak resident set) of each worker, in MB."""
        return [round(kb / 1024, 1) for kb in status_field(self.worker_pids(), "VmHWM")]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


# --- processes, from /proc ----------------------------------------------------------------


def children_of(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(entry.name))
    return sorted(pids)


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (all their threads); gone ones count nothing."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def status_field(pids: list[int], name: str) -> list[int]:
    """A numeric field of /proc/<pid>/status (e.g. VmHWM in kB, Threads) for each process."""
    values = []
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        values += [int(line.split()[1]) for line in lines if line.startswith(f"{name}:")]
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def token(secret: str, user_id: str, admin: bool = False) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "oid": user_id,
        "sub": user_id,
        "tid": TENANT,
        "iat": now,
        "nbf": now,
        "exp": now + 6 * 3600,
    }
    if admin:
        claims["roles"] = [ADMIN_ROLE]
    return jwt.encode(claims, secret, algorithm="HS256")


# --- wrk: the read scenarios --------------------------------------------------------------

WRK_SCRIPT = """\
wrk.method = "GET"
wrk.path = {path}
wrk.headers[{header}] = {value}
wrk.headers["Accept"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT %d %d %d %d %.0f %.0f %.0f\\n",
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII text is a valid Lua string literal


Header = tuple[str, str]  # the one credential header a client sends: (name, value)


def bearer(token_: str) -> Header:
    return ("Authorization", f"Bearer {token_}")


def run_wrk(base: str, path: str, header: Header, clients: int, duration: float) -> dict:
    """GET `path` with `clients` keep-alive connections for `duration` seconds."""
    name, value = header
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            WRK_SCRIPT.format(
                path=lua_string(path), header=lua_string(name), value=lua_string(value)
            )
        )
    try:
        command = [
            "wrk",
            f"-t{min(clients, os.cpu_count() or 1)}",
            f"-c{clients}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            script.name,
            base,
        ]
        before = children_cpu()
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
        cpu = children_cpu() - before
    finally:
        os.unlink(script.name)
    line = next(line for line in output.splitlines() if line.startswith("WRK_RESULT"))
    requests, duration_us, socket_errors, status_errors, p50, p95, p99 = map(int, line.split()[1:])
    return {
        "requests": requests,
        "duration_s": duration_us / 1e6,
        "errors": socket_errors + status_errors,
        "latencies_ms": (p50 / 1000, p95 / 1000, p99 / 1000),
        "loadgen_cpu_s": cpu,
    }


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- asyncio keep-alive clients: S2 (and TimeTagger's T2) --------------------------------


class Connection:
    """One HTTP/1.1 keep-alive connection; just enough for JSON bodies with Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(
        self, method: str, path: str, header: Header, body: bytes
    ) -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header[0]}: {header[1]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line, *header_lines = (
            (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        )
        length = next(
            (
                int(value)
                for name, _, value in (line.partition(":") for line in header_lines)
                if name.strip().lower() == "content-length"
            ),
            None,
        )
        if length is None:
            raise RuntimeError(f"no Content-Length in the response to {method} {path}")
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


# A client: given the deadline and the list to append each request's latency to, it sends
# requests on its own connection until the deadline and returns how many failed.
Client = Callable[[float, list[float]], Awaitable[int]]


def run_clients(clients: list[Client], duration: float) -> dict:
    """Run the clients together for `duration` seconds; their requests, latencies and CPU."""
    latencies: list[float] = []

    async def main() -> int:
        deadline = time.perf_counter() + duration
        return sum(await asyncio.gather(*(client(deadline, latencies) for client in clients)))

    cpu_before, wall_before = own_cpu(), time.perf_counter()
    errors = asyncio.run(main())
    elapsed, cpu = time.perf_counter() - wall_before, own_cpu() - cpu_before
    latencies.sort()
    return {
        "requests": len(latencies),
        "duration_s": elapsed,
        "errors": errors,
        "latencies_ms": tuple(percentile(latencies, pct) * 1000 for pct in (50, 95, 99)),
        "loadgen_cpu_s": cpu,
    }


async def timer_client(
    port: int, header: Header, body: bytes, deadline: float, latencies: list[float]
) -> int:
    """S2: start then stop a timer until the deadline; returns the number of failed requests."""
    connection = await Connection.open(port)
    errors = 0
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, payload = await connection.request("POST", "/time-entries", header, body)
            latencies.append(time.perf_counter() - started)
            if status != 201:
                errors += 1
                continue
            entry_id = json.loads(payload)["id"]
            started = time.perf_counter()
            status, _ = await connection.request(
                "POST", f"/time-entries/{entry_id}/stop", header, b""
            )
            latencies.append(time.perf_counter() - started)
            errors += status != 200
    finally:
        connection.close()
    return errors


def run_timers(port: int, secret: str, catalog: dict, clients: int, duration: float) -> dict:
    """S2, client n writing as seed-user-(400 + n)."""
    body = timer_body(catalog)
    users = [s2_user(n) for n in range(1, clients + 1)]
    return run_clients(
        [partial(timer_client, port, bearer(token(secret, user)), body) for user in users],
        duration,
    )


def s2_user(n: int) -> str:
    """The user S2's client n (from 1) writes as."""
    return f"seed-user-{S2_FIRST_USER + n:05d}"


def timer_body(catalog: dict[str, str]) -> bytes:
    return json.dumps({**catalog, "description": S2_MARK}).encode()


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(ordered: list[float], pct: int) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


# --- the databases ------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def backend_of(url: str) -> str:
    name = sa.make_url(url).get_backend_name()
    return "mariadb" if name in ("mysql", "mariadb") else name


_ENGINES: dict[str, sa.Engine] = {}


def engine(url: str) -> sa.Engine:
    """One engine per database for the harness's own statements (the app's settings)."""
    if url not in _ENGINES:
        from commons.data_access_layer.sql.engine import create_sql_engine

        _ENGINES[url] = create_sql_engine(url)
    return _ENGINES[url]


def dispose_engines() -> None:
    for found in _ENGINES.values():
        found.dispose()
    _ENGINES.clear()


def _server_engine(url: str) -> tuple[sa.Engine, str]:
    """An AUTOCOMMIT engine on the database's server (not the database), and its name."""
    from commons.data_access_layer.sql.engine import normalized_url

    parsed = normalized_url(url)
    other = "postgres" if backend_of(url) == "postgresql" else "mysql"
    return sa.create_engine(parsed.set(database=other), isolation_level="AUTOCOMMIT"), str(
        parsed.database
    )


def create_database(url: str, drop: bool = False) -> None:
    """Create the database (or the SQLite file's folder) unless it is there; `drop` first."""
    dispose_engines()
    if backend_of(url) == "sqlite":
        path = Path(str(sa.make_url(url).database))
        if drop:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    admin, name = _server_engine(url)
    try:
        with admin.connect() as connection:
            if backend_of(url) == "postgresql":
                if drop:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                there = connection.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).first()
                if there is None:
                    connection.exec_driver_sql(f"CREATE DATABASE {name}")
            else:
                if drop:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
                connection.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS {name}")
    finally:
        admin.dispose()


def cli(url: str, *arguments: str, quiet: bool = False) -> None:
    """`python cli.py ...` on the database, as a deployment runs it; `quiet`: its output only
    when it fails."""
    env = {**os.environ, "APP_ENV": "development", "SQL_DATABASE_URI": url}
    command = [sys.executable, "cli.py", *arguments]
    if not quiet:
        subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603
        return
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"cli.py {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")


def migrate(url: str) -> None:
    """Bring the schema up to date, as a deployment does before starting the server."""
    cli(url, "migrate", quiet=True)


def ensure_dataset(url: str, name: str, reseed: bool) -> dict[str, Any]:
    """The dataset on the database, up to now: seeded through `cli.py seed` when missing,
    extended by it (to now, idempotently) when its newest entry is older than today."""
    users, days = DATASETS[name]
    create_database(url, drop=reseed)
    migrate(url)
    remove_timer_entries(url)
    newest = newest_entry(url)
    action = "up to date"
    seconds = 0.0
    if newest is None or newest.date() < datetime.now(UTC).date():  # `cli.py seed` analyzes
        action = "seeded" if newest is None else f"extended (its newest entry: {newest:%F})"
        print(f"{backend_of(url)} {name}: {action}, {users} users x {days} days", file=sys.stderr)
        started = time.monotonic()
        cli(url, "seed", "--tenant-id", TENANT, "--users", str(users), "--days", str(days))
        seconds = round(time.monotonic() - started, 1)
    else:
        # A migration's new index has no statistics until ANALYZE: SQLite then chose a just
        # added index for S1's month and took 300 ms instead of 2.
        from cli import analyze_database

        analyze_database(url)
    stopped = stop_s2_timers(url)
    return {
        "backend": backend_of(url),
        "dataset": name,
        "entries": count_entries(url),
        "users": users,
        "days": days,
        "action": action,
        "seed_s": seconds,
        "s2_timers_stopped": stopped,
        "running": count_entries(url, running=True),
    }


def dataset_note(data: dict[str, dict[str, Any]]) -> str:
    """Which backends ran on a smaller dataset than PostgreSQL's, and why."""
    smaller = [key for key, value in data.items() if " " not in key and value["dataset"] != "1M"]
    if not smaller:
        return ""
    return (
        f"{' and '.join(NAMES[key] for key in smaller)} on the 100k dataset (50 people; a "
        "person's month is the same size as at 1M): seeding MariaDB with 1M entries took "
        "6.3 min on this machine"
    )


def _tables() -> Any:
    from commons.data_access_layer.sql import tables

    return tables


def ensure_events(url: str, wanted: int = EVENTS) -> int:
    """The tenant's audit log on the PostgreSQL database, filled up to `wanted` events for S9:
    rows inserted directly (what the relay would have written for that many changes), one a
    minute back from now, then analysed."""
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        count = "SELECT count(*) FROM events WHERE tenant_id = %s"
        have = connection.execute(count, (TENANT,)).fetchone()[0]  # type: ignore[index]
        if have < wanted:
            print(f"events: inserting {wanted - have:,} into {url}", file=sys.stderr)
            connection.execute(
                """
                INSERT INTO events (id, tenant_id, date, user_id, action, description, item_id,
                                    container_id)
                SELECT gen_random_uuid()::text, %(tenant)s,
                       (now() AT TIME ZONE 'UTC') - make_interval(mins => g),
                       'seed-user-' || lpad((g %% 500 + 1)::text, 5, '0'),
                       (ARRAY['create', 'update', 'stop', 'restart', 'delete'])[g %% 5 + 1],
                       'Time entry change ' || g, gen_random_uuid()::text, 'time_entry'
                FROM generate_series(%(first)s, %(last)s) AS g
                """,
                {"tenant": TENANT, "first": have + 1, "last": wanted},
            )
            connection.execute("ANALYZE events")
        return max(have, wanted)


def with_cursor(scenario: Scenario, server: Server) -> Scenario:
    """The scenario with its {after} cursor: the `next` of the page that ends at cursor_at."""
    header = bearer(token(server.secret, ADMIN, admin=True))
    page = scenario.path.replace("&after={after}", "")
    before = f"{page}&start={scenario.cursor_at - 100}&count=false"
    cursor = answer_size(server.base, before, header)["body"]["next"]
    if not cursor:
        raise SystemExit(f"{scenario.name}: no row after position {scenario.cursor_at:,}")
    return replace(scenario, path=scenario.path.format(after=cursor))


def newest_entry(url: str) -> datetime | None:
    """When the tenant's latest entry starts; None without entries."""
    entries = _tables().time_entry
    with engine(url).connect() as connection:
        return connection.execute(
            sa.select(sa.func.max(entries.c.start_date)).where(entries.c.tenant_id == TENANT)
        ).scalar_one()


def count_entries(url: str, running: bool = False) -> int:
    entries = _tables().time_entry
    query = sa.select(sa.func.count()).where(entries.c.tenant_id == TENANT)
    if running:
        query = query.where(entries.c.end_date.is_(None), entries.c.deleted.is_(None))
    with engine(url).connect() as connection:
        return int(connection.execute(query).scalar_one())


def entries_per_user(url: str) -> float:
    entries = _tables().time_entry
    query = sa.select(sa.func.count(), sa.func.count(sa.distinct(entries.c.owner_id))).where(
        entries.c.tenant_id == TENANT
    )
    with engine(url).connect() as connection:
        total, owners = connection.execute(query).one()
    return total / owners if owners else 0.0


def active_catalog(url: str) -> dict[str, str]:
    """An active project and activity of the tenant, for S2's entries."""
    tables = _tables()
    ids = {}
    with engine(url).connect() as connection:
        for table, key in ((tables.project, "project_id"), (tables.activity, "activity_id")):
            found = connection.execute(
                sa.select(table.c.id)
                .where(
                    table.c.tenant_id == TENANT,
                    table.c.status == "active",
                    table.c.deleted.is_(None),
                )
                .order_by(table.c.id)
                .limit(1)
            ).scalar()
            if found is None:
                raise SystemExit(f"no active {table.name} in {TENANT}: seed first (--reseed)")
            ids[key] = found
    return ids


def remove_timer_entries(url: str) -> int:
    """Delete what S2 and D2 wrote (entries and their outbox rows), so every run sees the same
    data."""
    tables = _tables()
    entries, outbox = tables.time_entry, tables.outbox
    marked = sa.select(entries.c.id).where(
        entries.c.tenant_id == TENANT, entries.c.description == S2_MARK
    )
    with engine(url).begin() as connection:
        ids = connection.execute(marked).scalars().all()
        for first in range(0, len(ids), 1000):
            connection.execute(
                sa.delete(outbox).where(
                    outbox.c.tenant_id == TENANT, outbox.c.item_id.in_(ids[first : first + 1000])
                )
            )
        return connection.execute(
            sa.delete(entries).where(
                entries.c.tenant_id == TENANT, entries.c.description == S2_MARK
            )
        ).rowcount


def stop_s2_timers(url: str, clients: int = 16) -> int:
    """End any timer still running for S2's users (seeded with another share, or left by an
    interrupted run), so that S2 can start theirs."""
    entries = _tables().time_entry
    users = [s2_user(n) for n in range(1, clients + 1)]
    with engine(url).begin() as connection:
        return connection.execute(
            sa.update(entries)
            .where(
                entries.c.tenant_id == TENANT,
                entries.c.owner_id.in_(users),
                entries.c.end_date.is_(None),
            )
            .values(end_date=datetime.now(UTC), running_slot=None)
        ).rowcount


# --- what is measured ---------------------------------------------------------------------

Once = Callable[[float], dict]  # one run of a measurement, for the seconds given


@dataclass
class Member:
    """One thing measured in a group: a scenario on a server (or a floor, or the peer)."""

    scenario: Scenario
    once: Callable[[int], Once]  # clients -> one run
    server_cpu: Callable[[], float] | None = None
    rss: Callable[[], list[float]] = list
    note: Callable[[int], str] = lambda clients: ""
    backend: str = "postgresql"
    dataset: str = "1M"

    @property
    def label(self) -> str:
        where = self.backend or "TimeTagger"
        if self.dataset not in ("1M", "TimeTagger"):
            where += f" {self.dataset}"
        return f"{self.scenario.name} ({where})"


def measure_group(members: list[Member], args: argparse.Namespace) -> list[Result]:
    """The members at each client count, their runs alternating: warm-ups A, B, ..., then
    A, B, ..., A, B, ... (--repeat rounds); each member's median run is reported."""
    results = []
    names = ", ".join(member.label for member in members)
    for clients in members[0].scenario.clients or args.clients:
        onces = [member.once(clients) for member in members]
        if args.warmup > 0:
            for once in onces:
                once(args.warmup)
        runs: list[list[dict]] = [[] for _ in members]
        for round_ in range(args.repeat):
            for member, once, found in zip(members, onces, runs, strict=True):
                run = observed(once, args.duration, member.server_cpu)
                found.append(run)
                print(
                    f"  {member.label} x{clients} run {round_ + 1}/{args.repeat}:"
                    f" {run['requests'] / run['duration_s']:.1f} req/s",
                    file=sys.stderr,
                )
        for member, found in zip(members, runs, strict=True):
            note = member.note(clients)
            if len(members) > 1:
                note = "; ".join(filter(None, [note, f"runs alternated with {names}"]))
            result = Result(
                **result_fields(median_run(found), found),
                scenario=member.scenario.name,
                clients=clients,
                worker_peak_rss_mb=member.rss(),
                note=note,
                dataset=member.dataset,
                backend=member.backend,
            )
            report_progress(result)
            results.append(result)
    return results


def observed(once: Once, duration: float, server_cpu: Callable[[], float] | None) -> dict:
    """One measured run, with the server's CPU seconds and how busy the machine was."""
    cpu_before, machine = (server_cpu() if server_cpu else 0.0), machine_ticks()
    figures = once(duration)
    busy, total = (after - before for after, before in zip(machine_ticks(), machine, strict=True))
    figures["server_cpu_s"] = (server_cpu() - cpu_before) if server_cpu else 0.0
    figures["machine_busy_pct"] = round(100 * busy / total, 1) if total else 0.0
    return figures


def median_run(runs: list[dict]) -> dict:
    """The run with the median throughput (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda run: run["requests"] / run["duration_s"])
    return ordered[(len(ordered) - 1) // 2]


def result_fields(figures: dict, runs: list[dict]) -> dict:
    p50, p95, p99 = figures["latencies_ms"]
    return {
        "duration_s": round(figures["duration_s"], 2),
        "requests": figures["requests"],
        "errors": figures["errors"],
        "requests_per_s": round(figures["requests"] / figures["duration_s"], 1),
        "p50_ms": round(p50, 2),
        "p95_ms": round(p95, 2),
        "p99_ms": round(p99, 2),
        "loadgen_cpu_s": round(figures["loadgen_cpu_s"], 2),
        "server_cpu_s": round(figures["server_cpu_s"], 2),
        "machine_busy_pct": figures["machine_busy_pct"],
        "runs_requests_per_s": [round(run["requests"] / run["duration_s"], 1) for run in runs],
    }


def machine_ticks() -> tuple[int, int]:
    """Busy and total jiffies of all CPUs (/proc/stat): the databases' share is in there too."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def report_progress(result: Result) -> None:
    where = result.backend or "TimeTagger"
    if result.dataset != "TimeTagger":
        where += f", {result.dataset}"
    print(
        f"{result.scenario} ({where}) x{result.clients}:"
        f" {result.requests_per_s} req/s, p50 {result.p50_ms} ms, errors {result.errors}",
        file=sys.stderr,
    )


def with_latencies(figures: dict) -> dict:
    """A psycopg replay's figures with the percentiles the results want."""
    ordered = figures.pop("latencies")
    figures["latencies_ms"] = tuple(percentile(ordered, q) * 1000 for q in (50, 95, 99))
    return figures


def api_member(scenario: Scenario, server: Server, catalog: dict, dataset: str) -> Member:
    def once(clients: int) -> Once:
        if scenario.name == "S2":
            return partial(run_timers, server.port, server.secret, catalog, clients)
        user = ADMIN if scenario.admin else MEMBER
        header = bearer(token(server.secret, user, admin=scenario.admin))
        return partial(run_wrk, server.base, scenario.path, header, clients)

    return Member(
        scenario,
        once,
        server.cpu_seconds,
        server.peak_rss_mb,
        (lambda clients: "start + stop requests counted separately")
        if scenario.name == "S2"
        else (lambda clients: ""),
        backend=backend_of(server.database_url),
        dataset=dataset,
    )


def floor_member(scenario: Scenario, server: Server, note: str = "") -> Member:
    def once(clients: int) -> Once:
        header = bearer(token(server.secret, MEMBER))
        return partial(run_wrk, server.base, scenario.path, header, clients)

    return Member(scenario, once, server.cpu_seconds, server.peak_rss_mb, lambda n: note)


def capture_claims(user: str, admin: bool = False) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"oid": user, "tid": TENANT, "iat": now, "exp": now + 3600}
    if admin:
        claims["roles"] = [ADMIN_ROLE]
    return claims


def database_member(scenario: Scenario, url: str, catalog: dict) -> Member:
    """D1-D4: the SQL of the API scenario, captured from the app, replayed with psycopg."""
    from bench import db_floor

    source = SCENARIOS[scenario.floor_of]
    if source.name == "S2":
        requests, fresh = db_floor.capture_timer(
            url, capture_claims(s2_user(1)), timer_body(catalog)
        )
        note = f"{db_floor.describe(requests)}; start + stop counted separately"

        def once(clients: int) -> Once:
            users = [{s2_user(1): s2_user(n)} for n in range(1, clients + 1)]

            def run(seconds: float) -> dict:
                figures = db_floor.replay_timer(libpq_url(url), requests, fresh, users, seconds)
                return with_latencies(figures)

            return run

        return Member(scenario, once, note=lambda clients: note)
    user = ADMIN if source.admin else MEMBER
    statements = db_floor.capture(url, source.path, capture_claims(user, source.admin))

    def once(clients: int) -> Once:
        def run(seconds: float) -> dict:
            return with_latencies(db_floor.replay(libpq_url(url), statements, clients, seconds))

        return run

    note = f"{len(statements)} statements per request, one transaction"
    return Member(scenario, once, note=lambda clients: note)


def peer_member(scenario: Scenario, peer: Any) -> Member:
    return Member(
        scenario,
        partial(peer.once, scenario.name),
        peer.cpu_seconds,
        peer.peak_rss_mb,
        partial(peer.note, scenario.name),
        backend="",
        dataset="TimeTagger",
    )


# --- the size of the answers --------------------------------------------------------------


def answer_size(
    base: str, path: str, header: Header, method: str = "GET", body: bytes | None = None
) -> dict[str, Any]:
    """Entries (a list's length, or a page's) and bytes of one answer."""
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        f"{base}{path}",
        data=body,
        method=method,
        headers={header[0]: header[1], "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            payload = response.read()
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{method} {path}: {error.code} {error.read()[:300]!r}") from None
    document = json.loads(payload)
    entries: int | None = None
    if isinstance(document, list):
        entries = len(document)
    elif isinstance(document, dict) and isinstance(document.get("data"), list):
        entries = len(document["data"])
    elif isinstance(document, dict) and "id" in document:
        entries = 1
    return {"entries": entries, "bytes": len(payload), "body": document}


def api_answer(scenario: Scenario, server: Server, catalog: dict) -> dict[str, Any]:
    if scenario.name == "S2":
        header = bearer(token(server.secret, s2_user(1)))
        start = answer_size(server.base, "/time-entries", header, "POST", timer_body(catalog))
        stop = answer_size(server.base, f"/time-entries/{start['body']['id']}/stop", header, "POST")
        return {"entries": 1, "bytes": start["bytes"], "stop_bytes": stop["bytes"]}
    header = bearer(token(server.secret, ADMIN if scenario.admin else MEMBER, scenario.admin))
    found = answer_size(server.base, scenario.path, header)
    found.pop("body")
    return found


def require_data(answers: dict[str, dict[str, dict]]) -> None:
    """Every read scenario must answer with data: an empty month would measure nothing."""
    for scenario, by_backend in answers.items():
        for backend, answer in by_backend.items():
            if answer.get("entries") == 0:
                raise SystemExit(f"{scenario} on {backend or 'TimeTagger'} answered no entries")


# --- the run ------------------------------------------------------------------------------


def print_table(results: list[Result]) -> None:
    header = (
        f"{'scen':<5}{'backend':>11}{'data':>11}{'clients':>8}{'req/s':>10}{'p50 ms':>9}"
        f"{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'load gen cpu%':>16}{'server cpu%':>14}"
        f"{'machine busy%':>14}  peak RSS/worker MB"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.scenario:<5}{r.backend or '-':>11}{r.dataset:>11}{r.clients:>8}"
            f"{r.requests_per_s:>10.1f}{r.p50_ms:>9.2f}{r.p95_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{r.errors:>8}{100 * r.loadgen_cpu_s / r.duration_s:>16.0f}"
            f"{100 * r.server_cpu_s / r.duration_s:>14.0f}{r.machine_busy_pct:>14.0f}"
            f"  {r.worker_peak_rss_mb}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.sh",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated, of postgresql, sqlite, mariadb (default: all); S1-S3 run on "
        "each, everything else needs postgresql",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="comma-separated, of S1-S6, F, P, D1-D4, T1, T2, T2c (default: all); TimeTagger's "
        "T1 joins S1 and T2, T2c join S2 unless --no-peer",
    )
    parser.add_argument("--duration", type=float, default=8, help="seconds per run (8)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before each (2; 0: none)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; the median is reported (3)"
    )
    parser.add_argument("--clients", default="1,16", help="comma-separated client counts (1,16)")
    parser.add_argument("--no-scaling", action="store_true", help="skip S1, S3 on 100k entries")
    parser.add_argument("--no-peer", action="store_true", help="skip TimeTagger")
    parser.add_argument("--reseed", action="store_true", help="drop and seed the databases again")
    for backend in ("sqlite", "mariadb"):
        parser.add_argument(
            f"--{backend}-dataset",
            choices=sorted(DATASETS),
            default=OTHER_DATASETS[backend],
            help=f"{backend}'s dataset ({OTHER_DATASETS[backend]})",
        )
    parser.add_argument("--database-url", default=DEFAULT_URL, help="PostgreSQL, 1M entries")
    parser.add_argument("--scaling-url", default=SCALING_URL, help="PostgreSQL, 100k entries")
    parser.add_argument(
        "--sqlite-url", help="the SQLite database (bench/.data/tt_bench[_100k].sqlite)"
    )
    parser.add_argument(
        "--mariadb-url", help=f"the MariaDB database ({MARIADB_URLS['1M']}, or tt_bench_100k)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads (8)")
    parser.add_argument(
        "--worker-class",
        default=PRODUCTION_WORKER,
        help=f"gunicorn worker class of the API (production's: {PRODUCTION_WORKER})",
    )
    parser.add_argument(
        "--gunicorn", action="append", default=[], help="one more gunicorn flag (repeatable)"
    )
    parser.add_argument(
        "--output", type=Path, help="the JSON file (bench/results/<timestamp>.json); .md beside"
    )
    args = parser.parse_args(argv)
    args.clients = [int(n) for n in args.clients.split(",")]
    args.sqlite_url = args.sqlite_url or SQLITE_URLS[args.sqlite_dataset]
    args.mariadb_url = args.mariadb_url or MARIADB_URLS[args.mariadb_dataset]
    spelled = {name.upper(): name for name in SCENARIOS}  # names are taken in any case
    names = [spelled.get(name.strip().upper(), name) for name in args.scenarios.split(",")]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    if not args.no_peer:
        names += [peer for name in names for peer in PEER_OF.get(name, ())]
    else:
        names = [name for name in names if SCENARIOS[name].kind != "peer"]
    args.scenarios = [s for s in SCENARIOS.values() if s.name in names]
    args.backends = [name.strip().lower() for name in args.backends.split(",")]
    if unknown := [name for name in args.backends if name not in BACKENDS]:
        parser.error(f"unknown backends: {', '.join(unknown)}")
    return args


def display(path: Path) -> str:
    """The path relative to the repository when it is inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


class Run:
    """The servers, floors and peer one run needs, started once and stopped at the end."""

    def __init__(self, args: argparse.Namespace, stamp: str) -> None:
        self.args, self.stamp = args, stamp
        self.servers: list[Server] = []
        self.peer: Any = None
        self.temporary = Path(tempfile.mkdtemp(prefix="tt-bench-"))

    def serve(
        self,
        url: str,
        name: str,
        app: str = API_APP,
        env: dict | None = None,
        stack: str = "gunicorn",
    ) -> Server:
        log = RESULTS / f"{self.stamp}-{name}-server.log"
        server = Server(url, self.args, log, app, env, stack)
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        if self.peer is not None:
            self.peer.stop()
        shutil.rmtree(self.temporary, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run bench/run.sh, or apt-get install -y wrk")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = args.output or RESULTS / f"{stamp}.json"
    started = time.monotonic()
    chosen = {s.name for s in args.scenarios}
    urls = {"postgresql": args.database_url, "sqlite": args.sqlite_url, "mariadb": args.mariadb_url}
    postgresql = "postgresql" in args.backends
    if not postgresql:
        dropped = [s.name for s in args.scenarios if s.name not in EVERY_BACKEND]
        if dropped:
            print(f"without postgresql, skipping {', '.join(dropped)}", file=sys.stderr)
        args.scenarios = [s for s in args.scenarios if s.name in EVERY_BACKEND]
        chosen = {s.name for s in args.scenarios}
    scaling = postgresql and not args.no_scaling and bool(chosen & set(SCALING))

    data = {}
    for backend in args.backends:
        if backend == "postgresql" or chosen & set(EVERY_BACKEND):
            name = "1M" if backend == "postgresql" else getattr(args, f"{backend}_dataset")
            data[backend] = ensure_dataset(urls[backend], name, args.reseed)
    if scaling:
        data["postgresql 100k"] = ensure_dataset(args.scaling_url, "100k", args.reseed)
    events = ensure_events(args.database_url) if any(n.startswith("S9") for n in chosen) else 0
    main_url = urls[args.backends[0]] if not postgresql else args.database_url
    per_user = entries_per_user(main_url)
    catalogs = {backend: active_catalog(urls[backend]) for backend in data if backend in urls}

    run = Run(args, stamp)
    results: list[Result] = []
    answers: dict[str, dict[str, dict]] = {}
    removed = 0
    try:
        apis = {
            backend: run.serve(urls[backend], f"api-{backend}")
            for backend in catalogs
            if backend == "postgresql" or chosen & set(EVERY_BACKEND)
        }
        floor = run.serve(args.database_url, "floor", FLOOR_APP) if "F" in chosen else None
        python_floor = None
        if "P" in chosen:
            from bench import db_floor

            statements = db_floor.capture(
                args.database_url, "/time-entries", capture_claims(MEMBER)
            )
            captured = run.temporary / "s1-statements.pickle"
            captured.write_bytes(
                pickle.dumps({"statements": statements, "tenant": TENANT, "user": MEMBER})
            )
            python_floor = run.serve(
                args.database_url,
                "python-floor",
                PYTHON_FLOOR_APP,
                {
                    "FLOOR_STATEMENTS": str(captured),
                    "FLOOR_DATABASE_URL": libpq_url(args.database_url),
                },
            )
            python_note = f"{len(statements)} statements (S1's), psycopg, orjson, no framework"
        stacks = {
            scenario.stack: run.serve(
                args.database_url, f"api-{scenario.stack}", stack=scenario.stack
            )
            for scenario in args.scenarios
            if scenario.kind == "stack"
        }
        small = run.serve(args.scaling_url, "api-100k") if scaling else None
        if chosen & {"T1", "T1L", "T2", "T2c"}:
            from bench import peer_timetagger

            run.peer = peer_timetagger.Peer(records_per_user=round(per_user), log_dir=RESULTS)
            run.peer.start()
        for server in run.servers:
            server.wait_ready()
        args.scenarios = [
            with_cursor(scenario, apis["postgresql"]) if scenario.cursor_at else scenario
            for scenario in args.scenarios
        ]

        members: dict[str, list[Member]] = {}  # group -> members, in the order they run
        for scenario in args.scenarios:
            group = members.setdefault(scenario.group or scenario.name, [])
            if scenario.kind == "api":
                for backend, server in apis.items():
                    if backend == "postgresql" or scenario.name in EVERY_BACKEND:
                        dataset = data[backend]["dataset"]
                        group.append(api_member(scenario, server, catalogs[backend], dataset))
                        answers.setdefault(scenario.name, {})[backend] = api_answer(
                            scenario, server, catalogs[backend]
                        )
            elif scenario.kind == "framework":
                assert floor is not None
                group.append(floor_member(scenario, floor))
                answers[scenario.name] = {
                    "postgresql": api_answer(scenario, floor, {}),
                }
            elif scenario.kind == "python":
                assert python_floor is not None
                group.append(floor_member(scenario, python_floor, python_note))
                answers[scenario.name] = {"postgresql": api_answer(scenario, python_floor, {})}
            elif scenario.kind == "stack":
                server = stacks[scenario.stack]
                member = api_member(scenario, server, catalogs["postgresql"], "1M")
                group.append(replace(member, dataset=f"1M {scenario.stack}"))
                answers[scenario.name] = {
                    "postgresql": api_answer(scenario, server, catalogs["postgresql"])
                }
            elif scenario.kind == "database":
                group.append(database_member(scenario, args.database_url, catalogs["postgresql"]))
            else:
                group.append(peer_member(scenario, run.peer))
                answers[scenario.name] = {"": run.peer.answer(scenario.name)}
        require_data(answers)
        for url in {urls[backend] for backend in catalogs}:
            remove_timer_entries(url)
        for name, group in members.items():
            print(f"measuring {name}: {', '.join(m.label for m in group)}", file=sys.stderr)
            results += measure_group(group, args)
        if scaling:
            assert small is not None
            for scenario in args.scenarios:
                if scenario.name in SCALING:
                    big = api_member(scenario, apis["postgresql"], {}, PAIRED)
                    print(f"measuring {scenario.name} at 1M and at 100k", file=sys.stderr)
                    results += measure_group([big, api_member(scenario, small, {}, "100k")], args)
    finally:
        run.stop()
        for url in {urls[backend] for backend in catalogs}:
            removed += remove_timer_entries(url)

    print_table(results)
    report = {
        "started": stamp,
        "wall_s": round(time.monotonic() - started),
        "machine": machine_facts(args, list(catalogs)),
        "server": {
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": args.worker_class,
            "app_env": "production",
        },
        "data": {
            "time_entries": {key: value["entries"] for key, value in data.items()},
            "datasets": data,
            "entries_per_user": round(per_user, 1),
            "note": dataset_note(data),
            "tenant": TENANT,
            "s2_entries_removed": removed,
            "events": events,
        },
        "backends": list(catalogs),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "repeat": args.repeat,
        "scenarios": {s.name: s.title for s in args.scenarios},
        "answers": answers,
        "peer": run.peer.facts if run.peer is not None else {},
        "results": [asdict(r) for r in results],
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    from bench.report import render

    markdown = output.with_suffix(".md")
    markdown.write_text(render(report))
    print(markdown.read_text())
    print(f"written: {display(output)} and {display(markdown)} in {report['wall_s']} s")


def machine_facts(args: argparse.Namespace, backends: list[str]) -> dict[str, object]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    facts: dict[str, object] = {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }
    if "postgresql" in backends:
        with psycopg.connect(libpq_url(args.database_url)) as connection:
            facts["postgresql"] = connection.execute("SHOW server_version").fetchone()[0]
    if "sqlite" in backends:
        facts["sqlite"] = sqlite3.sqlite_version
    if "mariadb" in backends:
        with engine(args.mariadb_url).connect() as connection:
            facts["mariadb"] = connection.exec_driver_sql("SELECT VERSION()").scalar_one()
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0]  # noqa: S607
    facts["wrk"] = wrk.strip()
    return facts


if __name__ == "__main__":
    main()
