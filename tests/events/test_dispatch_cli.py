"""`python cli.py events …`: the local dispatcher as an operator runs it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa

from tests.backends import SQL_BACKENDS, create_cosmos_database, create_database
from tests.conftest import ADMIN, Caller, change_customers_quickly
from tests.processes import REPO_ROOT, TIMEOUT, assert_one_error_line, clean_env, free_port, run_cli
from time_tracker_api import create_app
from time_tracker_api.config import config_for_tests


def test_dispatching_twice_from_the_command_line_records_each_change_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    app = create_app(config_for_tests(url, tmp_path))
    admin = Caller(app.test_client(), "tenant-cli", "admin-cli", (ADMIN,))
    for name in ("One", "Two", "Three"):
        assert admin.post("/activities", json={"name": name}).status_code == 201
    env = clean_env(tmp_path, APP_ENV="development", SQL_DATABASE_URI=url)

    first = run_cli("events", "dispatch", "--batch-size", "2", env=env)
    second = run_cli("events", "dispatch", env=env)

    assert first.returncode == 0, first.stderr
    assert "3 delivered, 0 failed (will retry), 0 parked, 0 waiting" in first.stderr
    assert "0 delivered" in second.stderr
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        events = connection.exec_driver_sql(
            "SELECT container_id, action, user_id FROM events WHERE tenant_id = 'tenant-cli'"
        ).all()
    assert events == [("activity", "create", "admin-cli")] * 3


def test_parked_and_retry_report_in_plain_words(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    env = clean_env(tmp_path, APP_ENV="development", SQL_DATABASE_URI=url)
    assert run_cli("migrate", env=env).returncode == 0
    parked = run_cli("events", "parked", env=env)
    retried = run_cli("events", "retry", env=env)
    assert (parked.returncode, parked.stdout) == (0, "")
    assert retried.returncode == 0
    assert "0 parked changes will be retried" in retried.stderr


def unreachable_url(backend: str, tmp_path) -> str:
    """A URL of the backend that nothing answers: a closed port, or a file that cannot open."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'no-such-folder' / 'api.db'}"
    if backend == "postgresql":
        return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/time_tracker"
    # The MariaDB ODBC driver ignores a port in the host part (`Server=host,port`): name it apart.
    return (
        f"mariadb+pyodbc://root:@127.0.0.1/time_tracker?driver=MariaDB+Unicode&Port={free_port()}"
    )


@pytest.mark.parametrize("command", ["dispatch", "parked"])
@pytest.mark.parametrize("backend", SQL_BACKENDS)
def test_events_commands_against_an_unreachable_database_fail_with_one_line(
    tmp_path, backend, command
):
    env = clean_env(
        tmp_path, APP_ENV="development", SQL_DATABASE_URI=unreachable_url(backend, tmp_path)
    )
    result = run_cli("events", command, env=env)
    assert_one_error_line(result, starts_with="cli.py: error: The database cannot be reached: ")


@pytest.mark.parametrize("backend", SQL_BACKENDS)
def test_retrying_an_unknown_id_fails_with_one_line(tmp_path, backend):
    database = create_database(backend, tmp_path)
    try:
        env = clean_env(tmp_path, APP_ENV="development", SQL_DATABASE_URI=database.url)
        assert run_cli("migrate", env=env).returncode == 0
        result = run_cli("events", "retry", "--id", "no-such-change", env=env)
    finally:
        database.drop()
    line = assert_one_error_line(result, starts_with="cli.py: error: ")
    assert "no-such-change" in line


def test_following_rides_out_an_unreachable_database_one_line_a_poll(tmp_path):
    env = clean_env(
        tmp_path, APP_ENV="development", SQL_DATABASE_URI=unreachable_url("postgresql", tmp_path)
    )
    follower = subprocess.Popen(
        [sys.executable, "cli.py", "events", "dispatch", "--follow", "--interval", "1"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Two polls' lines: the first failure did not end the command.
        lines = [follower.stderr.readline() for _ in range(2)]  # type: ignore[union-attr]
        assert follower.poll() is None  # still following
    finally:
        follower.send_signal(signal.SIGINT)
        _, rest = follower.communicate(timeout=TIMEOUT)
    assert all(line.startswith("cli.py: error: The database cannot be reached") for line in lines)
    assert "Traceback" not in "".join(lines) + rest


def test_dispatchers_killed_midway_on_cosmos_lose_and_repeat_no_change(cosmos_emulator, tmp_path):
    """The change documents are written with the records: a dispatcher that dies before, during
    or after its run leaves them to the next one, which records each change once."""
    database = create_cosmos_database(cosmos_emulator)
    app = create_app(config_for_tests(database.settings, tmp_path / "api"))
    admin = Caller(app.test_client(), f"tenant-{uuid.uuid4()}", "admin-cli", (ADMIN,))
    change_customers_quickly(admin, 10)
    env = clean_env(tmp_path, APP_ENV="development", **database.variables())
    try:
        for seconds in (0.5, 1.0, 1.5, 2.0):
            dispatcher = subprocess.Popen(
                [sys.executable, "cli.py", "events", "dispatch", "--follow", "--interval", "1"],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(seconds)
            dispatcher.kill()  # as a crash or a lost machine ends it
            dispatcher.wait(timeout=TIMEOUT)
        finished = run_cli("events", "dispatch", env=env)
        assert finished.returncode == 0, finished.stderr
        events = admin.get("/events?length=500").json["data"]
    finally:
        database.drop()

    assert len({event["id"] for event in events}) == len(events) == 40
    actions = sorted(event["action"] for event in events)
    assert actions == ["archive"] * 10 + ["create"] * 10 + ["update"] * 20


def test_following_serves_the_delivery_counters_on_the_metrics_port(tmp_path):
    import dataclasses
    import urllib.request

    from tests.receivers import receiving

    url = f"sqlite:///{tmp_path / 'api.db'}"
    config = config_for_tests(url, tmp_path)
    outbound = dataclasses.replace(config.outbound, webhooks_allow_private=True)
    app = create_app(dataclasses.replace(config, outbound=outbound))
    admin = Caller(app.test_client(), "tenant-metrics", "admin-metrics", (ADMIN,))
    port = free_port()
    env = clean_env(
        tmp_path, APP_ENV="development", SQL_DATABASE_URI=url, WEBHOOKS_ALLOW_PRIVATE="true"
    )
    with receiving() as receiver:
        hook = admin.post("/webhooks", json={"url": receiver.url, "events": ["*"]})
        assert hook.status_code == 201, hook.json
        assert admin.post("/activities", json={"name": "Design"}).status_code == 201
        follower = subprocess.Popen(
            [sys.executable, "cli.py", "events", "dispatch", "--follow", "--interval", "1"]
            + ["--metrics-port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            receiver.wait_for(1)
            sample = 'time_tracker_deliveries_total{outcome="delivered",sink="webhooks"} 1.0'
            deadline = time.monotonic() + TIMEOUT
            text = ""
            while sample not in text and time.monotonic() < deadline:
                time.sleep(0.2)
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
                        text = answer.read().decode()
                except OSError:
                    continue
        finally:
            follower.send_signal(signal.SIGINT)
            _, errors = follower.communicate(timeout=TIMEOUT)
    assert sample in text, errors


def test_the_metrics_port_needs_follow(tmp_path):
    env = clean_env(tmp_path, APP_ENV="development", SQL_DATABASE_URI="sqlite://")
    result = run_cli("events", "dispatch", "--metrics-port", "9464", env=env)
    line = assert_one_error_line(result, starts_with="cli.py: error: ")
    assert "--follow" in line
