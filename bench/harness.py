"""The benchmark: the API served as in production on 1M entries, against its floors and a peer.

Run on demand, never in tests; `bench/run.sh` installs what it needs first (wrk, TimeTagger):

    bench/run.sh                                     # everything, ~20 min on 2 cores
    bench/run.sh --duration 5 --repeat 1 --scenarios S1,F,D1 --no-peer   # a quick look
    bench/run.sh --reseed                            # recreate and seed both databases first

In one run it (1) seeds, if they are missing, `tt_bench` (500 users x 730 days, 1,044,498
entries) and `tt_bench_100k` (50 users x 730 days) through `cli.py seed`, and migrates them;
(2) serves `time_tracker_api:create_app()` with gunicorn as docker-entrypoint.sh does
(APP_ENV=production, its flags, a fresh random JWT_SECRET_KEY) on a free loopback port and
drives S1-S6 at 1 and 16 clients (wrk with a generated Lua script; S2's start-then-stop flow
with an asyncio keep-alive client, one user per client); (3) serves the framework floor F
(bench/floor_app.py: bare Flask verifying the same JWT) under the same gunicorn settings; (4)
measures the database floors D1, D3, D4: the statements S1, S3 and S4 send, captured from the
app and replayed with psycopg (bench/db_floor.py); (5) serves the API on the 100k database
for S1 and S3 (scaling); (6) measures TimeTagger side by side (bench/peer_timetagger.py).
Each measurement is --repeat runs of --duration seconds after a --warmup; the run with the
median throughput is reported, with requests/s, p50/p95/p99, peak RSS per worker (VmHWM),
CPU of the load generator and the server, and how busy the machine was. Figures go to
bench/results/<timestamp>.json and, with the ratios and the targets, .md. See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import jwt
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench.* and the application, when run as bench/harness.py
RESULTS = ROOT / "bench" / "results"
TENANT = "bench-tenant"
MEMBER = "seed-user-00001"
ADMIN = "seed-user-00002"  # a seeded user given the admin role in the token
ADMIN_ROLE = "time-tracker-admin"
S2_FIRST_USER = 400  # S2 client n writes as seed-user-(400 + n)
S2_MARK = "bench-harness S2"  # the description of S2's entries, so they can be removed
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tt_bench"
SCALING_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tt_bench_100k"
DATASETS = {  # (users, days) seeded through `cli.py seed` by bench/time_entries.py
    "1M": (500, 730),  # 1,044,498 entries
    "100k": (50, 730),  # the same timelines for 50 people: 104,537 entries
}
SCALING = ("S1", "S3")
PAIRED = "1M paired"  # the 1M figures measured alongside the 100k ones
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    path: str = ""
    admin: bool = False
    floor_of: str = ""  # a database floor: the SQL of this API scenario, run with psycopg


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("S1", "member lists their current month", "/time-entries"),
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
        Scenario("F", "framework floor: bare Flask verifies the JWT, returns a constant", "/floor"),
        Scenario("D1", "database floor of S1: its SQL run with psycopg", floor_of="S1"),
        Scenario("D3", "database floor of S3: its SQL run with psycopg", floor_of="S3"),
        Scenario("D4", "database floor of S4: its SQL run with psycopg", floor_of="S4"),
    )
}
API_APP = "time_tracker_api:create_app()"
FLOOR_APP = "bench.floor_app:create_app()"


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


# --- the server ---------------------------------------------------------------------------


class Server:
    """gunicorn as docker-entrypoint.sh runs it, on a free loopback port."""

    def __init__(
        self, database_url: str, args: argparse.Namespace, log: Path, app: str = API_APP
    ) -> None:
        """`args`: the harness's --workers, --threads, --worker-class and --gunicorn."""
        self.port = free_port()
        self.secret = secrets.token_urlsafe(32)
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [
            str(gunicorn),
            app,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            args.worker_class,
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
    body = json.dumps({**catalog, "description": S2_MARK}).encode()
    users = [f"seed-user-{S2_FIRST_USER + n:05d}" for n in range(clients)]
    return run_clients(
        [partial(timer_client, port, bearer(token(secret, user)), body) for user in users],
        duration,
    )


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(ordered: list[float], pct: int) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


# --- the database -------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def migrate(url: str) -> None:
    """Bring the schema up to date, as a deployment does before starting the server."""
    env = {**os.environ, "APP_ENV": "development", "SQL_DATABASE_URI": url}
    command = [sys.executable, "cli.py", "migrate"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603


def active_catalog(url: str) -> dict[str, str]:
    """An active project and activity of the tenant, for S2's entries."""
    with psycopg.connect(libpq_url(url)) as connection:
        ids = {}
        for table, key in (("project", "project_id"), ("activity", "activity_id")):
            row = connection.execute(
                f"SELECT id FROM {table} WHERE tenant_id = %s AND status = 'active'"  # noqa: S608
                " AND deleted IS NULL ORDER BY id LIMIT 1",
                (TENANT,),
            ).fetchone()
            if row is None:
                raise SystemExit(f"no active {table} in {TENANT}: seed first (--reseed)")
            ids[key] = row[0]
        return ids


def remove_timer_entries(url: str) -> int:
    """Delete what S2 wrote (entries and their outbox rows), so every run sees the same data."""
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute(
            "DELETE FROM outbox WHERE tenant_id = %s AND item_id IN"
            " (SELECT id FROM time_entry WHERE tenant_id = %s AND description = %s)",
            (TENANT, TENANT, S2_MARK),
        )
        return connection.execute(
            "DELETE FROM time_entry WHERE tenant_id = %s AND description = %s",
            (TENANT, S2_MARK),
        ).rowcount


def count_entries(url: str, missing_ok: bool = False) -> int:
    """Time entries in the database; 0 for a missing database or table when missing_ok."""
    try:
        with psycopg.connect(libpq_url(url)) as connection:
            return connection.execute("SELECT count(*) FROM time_entry").fetchone()[0]
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
        if missing_ok:
            return 0
        raise


def entries_per_user(url: str) -> float:
    with psycopg.connect(libpq_url(url)) as connection:
        return connection.execute(
            "SELECT count(*)::float / count(DISTINCT owner_id) FROM time_entry"
            " WHERE tenant_id = %s",
            (TENANT,),
        ).fetchone()[0]


# --- the run ------------------------------------------------------------------------------


def measure(
    server: Server, scenario: Scenario, clients: int, args: argparse.Namespace, bearers: dict
) -> Result:
    def once(duration: float) -> dict:
        if scenario.name == "S2":
            return run_timers(server.port, server.secret, bearers["catalog"], clients, duration)
        header = bearer(bearers["admin" if scenario.admin else "member"])
        return run_wrk(server.base, scenario.path, header, clients, duration)

    if args.warmup > 0:
        once(args.warmup)
    runs = [observed(once, args.duration, server.cpu_seconds) for _ in range(args.repeat)]
    figures = median_run(runs)
    return Result(
        **result_fields(figures, runs),
        scenario=scenario.name,
        clients=clients,
        worker_peak_rss_mb=server.peak_rss_mb(),
        note="start + stop requests counted separately" if scenario.name == "S2" else "",
    )


def observed(
    once: Callable[[float], dict], duration: float, server_cpu: Callable[[], float] | None
) -> dict:
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
    """Busy and total jiffies of all CPUs (/proc/stat): PostgreSQL's share is in there too."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def run_scenarios(
    server: Server, scenarios: list[Scenario], args: argparse.Namespace, catalog: dict
) -> list[Result]:
    server.wait_ready()
    bearers = {
        "member": token(server.secret, MEMBER),
        "admin": token(server.secret, ADMIN, admin=True),
        "catalog": catalog,
    }
    results = []
    for scenario in scenarios:
        for clients in args.clients:
            result = measure(server, scenario, clients, args, bearers)
            report_progress(result)
            results.append(result)
    return results


def print_table(results: list[Result]) -> None:
    header = (
        f"{'scen':<5}{'data':>11}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'load gen cpu%':>16}{'server cpu%':>14}{'machine busy%':>14}"
        "  peak RSS/worker MB"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.scenario:<5}{r.dataset:>11}{r.clients:>8}{r.requests_per_s:>10.1f}{r.p50_ms:>9.2f}"
            f"{r.p95_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}"
            f"{100 * r.loadgen_cpu_s / r.duration_s:>16.0f}"
            f"{100 * r.server_cpu_s / r.duration_s:>14.0f}{r.machine_busy_pct:>14.0f}"
            f"  {r.worker_peak_rss_mb}"
        )


def ensure_dataset(url: str, name: str, force: bool) -> int:
    """Seed the dataset through `cli.py seed` (bench/time_entries.py) unless it is there."""
    users, days = DATASETS[name]
    entries = 0 if force else count_entries(url, missing_ok=True)
    if entries == 0:
        print(f"seeding {name}: {users} users x {days} days into {url}", file=sys.stderr)
        command = [sys.executable, str(ROOT / "bench" / "time_entries.py"), "--database-url", url]
        command += ["--users", str(users), "--days", str(days), "--requests", "1"]
        subprocess.run(command, cwd=ROOT, check=True)  # noqa: S603
        entries = count_entries(url)
    return entries


def measure_db_floor(url: str, scenario: Scenario, args: argparse.Namespace) -> list[Result]:
    """The SQL of an API scenario, captured from the app and replayed with psycopg."""
    from bench import db_floor

    source = SCENARIOS[scenario.floor_of]
    user = ADMIN if source.admin else MEMBER
    now = int(time.time())
    claims: dict[str, object] = {"oid": user, "tid": TENANT, "iat": now, "exp": now + 3600}
    if source.admin:
        claims["roles"] = [ADMIN_ROLE]
    statements = db_floor.capture(url, source.path, claims)
    results = []
    for clients in args.clients:

        def once(seconds: float, clients: int = clients) -> dict:
            figures = db_floor.replay(libpq_url(url), statements, clients, seconds)
            ordered = figures.pop("latencies")
            figures["latencies_ms"] = tuple(percentile(ordered, q) * 1000 for q in (50, 95, 99))
            figures["errors"] = 0
            return figures

        if args.warmup > 0:
            once(args.warmup)
        runs = [observed(once, args.duration, None) for _ in range(args.repeat)]
        result = Result(
            **result_fields(median_run(runs), runs),
            scenario=scenario.name,
            clients=clients,
            note=f"{len(statements)} statements per request, one transaction",
        )
        report_progress(result)
        results.append(result)
    return results


def report_progress(result: Result) -> None:
    print(
        f"{result.scenario} ({result.dataset}) x{result.clients}: {result.requests_per_s} req/s,"
        f" p50 {result.p50_ms} ms, errors {result.errors}",
        file=sys.stderr,
    )


def serve_and_measure(
    app: str,
    url: str,
    scenarios: list[Scenario],
    args: argparse.Namespace,
    catalog: dict,
    log: Path,
) -> list[Result]:
    if not scenarios:
        return []
    server = Server(url, args, log, app)
    try:
        return run_scenarios(server, scenarios, args, catalog)
    finally:
        server.stop()


def measure_scaling(
    scenarios: list[Scenario], args: argparse.Namespace, catalog: dict, stamp: str
) -> list[Result]:
    """S1 and S3 on the 1M and the 100k database, their runs interleaved (1M, 100k, 1M, ...)
    on two servers so that the machine's drift over minutes falls on both alike."""
    servers = {
        PAIRED: Server(args.database_url, args, RESULTS / f"{stamp}-api-1M-paired-gunicorn.log"),
        "100k": Server(args.scaling_url, args, RESULTS / f"{stamp}-api-100k-gunicorn.log"),
    }
    results = []
    try:
        for server in servers.values():
            server.wait_ready()
        for scenario in scenarios:
            for clients in args.clients:

                def once(
                    seconds: float,
                    server: Server,
                    clients: int = clients,
                    path: str = scenario.path,
                ) -> dict:
                    header = bearer(token(server.secret, MEMBER))
                    return run_wrk(server.base, path, header, clients, seconds)

                runs: dict[str, list[dict]] = {name: [] for name in servers}
                if args.warmup > 0:
                    for server in servers.values():
                        once(args.warmup, server)
                for _ in range(args.repeat):
                    for name, server in servers.items():
                        run = observed(
                            lambda seconds, server=server: once(seconds, server),
                            args.duration,
                            server.cpu_seconds,
                        )
                        runs[name].append(run)
                for name, server in servers.items():
                    result = Result(
                        **result_fields(median_run(runs[name]), runs[name]),
                        scenario=scenario.name,
                        clients=clients,
                        worker_peak_rss_mb=server.peak_rss_mb(),
                        dataset=name,
                        note="runs interleaved with the other database's",
                    )
                    report_progress(result)
                    results.append(result)
    finally:
        for server in servers.values():
            server.stop()
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="the 1M-entry database")
    parser.add_argument("--scaling-url", default=SCALING_URL, help="the 100k-entry database")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads (8)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class")
    parser.add_argument(
        "--gunicorn", action="append", default=[], help="one more gunicorn flag (repeatable)"
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before each (0: none)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; the median is reported (3)"
    )
    parser.add_argument("--clients", default="1,16", help="comma-separated client counts")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="comma-separated, of S1-S6, F, D1, D3, D4 (default: all)",
    )
    parser.add_argument("--no-scaling", action="store_true", help="skip S1, S3 on 100k entries")
    parser.add_argument("--no-peer", action="store_true", help="skip the TimeTagger peer")
    parser.add_argument("--reseed", action="store_true", help="recreate and seed the databases")
    parser.add_argument("--output", type=Path, help="JSON file (bench/results/<timestamp>.json)")
    args = parser.parse_args(argv)
    args.clients = [int(n) for n in args.clients.split(",")]
    args.scenarios = [SCENARIOS[name.strip().upper()] for name in args.scenarios.split(",")]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run bench/run.sh, or apt-get install -y wrk")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = args.output or RESULTS / f"{stamp}.json"
    scaling = not args.no_scaling and any(s.name in SCALING for s in args.scenarios)
    data = {"1M": ensure_dataset(args.database_url, "1M", args.reseed)}
    if scaling:
        data["100k"] = ensure_dataset(args.scaling_url, "100k", args.reseed)
    migrate(args.database_url)
    remove_timer_entries(args.database_url)
    catalog = active_catalog(args.database_url)
    per_user = entries_per_user(args.database_url)

    api = [s for s in args.scenarios if s.name.startswith("S")]
    results: list[Result] = []
    try:
        results += serve_and_measure(
            API_APP,
            args.database_url,
            api,
            args,
            catalog,
            RESULTS / f"{stamp}-api-gunicorn.log",
        )
    finally:
        removed = remove_timer_entries(args.database_url)
    results += serve_and_measure(
        FLOOR_APP,
        args.database_url,
        [s for s in args.scenarios if s.name == "F"],
        args,
        catalog,
        RESULTS / f"{stamp}-floor-gunicorn.log",
    )
    for scenario in args.scenarios:
        if scenario.floor_of:
            results += measure_db_floor(args.database_url, scenario, args)
    if scaling:
        migrate(args.scaling_url)
        results += measure_scaling([s for s in api if s.name in SCALING], args, catalog, stamp)
    peer: dict = {}
    if not args.no_peer:
        from bench import peer_timetagger

        peer = peer_timetagger.run_peer(
            clients=args.clients,
            duration=args.duration,
            warmup=args.warmup,
            records_per_user=round(per_user),
            log_dir=RESULTS,
            repeat=args.repeat,
        )
        for row in peer["results"]:
            results.append(Result(**{**row, "dataset": "TimeTagger"}))

    print_table(results)
    report = {
        "started": stamp,
        "machine": machine_facts(),
        "server": {"workers": args.workers, "threads": args.threads, "app_env": "production"},
        "data": {
            "time_entries": data,
            "entries_per_user": round(per_user, 1),
            "tenant": TENANT,
            "s2_entries_removed": removed,
        },
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "repeat": args.repeat,
        "scenarios": {s.name: s.title for s in args.scenarios},
        "peer": {k: v for k, v in peer.items() if k != "results"},
        "results": [asdict(r) for r in results],
    }
    output.write_text(json.dumps(report, indent=2) + "\n")
    from bench.report import render

    markdown = output.with_suffix(".md")
    markdown.write_text(render(report))
    print(markdown.read_text())
    print(f"written: {output.relative_to(ROOT)} and {markdown.relative_to(ROOT)}")


def machine_facts() -> dict[str, object]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    with psycopg.connect(libpq_url(DEFAULT_URL).rsplit("/", 1)[0] + "/postgres") as connection:
        postgres = connection.execute("SHOW server_version").fetchone()[0]
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0]  # noqa: S607
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "postgresql": postgres,
        "wrk": wrk.strip(),
    }


if __name__ == "__main__":
    main()
