"""Writes and their retries across database crashes, on a MariaDB server of the test's own,
killed (as a crash kills it) at a chosen point of a write and started again.

- Killed right after the write's commit: the write is answered (its answer comes from inside
  the transaction), and the client's retry with its Idempotency-Key replays that answer.
- Killed before the write's commit: nothing is written; the retry is refused while the first
  request's claim holds, then done, once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine

from commons.data_access_layer.sql.engine import normalized_url
from commons.domain.idempotency import LEASE
from tests.backends import unavailable
from tests.conftest import ADMIN, Caller
from tests.private_mariadb import MariaDBServer, PrivateMariaDBUnavailable
from time_tracker_api import create_app
from time_tracker_api.config import config_for_tests

HEADER, REPLAYED = "Idempotency-Key", "Idempotent-Replayed"
ENTRY = {"start_date": "2024-03-05T09:00:00+00:00", "end_date": "2024-03-05T10:00:00+00:00"}
DATABASE = "time_tracker"


@pytest.fixture
def server(tmp_path) -> Iterator[MariaDBServer]:
    try:
        server = MariaDBServer(tmp_path / "mariadb")
        server.start()
    except PrivateMariaDBUnavailable as error:
        unavailable("private mariadb", error)
    yield server
    server.stop()


@pytest.fixture
def app(server, tmp_path) -> Iterator[Any]:
    setup = sa.create_engine(normalized_url(server.instance.url()), isolation_level="AUTOCOMMIT")
    with setup.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {DATABASE}")
    setup.dispose()
    url = server.instance.url(database=DATABASE)
    application = create_app(config_for_tests(url, tmp_path / "instance"))
    yield application
    application.extensions["storage"].engine.dispose()


@pytest.fixture
def member(app) -> tuple[Caller, dict[str, str]]:
    """A member of a fresh tenant, and the project and activity their entries are for."""
    client, tenant = app.test_client(), f"tenant-{uuid.uuid4()}"
    admin = Caller(client, tenant, "admin", (ADMIN,))
    customer = admin.post("/customers", json={"name": "Acme"}).json
    project = admin.post("/projects", json={"name": "Web", "customer_id": customer["id"]}).json
    activity = admin.post("/activities", json={"name": "Coding"}).json
    work = {"project_id": project["id"], "activity_id": activity["id"]}
    return Caller(client, tenant, "member"), work


def kill_when(engine: sa.Engine, server: MariaDBServer, event: str) -> list[bool]:
    """Kill the server once, at `event` of the first unit of work that inserts a time entry:
    "before_insert" (the write is lost) or "after_commit" (when its connection goes back to
    the pool, the write committed). Returns a list that holds True once it has happened."""
    state = {"inserted": False}
    killed: list[bool] = []

    def before_cursor_execute(connection, cursor, statement, *args: Any) -> None:
        if killed or not statement.lstrip().upper().startswith("INSERT INTO TIME_ENTRY"):
            return
        state["inserted"] = True
        if event == "before_insert":
            server.kill()
            killed.append(True)

    def checkin(dbapi_connection, record) -> None:
        if state["inserted"] and event == "after_commit" and not killed:
            server.kill()
            killed.append(True)

    sa.event.listen(engine, "before_cursor_execute", before_cursor_execute)
    sa.event.listen(engine.pool, "checkin", checkin)
    return killed


def until_reachable(send: Callable[[], Any]) -> Any:
    """The first answer that is not 503: a restarted server's old pooled connections fail once
    (nothing written) before the pool replaces them."""
    for _ in range(5):
        response = send()
        if response.status_code != 503:
            return response
    return response


def entries(caller: Caller) -> list[dict]:
    response = until_reachable(
        lambda: caller.get(
            "/time-entries?start_date=2024-03-01T00:00:00Z&end_date=2024-04-01T00:00:00Z"
        )
    )
    assert response.status_code == 200, response.json
    return response.json


def test_a_write_committed_just_before_the_database_dies_is_answered_and_replayed(
    app, server, member
):
    caller, work = member
    key, body = str(uuid.uuid4()), {**work, **ENTRY}
    killed = kill_when(app.extensions["storage"].engine, server, "after_commit")

    answered = caller.post("/time-entries", json=body, headers={HEADER: key})

    assert killed == [True]
    assert answered.status_code == 201, answered.json
    assert answered.json["project_name"] == "Web"
    down = caller.post("/time-entries", json=body, headers={HEADER: key})
    assert down.status_code == 503
    assert down.json["code"] == "storage_unavailable"
    server.start()
    retried = until_reachable(
        lambda: caller.post("/time-entries", json=body, headers={HEADER: key})
    )
    assert retried.status_code == 201, retried.json
    assert retried.headers[REPLAYED] == "true"
    assert retried.get_data() == answered.get_data()
    assert [entry["id"] for entry in entries(caller)] == [answered.json["id"]]


def test_a_write_lost_with_the_database_is_done_once_when_retried(app, server, member):
    caller, work = member
    key, body = str(uuid.uuid4()), {**work, **ENTRY}
    killed = kill_when(app.extensions["storage"].engine, server, "before_insert")

    lost = caller.post("/time-entries", json=body, headers={HEADER: key})

    assert killed == [True]
    assert lost.status_code == 503, lost.json
    assert lost.json["code"] == "storage_unavailable"
    server.start()
    # The claim outlived its request (the database was gone when it ended): it holds the key
    # until its lease ends, so a retry cannot race a request that might still be running.
    busy = until_reachable(lambda: caller.post("/time-entries", json=body, headers={HEADER: key}))
    assert busy.status_code == 409, busy.json
    assert busy.json["code"] == "idempotency_key_in_use"
    assert int(busy.headers["Retry-After"]) <= LEASE.total_seconds()
    assert entries(caller) == []
    with time_machine.travel(datetime.now(UTC) + LEASE + timedelta(seconds=1), tick=True):
        done = caller.post("/time-entries", json=body, headers={HEADER: key})
        again = caller.post("/time-entries", json=body, headers={HEADER: key})
        listed = entries(caller)
    assert done.status_code == 201, done.json
    assert REPLAYED not in done.headers
    assert again.headers[REPLAYED] == "true"
    assert [entry["id"] for entry in listed] == [done.json["id"]]
