"""`python cli.py events …`: the local dispatcher as an operator runs it."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import ADMIN, Caller
from tests.processes import clean_env, run_cli
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
    assert "3 delivered, 0 failed (will retry), 0 parked" in first.stderr
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
