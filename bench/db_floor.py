"""The database floor: the SQL a scenario needs, run directly with psycopg, without the API.

For S1, S3 and S4 the harness asks the real application (in process, on the same database) to
answer the scenario's request once to warm up, then once more while a SQLAlchemy
`before_cursor_execute` listener records every statement and its bound parameters. Those
statements, verbatim, are then replayed with psycopg 3 (the API's driver, same default
auto-prepare threshold) in one transaction per "request", every row fetched, by 1 or 16
client processes in a closed loop. So the floor follows the code: whatever the API sends for a
scenario is what the floor measures, and nothing else (no HTTP, no JWT, no ORM, no JSON).

For S2 (D2) the application starts then stops a timer twice (warm, then recorded), and the
recording keeps the transactions too: which statements ran in autocommit (the API's reads on
PostgreSQL) and which between BEGIN and COMMIT (or ROLLBACK). The replay sends the start's and
the stop's statements as the API grouped them, each a timed "request" as S2 counts them, and
every replay is a real committed write: the ids the application made for the captured flow
(the entry's, its outbox rows') are replaced by fresh ones each time, the captured user by the
client's own (client n as S2's client n), and the timestamps taken from the clock (within
five minutes of the capture) moved to the replay's moment, never earlier than what the client
wrote before, so no entry overlaps the previous one.
"""

from __future__ import annotations

import multiprocessing
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

Statement = tuple[str, Any]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CLOCK_SPAN = timedelta(minutes=5)  # a timestamp this close to the capture came from the clock


@contextmanager
def _recording() -> Iterator[list[Statement]]:
    import sqlalchemy as sa

    statements: list[Statement] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)


def capture(database_url: str, path: str, claims: dict[str, Any]) -> list[Statement]:
    """The statements the API sends to answer GET `path` for a caller with these claims."""
    import jwt

    from time_tracker_api import create_app
    from time_tracker_api.config import TEST_JWT_SECRET, config_for_tests

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(config_for_tests(database_url, Path(instance)))
        bearer = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
        headers = {"Authorization": f"Bearer {bearer}"}
        client = app.test_client()
        first = client.get(path, headers=headers)  # warm: caches, first-call bookkeeping
        if first.status_code != 200:
            raise SystemExit(f"GET {path} answered {first.status_code}: {first.get_data(True)}")
        with _recording() as statements:
            client.get(path, headers=headers)
        return list(statements)


def _client(
    libpq_url: str, statements: list[Statement], seconds: float
) -> tuple[list[float], float]:
    """One client: replay the statements in a transaction until the time is up."""
    latencies: list[float] = []
    started_cpu = time.process_time()
    with psycopg.connect(libpq_url) as connection:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for statement, parameters in statements:
                    cursor.execute(statement, parameters)
                    if cursor.description is not None:
                        cursor.fetchall()
            connection.commit()
            latencies.append(time.perf_counter() - started)
    return latencies, time.process_time() - started_cpu


def replay(
    libpq_url: str, statements: list[Statement], clients: int, seconds: float
) -> dict[str, Any]:
    """Replay with `clients` processes for `seconds`: requests, latencies and client CPU."""
    context = multiprocessing.get_context("fork")
    with context.Pool(clients) as pool:
        outcomes = pool.starmap(_client, [(libpq_url, statements, seconds)] * clients)
    latencies = sorted(latency for found, _ in outcomes for latency in found)
    return {
        "requests": len(latencies),
        "duration_s": seconds,  # each client loops this long once connected
        "errors": 0,
        "latencies": latencies,
        "loadgen_cpu_s": sum(cpu for _, cpu in outcomes),
    }


# --- S2: writes, with their transactions -------------------------------------------------


@dataclass
class Group:
    """Statements the application sent together: one transaction, or one autocommit read."""

    statements: list[Statement] = field(default_factory=list)
    transaction: bool = True
    rollback: bool = False


@dataclass
class Request:
    """The SQL of one HTTP request, and the wall clock (naive UTC) when it was sent."""

    groups: list[Group]
    began: datetime

    def clock_times(self) -> set[datetime]:
        """The parameters' timestamps that came from the clock (near `began`)."""
        return {
            value
            for group in self.groups
            for _, parameters in group.statements
            for value in _values(parameters)
            if isinstance(value, datetime) and abs(_naive(value) - self.began) < CLOCK_SPAN
        }


@contextmanager
def _recording_transactions() -> Iterator[list[tuple]]:
    import sqlalchemy as sa

    events: list[tuple] = []

    def key(connection: Any) -> int:
        return id(connection.connection.dbapi_connection)

    def executed(connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        driver = connection.connection.driver_connection
        autocommit = bool(getattr(driver, "autocommit", False))
        events.append(("sql", key(connection), statement, parameters, autocommit))

    def committed(connection: Any) -> None:
        events.append(("commit", key(connection)))

    def rolled_back(connection: Any) -> None:
        events.append(("rollback", key(connection)))

    listeners = (
        ("before_cursor_execute", executed),
        ("commit", committed),
        ("rollback", rolled_back),
    )
    for name, listener in listeners:
        sa.event.listen(sa.Engine, name, listener)
    try:
        yield events
    finally:
        for name, listener in listeners:
            sa.event.remove(sa.Engine, name, listener)


def _groups(events: list[tuple]) -> list[Group]:
    groups: list[Group] = []
    open_: dict[int, Group] = {}
    for event in events:
        kind, connection = event[0], event[1]
        if kind == "sql":
            statement, parameters, autocommit = event[2:]
            if autocommit:
                groups.append(Group([(statement, parameters)], transaction=False))
                continue
            if connection not in open_:
                open_[connection] = Group()
                groups.append(open_[connection])
            open_[connection].statements.append((statement, parameters))
        elif connection in open_:
            open_.pop(connection).rollback = kind == "rollback"
    for group in open_.values():  # returned to the pool with a transaction open: rolled back
        group.rollback = True
    return groups


def capture_timer(
    database_url: str, claims: dict[str, Any], body: bytes
) -> tuple[list[Request], set[str]]:
    """The SQL of S2 (start a timer, then stop it) for a caller with these claims.

    Returns the two requests and the ids the application made for them (those to renew on
    each replay): the ids in the recorded flow's parameters that the warm-up flow did not use.
    """
    import jwt

    from time_tracker_api import create_app
    from time_tracker_api.config import TEST_JWT_SECRET, config_for_tests

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(config_for_tests(database_url, Path(instance)))
        headers = {"Authorization": f"Bearer {jwt.encode(claims, TEST_JWT_SECRET, 'HS256')}"}
        client = app.test_client()

        def call(path: str, data: bytes | None, status: int) -> tuple[Request, Any]:
            with _recording_transactions() as events:
                began = _naive(datetime.now(UTC))
                response = client.post(
                    path, data=data, headers=headers, content_type="application/json"
                )
            if response.status_code != status:
                raise SystemExit(f"POST {path}: {response.status_code} {response.get_data(True)}")
            return Request(_groups(events), began), response.get_json()

        def flow() -> list[Request]:
            start, entry = call("/time-entries", body, 201)
            stop, _ = call(f"/time-entries/{entry['id']}/stop", None, 200)
            return [start, stop]

        warm, recorded = flow(), flow()
    return recorded, _ids(recorded) - _ids(warm)


def _ids(requests: list[Request]) -> set[str]:
    return {
        found
        for request in requests
        for group in request.groups
        for _, parameters in group.statements
        for value in _values(parameters)
        if isinstance(value, str)
        for found in UUID.findall(value)
    }


def _values(parameters: Any) -> Iterator[Any]:
    if isinstance(parameters, dict):
        parameters = parameters.values()
    elif not isinstance(parameters, list | tuple):
        yield parameters
        return
    for value in parameters:
        if isinstance(value, dict | list | tuple):
            yield from _values(value)
        else:
            yield value


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class _Renewal:
    """One replay's fresh values: new ids, the client's user, the clock's timestamps moved."""

    def __init__(self, swap: dict[str, str], moved: dict[datetime, datetime]) -> None:
        self.swap, self.moved = swap, moved

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            if value in self.swap:
                return self.swap[value]
            for old, new in self.swap.items():
                if old in value:
                    value = value.replace(old, new)
            return value
        if isinstance(value, datetime):
            return self.moved.get(value, value)
        if isinstance(value, dict):
            return {name: self(item) for name, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self(item) for item in value)
        return value


def _timer_client(
    libpq_url: str,
    requests: list[Request],
    fresh: set[str],
    users: dict[str, str],
    seconds: float,
) -> tuple[list[float], float, int]:
    """One client: start then stop until the time is up; each request timed on its own.

    A timestamp first taken from the clock in a request (the start's start_date, the stop's
    end_date, the outbox's occurred_at) moves with that request's replay moment, and keeps its
    new value where a later request repeats it (the stop writes the start_date back).
    """
    latencies: list[float] = []
    errors = 0
    seen: set[datetime] = set()
    clock: list[list[datetime]] = []  # per request, the clock's timestamps it takes first
    for request in requests:
        own = sorted(request.clock_times() - seen)
        seen |= set(own)
        clock.append(own)
    started_cpu = time.process_time()
    previous: datetime | None = None  # the first clock timestamp of the previous request
    with psycopg.connect(libpq_url, autocommit=True) as connection:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            swap = {**{old: str(uuid.uuid4()) for old in fresh}, **users}
            moved: dict[datetime, datetime] = {}
            for request, own in zip(requests, clock, strict=True):
                started = time.perf_counter()
                if own:
                    # Each request's first clock timestamp (the start's start_date, the stop's
                    # end_date) later than the previous one's, so the entry ends after it
                    # starts and the next starts after it ended; otherwise the clock's moment.
                    first = _naive(own[0]) - request.began
                    moment = _naive(datetime.now(UTC))
                    if previous is not None:
                        moment = max(moment, previous + timedelta(microseconds=1) - first)
                    previous = moment + first
                    moved.update((value, value + (moment - request.began)) for value in own)
                renew = _Renewal(swap, moved)
                try:
                    for group in request.groups:
                        _send(connection, group, renew)
                except psycopg.Error:
                    errors += 1
                latencies.append(time.perf_counter() - started)
    return latencies, time.process_time() - started_cpu, errors


def _send(connection: psycopg.Connection, group: Group, renew: _Renewal) -> None:
    def run() -> None:
        with connection.cursor() as cursor:
            for statement, parameters in group.statements:
                cursor.execute(statement, renew(parameters))
                if cursor.description is not None:
                    cursor.fetchall()

    if not group.transaction:
        run()
        return
    with connection.transaction():
        run()
        if group.rollback:
            raise psycopg.Rollback()


def replay_timer(
    libpq_url: str,
    requests: list[Request],
    fresh: set[str],
    users: list[dict[str, str]],
    seconds: float,
) -> dict[str, Any]:
    """D2 with one process per entry of `users` (captured user -> the client's) for `seconds`."""
    context = multiprocessing.get_context("fork")
    with context.Pool(len(users)) as pool:
        outcomes = pool.starmap(
            _timer_client, [(libpq_url, requests, fresh, swap, seconds) for swap in users]
        )
    latencies = sorted(latency for found, _, _ in outcomes for latency in found)
    return {
        "requests": len(latencies),
        "duration_s": seconds,
        "errors": sum(errors for _, _, errors in outcomes),
        "latencies": latencies,
        "loadgen_cpu_s": sum(cpu for _, cpu, _ in outcomes),
    }


def describe(requests: list[Request]) -> str:
    """How many statements and transactions each request sends, for the report's note."""
    parts = []
    for name, request in zip(("start", "stop"), requests, strict=False):
        statements = sum(len(group.statements) for group in request.groups)
        transactions = sum(group.transaction for group in request.groups)
        parts.append(f"{name}: {statements} statements, {transactions} transaction(s)")
    return "; ".join(parts)
