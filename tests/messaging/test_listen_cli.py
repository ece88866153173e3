"""`python cli.py events listen`, run as a process against the real RabbitMQ."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pika
import pytest

from commons.messaging.amqp import AmqpPublisher, tenant_binding
from tests.messaging.test_amqp import UNREACHABLE, event
from tests.processes import REPO_ROOT, TIMEOUT, assert_one_error_line, clean_env, run_cli


@pytest.fixture
def env(tmp_path: Path, amqp_url: str, amqp_exchange: str) -> dict[str, str]:
    return clean_env(tmp_path / "instance", AMQP_URL=amqp_url, AMQP_EXCHANGE=amqp_exchange)


def start_listening(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`cli.py events listen *args`, returned once it says it is bound."""
    process = subprocess.Popen(
        [sys.executable, "cli.py", "events", "listen", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    assert line.startswith("listening on "), line + process.stderr.read()
    return process


def printed(process: subprocess.Popen[str]) -> list[dict]:
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, stderr
    return [json.loads(line) for line in stdout.splitlines()]


def test_listen_prints_each_matching_event_as_one_json_line(env, amqp_url, amqp_exchange):
    process = start_listening("--bind", "*.time_entry.*", "--count", "2", env=env)
    try:
        wanted = [event("acme.eu", "time_entry", "start"), event("t-2", "time_entry", "stop")]
        with AmqpPublisher(amqp_url, amqp_exchange) as publisher:
            publisher.publish([event("acme.eu", "project", "create"), *wanted])
        lines = printed(process)
    finally:
        process.kill()
    assert [line["message_id"] for line in lines] == [m.message_id for m in wanted]
    assert lines[0]["routing_key"] == "acme%2Eeu.time_entry.start"
    assert lines[0]["type"] == "time_entry.start"
    assert lines[0]["body"] == json.loads(wanted[0].body)
    assert lines[0]["body"]["data"]["tenant_id"] == "acme.eu"


def test_listen_binds_every_pattern_given_and_the_url_option_wins(env, amqp_url, amqp_exchange):
    env = {**env, "AMQP_URL": UNREACHABLE}
    process = start_listening(
        "--bind", tenant_binding("t-1"), "--bind", "*.customer.*", "--count", "2",
        "--amqp-url", amqp_url, env=env,
    )  # fmt: skip
    try:
        wanted = [event("t-1", "project", "create"), event("t-2", "customer", "archive")]
        with AmqpPublisher(amqp_url, amqp_exchange) as publisher:
            publisher.publish([event("t-2", "project", "create"), *wanted])
        lines = printed(process)
    finally:
        process.kill()
    assert [line["message_id"] for line in lines] == [m.message_id for m in wanted]


def test_listen_with_a_queue_keeps_it_durable_for_the_next_run(env, amqp_url, amqp_exchange):
    queue = f"tt-test.{uuid.uuid4().hex[:12]}"
    try:
        process = start_listening("--queue", queue, "--count", "1", env=env)
        try:
            first = event("t-1", "time_entry", "stop")
            with AmqpPublisher(amqp_url, amqp_exchange) as publisher:
                publisher.publish([first])
            assert [line["message_id"] for line in printed(process)] == [first.message_id]
            # Nobody listens now: the queue keeps what arrives for the next run.
            second = event("t-1", "time_entry", "start")
            with AmqpPublisher(amqp_url, amqp_exchange) as publisher:
                publisher.publish([second])
        finally:
            process.kill()
        process = start_listening("--queue", queue, "--count", "1", env=env)
        try:
            assert [line["message_id"] for line in printed(process)] == [second.message_id]
        finally:
            process.kill()
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        connection.channel().queue_delete(queue)
        connection.close()


def test_listen_without_a_broker_url_says_what_to_set_and_exits_2(tmp_path):
    result = run_cli("events", "listen", env=clean_env(tmp_path / "instance"))
    line = assert_one_error_line(result, starts_with="cli.py: error:")
    assert "AMQP_URL" in line
    assert result.returncode == 2


def test_listen_to_an_unreachable_broker_names_it_without_the_password_and_exits_2(tmp_path):
    env = clean_env(tmp_path / "instance", AMQP_URL="amqp://guest:s3cret@127.0.0.1:1/")
    result = run_cli("events", "listen", env=env)
    line = assert_one_error_line(result, starts_with="cli.py: error: cannot reach")
    assert "amqp://guest@127.0.0.1:1/" in line
    assert "s3cret" not in result.stderr
    assert result.returncode == 2


def test_listen_help_names_its_options(tmp_path):
    result = run_cli("events", "listen", "--help", env=clean_env(tmp_path / "instance"))
    assert result.returncode == 0
    for option in ("--bind", "--queue", "--count", "--amqp-url"):
        assert option in result.stdout
