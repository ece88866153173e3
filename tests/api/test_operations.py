"""Operations: request ids, JSON logs, the access line, /metrics and the security headers."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import subprocess
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Caller
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


def test_gunicorn_workers_share_their_metrics(tmp_path: Any) -> None:
    from tests.processes import free_port, wait_until_healthy
    from tests.test_delivery import ENTRYPOINT, SERVER_STARTS_WITHIN, entrypoint_env

    port = free_port()
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / "counter_999999.db").write_bytes(b"stale")  # left by an earlier run
    env = entrypoint_env(
        tmp_path,
        APP_ENV="production",
        JWT_SECRET_KEY="a-production-secret-for-the-operations-test-0123456789",
        SQL_DATABASE_URI=f"sqlite:///{tmp_path / 'served.db'}",
        PORT=str(port),
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="2",
        PROMETHEUS_MULTIPROC_DIR=str(shared),
    )
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(ENTRYPOINT), "migrate-and-serve"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_healthy(server, port, log, SERVER_STARTS_WITHIN)
        before = scraped(port)
        for _ in range(40):  # a new connection each: the kernel spreads them over both workers
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
                assert answer.status == 200
        after = scraped(port)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (
        requests_total(after, "GET", "/health", "200")
        - requests_total(before, "GET", "/health", "200")
        == 40
    )
    assert len(list(shared.glob("counter_*.db"))) >= 2
    assert not (shared / "counter_999999.db").exists()


def scraped(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
