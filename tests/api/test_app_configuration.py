"""Feature flags from Azure App Configuration, through the real Azure SDK.

The store is a local HTTP server speaking App Configuration's REST API for feature flags
(`GET /kv?key=.appconfig.featureflag/*`) and checking the HMAC-SHA256 signature of every
request, as the service does; tests can change its flags, make it fail or take it down.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import ADMIN, make_token

TENANT = "tenant-app-configuration"
FEATURE_FLAG_PREFIX = ".appconfig.featureflag/"
FEATURE_FLAG_CONTENT_TYPE = "application/vnd.microsoft.appconfig.ff+json;charset=utf-8"
SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
EMPTY_BODY_SHA256 = base64.b64encode(hashlib.sha256(b"").digest()).decode()
MAX_CLOCK_SKEW = timedelta(minutes=15)


def flag(name: str, enabled: bool = True, users: tuple[str, ...] = ()) -> dict[str, Any]:
    """A flag as the Azure portal stores it; with users, a `Microsoft.Targeting` filter."""
    filters = []
    if users:
        audience = {"Users": list(users), "Groups": [], "DefaultRolloutPercentage": 0}
        filters.append({"name": "Microsoft.Targeting", "parameters": {"Audience": audience}})
    return {
        "id": name,
        "description": "",
        "enabled": enabled,
        "conditions": {"client_filters": filters},
    }


class AppConfigurationStore:
    """A local App Configuration store: feature flags by label, HMAC-authenticated."""

    def __init__(self) -> None:
        self.credential = "tt-test-id"
        self.secret = base64.b64encode(secrets.token_bytes(32)).decode()
        # (name, label) -> the flag's definition, or the raw text of a damaged setting
        self.flags: dict[tuple[str, str | None], dict[str, Any] | str] = {}
        self.failure: int | None = None  # a status to answer every request with
        self.requests = 0
        self.rejected = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        self._running = False

    def connection_string(self, secret: str | None = None) -> str:
        return f"Endpoint={self.endpoint};Id={self.credential};Secret={secret or self.secret}"

    def put(self, definition: dict[str, Any], label: str | None = None) -> None:
        self.flags[(definition["id"], label)] = definition

    def start(self) -> None:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self._running = True

    def stop(self) -> None:
        """Close the port: connections are refused from now on."""
        if self._running:
            self._server.shutdown()
            self._server.server_close()
            self._running = False

    def list_feature_flags(self, query: dict[str, list[str]]) -> dict[str, Any]:
        key_filter, label_filter = query.get("key", [""])[0], query.get("label", ["\0"])[0]
        assert key_filter == FEATURE_FLAG_PREFIX + "*", key_filter
        wanted_label = None if label_filter == "\0" else label_filter
        items = [
            {
                "key": FEATURE_FLAG_PREFIX + name,
                "label": label,
                "value": value,
                "content_type": FEATURE_FLAG_CONTENT_TYPE,
                "etag": hashlib.sha256(value.encode()).hexdigest()[:20],
                "last_modified": "2026-03-01T09:30:15+00:00",
                "locked": False,
                "tags": {},
            }
            for (name, label), value in sorted(
                (key, value if isinstance(value, str) else json.dumps(value))
                for key, value in self.flags.items()
                if key[1] == wanted_label
            )
        ]
        selected = query.get("$select", [""])[0]
        if selected:
            items = [{name: item[name] for name in selected.split(",")} for item in items]
        return {"items": items}

    def signature_problem(self, method: str, path_and_query: str, headers: Any) -> str | None:
        """Why the request's HMAC-SHA256 signature is not acceptable, or None."""
        scheme, _, parameters = headers.get("Authorization", "").partition(" ")
        fields = dict(part.partition("=")[::2] for part in parameters.split("&"))
        if scheme != "HMAC-SHA256" or fields.get("Credential") != self.credential:
            return "unknown credential"
        if fields.get("SignedHeaders") != SIGNED_HEADERS:
            return "wrong signed headers"
        date, content_hash = headers.get("x-ms-date", ""), headers.get("x-ms-content-sha256")
        try:
            sent = datetime.strptime(date, "%b, %d %Y %H:%M:%S.%f GMT").replace(tzinfo=UTC)
        except ValueError:
            return "bad x-ms-date"
        if abs(datetime.now(UTC) - sent) > MAX_CLOCK_SKEW:
            return "x-ms-date too far from now"
        if content_hash != EMPTY_BODY_SHA256:
            return "x-ms-content-sha256 does not match the body"
        string_to_sign = f"{method}\n{path_and_query}\n{date};{headers['Host']};{content_hash}"
        key = base64.b64decode(self.secret)
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(
            base64.b64encode(expected).decode(), fields.get("Signature", "")
        ):
            return "invalid signature"
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        store = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                store.requests += 1
                url = urlsplit(self.path)
                problem = store.signature_problem("GET", self.path, self.headers)
                if problem:
                    store.rejected += 1
                    self.answer(401, {"error": problem}, "application/problem+json")
                elif store.failure:
                    self.answer(store.failure, {"error": "failing on purpose"})
                elif url.path != "/kv":
                    self.answer(404, {"error": "not found"})
                else:
                    body = store.list_feature_flags(parse_qs(url.query, keep_blank_values=True))
                    self.answer(200, body, "application/vnd.microsoft.appconfig.kvset+json")

            def answer(
                self, status: int, body: Any, content_type: str = "application/json"
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass  # keep the test output quiet

        return Handler


@pytest.fixture
def store() -> Iterator[AppConfigurationStore]:
    store = AppConfigurationStore()
    store.put(flag("everyone"))
    store.put(flag("nobody", enabled=False))
    store.put(flag("ann-only", users=("ann@example.com",)))
    store.put(flag("staging-only"), label="staging")
    store.start()
    yield store
    store.stop()


@pytest.fixture
def client(make_client: Callable[..., Any], store: AppConfigurationStore) -> Any:
    """The API asking the store again on every request."""
    return make_client(
        app_configuration_connection_string=store.connection_string(),
        feature_flags_refresh_seconds=0,
    )


def headers(user_id: str = "someone", groups: tuple[str, ...] = ()) -> dict[str, str]:
    token = make_token(TENANT, user_id, groups, email=f"{user_id}@example.com")
    return {"Authorization": f"Bearer {token}"}


def toggles(client: Any, user_id: str = "someone") -> dict[str, bool]:
    response = client.get("/feature-toggles", headers=headers(user_id))
    assert response.status_code == 200, response.json
    return response.json


def test_the_flags_of_the_store_are_served_to_each_caller(client, store):
    assert toggles(client, "ann") == {"ann-only": True, "everyone": True, "nobody": False}
    assert toggles(client, "bob") == {"ann-only": False, "everyone": True, "nobody": False}
    assert store.requests > 0
    assert store.rejected == 0  # every request was signed as App Configuration expects


def test_creating_the_app_asks_nothing_of_the_store(make_client, store):
    client = make_client(app_configuration_connection_string=store.connection_string())
    assert store.requests == 0
    toggles(client)
    assert store.requests == 1


def test_flags_are_cached_for_the_refresh_period(make_client, store):
    client = make_client(
        app_configuration_connection_string=store.connection_string(),
        feature_flags_refresh_seconds=3600,
    )
    assert toggles(client)["nobody"] is False
    store.put(flag("nobody"))
    assert toggles(client)["nobody"] is False
    assert store.requests == 1


def test_a_changed_flag_shows_once_the_refresh_period_is_over(client, store):
    assert toggles(client)["nobody"] is False
    store.put(flag("nobody"))
    store.put(flag("newcomer", enabled=False))
    assert toggles(client) == {
        "ann-only": False,
        "everyone": True,
        "newcomer": False,
        "nobody": True,
    }


@pytest.mark.parametrize("status", [500, 503])
def test_a_failing_store_keeps_the_last_known_flags(client, store, status):
    known = toggles(client, "ann")
    store.failure = status
    assert toggles(client, "ann") == known
    assert client.get("/events", headers=headers(groups=(ADMIN,))).status_code == 200
    store.failure = None
    store.put(flag("nobody"))
    assert toggles(client, "ann")["nobody"] is True  # and it recovers


def test_an_unreachable_store_keeps_the_last_known_flags(client, store):
    known = toggles(client, "ann")
    store.stop()
    assert toggles(client, "ann") == known
    assert toggles(client, "bob") == {**known, "ann-only": False}


def test_the_gated_capability_keeps_its_last_known_state_while_the_store_is_down(client, store):
    store.put(flag("audit-log", enabled=False))
    admin = headers("an-admin", groups=(ADMIN,))
    assert client.get("/events", headers=admin).status_code == 403
    store.stop()
    response = client.get("/events", headers=admin)
    assert response.status_code == 403
    assert response.json["code"] == "feature_disabled"


def test_a_store_unreachable_from_the_start_means_no_flags_and_no_failure(make_client, store):
    store.stop()
    client = make_client(
        app_configuration_connection_string=store.connection_string(),
        feature_flags_refresh_seconds=0,
    )
    assert toggles(client) == {}
    assert client.get("/events", headers=headers(groups=(ADMIN,))).status_code == 200


def test_a_wrong_secret_is_refused_by_the_store_and_fails_no_request(make_client, store):
    wrong = base64.b64encode(secrets.token_bytes(32)).decode()
    client = make_client(
        app_configuration_connection_string=store.connection_string(secret=wrong),
        feature_flags_refresh_seconds=0,
    )
    assert toggles(client) == {}
    assert store.rejected >= 1


@pytest.mark.parametrize("damaged", ["{not JSON", '"a string"', "[]"])
def test_a_setting_that_is_not_a_flag_is_skipped(client, store, damaged):
    store.flags[("broken", None)] = damaged
    assert toggles(client) == {"ann-only": False, "everyone": True, "nobody": False}


def test_the_connection_string_wins_over_the_flags_file(make_client, store, tmp_path):
    flags_file = tmp_path / "flags.json"
    flags_file.write_text(json.dumps({"feature_management": {"feature_flags": [flag("local")]}}))
    client = make_client(
        app_configuration_connection_string=store.connection_string(),
        feature_flags_file=str(flags_file),
    )
    assert "local" not in toggles(client)
    assert "everyone" in toggles(client)
