"""Operations: request ids, JSON logs, the access line, /metrics and the security headers."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from commons.data_access_layer.cosmos.changes import CHANGE_TYPE
from commons.data_access_layer.cosmos.documents import timestamp
from commons.data_access_layer.cosmos.unit_of_work import CosmosStorage
from commons.data_access_layer.sql.tables import outbox
from commons.domain.retries import RETRY_DELAYS
from tests.conftest import ADMIN, Caller, make_token
from time_tracker_api import create_app, observability
from time_tracker_api.config import Config


def samples(client: Any, **kwargs: Any) -> dict[tuple[str, tuple], float]:
    answer = client.get("/metrics", **kwargs)
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for sample in family.samples
    }


def requests_total(metrics: dict, method: str, route: str, status: str) -> float:
    labels = tuple(sorted({"method": method, "route": route, "status": status}.items()))
    return metrics.get(("time_tracker_http_requests_total", labels), 0.0)


def test_metrics_count_requests_per_route_template_and_status(client: Any, admin: Caller) -> None:
    before = samples(client)
    created = admin.post("/customers", json={"name": "Counted"})
    assert created.status_code == 201
    for _ in range(2):
        assert admin.get(f"/customers/{created.json['id']}").status_code == 200
    assert admin.get("/no-such-thing").status_code == 404
    after = samples(client)

    rule = "/customers/<record_id:id>"
    assert (
        requests_total(after, "GET", rule, "200") - requests_total(before, "GET", rule, "200") == 2
    )
    assert (
        requests_total(after, "POST", "/customers", "201")
        - requests_total(before, "POST", "/customers", "201")
        == 1
    )
    assert (
        requests_total(after, "GET", "unmatched", "404")
        - requests_total(before, "GET", "unmatched", "404")
        == 1
    )


def test_metrics_are_not_in_the_swagger_document(client: Any) -> None:
    assert "/metrics" not in client.get("/swagger.json").json["paths"]


@pytest.fixture
def token_client(make_client: Any) -> Any:
    return make_client(metrics_token="scrape-secret")


def test_metrics_token_is_required_when_set(token_client: Any) -> None:
    refused = token_client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json["code"] == "unauthorized"
    wrong = token_client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert samples(token_client, headers={"Authorization": "Bearer scrape-secret"})


OUTBOX_GAUGES = (
    "time_tracker_outbox_pending",
    "time_tracker_outbox_parked",
    "time_tracker_outbox_oldest_pending_age_seconds",
)


def outbox_gauges(client: Any) -> tuple[float, float, float]:
    metrics = samples(client)
    pending, parked, age = (metrics[(name, ())] for name in OUTBOX_GAUGES)
    return pending, parked, age


@contextmanager
def a_change_that_cannot_be_recorded(storage: Any, tenant: str) -> Iterator[str]:
    """A change of an hour ago whose audit event cannot be made (a malformed record of it), as
    each backend stores changes; removed afterwards, so that later dispatches meet it no more."""
    change_id = str(uuid.uuid4())
    occurred = datetime.now(UTC) - timedelta(hours=1)
    if isinstance(storage, CosmosStorage):
        customers = storage.database.get_container_client("customer")
        # No user_id: the relay cannot make an event of it.
        customers.create_item(
            {
                "id": change_id,
                "type": CHANGE_TYPE,
                "tenant_id": tenant,
                "container_id": "customer",
                "item_id": "a-customer",
                "action": "create",
                "date": timestamp(occurred),
                "uniqueness_key": f"{CHANGE_TYPE}|{change_id}",
                "running_key": f"{CHANGE_TYPE}|{change_id}",
            }
        )
        try:
            yield change_id
        finally:
            customers.delete_item(change_id, partition_key=tenant)
        return
    row = {
        "id": change_id,
        "tenant_id": tenant,
        "container_id": "customer",
        "item_id": "a-customer",
        "action": "create",
        "user_id": "someone",
        "description": "A malformed change",
        "occurred_at": occurred,
        "status": "pending",
        "attempts": 0,
        "item": "{not json",  # the record going out with the event cannot be read
    }
    with storage.engine.begin() as connection:
        connection.execute(sa.insert(outbox).values(row))
    try:
        yield change_id
    finally:
        with storage.engine.begin() as connection:
            connection.execute(sa.delete(outbox).where(outbox.c.id == change_id))


def test_the_outbox_gauges_follow_a_change_from_pending_to_parked_and_back(
    client: Any, storage: Any, tenant: str
) -> None:
    storage.dispatch_changes()  # the changes of earlier tests are recorded
    pending, parked, _ = outbox_gauges(client)
    with a_change_that_cannot_be_recorded(storage, tenant) as change_id:
        storage.dispatch_changes()  # its first attempt fails: it waits for a retry
        waiting = outbox_gauges(client)
        assert waiting[:2] == (pending + 1, parked)
        assert waiting[2] >= 3600  # it happened an hour ago
        later = datetime.now(UTC)
        for delay in RETRY_DELAYS:  # each retry fails too; after the last one it is parked
            later += delay + timedelta(seconds=1)
            with time_machine.travel(later, tick=False):
                storage.dispatch_changes()
        assert outbox_gauges(client)[:2] == (pending, parked + 1)
        assert change_id in [change["id"] for change in storage.parked_changes()]
        assert storage.retry_parked([change_id]) == 1
        assert outbox_gauges(client)[:2] == (pending + 1, parked)


def test_with_nothing_pending_the_oldest_pending_age_is_zero(make_client: Any) -> None:
    assert outbox_gauges(make_client()) == (0, 0, 0)


def test_a_scrape_leaves_the_outbox_gauges_out_when_the_storage_fails(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    with client.application.extensions["storage"].engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE outbox"))

    with caplog.at_level(logging.WARNING, logger="time_tracker_api.observability"):
        metrics = samples(client)

    assert not any(name in OUTBOX_GAUGES for name, _ in metrics)
    assert any(name == "time_tracker_http_requests_total" for name, _ in metrics)
    assert "The outbox gauges are left out of this scrape" in caplog.text


@pytest.fixture
def log_lines(app: Any) -> Any:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(observability.formatter("json"))
    handler.addFilter(observability.RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_the_access_line_carries_request_id_route_status_and_caller(
    admin: Caller, log_lines: Any
) -> None:
    created = admin.post("/customers", json={"name": "Logged"}).json
    answer = admin.get(f"/customers/{created['id']}")
    request_id = answer.headers["X-Request-ID"]
    access = [
        line
        for line in log_lines()
        if line["logger"] == "time_tracker_api.access" and line["request_id"] == request_id
    ]
    assert len(access) == 1
    line = access[0]
    assert {"time", "level", "message", "duration_ms"} <= set(line)
    assert line["method"] == "GET"
    assert line["route"] == "/customers/<record_id:id>"
    assert line["status"] == 200
    assert line["tenant_id"] == admin.tenant_id
    assert line["user_id"] == admin.user_id


def test_an_unauthenticated_unknown_path_logs_no_route_and_no_caller(
    client: Any, log_lines: Any
) -> None:
    answer = client.get("/nowhere")
    (line,) = [
        line
        for line in log_lines()
        if line["logger"] == "time_tracker_api.access"
        and line["request_id"] == answer.headers["X-Request-ID"]
    ]
    assert line["route"] is None and line["status"] == 401
    assert line["tenant_id"] is None and line["user_id"] is None


def test_a_valid_inbound_request_id_is_kept(client: Any) -> None:
    sent = "abc.DEF_123-" + "x" * 100
    assert client.get("/health", headers={"X-Request-ID": sent}).headers["X-Request-ID"] == sent


@pytest.mark.parametrize("sent", ["", "has space", "x" * 129, "semi;colon"])
def test_a_bad_inbound_request_id_is_replaced(client: Any, sent: str) -> None:
    returned = client.get("/health", headers={"X-Request-ID": sent}).headers["X-Request-ID"]
    assert returned != sent
    assert len(returned) == 32 and int(returned, 16) >= 0


def test_every_answer_carries_the_security_headers(client: Any, admin: Caller) -> None:
    anonymous = client.get("/health")
    assert anonymous.headers["X-Content-Type-Options"] == "nosniff"
    assert anonymous.headers["Referrer-Policy"] == "no-referrer"
    assert anonymous.headers.get("Cache-Control") != "no-store"
    credentialed = admin.get("/customers")
    assert credentialed.headers["X-Content-Type-Options"] == "nosniff"
    assert credentialed.headers["Cache-Control"] == "no-store"


PRODUCTION = {"APP_ENV": "production", "SQL_DATABASE_URI": "sqlite:///:memory:"}


def test_production_refuses_a_short_jwt_secret() -> None:
    config = Config.from_env({**PRODUCTION, "JWT_SECRET_KEY": "short"})
    assert any("JWT_SECRET_KEY" in problem for problem in config.problems)
    with pytest.raises(SystemExit):
        create_app(config)


def test_production_accepts_a_long_jwt_secret() -> None:
    config = Config.from_env({**PRODUCTION, "JWT_SECRET_KEY": "k" * 32})
    assert config.problems == ()
    assert config.log_format == "json"


@pytest.mark.parametrize("value,expected", [("json", "json"), ("TEXT", "text")])
def test_log_format_is_read(value: str, expected: str) -> None:
    assert Config.from_env({"APP_ENV": "development", "LOG_FORMAT": value}).log_format == expected


def test_an_unknown_log_format_is_a_problem() -> None:
    config = Config.from_env({"APP_ENV": "test", "LOG_FORMAT": "xml"})
    assert any(problem.startswith("LOG_FORMAT") for problem in config.problems)


def test_development_defaults_to_text_logs(tmp_path: Any) -> None:
    config = Config.from_env({"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    assert dataclasses.replace(config).log_format == "text"


def test_a_429_counts_as_a_rate_limit_refusal_of_its_route(make_client: Any) -> None:
    client = make_client(rate_limit="2/minute")
    member = Caller(client, f"tenant-{uuid.uuid4()}", f"member-{uuid.uuid4().hex[:8]}")
    labels = (("route", "/time-entries"),)
    before = samples(client).get(("time_tracker_rate_limit_refusals_total", labels), 0.0)

    answers = [member.get("/time-entries").status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    after = samples(client)  # /metrics itself is exempt from the limit
    assert after[("time_tracker_rate_limit_refusals_total", labels)] - before == 1


@pytest.mark.parametrize("secret,warned", [("short", True), ("k" * 32, False)])
def test_development_warns_of_a_jwt_secret_shorter_than_32_bytes(
    tmp_path: Any, caplog: pytest.LogCaptureFixture, secret: str, warned: bool
) -> None:
    config = Config.from_env(
        {"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path), "JWT_SECRET_KEY": secret}
    )
    with caplog.at_level(logging.WARNING, logger="time_tracker_api"):
        app = create_app(config)
    app.extensions["storage"].engine.dispose()
    warning = "JWT_SECRET_KEY is shorter than 32 bytes; production refuses to start with it"
    assert (warning in caplog.messages) is warned


BREEZE_ACCEPTED = b'{"itemsReceived": 1, "itemsAccepted": 1, "errors": []}'


def test_logs_go_to_application_insights_when_its_connection_string_is_set(tmp_path: Any) -> None:
    from tests.processes import clean_env, run_python
    from tests.receivers import receiving

    key = str(uuid.uuid4())
    run = (
        "import logging\n"
        "from time_tracker_api import create_app\n"
        "create_app().test_client().get('/health')\n"
        "logging.getLogger('time_tracker_api').warning('Sent to Application Insights')\n"
    )
    with receiving(statuses=[200], reply=BREEZE_ACCEPTED) as ingestion:
        local = f"http://127.0.0.1:{ingestion.port}/"
        env = clean_env(
            tmp_path / "instance",
            HOME=str(tmp_path),
            APP_ENV="development",
            # Ingestion and live metrics both on the local receiver: nothing leaves the machine.
            APPLICATIONINSIGHTS_CONNECTION_STRING=(
                f"InstrumentationKey={key};IngestionEndpoint={local};LiveEndpoint={local}"
            ),
            APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",
            # Without this the exporter asks Azure's instance metadata endpoint where it runs.
            OTEL_EXPERIMENTAL_RESOURCE_DETECTORS="otel",
        )
        # Exporting is flushed when the process exits.
        finished = run_python("-c", run, env=env)
        assert finished.returncode == 0, finished.stderr
    envelopes = [
        envelope
        for request in ingestion.received
        if request.path == "/v2.1/track"
        for envelope in request.json()
    ]
    messages = [
        envelope["data"]["baseData"]["message"]
        for envelope in envelopes
        if envelope["name"] == "Microsoft.ApplicationInsights.Message"
    ]
    assert "Sent to Application Insights" in messages
    assert {envelope["iKey"] for envelope in envelopes} == {key}


GUNICORN_SECRET = "a-production-secret-for-the-operations-test-0123456789"


@contextmanager
def gunicorn(tmp_path: Path, **variables: str) -> Iterator[tuple[int, Path]]:
    """`docker-entrypoint.sh migrate-and-serve` on a SQLite file of its own: its port, and the
    file gunicorn's stdout and stderr go to."""
    from tests.processes import free_port, wait_until_healthy
    from tests.test_delivery import ENTRYPOINT, SERVER_STARTS_WITHIN, entrypoint_env

    port = free_port()
    env = entrypoint_env(
        tmp_path,
        APP_ENV="production",
        JWT_SECRET_KEY=GUNICORN_SECRET,
        SQL_DATABASE_URI=f"sqlite:///{tmp_path / 'served.db'}",
        PORT=str(port),
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="2",
        **variables,
    )
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(ENTRYPOINT), "migrate-and-serve"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_healthy(server, port, log, SERVER_STARTS_WITHIN)
        yield port, log
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_gunicorn_workers_share_their_metrics(tmp_path: Any) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / "counter_999999.db").write_bytes(b"stale")  # left by an earlier run
    with gunicorn(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(shared)) as (port, _):
        before = scraped(port)
        for _ in range(40):  # a new connection each: the kernel spreads them over both workers
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
                assert answer.status == 200
        after = scraped(port)
        token = make_token("tenant-gunicorn", groups=(ADMIN,), secret=GUNICORN_SECRET)
        created = urllib.request.Request(
            f"http://127.0.0.1:{port}/customers",
            data=b'{"name": "Waiting for the audit log"}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(created, timeout=10) as answer:
            assert answer.status == 201
        # Whichever worker answers, the gauges say what the database holds, not a sum.
        gauges = [scraped(port)[("time_tracker_outbox_pending", ())] for _ in range(6)]
    assert (
        requests_total(after, "GET", "/health", "200")
        - requests_total(before, "GET", "/health", "200")
        == 40
    )
    assert before[("time_tracker_outbox_pending", ())] == 0
    assert gauges == [1] * 6
    assert len(list(shared.glob("counter_*.db"))) >= 2
    assert not (shared / "counter_999999.db").exists()


def test_gunicorns_access_line_ends_with_the_request_id(tmp_path: Any) -> None:
    with gunicorn(tmp_path) as (port, log):
        asked = urllib.request.Request(
            f"http://127.0.0.1:{port}/health", headers={"X-Request-ID": "abc-123"}
        )
        with urllib.request.urlopen(asked, timeout=10) as answer:
            assert answer.headers["X-Request-ID"] == "abc-123"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
            minted = answer.headers["X-Request-ID"]
        deadline = time.monotonic() + 10
        while not {"abc-123", minted} <= set(access_ids(log)) and time.monotonic() < deadline:
            time.sleep(0.05)
    # The id sent is kept, and one the API minted is the one its answer gave.
    assert {"abc-123", minted} <= set(access_ids(log)), log.read_text()


def access_ids(log: Path) -> list[str]:
    """The request ids that end gunicorn's access lines of GET /health (each worker writes its
    own lines, so their order in the file is not the order of the answers)."""
    return [
        line.rsplit(" request_id=", 1)[1]
        for line in log.read_text().splitlines()
        if '"GET /health HTTP/1.1" 200' in line and " request_id=" in line
    ]


def scraped(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
