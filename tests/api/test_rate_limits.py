"""Rate limits: a budget per user (per client address without a valid token), told in headers."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
import redis
import time_machine

from tests.backends import unavailable
from tests.conftest import Caller

LIMIT = 3
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _member(client, tenant=None):
    return Caller(client, tenant or f"tenant-{uuid.uuid4()}", f"member-{uuid.uuid4().hex[:8]}")


def _spend(call, times=LIMIT):
    return [call("/time-entries") for _ in range(times)]


def test_every_answer_tells_the_limit_and_what_is_left(make_client):
    member = _member(make_client(rate_limit=f"{LIMIT}/minute"))

    answers = _spend(member.get)

    assert [answer.status_code for answer in answers] == [200] * LIMIT
    assert [answer.headers["RateLimit-Limit"] for answer in answers] == [str(LIMIT)] * LIMIT
    assert [answer.headers["RateLimit-Remaining"] for answer in answers] == ["2", "1", "0"]
    assert all(0 < int(answer.headers["RateLimit-Reset"]) <= 60 for answer in answers)
    assert "Retry-After" not in answers[0].headers


def test_one_call_over_the_limit_is_429_rate_limited_with_retry_after(make_client):
    member = _member(make_client(rate_limit=f"{LIMIT}/minute"))
    _spend(member.get)

    answer = member.get("/time-entries")

    assert answer.status_code == 429
    assert answer.get_json()["code"] == "rate_limited"
    assert set(answer.get_json()) <= {"message", "code", "errors"}
    assert 0 < int(answer.headers["Retry-After"]) <= 60
    assert answer.headers["RateLimit-Remaining"] == "0"


def test_the_budget_is_shared_by_every_endpoint(make_client):
    member = _member(make_client(rate_limit=f"{LIMIT}/minute"))
    member.get("/time-entries")
    member.get("/projects")
    member.get("/customers")

    assert member.get("/activities").status_code == 429


def test_another_user_of_the_same_tenant_keeps_a_budget_of_their_own(make_client):
    client = make_client(rate_limit=f"{LIMIT}/minute")
    spent = _member(client)
    _spend(spent.get, LIMIT + 1)

    answer = _member(client, spent.tenant_id).get("/time-entries")

    assert answer.status_code == 200
    assert answer.headers["RateLimit-Remaining"] == str(LIMIT - 1)


def test_calls_without_a_valid_token_are_limited_per_client_address(make_client):
    client = make_client(rate_limit=f"{LIMIT}/minute")
    refused = [
        client.get("/time-entries"),
        client.get("/time-entries", headers={"Authorization": "Bearer not-a-token"}),
        client.get("/time-entries", environ_base={"REMOTE_ADDR": "127.0.0.1"}),
    ]

    over = client.get("/time-entries")
    elsewhere = client.get("/time-entries", environ_base={"REMOTE_ADDR": "192.0.2.7"})

    assert [answer.status_code for answer in refused] == [401] * LIMIT
    assert over.status_code == 429 and over.get_json()["code"] == "rate_limited"
    assert elsewhere.status_code == 401
    assert elsewhere.headers["RateLimit-Remaining"] == str(LIMIT - 1)
    # A user's budget is not the address's.
    assert _member(client).get("/time-entries").status_code == 200


@pytest.mark.parametrize("path", ["/health", "/ready", "/", "/swagger.json", "/swaggerui/"])
def test_the_probes_and_the_docs_are_exempt(make_client, path):
    client = make_client(rate_limit="1/minute")

    answers = [client.get(path) for _ in range(3)]

    assert all(answer.status_code != 429 for answer in answers)
    assert all("RateLimit-Limit" not in answer.headers for answer in answers)


def test_the_budget_comes_back_when_the_window_is_over(make_client):
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        member = _member(make_client(rate_limit=f"{LIMIT}/minute"))
        _spend(member.get)
        assert member.get("/time-entries").status_code == 429

        traveller.shift(30)
        assert member.get("/time-entries").status_code == 429
        traveller.shift(31)
        answer = member.get("/time-entries")

    assert answer.status_code == 200
    assert answer.headers["RateLimit-Remaining"] == str(LIMIT - 1)


def test_a_limit_switched_off_sends_no_headers_and_never_refuses(make_client):
    member = _member(make_client(rate_limit=None))

    answers = _spend(member.get, 5)

    assert [answer.status_code for answer in answers] == [200] * 5
    assert "RateLimit-Limit" not in answers[-1].headers


@pytest.fixture
def redis_url():
    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.RedisError as error:
        unavailable("redis", error)
    finally:
        connection.close()
    return REDIS_URL


def test_apps_on_one_redis_share_one_budget(make_client, redis_url):
    shared = {
        "rate_limit": f"{LIMIT}/minute",
        "rate_limit_storage_uri": redis_url,
        "rate_limit_key_prefix": f"test-{uuid.uuid4().hex}",
    }
    first, second = make_client(**shared), make_client(**shared)
    on_first = _member(first)
    on_second = Caller(second, on_first.tenant_id, on_first.user_id)

    answers = [on_first.get("/time-entries"), on_second.get("/time-entries")]
    answers.append(on_first.get("/time-entries"))
    over = on_second.get("/time-entries")

    assert [answer.headers["RateLimit-Remaining"] for answer in answers] == ["2", "1", "0"]
    assert over.status_code == 429 and over.get_json()["code"] == "rate_limited"
    assert int(over.headers["Retry-After"]) > 0


def test_the_swagger_document_declares_429_and_the_headers(make_client):
    document = make_client().get("/swagger.json").get_json()

    listing = document["paths"]["/time-entries"]["get"]["responses"]
    probe = document["paths"]["/health"]["get"]["responses"]

    assert listing["429"]["schema"] == {"$ref": "#/definitions/Error"}
    assert "Retry-After" in listing["429"]["headers"]
    assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
        listing["200"]["headers"]
    )
    assert "429" not in probe and "headers" not in probe["200"]


def test_an_unreachable_redis_leaves_each_app_counting_in_its_own_memory(make_client):
    # Port 1 on the loopback refuses every connection.
    member = _member(
        make_client(rate_limit="2/minute", rate_limit_storage_uri="redis://127.0.0.1:1")
    )

    answers = _spend(member.get)

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[0].headers["RateLimit-Remaining"] == "1"


def test_browsers_on_an_allowed_origin_may_read_the_headers(make_client):
    origin = "https://time-tracker.example.com"
    client = make_client(rate_limit=f"{LIMIT}/minute", cors_origins=(origin,))

    answer = _member(client).get("/time-entries", headers={"Origin": origin})

    exposed = {name.strip() for name in answer.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"} <= exposed
