"""Benchmark the peer time tracker TimeTagger (Almar Klein) side by side with our API.

Run on demand, never in tests (it needs wrk: `apt-get install -y wrk`):

    .venv/bin/python bench/peer_timetagger.py --duration 5 --clients 1,16

bench/harness.py starts a `Peer` beside our API and alternates their runs (S1, T1, S1, T1 ...;
S2, T2, T2c, ...) so that the machine's drift falls on both alike; `run_peer()` (this script)
measures TimeTagger alone. The method:

* TimeTagger is installed as its official container image installs it (`pip install timetagger
  uvicorn uvloop httptools`, deploy/repo.Dockerfile), pinned, into its own virtualenv
  (bench/.venv-timetagger) so its dependencies never meet ours, and served as its docs say:
  `python -m timetagger` (one uvicorn process, asyncio on uvloop, SQLite per user through
  itemdb) with TIMETAGGER_BIND on a free loopback port, TIMETAGGER_DATADIR a temporary
  directory, TIMETAGGER_LOG_LEVEL=info (its default) and TIMETAGGER_CREDENTIALS holding a
  bcrypt hash per user: the shipped `usernamepassword` login, no debug mode, nothing patched.
* Each client logs in once as TimeTagger's own web client does: POST
  /timetagger/api/v2/bootstrap_authentication with base64(JSON {method, username, password})
  returns a web token (an HS256 JWT, 14 days), sent as the `authtoken` header on every call.
* Seeding goes through the API (PUT /api/v2/records, a JSON list of records {key, mt, t1, t2,
  ds}; the server adds st): as many records per user as our dataset has entries per user, on
  the same kind of timeline up to now (weekdays of the last 730 days and today, a few blocks
  of 30-145 minutes from about 08:00 UTC, today's ending a minute ago at the latest so the
  current month is never empty), deterministic from random.Random(seed), seeded afresh when
  the run starts. One reader user serves T1 and, like our member, has a timer running (its
  last record has t1 == t2); one writer user per client serves T2, so no client touches
  another's data.
* T1 "list one user's month" = our S1: GET /api/v2/records?timerange=<month start>-<next
  month start> (UTC, as our default month window), every client as the same user, driven by
  wrk with a Lua script, as the harness drives S1.
* T2 "start then stop a timer" = our S2: TimeTagger has no timer endpoint; its client starts
  a timer by putting a record with t1 == t2 (running) and stops it by putting the same key
  with a later t2. So: PUT [{t1=t2=now}], then PUT [{same key, t2=now+}], the two requests
  counted separately as S2 counts POST start and POST stop, by an asyncio keep-alive
  HTTP/1.1 client, client n as writer n. T2c puts one finished record (a single PUT).
  A request is an error when it is not 200 or TimeTagger's body lists the record as failed
  (`failed`/`errors`) or not `accepted`.

Per measurement: requests/s, p50/p95/p99, load-generator CPU, the server's CPU (utime +
stime of its process, all threads), machine busy %, and the server's peak RSS (VmHWM, reset
after seeding so it covers serving only). The keys of each result are bench.harness.Result's.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `from bench import harness`, when run as a script

from bench import harness  # noqa: E402

TIMETAGGER_VERSION = "26.1.3"  # newest on PyPI (2026-01); classifiers list 3.9-3.13
# The official image adds these so uvicorn uses uvloop and httptools instead of asyncio/h11.
SPEEDUPS = ("uvloop==0.23.0", "httptools==0.9.0")
VENV = ROOT / "bench" / ".venv-timetagger"
PREFIX = "/timetagger/api/v2"  # config.path_prefix defaults to /timetagger/
BCRYPT_ROUNDS = 10  # only costs at login, never inside a measurement
SEED_BATCH = 1000  # records per PUT while seeding (the server accepts 10 MiB a request)
DAYS = 730
MAX_PER_DAY = 8
READER = "bench-reader"
WRITER = "bench-writer-{:02d}"
T2_TAGS = "#bench-peer #timer"
TAG_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # as app/stores.generate_uid
CUSTOMERS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka"]
PROJECT_KINDS = ["web-portal", "mobile-app", "data-platform"]
ACTIVITIES = ["development", "code-review", "meetings", "design", "testing", "support"]
NOTES = {
    "T1": "GET /api/v2/records?timerange=<this month>, all clients one user (wrk); {n} records",
    "T1L": "GET /api/v2/records?timerange=<last month>, all clients one user (wrk)",
    "T2": "PUT start (t1 == t2) + PUT stop counted separately; client n as user n",
    "T2c": "one PUT of a finished record; client n as user n",
}


# --- the virtualenv -----------------------------------------------------------------------


def ensure_venv(path: Path = VENV) -> Path:
    """A virtualenv with TimeTagger (pinned) and uvicorn's speed-ups; returns its python."""
    python = path / "bin" / "python"
    wanted = [f"timetagger=={TIMETAGGER_VERSION}", *SPEEDUPS]
    if python.exists() and _installed(python) == wanted:
        return python
    base = shutil.which("python3.11") or (
        sys.executable if sys.version_info[:2] == (3, 11) else None
    )
    if base is None:
        raise SystemExit("python3.11 is needed to create the TimeTagger virtualenv")
    print(f"creating {path} with {' '.join(wanted)}", file=sys.stderr)
    subprocess.run([base, "-m", "venv", str(path)], check=True)  # noqa: S603
    pip = [str(python), "-m", "pip", "install", "--quiet", *wanted]
    done = subprocess.run(pip, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0 or _installed(python) != wanted:
        raise SystemExit(f"pip could not install {wanted}:\n{done.stdout}{done.stderr}")
    return python


def _installed(python: Path) -> list[str]:
    names = ["timetagger", *(spec.split("==")[0] for spec in SPEEDUPS)]
    code = (
        "import sys; from importlib.metadata import version\n"
        "for name in sys.argv[1:]:\n"
        "    try: print(f'{name}=={version(name)}')\n"
        "    except Exception: print(f'{name}==none')\n"
    )
    done = subprocess.run(  # noqa: S603 - the virtualenv's own python
        [str(python), "-c", code, *names], capture_output=True, text=True
    )
    return done.stdout.split() if done.returncode == 0 else []


def bcrypt_hash(python: Path, password: str) -> str:
    """A bcrypt hash made with TimeTagger's own bcrypt (our virtualenv has none)."""
    code = (
        "import sys, bcrypt\n"
        f"print(bcrypt.hashpw(sys.stdin.buffer.read(), bcrypt.gensalt({BCRYPT_ROUNDS})).decode())"
    )
    done = subprocess.run(  # noqa: S603
        [str(python), "-c", code], input=password.encode(), capture_output=True, check=True
    )
    return done.stdout.decode().strip()


# --- the server ---------------------------------------------------------------------------


class PeerServer:
    """`python -m timetagger` on a free loopback port, with a temporary data directory."""

    def __init__(self, python: Path, users: list[str], log: Path) -> None:
        self.port = harness.free_port()
        self.datadir = Path(tempfile.mkdtemp(prefix="timetagger-bench-"))
        self.password = secrets.token_urlsafe(18)  # one per run, never stored
        digest = bcrypt_hash(python, self.password)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIMETAGGER_")}
        env |= {
            "TIMETAGGER_BIND": f"127.0.0.1:{self.port}",
            "TIMETAGGER_DATADIR": str(self.datadir),
            "TIMETAGGER_LOG_LEVEL": "info",
            "TIMETAGGER_CREDENTIALS": ",".join(f"{user}:{digest}" for user in users),
        }
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - the peer we benchmark
            [str(python), "-m", "timetagger"],
            cwd=self.datadir,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"timetagger exited with {self.process.returncode}; see {self.log}"
                )
            try:
                status, body = http("GET", f"{self.base}/timetagger/status", timeout=1)
                if status == 200 and body == b"ok":
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"timetagger did not answer /timetagger/status in {timeout} s")

    def pids(self) -> list[int]:
        """The server process and any children (uvicorn runs one process: no children)."""
        return [self.process.pid, *harness.children_of(self.process.pid)]

    def cpu_seconds(self) -> float:
        return harness.cpu_seconds(self.pids())

    def status_field(self, name: str) -> list[int]:
        return harness.status_field(self.pids(), name)

    def peak_rss_mb(self) -> list[float]:
        return [round(kb / 1024, 1) for kb in self.status_field("VmHWM")]

    def reset_peak_rss(self) -> bool:
        """Reset VmHWM (writing 5 to clear_refs, Linux >= 4.0); False when not allowed."""
        try:
            for pid in self.pids():
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            self._log_file.close()
            shutil.rmtree(self.datadir, ignore_errors=True)


def http(
    method: str, url: str, body: bytes | None = None, token: str = "", timeout: float = 60
) -> tuple[int, bytes]:
    """One blocking request (setup only: login, seeding, checks)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["authtoken"] = token
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def login(base: str, username: str, password: str) -> str:
    """TimeTagger's `usernamepassword` bootstrap: base64(JSON) in, a web token out."""
    auth = {"method": "usernamepassword", "username": username, "password": password}
    body = base64.b64encode(json.dumps(auth).encode())
    status, payload = http("POST", f"{base}{PREFIX}/bootstrap_authentication", body)
    if status != 200:
        raise SystemExit(f"login as {username} failed: {status} {payload[:200]!r}")
    return json.loads(payload)["token"]


# --- the data -----------------------------------------------------------------------------


def record(key: str, t1: int, t2: int, mt: int, ds: str) -> dict[str, object]:
    """A record as TimeTagger's RECORD_SPEC takes it; the server adds st (server time)."""
    return {"key": key, "mt": mt, "t1": t1, "t2": t2, "ds": ds}


def uid(rng: random.Random) -> str:
    return "".join(rng.choice(TAG_CHARS) for _ in range(8))


def timeline(
    rng: random.Random, count: int, now: datetime, days: int = DAYS, running: bool = False
) -> list[dict]:
    """`count` records on the weekdays of the last `days` days (and today), none in the future.

    As our seed: blocks of 30-145 minutes one after another from 08:00-09:30 UTC with short
    breaks, about four a day; the count per day is then nudged so the total is exact. Today's
    end a minute ago at the latest; with `running`, the last of them is a timer running since
    then (t1 == t2, as TimeTagger's client starts one), as our seeded people (but S2's) have.
    """
    today = now.date()
    workdays = [
        day
        for day in (today - timedelta(days=offset) for offset in range(days - 1, 0, -1))
        if day.weekday() < 5
    ] + [today]
    if not 0 <= count <= MAX_PER_DAY * len(workdays):
        raise ValueError(f"{count} records do not fit {len(workdays)} working days")
    per_day = [rng.randint(3, 5) for _ in workdays]
    order = list(range(len(workdays)))
    rng.shuffle(order)
    step = 1 if count > sum(per_day) else -1
    gap, turn = count - sum(per_day), 0
    while gap:  # bounded: each pass over `order` moves at least one day while gap != 0
        day = order[turn % len(order)]
        if 0 <= per_day[day] + step <= MAX_PER_DAY:
            per_day[day] += step
            gap -= step
        turn += 1
    projects = [f"{c.lower()}-{kind}" for c in CUSTOMERS for kind in PROJECT_KINDS]
    assigned = rng.sample(projects, 3)
    mt = int(now.timestamp())
    records = []
    for day, n in zip(workdays, per_day, strict=True):
        moment = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        moment += timedelta(minutes=rng.randrange(90))
        spans = []
        for _ in range(n):
            end = moment + timedelta(minutes=rng.randrange(30, 150, 5))
            spans.append((int(moment.timestamp()), int(end.timestamp())))
            moment = end + timedelta(minutes=rng.randrange(0, 30, 5))
        late = spans[-1][1] - (mt - 60) if spans else 0
        for t1, t2 in spans:  # today's block moves back to end a minute ago, if need be
            shift = max(0, late)
            activity = rng.choice(ACTIVITIES)
            ds = f"{activity.replace('-', ' ').capitalize()} #{rng.choice(assigned)} #{activity}"
            records.append(record(uid(rng), t1 - shift, t2 - shift, mt, ds))
    if running and records:
        records[-1]["t2"] = records[-1]["t1"]
    return records


def month_range(now: datetime, months_back: int = 0) -> tuple[int, int]:
    """[start of this month, start of next month) in UTC, our API's default window; or of the
    month `months_back` months earlier."""
    year, month = divmod(now.year * 12 + now.month - 1 - months_back, 12)
    start = datetime(year, month + 1, 1, tzinfo=UTC)
    now = start
    days = calendar.monthrange(now.year, now.month)[1]
    return int(start.timestamp()), int((start + timedelta(days=days)).timestamp())


def put_ok(status: int, payload: bytes, keys: list[str]) -> bool:
    """200, and every key accepted, none failed (TimeTagger answers 200 with per-item errors)."""
    if status != 200:
        return False
    body = json.loads(payload)
    return not body["failed"] and not body["errors"] and set(keys) <= set(body["accepted"])


def seed(base: str, tokens: dict[str, str], per_user: int, seed_value: int) -> dict:
    """Every user's timeline up to now; the reader (T1's user) has a timer running."""
    now = datetime.now(UTC)
    total, started = 0, time.perf_counter()
    for number, (user, token) in enumerate(tokens.items()):
        rng = random.Random(seed_value * 1000 + number)
        records = timeline(rng, per_user, now, running=user == READER)
        for first in range(0, len(records), SEED_BATCH):
            batch = records[first : first + SEED_BATCH]
            status, payload = http(
                "PUT", f"{base}{PREFIX}/records", json.dumps(batch).encode(), token
            )
            if not put_ok(status, payload, [r["key"] for r in batch]):
                raise SystemExit(f"seeding {user} failed: {status} {payload[:300]!r}")
            total += len(batch)
    return {
        "users": len(tokens),
        "records": total,
        "records_per_user": per_user,
        "seconds": round(time.perf_counter() - started, 2),
        "batch": SEED_BATCH,
    }


# --- T1 (wrk) and T2 (asyncio clients) through the harness's load generators --------------


def auth(token: str) -> harness.Header:
    return ("authtoken", token)


async def timer_client(
    port: int, token: str, scenario: str, deadline: float, latencies: list[float]
) -> int:
    """T2 (start, stop) or T2c (one finished record) until the deadline; returns errors."""
    connection = await harness.Connection.open(port)
    keys = random.Random()  # fresh keys each run: a repeated key would update, not create
    path = f"{PREFIX}/records"
    errors = 0

    async def put(key: str, t1: int, t2: int, mt: int) -> bool:
        body = json.dumps([record(key, t1, t2, mt, T2_TAGS)]).encode()
        started = time.perf_counter()
        status, payload = await connection.request("PUT", path, auth(token), body)
        latencies.append(time.perf_counter() - started)
        return put_ok(status, payload, [key])

    try:
        while time.perf_counter() < deadline:
            key, now = uid(keys), int(time.time())
            if scenario == "T2c":
                errors += not await put(key, now - 3600, now, now)
                continue
            if not await put(key, now, now, now):  # start: a running record has t1 == t2
                errors += 1
                continue
            stop = max(int(time.time()), now + 1)
            errors += not await put(key, now, stop, stop)  # stop: same key, later t2 and mt
    finally:
        connection.close()
    return errors


def run_timers(port: int, tokens: list[str], scenario: str, duration: float) -> dict:
    return harness.run_clients(
        [partial(timer_client, port, token, scenario) for token in tokens], duration
    )


# --- the run ------------------------------------------------------------------------------


class Peer:
    """TimeTagger installed (once), served, logged into and seeded, ready to be measured.

    bench/harness.py starts one beside our API and alternates their runs (S1, T1, S1, T1 ...);
    `run_peer` measures it alone.
    """

    def __init__(
        self,
        users: int = 16,
        records_per_user: int = 2089,
        log_dir: Path = harness.RESULTS,
        seed_value: int = 1,
        venv: Path = VENV,
    ) -> None:
        self.users, self.records_per_user = users, records_per_user
        self.log_dir, self.seed_value, self.venv = log_dir, seed_value, venv
        self.server: PeerServer | None = None
        self.tokens: dict[str, str] = {}
        self.facts: dict = {}

    def start(self) -> None:
        python = ensure_venv(self.venv)
        names = [READER, *(WRITER.format(n) for n in range(1, self.users + 1))]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        server = self.server = PeerServer(python, names, self.log_dir / f"{stamp}-timetagger.log")
        server.wait_ready()
        started = time.perf_counter()
        self.tokens = {name: login(server.base, name, server.password) for name in names}
        login_s = time.perf_counter() - started
        seeded = seed(server.base, self.tokens, self.records_per_user, self.seed_value)
        seeded["peak_rss_mb"] = server.peak_rss_mb()
        rss_reset = server.reset_peak_rss()
        month = self.answer("T1")
        if not month["entries"]:
            raise SystemExit(f"T1 check: no records in this month; see {server.log}")
        self.facts = {
            "version": TIMETAGGER_VERSION,
            "server": {
                "command": "python -m timetagger",
                "packages": [f"timetagger=={TIMETAGGER_VERSION}", *SPEEDUPS],
                "processes": 1,
                "log_level": "info",
                "peak_rss_reset_after_seed": rss_reset,
            },
            "auth": {
                "method": "usernamepassword (TIMETAGGER_CREDENTIALS, bcrypt)",
                "header": "authtoken",
                "login_s": round(login_s, 2),
            },
            "seed": seeded,
            "t1_month_records": month["entries"],
        }

    def t1_path(self, scenario: str = "T1") -> str:
        """T1's month (this one), or T1L's (the last one, a whole month on any date)."""
        start, end = month_range(datetime.now(UTC), 1 if scenario == "T1L" else 0)
        return f"{PREFIX}/records?timerange={start}-{end}"

    def answer(self, scenario: str) -> dict[str, int]:
        """The size of one answer: records in it and bytes of its JSON."""
        assert self.server is not None
        if scenario in ("T1", "T1L"):
            status, payload = http(
                "GET", f"{self.server.base}{self.t1_path(scenario)}", token=self.tokens[READER]
            )
            records = json.loads(payload)["records"] if status == 200 else []
            return {"entries": len(records), "bytes": len(payload)}
        key, now = uid(random.Random()), int(time.time())
        body = json.dumps([record(key, now - 60, now, now, T2_TAGS)]).encode()
        status, payload = http(
            "PUT", f"{self.server.base}{PREFIX}/records", body, self.tokens[self.writers()[0]]
        )
        return {"entries": len(json.loads(payload).get("accepted", [])), "bytes": len(payload)}

    def writers(self) -> list[str]:
        return [user for user in self.tokens if user != READER]

    def once(self, scenario: str, clients: int) -> Callable[[float], dict]:
        """One run of the scenario at `clients` clients, for the seconds it is given."""
        server = self.server
        assert server is not None
        writers = [self.tokens[user] for user in self.writers()]
        timer_tokens = [writers[n % len(writers)] for n in range(clients)]
        path = self.t1_path(scenario)

        def run(seconds: float) -> dict:
            if scenario in ("T1", "T1L"):
                reader = auth(self.tokens[READER])
                return harness.run_wrk(server.base, path, reader, clients, seconds)
            return run_timers(server.port, timer_tokens, scenario, seconds)

        return run

    def note(self, scenario: str, clients: int) -> str:
        assert self.server is not None
        note = NOTES[scenario].format(n=self.facts.get("t1_month_records", "?"))
        if clients > len(self.writers()) and scenario not in ("T1", "T1L"):
            note += f"; {clients} clients share {len(self.writers())} users"
        threads = sum(self.server.status_field("Threads"))
        return f"{note}; server: {len(self.server.pids())} process, {threads} threads"

    def cpu_seconds(self) -> float:
        assert self.server is not None
        return self.server.cpu_seconds()

    def peak_rss_mb(self) -> list[float]:
        assert self.server is not None
        return self.server.peak_rss_mb()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def measure(
    peer: Peer, scenario: str, clients: int, duration: float, warmup: float, repeat: int = 1
) -> dict:
    """The scenario alone: a warm-up, then `repeat` runs, the median one reported."""
    once = peer.once(scenario, clients)
    if warmup > 0:
        once(warmup)
    runs = [harness.observed(once, duration, peer.cpu_seconds) for _ in range(repeat)]
    result = harness.Result(
        **harness.result_fields(harness.median_run(runs), runs),
        scenario=scenario,
        clients=clients,
        worker_peak_rss_mb=peer.peak_rss_mb(),
        note=peer.note(scenario, clients),
        dataset="TimeTagger",
        backend="",
    )
    return asdict(result)


def run_peer(
    clients: list[int],
    duration: float,
    warmup: float,
    users: int = 16,
    records_per_user: int = 2089,
    log_dir: Path = harness.RESULTS,
    scenarios: tuple[str, ...] = ("T1", "T2", "T2c"),
    seed_value: int = 1,
    venv: Path = VENV,
    repeat: int = 1,
) -> dict:
    """Install (once), serve, seed and measure TimeTagger alone; stop it and drop its data.

    `users` writer users (client n writes as writer n) plus one reader (T1), each seeded
    with `records_per_user` records. Returns {version, server, auth, seed, results}.
    """
    if shutil.which("wrk") is None and "T1" in scenarios:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    peer = Peer(users, records_per_user, log_dir, seed_value, venv)
    results = []
    try:
        peer.start()
        for scenario in scenarios:
            for n in clients:
                row = measure(peer, scenario, n, duration, warmup, repeat)
                print(
                    f"TimeTagger {scenario} x{n}: {row['requests_per_s']} req/s,"
                    f" p50 {row['p50_ms']} ms, errors {row['errors']}",
                    file=sys.stderr,
                )
                results.append(row)
        answers = {scenario: peer.answer(scenario) for scenario in ("T1", "T2c")}
    finally:
        peer.stop()
    return {**peer.facts, "answers": answers, "results": results}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before each (0: none)")
    parser.add_argument("--clients", default="1,16", help="comma-separated client counts")
    parser.add_argument("--users", type=int, default=16, help="writer users (one per client)")
    parser.add_argument("--records-per-user", type=int, default=2089)
    parser.add_argument("--scenarios", default="T1,T2,T2c", help="of T1, T2, T2c")
    parser.add_argument("--log-dir", type=Path, default=harness.RESULTS)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    args = parser.parse_args(argv)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    report = run_peer(
        clients=[int(n) for n in args.clients.split(",")],
        duration=args.duration,
        warmup=args.warmup,
        users=args.users,
        records_per_user=args.records_per_user,
        log_dir=args.log_dir,
        scenarios=tuple(s.strip() for s in args.scenarios.split(",")),
        repeat=args.repeat,
    )
    harness.print_table([harness.Result(**row) for row in report["results"]])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
