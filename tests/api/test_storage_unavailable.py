"""A storage that cannot be reached answers 503 with Retry-After, never a 500 or driver text."""

from __future__ import annotations

import pytest

from commons.settings import StorageSettings
from tests.conftest import Caller
from tests.processes import free_port
from time_tracker_api import create_app
from time_tracker_api.config import TEST_JWT_SECRET, Config, JwtSettings

UNREACHABLE = {
    "postgresql": lambda port: StorageSettings(
        sql_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/nowhere"
    ),
    "cosmos": lambda port: StorageSettings(
        backend="cosmos",
        cosmos_account_uri=f"https://127.0.0.1:{port}",
        cosmos_master_key="dGVzdA==",
        cosmos_verify_tls=False,
    ),
}


@pytest.fixture(params=sorted(UNREACHABLE))
def stranded(request, tmp_path):
    """An app whose storage is down (nobody listens on its port)."""
    settings = UNREACHABLE[request.param](free_port())
    config = Config(
        environment="test",
        instance_path=tmp_path,
        storage=settings,
        jwt=JwtSettings(secret_key=TEST_JWT_SECRET),
    )
    return create_app(config).test_client()


def assert_unavailable(response):
    assert response.status_code == 503
    assert response.json == {
        "message": "The storage is unavailable; try again shortly",
        "code": "storage_unavailable",
    }
    assert int(response.headers["Retry-After"]) > 0


def test_ready_says_503_when_the_storage_is_down(stranded):
    assert_unavailable(stranded.get("/ready"))
    assert stranded.get("/health").status_code == 200


def test_api_calls_say_503_when_the_storage_is_down(stranded):
    caller = Caller(stranded, "tenant-stranded", "someone")
    assert_unavailable(caller.get("/activities"))
