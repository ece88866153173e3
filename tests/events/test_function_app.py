"""The Azure Functions app: it stands alone, and its functions record audit events.

The functions are called as the worker calls them, with real `DocumentList`s and
`TimerRequest`s, against the Cosmos DB emulator and a SQLite database the API wrote changes to.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
import sqlalchemy as sa
from azure.cosmos import CosmosClient, PartitionKey
from azure.functions.timer import TimerRequest

from commons.data_access_layer.cosmos import changes as cosmos_changes
from commons.data_access_layer.sql import outbox
from commons.data_access_layer.sql.engine import create_sql_engine, normalized_url
from commons.domain import retries
from commons.domain.events import RecordChanged
from commons.domain.exceptions import NotFound
from tests.conftest import ADMIN, make_token
from tests.processes import REPO_ROOT, TIMEOUT, clean_env, run_cli
from time_tracker_api import create_app
from time_tracker_api.config import config_for_tests

EVENTS_APP = REPO_ROOT / "time_tracker_events"
AUDITED = ("activity", "customer", "project", "project_type", "technology", "time_entry", "user")
COSMOS_FUNCTIONS = {f"audit_{container}_changes": container for container in AUDITED}
TIMER_FUNCTION = "drain_outbox"
RETRY_FUNCTION = "retry_changes"
DELIVERIES_FUNCTION = "deliver_events"
EVENT_FIELDS = {
    "id",
    "date",
    "user_id",
    "action",
    "description",
    "item_id",
    "container_id",
    "session_id",
    "tenant_id",
}
# Import name → the distribution in requirements.txt that provides it.
PROVIDED_BY = {
    "azure.functions": "azure-functions",
    "azure.core": "azure-core",
    "azure.cosmos": "azure-cosmos",
    "sqlalchemy": "sqlalchemy",
    "orjson": "orjson",
    "psycopg": "psycopg",
    "pyodbc": "pyodbc",
    "standardwebhooks": "standardwebhooks",
    "urllib3": "urllib3",
    "pika": "pika",
}
LIST_FUNCTIONS = """
import importlib.util, json, os
import function_app
import commons
print(json.dumps({
    "repository_importable": [
        name for name in ("time_tracker_api", "time_tracker_events")
        if importlib.util.find_spec(name) is not None
    ],
    "commons_from": os.path.dirname(os.path.dirname(commons.__file__)),
    "functions": {
        fn.get_function_name(): {
            "python_name": fn.get_user_function().__name__,
            "bindings": [json.loads(binding) for binding in fn.get_raw_bindings()],
            "retry": fn.get_settings_dict("retry_policy"),
        }
        for fn in function_app.app.get_functions()
    },
}))
"""


# The folder stands alone


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the worker indexes when it imports the folder as deployed: copied after its one
    packaging step, in a clean virtualenv holding only its requirements, the repository out of
    reach."""
    deployed = tmp_path_factory.mktemp("deployed")
    copy = deployed / "app"
    shutil.copytree(EVENTS_APP, copy, ignore=shutil.ignore_patterns("__pycache__", "commons"))
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    packaged = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "package-events.sh"), str(copy)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert packaged.returncode == 0, packaged.stderr
    venv = deployed / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT)
    python = str(venv / "bin" / "python")
    installed = subprocess.run(
        [python, "-m", "pip", "install", "-q", "-r", str(copy / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    result = subprocess.run(
        [python, "-c", LIST_FUNCTIONS],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_packaged_folder_imports_in_a_clean_virtualenv_without_the_repository(indexed):
    assert indexed["repository_importable"] == []
    assert Path(indexed["commons_from"]).name == "app"  # the packaged copy, beside function_app
    assert set(indexed["functions"]) == {
        *COSMOS_FUNCTIONS,
        TIMER_FUNCTION,
        RETRY_FUNCTION,
        DELIVERIES_FUNCTION,
    }


def test_each_function_has_a_python_function_of_its_own_name(indexed):
    assert {name: fn["python_name"] for name, fn in indexed["functions"].items()} == {
        name: name for name in indexed["functions"]
    }


@pytest.mark.parametrize("name, container", sorted(COSMOS_FUNCTIONS.items()))
def test_each_container_has_a_change_feed_trigger_with_its_own_leases(indexed, name, container):
    function = indexed["functions"][name]
    assert function["bindings"] == [
        {
            "direction": "IN",
            "type": "cosmosDBTrigger",
            "name": "documents",
            "connection": "COSMOS_CONNECTION",
            "databaseName": "%DATABASE_NAME%",
            "containerName": container,
            "leaseContainerName": "leases",
            "leaseContainerPrefix": f"{container}-",
            "createLeaseContainerIfNotExists": True,
        }
    ]


@pytest.mark.parametrize("name", sorted(COSMOS_FUNCTIONS))
def test_a_failed_change_feed_batch_is_retried_until_it_is_recorded(indexed, name):
    retry = indexed["functions"][name]["retry"]
    assert retry["max_retry_count"] == "-1"


def test_the_outbox_timer_runs_on_the_schedule_its_app_setting_names(indexed):
    [trigger] = indexed["functions"][TIMER_FUNCTION]["bindings"]
    assert trigger["type"] == "timerTrigger"
    assert trigger["schedule"] == "%OUTBOX_SCHEDULE%"


def test_the_deliveries_timer_runs_on_the_schedule_its_app_setting_names(indexed):
    [trigger] = indexed["functions"][DELIVERIES_FUNCTION]["bindings"]
    assert trigger["type"] == "timerTrigger"
    assert trigger["schedule"] == "%DELIVERIES_SCHEDULE%"


def test_every_import_is_standard_library_its_own_or_in_its_requirements():
    required = requirement_names(EVENTS_APP / "requirements.txt")
    # `commons` is the folder's own once packaged (scripts/package-events.sh); that its imports
    # need nothing more than requirements.txt shows the clean virtualenv above.
    own = {path.stem for path in EVENTS_APP.iterdir() if path.suffix == ".py" or path.is_dir()}
    own.add("commons")
    strays = []
    for path in sorted(EVENTS_APP.rglob("*.py")):
        if path.relative_to(EVENTS_APP).parts[0] == "commons":
            continue  # a packaged copy, if one was made here
        for module in absolute_imports(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in own:
                continue
            provider = next(
                (dist for name, dist in PROVIDED_BY.items() if f"{module}.".startswith(f"{name}.")),
                None,
            )
            if provider not in required:
                strays.append(f"{path.relative_to(EVENTS_APP)}: {module}")
    assert strays == []


def test_shared_requirements_are_pinned_as_the_api_pins_them():
    # requirements.in names the app's own dependencies (and the installer); the lock pins them
    # and everything they pull in, at the versions the API's lock has for the shared ones.
    top = requirement_names(EVENTS_APP / "requirements.in") - {"pip", "setuptools"}
    ours = requirement_pins(EVENTS_APP / "requirements.txt")
    api = requirement_pins(REPO_ROOT / "requirements" / "time_tracker_api" / "prod.txt")
    assert top == set(PROVIDED_BY.values())
    assert top <= set(ours)
    assert all(pin for pin in ours.values()), ours
    assert {name: pin for name, pin in ours.items() if name in api} == {
        name: api[name] for name in ours if name in api
    }


def test_the_deployment_leaves_local_settings_and_tests_behind():
    ignored = (EVENTS_APP / ".funcignore").read_text().split()
    assert {"local.settings.json", "tests", "__pycache__", ".venv"} <= set(ignored)
    example = json.loads((EVENTS_APP / "local.settings.json.example").read_text())
    assert example["Values"]["FUNCTIONS_WORKER_RUNTIME"] == "python"
    for setting in ("COSMOS_CONNECTION", "DATABASE_NAME", "SQL_DATABASE_URI", "OUTBOX_SCHEDULE"):
        assert example["Values"][setting]


def requirement_pins(path: Path) -> dict[str, str]:
    """Normalized distribution name → pinned version."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip().removesuffix("\\").strip()
        if match := re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(?:==\s*(\S+))?", line):
            pins[match.group(1).lower().replace("_", "-")] = match.group(3) or ""
    return pins


def requirement_names(path: Path) -> set[str]:
    return set(requirement_pins(path))


def absolute_imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


# The functions, called as the worker calls them


@pytest.fixture(scope="module")
def functions() -> Iterator[dict[str, Any]]:
    """The app's functions by name, imported as the worker imports them (the folder on sys.path)."""
    before = set(sys.modules)
    sys.path.insert(0, str(EVENTS_APP))
    importlib.invalidate_caches()
    try:
        function_app = importlib.import_module("function_app")
        yield {fn.get_function_name(): fn for fn in function_app.app.get_functions()}
        importlib.import_module("audit.clients").reset()
    finally:
        sys.path.remove(str(EVENTS_APP))
        for name in set(sys.modules) - before:
            if name == "function_app" or name.split(".")[0] in ("audit", "blueprints"):
                del sys.modules[name]


@pytest.fixture
def settings(functions, monkeypatch) -> Iterator[pytest.MonkeyPatch]:
    """App settings for one test; the app's shared clients connect anew with them."""
    clients = sys.modules["audit.clients"]
    for name in (
        "COSMOS_CONNECTION",
        "COSMOS_VERIFY_TLS",
        "DATABASE_NAME",
        "SQL_DATABASE_URI",
        "AMQP_URL",
        "WEBHOOKS_ALLOW_PRIVATE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OUTBOX_BATCH_SIZE", raising=False)
    clients.reset()
    yield monkeypatch
    clients.reset()


def call(functions: dict[str, Any], name: str, argument: Any) -> Any:
    """Run a function's own Python code, beneath its decorators."""
    return functions[name].get_user_function()(argument)


@pytest.fixture(scope="module")
def events_database(cosmos_emulator) -> Iterator[Any]:
    """A database of its own on the emulator, with the `event` container."""
    client = CosmosClient(
        cosmos_emulator.endpoint, credential=cosmos_emulator.key, connection_verify=False
    )
    name = f"events-{uuid.uuid4().hex[:12]}"
    database = client.create_database(name)
    # As the migrations make them: the audit log, the audited containers, and the webhooks and
    # deliveries the relay queues the changes' deliveries in.
    for container in ("event", *AUDITED, "webhook", "delivery"):
        database.create_container(container, partition_key=PartitionKey(path="/tenant_id"))
    yield database
    client.delete_database(name)


@pytest.fixture
def event_container(cosmos_emulator, events_database, settings) -> Any:
    """The `event` container, the app's settings pointing at it."""
    settings.setenv(
        "COSMOS_CONNECTION",
        f"AccountEndpoint={cosmos_emulator.endpoint}/;AccountKey={cosmos_emulator.key};",
    )
    settings.setenv("DATABASE_NAME", events_database.id)
    settings.setenv("COSMOS_VERIFY_TLS", "false")
    return events_database.get_container_client("event")


def changed(container: str, tenant: str, action: str = "create", **fields: Any) -> dict[str, Any]:
    """A change document as the change feed delivers it: as the API writes it, with the
    system properties Cosmos DB adds."""
    change = RecordChanged(
        tenant_id=tenant,
        user_id="admin-a",
        container_id=container,
        item_id=fields.pop("item_id", str(uuid.uuid4())),
        description=f"{action} Writing",
        session_id=f"request-{uuid.uuid4().hex[:8]}",
    )
    document = {**cosmos_changes.change_document(change), "action": action}
    system = {"_rid": uuid.uuid4().hex[:8], "_etag": f'"{uuid.uuid4()}"', "_ts": int(time.time())}
    return {**document, **system, **fields}


def entity(container: str, tenant: str, change: dict[str, Any]) -> dict[str, Any]:
    """The changed record's own document, in the original format: its latest change rides in
    `_last_event_ctx`."""
    context = {name: change[name] for name in ("user_id", "tenant_id", "action", "description")}
    context |= {"container_id": container, "session_id": change["session_id"]}
    return {
        "id": change["item_id"],
        "tenant_id": tenant,
        "name": "Writing",
        "_etag": f'"{uuid.uuid4()}"',
        "_ts": change["_ts"],
        "_last_event_ctx": context,
    }


def document_list(*documents: dict[str, Any]) -> func.DocumentList:
    return func.DocumentList([func.Document.from_dict(document) for document in documents])


def audit_log(event_container: Any, tenant: str) -> list[dict[str, Any]]:
    """The tenant's audit events, system properties left out."""
    events = event_container.query_items(
        "SELECT * FROM c WHERE c.tenant_id = @tenant",
        parameters=[{"name": "@tenant", "value": tenant}],
        partition_key=tenant,
    )
    return [{k: v for k, v in event.items() if not k.startswith("_")} for event in events]


@pytest.mark.parametrize("name, container", sorted(COSMOS_FUNCTIONS.items()))
def test_each_change_document_becomes_one_audit_event(
    functions, event_container, tenant, name, container
):
    documents = [changed(container, tenant), changed(container, tenant, "update")]
    call(functions, name, document_list(*documents))
    events = sorted(audit_log(event_container, tenant), key=lambda event: event["id"])
    expected = [
        {
            "id": document["id"],
            "date": document["date"],
            "user_id": "admin-a",
            "action": document["action"],
            "description": document["description"],
            "item_id": document["item_id"],
            "container_id": container,
            "session_id": document["session_id"],
            "tenant_id": tenant,
        }
        for document in sorted(documents, key=lambda document: document["id"])
    ]
    assert [set(event) for event in events] == [EVENT_FIELDS, EVENT_FIELDS]
    assert events == expected


def test_replaying_a_batch_records_no_duplicate(functions, event_container, tenant):
    documents = document_list(changed("customer", tenant), changed("customer", tenant))
    call(functions, "audit_customer_changes", documents)
    first = audit_log(event_container, tenant)
    call(functions, "audit_customer_changes", documents)
    assert sorted(audit_log(event_container, tenant), key=str) == sorted(first, key=str)
    assert len(first) == 2


def test_every_change_of_a_record_is_an_event_however_fast_they_follow(
    functions, event_container, tenant
):
    """A latest-version change feed shows a record once, as it is now, however often it changed
    between two reads; its change documents are created once each and all arrive."""
    record = str(uuid.uuid4())
    changes = [
        changed("project", tenant, action, item_id=record)
        for action in ("create", "update", "update", "delete")
    ]
    latest = entity("project", tenant, changes[-1])
    call(functions, "audit_project_changes", document_list(latest, *changes))
    events = audit_log(event_container, tenant)
    assert sorted(event["id"] for event in events) == sorted(change["id"] for change in changes)
    assert sorted(event["action"] for event in events) == ["create", "delete", "update", "update"]
    assert {event["item_id"] for event in events} == {record}


def test_an_entity_document_makes_no_event_of_its_own(functions, event_container, tenant):
    """The record's `_last_event_ctx` repeats its latest change: counting it too would record
    that change twice, and a profile refresh that copies it would record it again."""
    change = changed("time_entry", tenant)
    call(
        functions,
        "audit_time_entry_changes",
        document_list(entity("time_entry", tenant, change), change),
    )
    call(functions, "audit_time_entry_changes", document_list(entity("time_entry", tenant, change)))
    assert [event["id"] for event in audit_log(event_container, tenant)] == [change["id"]]


def stored(events_database: Any, container: str, document: dict[str, Any]) -> dict[str, Any]:
    """The document as written into its container (so that a failure can be marked on it)."""
    body = {k: v for k, v in document.items() if not k.startswith("_")}
    return events_database.get_container_client(container).create_item(body)


def reread(events_database: Any, container: str, document: dict[str, Any]) -> dict[str, Any]:
    return events_database.get_container_client(container).read_item(
        document["id"], partition_key=document["tenant_id"]
    )


def test_a_change_that_cannot_be_recorded_waits_without_holding_up_the_rest(
    functions, events_database, event_container, tenant
):
    bad = stored(events_database, "project", changed("project", tenant, date="not a date"))
    good = stored(events_database, "project", changed("project", tenant))
    before = datetime.now(UTC)

    call(functions, "audit_project_changes", document_list(bad, good))

    assert [event["id"] for event in audit_log(event_container, tenant)] == [good["id"]]
    marked = reread(events_database, "project", bad)
    assert (marked["delivery"], marked["attempts"]) == ("failed", 1)
    assert marked["last_error"].startswith("ValueError")
    retry_at = datetime.strptime(marked["next_attempt_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert retry_at.replace(tzinfo=UTC) - before >= timedelta(seconds=10)
    # The marked document comes back through the feed: it is left to its retry.
    call(functions, "audit_project_changes", document_list(marked))
    assert reread(events_database, "project", bad)["attempts"] == 1


def test_a_failing_change_backs_off_is_parked_and_can_be_retried(
    functions, events_database, event_container, tenant
):
    changes = cosmos_changes
    bad = stored(events_database, "customer", changed("customer", tenant, date="not a date"))
    first = datetime.now(UTC)
    call(functions, "audit_customer_changes", document_list(bad))
    for attempts, delay in enumerate(retries.RETRY_DELAYS, start=1):
        due = instant(reread(events_database, "customer", bad)["next_attempt_at"])
        if attempts == 1:
            assert first + delay <= due <= datetime.now(UTC) + delay
        changes.retry_due(events_database, now=due - timedelta(seconds=1))
        assert reread(events_database, "customer", bad)["attempts"] == attempts  # not due yet
        changes.retry_due(events_database, now=due)
        marked = reread(events_database, "customer", bad)
        assert marked["attempts"] == attempts + 1
        if attempts < len(retries.RETRY_DELAYS):
            assert instant(marked["next_attempt_at"]) == due + retries.RETRY_DELAYS[attempts]
    assert reread(events_database, "customer", bad)["delivery"] == "dead"  # six attempts
    parked = [change["id"] for change in changes.parked_changes(events_database)]
    assert bad["id"] in parked
    with pytest.raises(NotFound):
        changes.retry_parked(events_database, [bad["id"], "no-such-change"])

    # An operator mends the change and puts it back in line: it is recorded once.
    mended = {**reread(events_database, "customer", bad), "date": good_date()}
    events_database.get_container_client("customer").replace_item(bad["id"], mended)
    assert changes.retry_parked(events_database, [bad["id"]]) == 1
    assert bad["id"] not in [change["id"] for change in changes.parked_changes(events_database)]
    changes.retry_due(events_database)
    call(
        functions, "audit_customer_changes", document_list(reread(events_database, "customer", bad))
    )
    assert [event["id"] for event in audit_log(event_container, tenant)] == [bad["id"]]
    assert reread(events_database, "customer", bad)["delivery"] == "done"


def test_the_retry_timer_records_due_changes(functions, events_database, event_container, tenant):
    bad = stored(events_database, "activity", changed("activity", tenant, date="not a date"))
    call(functions, "audit_activity_changes", document_list(bad))
    due = {**reread(events_database, "activity", bad), "date": good_date()}
    due["next_attempt_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    events_database.get_container_client("activity").replace_item(bad["id"], due)

    call(functions, RETRY_FUNCTION, TimerRequest())

    assert [event["id"] for event in audit_log(event_container, tenant)] == [bad["id"]]


def instant(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def good_date() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_missing_connection_setting_is_named(functions, settings, tenant):
    with pytest.raises(RuntimeError, match="COSMOS_CONNECTION"):
        call(functions, "audit_activity_changes", document_list(changed("activity", tenant)))


# The outbox timer


@pytest.fixture
def sql_url(tmp_path: Path) -> str:
    """A SQLite database migrated by the command line, as a deployment migrates it."""
    url = f"sqlite:///{tmp_path / 'time_tracker.db'}"
    env = clean_env(tmp_path / "instance", APP_ENV="development", SQL_DATABASE_URI=url)
    result = run_cli("migrate", env=env)
    assert result.returncode == 0, result.stderr
    return url


def make_changes(url: str, instance: Path, tenant: str) -> None:
    """Create, update, archive and delete through the API: each change leaves an outbox row."""
    app = create_app(config_for_tests(url, instance))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(tenant, 'admin-a', (ADMIN,))}"}
    try:
        client.post("/activities", json={"name": "Writing"}, headers=headers)
        customer = client.post("/customers", json={"name": "Acme"}, headers=headers).json
        client.put(f"/customers/{customer['id']}", json={"name": "Acme Inc"}, headers=headers)
        client.delete(f"/customers/{customer['id']}", headers=headers)
        technology = client.post("/technologies", json={"name": "Python"}, headers=headers).json
        client.delete(f"/technologies/{technology['id']}", headers=headers)
    finally:
        app.extensions["storage"].engine.dispose()


def rows(url: str, table: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            result = connection.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))
            return [dict(row._mapping) for row in result]
    finally:
        engine.dispose()


def test_the_timer_records_one_event_per_outbox_row(functions, settings, sql_url, tmp_path, tenant):
    make_changes(sql_url, tmp_path / "instance", tenant)
    changes = rows(sql_url, "outbox")
    assert sorted((change["container_id"], change["action"]) for change in changes) == [
        ("activity", "create"),
        ("customer", "archive"),
        ("customer", "create"),
        ("customer", "update"),
        ("technology", "create"),
        ("technology", "delete"),
    ]
    assert {change["status"] for change in changes} == {"pending"}
    settings.setenv("SQL_DATABASE_URI", sql_url)
    settings.setenv("OUTBOX_BATCH_SIZE", "3")  # three batches in one invocation

    call(functions, TIMER_FUNCTION, TimerRequest())

    events = rows(sql_url, "events")
    assert [event["id"] for event in events] == [change["id"] for change in changes]
    for event, change in zip(events, changes, strict=True):
        assert event["date"] == change["occurred_at"]
        for field in EVENT_FIELDS - {"id", "date"}:
            assert event[field] == change[field], field
    assert {change["status"] for change in rows(sql_url, "outbox")} == {"done"}


def test_a_second_tick_records_nothing_again(functions, settings, sql_url, tmp_path, tenant):
    make_changes(sql_url, tmp_path / "instance", tenant)
    settings.setenv("SQL_DATABASE_URI", sql_url)
    call(functions, TIMER_FUNCTION, TimerRequest())
    recorded = rows(sql_url, "events")
    call(functions, TIMER_FUNCTION, TimerRequest(past_due=True))
    assert rows(sql_url, "events") == recorded


def test_the_timer_drains_an_outbox_on_the_mariadb_port_its_url_names(
    functions, settings, private_mariadb_server, tmp_path, tenant
):
    # The database exists on the private server only: reaching 3306 instead finds nothing.
    database = f"tt_events_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalized_url(private_mariadb_server.url()))
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {database}")
    try:
        url = private_mariadb_server.url(database=database)
        env = clean_env(tmp_path / "instance", APP_ENV="development", SQL_DATABASE_URI=url)
        result = run_cli("migrate", env=env)
        assert result.returncode == 0, result.stderr
        make_changes(url, tmp_path / "instance", tenant)
        settings.setenv("SQL_DATABASE_URI", url)

        call(functions, TIMER_FUNCTION, TimerRequest())

        with admin.connect() as connection:
            pending, recorded = (
                connection.exec_driver_sql(f"SELECT COUNT(*) FROM {database}.{table}").scalar()
                for table in ("outbox WHERE status <> 'done'", "events")
            )
        assert (pending, recorded) == (0, 6)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {database}")
        admin.dispose()


def test_a_crash_mid_batch_leaves_the_whole_batch_pending_on_sqlite(
    functions, settings, sql_url, tmp_path, tenant
):
    # pysqlite's own transaction handling would commit each row's savepoint on release.
    make_changes(sql_url, tmp_path / "instance", tenant)
    engine = create_sql_engine(sql_url)
    record = outbox.record_event
    handled = []

    def crash_on_the_third(event: Any, connection: sa.Connection) -> None:
        handled.append(event.id)
        record(event, connection)
        if len(handled) == 3:
            raise KeyboardInterrupt  # not an Exception: nothing may catch it per row

    try:
        with pytest.raises(KeyboardInterrupt):
            outbox.drain_once(engine, 100, handler=crash_on_the_third)
    finally:
        engine.dispose()
    assert rows(sql_url, "events") == []
    assert {change["status"] for change in rows(sql_url, "outbox")} == {"pending"}


def test_a_failing_tick_ends_with_its_batch_and_the_next_tick_waits_for_the_delay(
    functions, settings, sql_url, tmp_path, tenant
):
    make_changes(sql_url, tmp_path / "instance", tenant)
    engine = sa.create_engine(sql_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE events RENAME TO events_away")
    finally:
        engine.dispose()
    settings.setenv("SQL_DATABASE_URI", sql_url)
    settings.setenv("OUTBOX_BATCH_SIZE", "2")

    call(functions, TIMER_FUNCTION, TimerRequest())
    first = {change["id"]: change for change in rows(sql_url, "outbox")}
    failed = [change for change in first.values() if change["attempts"]]
    assert len(failed) == 2  # one batch failed: the tick went no further
    assert all(change["next_attempt_at"] and change["status"] == "pending" for change in failed)

    call(functions, TIMER_FUNCTION, TimerRequest())
    second = rows(sql_url, "outbox")
    # The next tick tried the next batch and left the first one waiting out its delay.
    assert sorted(change["attempts"] for change in second) == [0, 0, 1, 1, 1, 1]


# The deliveries timer


def test_the_deliveries_timer_sends_what_the_outbox_timer_queued(
    functions, settings, sql_url, tmp_path, tenant
):
    from standardwebhooks.webhooks import Webhook as Verifier

    from tests.receivers import receiving

    app = create_app(config_for_tests(sql_url, tmp_path / "instance"))
    config = app.config["TIME_TRACKER"]
    outbound = dataclasses.replace(config.outbound, webhooks_allow_private=True)
    app.config["TIME_TRACKER"] = dataclasses.replace(config, outbound=outbound)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(tenant, 'admin-a', (ADMIN,))}"}
    settings.setenv("SQL_DATABASE_URI", sql_url)
    settings.setenv("WEBHOOKS_ALLOW_PRIVATE", "true")
    try:
        with receiving() as receiver:
            hook = client.post(
                "/webhooks", json={"url": receiver.url, "events": ["*"]}, headers=headers
            ).json
            activity = client.post("/activities", json={"name": "Writing"}, headers=headers).json
            call(functions, DELIVERIES_FUNCTION, TimerRequest())
            assert receiver.received == []  # not queued before the outbox timer ran
            call(functions, TIMER_FUNCTION, TimerRequest())
            call(functions, DELIVERIES_FUNCTION, TimerRequest())
            [request] = receiver.wait_for(1)
            call(functions, DELIVERIES_FUNCTION, TimerRequest(past_due=True))
            assert len(receiver.received) == 1
    finally:
        app.extensions["storage"].engine.dispose()
    payload = Verifier(hook["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "activity.create"
    assert payload["data"]["item"] == activity
    [event] = rows(sql_url, "events")
    assert payload["id"] == event["id"]
