"""Racing time entry writes over real HTTP on every backend: one running entry, no overlaps.

Many requests of one user start together against the served app; afterwards the user has at
most one running entry and no two entries overlap ([start, end), a running one to infinity).
On Cosmos DB the app also runs as production serves it, under gunicorn's threaded worker, for a
few thousand racing requests. The last tests write rows around the service to show the database
itself refuses what the rules forbid.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from azure.cosmos.exceptions import CosmosResourceExistsError

from commons.bootstrap import create_storage
from commons.data_access_layer.sql.tables import time_entry
from commons.settings import StorageSettings
from tests.backends import create_cosmos_database, create_database
from tests.conftest import ADMIN, TEST_SECRET, make_token
from tests.cosmos_emulator import Emulator
from tests.processes import REPO_ROOT, clean_env, free_port, http_get, untraced

TIMEOUT = 60
DAY = datetime(2024, 3, 5, tzinfo=UTC)  # a past working day, far from "now"
SERVER_ERRORS = range(500, 600)

Answer = tuple[int, Any]


class HttpCaller:
    """One user of one tenant, speaking to the served app over HTTP."""

    def __init__(
        self,
        base_url: str,
        tenant_id: str,
        user_id: str,
        groups: tuple[str, ...] = (),
        session: requests.Session | None = None,
    ):
        self.base_url = base_url
        self.user_id = user_id
        self.headers = {"Authorization": f"Bearer {make_token(tenant_id, user_id, groups)}"}
        # A session keeps its connection open between calls; it serves one thread only.
        self.http: Any = session or requests

    def call(self, method: str, path: str, **kwargs: Any) -> Answer:
        response = self.http.request(
            method, f"{self.base_url}{path}", headers=self.headers, timeout=TIMEOUT, **kwargs
        )
        return response.status_code, response.json() if response.content else None

    def created(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        status, body = self.call("POST", path, json=payload)
        assert status == 201, body
        return body

    def timeline(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        status, body = self.call(
            "GET",
            "/time-entries",
            params={"start_date": start.isoformat(), "end_date": end.isoformat()},
        )
        assert status == 200, body
        return body


def race(requests_to_send: list[Callable[[], Answer]]) -> list[Answer]:
    """Send every request at once: each thread waits at a barrier until all are ready."""
    barrier = threading.Barrier(len(requests_to_send))

    def send(request: Callable[[], Answer]) -> Answer:
        barrier.wait(timeout=TIMEOUT)
        return request()

    with ThreadPoolExecutor(max_workers=len(requests_to_send)) as pool:
        return list(pool.map(send, requests_to_send))


def create_references(base_url: str, tenant: str) -> dict[str, str]:
    """An active project and activity of the tenant, created by its admin."""
    admin = HttpCaller(base_url, tenant, f"admin-{uuid.uuid4().hex[:8]}", (ADMIN,))
    customer = admin.created("/customers", {"name": "Racing customer"})
    project = admin.created("/projects", {"name": "Racing", "customer_id": customer["id"]})
    activity = admin.created("/activities", {"name": "Development"})
    return {"project_id": project["id"], "activity_id": activity["id"]}


@pytest.fixture
def references(served: str, tenant: str) -> dict[str, str]:
    """An active project and activity of a fresh tenant."""
    return create_references(served, tenant)


@pytest.fixture
def racer(served: str, tenant: str) -> HttpCaller:
    """A member whose user record exists before the race (one warm-up request)."""
    member = HttpCaller(served, tenant, f"racer-{uuid.uuid4().hex[:8]}")
    status, _ = member.call("GET", "/time-entries/running")
    assert status == 204
    return member


def at(hour: float) -> datetime:
    return DAY + timedelta(minutes=round(hour * 60))


def log_hours(racer: HttpCaller, references: dict[str, str], hours: Any) -> list[dict[str, Any]]:
    """One finished entry per given hour of DAY, logged one after the other."""
    return [
        racer.created(
            "/time-entries",
            {
                **references,
                "start_date": at(hour).isoformat(),
                "end_date": at(hour + 1).isoformat(),
            },
        )
        for hour in hours
    ]


def interval(entry: dict[str, Any]) -> tuple[datetime, datetime | None]:
    end = entry["end_date"]
    return datetime.fromisoformat(entry["start_date"]), datetime.fromisoformat(end) if end else None


def assert_no_overlap(entries: list[dict[str, Any]]) -> None:
    """Sorted by start, each entry ends (half-open) at or before the next one starts."""
    ordered = sorted(entries, key=lambda entry: interval(entry)[0])
    for earlier, later in pairwise(ordered):
        end = interval(earlier)[1]
        assert end is not None and end <= interval(later)[0], (earlier, later)


def assert_no_server_errors(answers: list[Answer]) -> None:
    failures = [answer for answer in answers if answer[0] in SERVER_ERRORS]
    assert not failures, failures


def test_32_simultaneous_starts_leave_exactly_one_running_entry(racer, references):
    def start() -> Answer:
        return racer.call("POST", "/time-entries", json={**references, "description": "go"})

    answers = race([start] * 32)

    assert_no_server_errors(answers)
    assert sorted(status for status, _ in answers) == [201] + [409] * 31
    assert {body["code"] for status, body in answers if status == 409} == {"running_entry_exists"}
    [winner] = [body for status, body in answers if status == 201]
    status, running = racer.call("GET", "/time-entries/running")
    assert status == 200
    assert running["id"] == winner["id"] and running["running"] is True
    listed = racer.timeline(datetime.now(UTC) - timedelta(days=1), datetime.now(UTC))
    assert [entry["id"] for entry in listed] == [winner["id"]]


def test_simultaneous_overlapping_creates_leave_a_timeline_without_overlaps(racer, references):
    chooser = random.Random(20240305)
    intervals = []
    for _ in range(40):
        start = chooser.randrange(8 * 4, 18 * 4) / 4  # quarter hours, so some entries just touch
        intervals.append((at(start), at(start + chooser.randrange(1, 9) / 4)))

    def log(start: datetime, end: datetime) -> Callable[[], Answer]:
        payload = {**references, "start_date": start.isoformat(), "end_date": end.isoformat()}
        return lambda: racer.call("POST", "/time-entries", json=payload)

    answers = race([log(start, end) for start, end in intervals])

    assert_no_server_errors(answers)
    assert {status for status, _ in answers} == {201, 422}
    refusals = {body["code"] for status, body in answers if status == 422}
    assert refusals == {"overlapping_time_entry"}
    stored = racer.timeline(DAY, DAY + timedelta(days=1))
    assert_no_overlap(stored)
    assert {entry["id"] for entry in stored} == {
        body["id"] for status, body in answers if status == 201
    }


def test_simultaneous_stop_and_restart_keep_one_running_entry(racer, references):
    # Four stopped hours in the past. Restarting one would make it run to infinity, so only the
    # latest can run without overlapping a later one; stops race the restarts of that one.
    stopped = log_hours(racer, references, (9, 10, 11, 13))
    latest = stopped[-1]["id"]

    def post(path: str) -> Callable[[], Answer]:
        return lambda: racer.call("POST", path)

    restarts = [post(f"/time-entries/{entry['id']}/restart") for entry in stopped]
    requests_to_send = restarts * 6 + [post(f"/time-entries/{latest}/stop")] * 8
    random.Random(7).shuffle(requests_to_send)

    answers = race(requests_to_send)

    assert_no_server_errors(answers)
    assert {body["code"] for status, body in answers if status != 200} <= {
        "running_entry_exists",
        "overlapping_time_entry",
        "already_running",
        "already_stopped",
    }
    assert {body["id"] for status, body in answers if status == 200} == {latest}
    timeline = racer.timeline(DAY, datetime.now(UTC) + timedelta(days=1))
    assert sorted(entry["id"] for entry in timeline) == sorted(entry["id"] for entry in stopped)
    assert_no_overlap(timeline)
    running = [entry["id"] for entry in timeline if entry["end_date"] is None]
    assert running in ([], [latest])
    status, body = racer.call("GET", "/time-entries/running")
    assert (status, body and body["id"]) == ((200, latest) if running else (204, None))


def test_simultaneous_update_last_entry_if_overlap_edits_leave_a_consistent_timeline(
    racer, references
):
    adjacent = log_hours(racer, references, range(8, 18))
    chooser = random.Random(42)

    def move_earlier(entry: dict[str, Any]) -> Callable[[], Answer]:
        # From a few minutes into the predecessor to beyond its start, which must fail.
        start = interval(entry)[0] - timedelta(minutes=chooser.choice([5, 20, 30, 45, 59, 75]))
        payload = {"start_date": start.isoformat(), "update_last_entry_if_overlap": True}
        return lambda: racer.call("PUT", f"/time-entries/{entry['id']}", json=payload)

    # Each edit is sent three times: differing edits of one entry could legitimately move its
    # start past an end that its successor's edit had just shortened (400).
    moves = [move_earlier(entry) for entry in adjacent[1:]]
    answers = race([move for move in moves for _ in range(3)])

    assert_no_server_errors(answers)
    assert {status for status, _ in answers} <= {200, 422}, answers
    assert any(status == 200 for status, _ in answers)
    stored = racer.timeline(DAY, DAY + timedelta(days=1))
    assert {entry["id"] for entry in stored} == {entry["id"] for entry in adjacent}
    for entry in stored:
        start, end = interval(entry)
        assert end is not None and end > start, entry
    assert_no_overlap(stored)
    # Edits only move boundaries: the day still starts at 08:00 and ends at 18:00.
    assert min(interval(entry)[0] for entry in stored) == at(8)
    assert max(interval(entry)[1] for entry in stored) == at(18)


# The Cosmos DB backend under gunicorn's threaded worker, as docker-entrypoint.sh serves the app.

GUNICORN_WORKERS = 2
GUNICORN_THREADS = 8
# Each worker switches threads every 0.1 ms instead of every 5 ms: a race between its threads
# that production meets a few times in several thousand requests then shows in every run.
GUNICORN_CONFIG = """\
import sys


def post_worker_init(worker):
    sys.setswitchinterval(1e-4)
"""
SERVER_START_SECONDS = 60
RACERS = 12  # users
CALLERS_PER_RACER = 2  # client threads per user, so that a user's own requests race too
LOAD_REQUESTS = 1200  # all sent, however fast the machine: the count never depends on speed
LOAD_SECONDS = 600  # only a guard against a server that stopped answering
LOAD_MIX = ("start",) * 2 + ("stop",) * 2 + ("restart",) + ("running",) * 3 + ("list",) * 2


class Gunicorn:
    """gunicorn serving the app from a subprocess, its output kept in a log file."""

    def __init__(self, port: int, log: Path):
        self.base_url = f"http://127.0.0.1:{port}"
        self.port = port
        self.log = log

    def logged_errors(self, most: int = 20) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join([line for line in lines if "Error" in line][:most])


@pytest.fixture(scope="module")
def gunicorn_on_cosmos(
    cosmos_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    """The production app on a fresh emulator database, served by gunicorn's gthread worker."""
    database = create_cosmos_database(cosmos_emulator)
    settings = database.settings
    create_storage(settings, default_sql_url="").migrate()
    work = tmp_path_factory.mktemp("gunicorn")
    config = work / "gunicorn.conf.py"
    config.write_text(GUNICORN_CONFIG)
    env = untraced(
        clean_env(
            work / "instance",
            HOME=str(work),
            APP_ENV="production",
            JWT_SECRET_KEY=TEST_SECRET,
            **database.variables(),
        )
    )
    server = Gunicorn(free_port(), work / "gunicorn.log")
    command = [
        sys.executable, "-m", "gunicorn", "time_tracker_api:create_app()",
        "--config", str(config),
        "--bind", f"127.0.0.1:{server.port}",
        "--worker-class", "gthread",
        "--workers", str(GUNICORN_WORKERS),
        "--threads", str(GUNICORN_THREADS),
        "--worker-tmp-dir", "/dev/shm",
        "--no-control-socket",
        "--reuse-port",
    ]  # fmt: skip
    with server.log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_serving(process, server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        database.drop()


def wait_until_serving(process: subprocess.Popen[bytes], server: Gunicorn) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{server.log.read_text()}")
        try:
            if http_get(server.port, "/health") == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(
        f"gunicorn did not serve within {SERVER_START_SECONDS} s:\n{server.log.read_text()}"
    )


class RacingLoad:
    """Starts, stops, restarts and reads of a few users, from several threads each, until a
    number of requests or a deadline is reached."""

    def __init__(self, references: dict[str, str], requests_to_send: int, seconds: float):
        self.references = references
        self.tickets = itertools.count()
        self.requests_to_send = requests_to_send
        self.deadline = time.monotonic() + seconds
        self.answers: list[tuple[int, str, Any]] = []

    def more(self) -> bool:
        return next(self.tickets) < self.requests_to_send and time.monotonic() < self.deadline

    def drive(self, caller: HttpCaller, entry_ids: list[str], seed: int) -> None:
        """One client thread of a user; `entry_ids` are the user's entries seen so far."""
        chooser = random.Random(seed)
        while self.more():
            kind = chooser.choice(LOAD_MIX)
            known = entry_ids[-3:]
            if kind in ("stop", "restart") and known:
                method, path = "POST", f"/time-entries/{chooser.choice(known)}/{kind}"
            elif kind == "list":
                method, path = "GET", "/time-entries"
            elif kind == "running":
                method, path = "GET", "/time-entries/running"
            else:
                kind, method, path = "start", "POST", "/time-entries"
            answer = caller.call(method, path, json=self.references if kind == "start" else None)
            status, body = answer
            entry_id = body.get("id") if status in (200, 201) and isinstance(body, dict) else None
            if entry_id and entry_id not in entry_ids:
                entry_ids.append(entry_id)
            self.answers.append((status, f"{kind} {path}", body))


def test_thousands_of_racing_requests_under_gunicorn_threads_on_cosmos_get_no_server_error(
    gunicorn_on_cosmos,
):
    server = gunicorn_on_cosmos
    tenant = f"tenant-{uuid.uuid4()}"
    references = create_references(server.base_url, tenant)
    users = [f"racer-{index}" for index in range(RACERS)]
    began = datetime.now(UTC)
    load = RacingLoad(references, LOAD_REQUESTS, LOAD_SECONDS)
    with ThreadPoolExecutor(max_workers=RACERS * CALLERS_PER_RACER) as pool:
        drivers = []
        for index, user in enumerate(users):
            entry_ids: list[str] = []
            for caller in range(CALLERS_PER_RACER):
                http = HttpCaller(server.base_url, tenant, user, session=requests.Session())
                seed = index * CALLERS_PER_RACER + caller
                drivers.append(pool.submit(load.drive, http, entry_ids, seed))
        for driver in drivers:
            driver.result()

    failures = [answer for answer in load.answers if answer[0] in SERVER_ERRORS]
    assert not failures, (
        f"{len(failures)} of {len(load.answers)} answers were 5xx, e.g. {failures[:3]}; "
        f"gunicorn logged:\n{server.logged_errors()}"
    )
    assert len(load.answers) == LOAD_REQUESTS, f"only {len(load.answers)} answers within the guard"
    statuses = {status for status, _, _ in load.answers}
    assert {200, 201, 409, 422} <= statuses, statuses  # starts, stops and refusals all raced
    for user in users:
        racer = HttpCaller(server.base_url, tenant, user)
        timeline = racer.timeline(
            began - timedelta(minutes=1), datetime.now(UTC) + timedelta(days=1)
        )
        assert_no_overlap(timeline)
        running = [entry["id"] for entry in timeline if entry["end_date"] is None]
        assert len(running) <= 1, running
        status, body = racer.call("GET", "/time-entries/running")
        assert (status, body and body["id"]) == ((200, running[0]) if running else (204, None))


def direct_row(tenant: str, owner: str, start: datetime, end: datetime | None, **extra: Any):
    return {
        "tenant_id": tenant,
        "id": str(uuid.uuid4()),
        "owner_id": owner,
        "project_id": str(uuid.uuid4()),
        "activity_id": str(uuid.uuid4()),
        "start_date": start,
        "end_date": end,
        "technologies": [],
        "running_slot": 1 if end is None else None,
        "created_at": start,
        "updated_at": start,
        **extra,
    }


def insert(engine: sa.Engine, row: dict[str, Any]) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(time_entry).values(row))


@pytest.fixture(scope="module")
def postgresql_engine(tmp_path_factory):
    """A migrated PostgreSQL database: only it has exclusion constraints (elsewhere the
    per-user row lock alone keeps timelines apart, as the races above show)."""
    database = create_database("postgresql", tmp_path_factory.mktemp("postgresql"))
    storage = create_storage(StorageSettings(sql_url=database.url), default_sql_url="")
    storage.migrate()
    yield storage.engine
    storage.engine.dispose()
    database.drop()


def test_postgresql_refuses_overlapping_rows_written_around_the_service(postgresql_engine, tenant):
    engine = postgresql_engine
    insert(engine, direct_row(tenant, "someone", at(9), at(10)))
    insert(engine, direct_row(tenant, "someone", at(10), at(11)))  # half-open: touching is fine
    insert(engine, direct_row(tenant, "someone", at(9.5), at(10.5), deleted=at(12)))
    insert(engine, direct_row(tenant, "someone else", at(9.5), at(10.5)))

    with pytest.raises(sa.exc.IntegrityError, match="ex_time_entry_overlap"):
        insert(engine, direct_row(tenant, "someone", at(9.5), at(10.5)))
    with pytest.raises(sa.exc.IntegrityError, match="ex_time_entry_overlap"):
        insert(engine, direct_row(tenant, "someone", at(8), None))  # running: to infinity


def test_the_database_refuses_a_second_running_row_written_around_the_service(app, tenant):
    storage = app.extensions["storage"]
    write, refusal = (
        (partial(insert, storage.engine), sa.exc.IntegrityError)
        if hasattr(storage, "engine")
        else (partial(create_document, storage), CosmosResourceExistsError)
    )
    write(direct_row(tenant, "someone", at(9), at(10)))
    write(direct_row(tenant, "someone", at(10), at(11)))  # finished rows hold no slot
    write(direct_row(tenant, "someone", at(12), None))
    write(direct_row(tenant, "someone else", at(12), None))

    with pytest.raises(refusal):
        write(direct_row(tenant, "someone", DAY + timedelta(days=1), None))


def create_document(storage: Any, row: dict[str, Any]) -> None:
    """The Cosmos DB document of a row: the unique key on `running_key` is the backstop."""
    running = row["end_date"] is None
    document = {
        **{
            k: v.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(v, datetime) else v
            for k, v in row.items()
            if k != "running_slot"
        },
        "running_key": f"running|{row['owner_id']}" if running else row["id"],
    }
    storage.database.get_container_client("time_entry").create_item(document)
