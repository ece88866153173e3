"""Configuration: production fails fast, development just runs, imports stay quiet."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import (
    REPO_ROOT,
    assert_one_error_line,
    clean_env,
    free_port,
    http_get,
    run_cli,
    run_python,
)
from time_tracker_api.config import DEV_SECRET_FILE, Config

CREATE_APP = "from time_tracker_api import create_app; create_app()"
MISSING = ("JWT_SECRET_KEY", "SQL_DATABASE_URI")
GUNICORN_GIVES_UP_WITHIN = 20
SERVER_STARTS_WITHIN = 30


# Production


@pytest.mark.parametrize(
    "selected",
    [
        pytest.param({"APP_ENV": "production"}, id="APP_ENV=production"),
        pytest.param({}, id="neither APP_ENV nor FLASK_RUN_FROM_CLI"),
    ],
)
def test_production_with_nothing_set_refuses_to_start_naming_what_is_missing(selected, tmp_path):
    result = run_python("-c", CREATE_APP, env=clean_env(tmp_path, **selected))
    assert result.returncode == 3
    line = assert_one_error_line(result, starts_with="Time Tracker cannot start")
    for variable in MISSING:
        assert variable in line
    assert not (tmp_path / DEV_SECRET_FILE).exists()


def test_production_starts_when_the_secret_and_the_database_are_set(tmp_path):
    env = clean_env(
        tmp_path / "instance",
        APP_ENV="production",
        JWT_SECRET_KEY="a-production-secret-for-this-test-0123456789",
        SQL_DATABASE_URI=f"sqlite:///{tmp_path / 'production.db'}",
    )
    result = run_python("-c", CREATE_APP, env=env)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "instance" / DEV_SECRET_FILE).exists()


def test_gunicorn_in_production_with_nothing_set_stops_by_itself_naming_what_is_missing(tmp_path):
    # HOME too: gunicorn keeps its control socket there.
    env = clean_env(tmp_path / "instance", HOME=str(tmp_path))
    command = [
        sys.executable, "-m", "gunicorn", "time_tracker_api:create_app()",
        "-b", f"127.0.0.1:{free_port()}", "-w", "1",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _, stderr = server.communicate(timeout=GUNICORN_GIVES_UP_WITHIN)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()
        pytest.fail(f"gunicorn kept running for {GUNICORN_GIVES_UP_WITHIN} s with nothing set")
    assert server.returncode != 0
    assert "Traceback" not in stderr
    for variable in MISSING:
        assert variable in stderr


# Development


def test_development_creates_a_private_secret_once_and_reuses_it(tmp_path):
    instance = tmp_path / "instance"
    environ = {"APP_ENV": "development", "INSTANCE_PATH": str(instance)}
    first = Config.from_env(environ)
    secret_file = instance / DEV_SECRET_FILE
    assert first.problems == ()
    assert first.jwt.secret_key
    assert secret_file.read_text().strip() == first.jwt.secret_key
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert Config.from_env(environ).jwt.secret_key == first.jwt.secret_key


def test_development_uses_sqlite_in_the_instance_folder_by_default(tmp_path):
    config = Config.from_env({"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    assert config.storage.backend == "sql"
    assert config.storage.sql_url is None
    assert config.default_sql_url == f"sqlite:///{tmp_path / 'time_tracker.db'}"
    assert config.auto_migrate


def test_flask_run_selects_development_without_app_env(tmp_path):
    config = Config.from_env({"FLASK_RUN_FROM_CLI": "true", "INSTANCE_PATH": str(tmp_path)})
    assert config.environment == "development"
    assert config.problems == ()


@pytest.fixture
def flask_run(tmp_path: Path) -> Iterator[tuple[int, dict[str, str], Path]]:
    """`flask run` from the repository root with nothing set; (port, env, log file)."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "FLASK_RUN_PORT": str(port),
    }
    log = tmp_path / "flask.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "flask", "run", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(server, port, log)
        yield port, env, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_healthy(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVER_STARTS_WITHIN
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"flask run exited with {server.returncode}:\n{log.read_text()}")
        try:
            if http_get(port, "/health") == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"/health did not answer 200 within {SERVER_STARTS_WITHIN} s:\n{log.read_text()}")


def test_flask_run_with_nothing_set_serves_the_api_to_a_cli_token(flask_run):
    port, env, log = flask_run
    assert "create_token" in log.read_text()
    minted = run_cli(
        "create_token", "--tenant-id", "t", "--user-id", "u", "--role", "admin", env=env
    )
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert http_get(port, "/activities", {"Authorization": f"Bearer {token}"}) == 200
    assert http_get(port, "/activities") == 401


# Imports


NO_NETWORK_IMPORT = """
import importlib, pkgutil, socket

def refuse(*args, **kwargs):
    raise OSError("network I/O at import time")

socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse

imported = []
for name in ("cli", "wsgi", "commons", "time_tracker_api"):
    module = importlib.import_module(name)
    imported.append(name)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), prefix=name + "."):
        importlib.import_module(info.name)
        imported.append(info.name)
print(len(imported))
"""


def test_importing_the_product_does_no_network_io(tmp_path):
    result = run_python("-c", NO_NETWORK_IMPORT, env=clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 10
    assert not any(tmp_path.iterdir()), "importing must not create files either"


# Limits


@pytest.mark.parametrize(
    "value, expected", [(None, 1024 * 1024), ("2048", 2048), ("  4096 ", 4096)]
)
def test_the_request_body_limit_comes_from_max_request_bytes(value, expected):
    environ = {"APP_ENV": "test"} | ({"MAX_REQUEST_BYTES": value} if value else {})

    config = Config.from_env(environ)

    assert config.max_request_bytes == expected
    assert not config.problems


@pytest.mark.parametrize("value", ["0", "-1", "1MB", "1e6"])
def test_an_unusable_max_request_bytes_is_named_as_a_problem(value):
    config = Config.from_env({"APP_ENV": "test", "MAX_REQUEST_BYTES": value})

    assert any(problem.startswith("MAX_REQUEST_BYTES") for problem in config.problems)


def test_the_rate_limit_is_generous_by_default_and_kept_in_memory():
    config = Config.from_env({"APP_ENV": "test"})

    assert (config.rate_limit, config.rate_limit_storage_uri) == ("1200/minute", "memory://")
    assert not config.problems


@pytest.mark.parametrize(
    "environ, limit, storage",
    [
        ({"RATE_LIMIT": "10/second;1000/hour"}, "10/second;1000/hour", "memory://"),
        ({"RATE_LIMIT": " off "}, None, "memory://"),
        ({"RATE_LIMIT": "OFF"}, None, "memory://"),
        (
            {"RATE_LIMIT_STORAGE_URI": "redis://127.0.0.1:6379"},
            "1200/minute",
            "redis://127.0.0.1:6379",
        ),
    ],
)
def test_the_rate_limit_and_its_storage_come_from_the_environment(environ, limit, storage):
    config = Config.from_env({"APP_ENV": "test", **environ})

    assert (config.rate_limit, config.rate_limit_storage_uri) == (limit, storage)
    assert not config.problems


@pytest.mark.parametrize(
    "name, value",
    [
        ("RATE_LIMIT", "lots"),
        ("RATE_LIMIT", "0/minute"),
        ("RATE_LIMIT", "100"),
        ("RATE_LIMIT_STORAGE_URI", "mongodb://localhost"),
        ("RATE_LIMIT_STORAGE_URI", "127.0.0.1:6379"),
        ("RATE_LIMIT_STORAGE_URI", "redis://"),
    ],
)
def test_an_unusable_rate_limit_setting_is_named_as_a_problem(name, value):
    config = Config.from_env({"APP_ENV": "test", name: value})

    assert any(problem.startswith(f"{name} ") for problem in config.problems)
