"""A database with pending migrations: the app starts, says so once, and answers 503
`schema_out_of_date` (never a 500) until the migrations are applied, then serves without a restart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from azure.cosmos.exceptions import CosmosResourceNotFoundError

from commons.bootstrap import create_storage
from commons.domain.exceptions import SchemaOutOfDate
from commons.services.schema import SchemaCheck
from tests.backends import BACKENDS, Database, create_cosmos_database, create_database
from tests.conftest import Caller
from tests.processes import REPO_ROOT, clean_env, run_cli
from time_tracker_api import create_app
from time_tracker_api.config import config_for_tests

MIGRATIONS = sorted(path.stem for path in (REPO_ROOT / "migrations").glob("[0-9]*.py"))
OUT_OF_DATE = {
    "message": "The database schema is out of date: an operator must run `python cli.py migrate`; "
    "try again shortly",
    "code": "schema_out_of_date",
}


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Database]:
    """A new database that was never migrated."""
    if request.param == "cosmos":
        database = create_cosmos_database(request.getfixturevalue("cosmos_emulator"))
    else:
        database = create_database(request.param, tmp_path)
    yield database
    with contextlib.suppress(CosmosResourceNotFoundError):  # never migrated: never created
        database.drop()


@pytest.fixture
def operator(fresh: Database) -> Iterator[Any]:
    """The storage an operator migrates with, apart from the app's."""
    storage = create_storage(fresh.settings, default_sql_url="")
    yield storage
    _dispose(storage)


@pytest.fixture
def make_app(fresh: Database, tmp_path: Any) -> Iterator[Any]:
    """Start the app on the fresh database as production does: no migration at start."""
    apps = []

    def make(**changes: Any) -> Any:
        config = config_for_tests(fresh.settings, tmp_path / "instance")
        changes = {"auto_migrate": False, "schema_recheck_seconds": 0, **changes}
        apps.append(create_app(dataclasses.replace(config, **changes)))
        return apps[-1]

    yield make
    for app in apps:
        _dispose(app.extensions["storage"])


def _dispose(storage: Any) -> None:
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


def assert_out_of_date(response: Any) -> None:
    assert response.status_code == 503, response.json
    assert response.json == OUT_OF_DATE
    assert int(response.headers["Retry-After"]) > 0


def pending_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "cli.py migrate" in record.getMessage()
    ]


def test_a_never_migrated_database_starts_with_one_warning_naming_the_pending_migrations(
    make_app, caplog
):
    caplog.set_level(logging.INFO)
    make_app()
    [line] = pending_warnings(caplog)
    assert "python cli.py migrate" in line
    for name in MIGRATIONS:
        assert name in line


def test_ready_is_503_schema_out_of_date_while_migrations_are_pending(make_app):
    client = make_app().test_client()
    assert_out_of_date(client.get("/ready"))
    assert client.get("/health").status_code == 200
    assert client.get("/swagger.json").status_code == 200


def test_api_calls_are_503_schema_out_of_date_and_never_500(make_app):
    client = make_app().test_client()
    caller = Caller(client, "tenant-unmigrated", "someone", ("time-tracker-admin",))
    assert_out_of_date(caller.get("/activities"))
    assert_out_of_date(caller.post("/activities", json={"name": "Coding"}))
    assert_out_of_date(caller.get("/time-entries/running"))


def test_after_migrating_the_app_is_ready_without_a_restart(make_app, operator):
    client = make_app().test_client()
    caller = Caller(client, "tenant-migrated", "someone", ("time-tracker-admin",))
    assert_out_of_date(caller.get("/activities"))

    operator.migrate()

    assert caller.get("/activities").status_code == 200
    assert caller.post("/activities", json={"name": "Coding"}).status_code == 201
    assert client.get("/ready").status_code == 200


def test_after_cli_migrate_ready_is_200_without_a_restart(make_app, fresh, tmp_path):
    client = make_app(schema_recheck_seconds=3600).test_client()
    assert_out_of_date(client.get("/ready"))

    result = run_cli("migrate", env=clean_env(tmp_path / "cli", **fresh.variables()))
    assert result.returncode == 0, result.stderr

    # /ready asks again each time while pending, however long the app waits between checks.
    assert client.get("/ready").status_code == 200
    caller = Caller(client, "tenant-cli", "someone")
    assert caller.get("/activities").status_code == 200


def test_all_but_the_latest_migration_applied_is_pending(make_app, operator, caplog):
    operator.migrate()
    operator.migrate(revert_latest=True)
    assert operator.pending_migrations() == MIGRATIONS[-1:]

    caplog.set_level(logging.INFO)
    client = make_app().test_client()
    [line] = pending_warnings(caplog)
    assert MIGRATIONS[-1] in line and MIGRATIONS[0] not in line
    assert_out_of_date(client.get("/ready"))
    assert_out_of_date(Caller(client, "tenant-behind", "someone").get("/activities"))


def test_an_up_to_date_database_has_nothing_pending_and_is_ready(make_app, operator, caplog):
    operator.migrate()
    assert operator.pending_migrations() == []
    caplog.set_level(logging.INFO)
    client = make_app().test_client()
    assert pending_warnings(caplog) == []
    assert client.get("/ready").status_code == 200


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_pending_schema_is_asked_again_at_most_every_few_seconds_and_up_to_date_for_good(
    fresh, operator
):
    clock = Clock()
    app_storage = create_storage(fresh.settings, default_sql_url="")
    schema = SchemaCheck(app_storage, recheck_seconds=5, clock=clock)
    try:
        assert schema.pending() == MIGRATIONS
        operator.migrate()
        clock.now += 4
        # Within the interval the last answer holds...
        with pytest.raises(SchemaOutOfDate):
            schema.require_up_to_date()
        clock.now += 1
        # ...and once it has passed the storage is asked again.
        schema.require_up_to_date()
        operator.migrate(revert_latest=True)
        clock.now += 3600
        # A schema seen up to date is not asked about again.
        assert schema.pending() == []
        assert schema.pending(fresh=True) == []
    finally:
        _dispose(app_storage)


def test_the_swagger_document_lists_both_503_answers_of_ready(client):
    responses = client.get("/swagger.json").json["paths"]["/ready"]["get"]["responses"]
    assert {"schema_out_of_date", "storage_unavailable"} <= set(
        responses["503"]["description"].replace("`", " ").split()
    )
    assert responses["503"]["schema"] == {"$ref": "#/definitions/Error"}
