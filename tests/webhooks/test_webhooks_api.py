"""The webhooks endpoints on every backend: admins subscribe, read, change and delete; the
secret shows once; URLs on private addresses are refused unless allowed; hostile input is a
clean 400; another tenant's webhooks do not exist for the caller."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from commons.domain.deliveries import EVENT_TYPES
from commons.domain.exceptions import ValidationFailed
from commons.domain.webhooks import (
    ACTIONS,
    CONTAINERS,
    MAX_PATTERNS,
    forbidden_address,
    parse_url,
)
from tests.conftest import Caller
from tests.webhooks.conftest import subscribe
from time_tracker_api.webhooks.webhooks_namespace import EVENT_PATTERN

pytestmark = pytest.mark.also_in_process  # the in-memory storage too

PUBLIC_IP_URL = "https://93.184.215.14/hooks"  # a public address: no lookup needed


def assert_error(response: Any, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert set(body) >= {"message", "code"}, body
    if field is not None:
        assert field in (body.get("errors") or {}), body


def test_an_admin_subscribes_and_sees_the_secret_once(admin: Caller):
    created = admin.post(
        "/webhooks",
        json={
            "url": PUBLIC_IP_URL,
            "events": ["time_entry.*", "project.archive"],
            "description": "Payroll",
        },
    )
    assert created.status_code == 201, created.json
    hook = created.json
    assert hook["url"] == PUBLIC_IP_URL
    assert hook["events"] == ["time_entry.*", "project.archive"]
    assert hook["description"] == "Payroll"
    assert hook["enabled"] is True and hook["disabled_reason"] is None
    assert hook["failing_since"] is None
    assert hook["secret"].startswith("whsec_")
    assert len(base64.b64decode(hook["secret"].removeprefix("whsec_"))) == 24
    listed = admin.get("/webhooks")
    assert listed.status_code == 200
    assert [h["id"] for h in listed.json] == [hook["id"]]
    assert "secret" not in listed.json[0]
    one = admin.get(f"/webhooks/{hook['id']}")
    assert one.status_code == 200 and "secret" not in one.json
    assert one.json == {k: v for k, v in hook.items() if k != "secret"}


def test_each_webhook_has_a_secret_of_its_own(admin: Caller):
    first = subscribe(admin, PUBLIC_IP_URL)
    second = subscribe(admin, PUBLIC_IP_URL)
    assert first["secret"] != second["secret"]
    assert [h["id"] for h in admin.get("/webhooks").json] == [first["id"], second["id"]]


def test_an_admin_changes_a_webhook_and_the_rest_stays(admin: Caller):
    hook = subscribe(admin, PUBLIC_IP_URL, ["*"])
    changed = admin.put(f"/webhooks/{hook['id']}", json={"events": ["customer.*"]})
    assert changed.status_code == 200, changed.json
    assert changed.json["events"] == ["customer.*"]
    assert changed.json["url"] == PUBLIC_IP_URL
    disabled = admin.put(f"/webhooks/{hook['id']}", json={"enabled": False})
    assert disabled.json["enabled"] is False and disabled.json["disabled_reason"]
    enabled = admin.put(f"/webhooks/{hook['id']}", json={"enabled": True})
    assert enabled.json["enabled"] is True and enabled.json["disabled_reason"] is None
    assert admin.get(f"/webhooks/{hook['id']}").json["events"] == ["customer.*"]


def test_deleting_a_webhook_removes_it(admin: Caller):
    hook = subscribe(admin, PUBLIC_IP_URL)
    assert admin.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert_error(admin.get(f"/webhooks/{hook['id']}"), 404)
    assert_error(admin.delete(f"/webhooks/{hook['id']}"), 404)
    assert admin.get("/webhooks").json == []


def test_members_may_not_touch_webhooks(admin: Caller, member: Caller):
    hook = subscribe(admin, PUBLIC_IP_URL)
    path = f"/webhooks/{hook['id']}"
    for response in (
        member.get("/webhooks"),
        member.post("/webhooks", json={"url": "not even a url"}),
        member.get(path),
        member.put(path, json={"enabled": "nonsense"}),
        member.delete(path),
        member.post(f"{path}/ping"),
        member.get(f"{path}/deliveries"),
    ):
        assert_error(response, 403)


def test_another_tenants_webhooks_do_not_exist_for_the_caller(admin: Caller, stranger: Caller):
    hook = subscribe(admin, PUBLIC_IP_URL)
    path = f"/webhooks/{hook['id']}"
    assert stranger.get("/webhooks").json == []
    for response in (
        stranger.get(path),
        stranger.put(path, json={"enabled": False}),
        stranger.delete(path),
        stranger.post(f"{path}/ping"),
        stranger.get(f"{path}/deliveries"),
    ):
        assert_error(response, 404)
    assert admin.get(path).json["enabled"] is True


def test_look_alike_tenants_are_other_tenants(client: Any, admin: Caller):
    hook = subscribe(admin, PUBLIC_IP_URL)
    for tenant in (admin.tenant_id.upper(), f"{admin.tenant_id} ", admin.tenant_id + "\u0301"):
        other = Caller(client, tenant, admin.user_id, admin.groups)
        assert other.get("/webhooks").json == []
        assert_error(other.get(f"/webhooks/{hook['id']}"), 404)


def test_an_id_in_capitals_is_the_same_webhook_and_a_non_uuid_none(admin: Caller):
    hook = subscribe(admin, PUBLIC_IP_URL)
    assert admin.get(f"/webhooks/{hook['id'].upper()}").json["id"] == hook["id"]
    assert_error(admin.get(f"/webhooks/{uuid.uuid4()}"), 404)
    assert_error(admin.get("/webhooks/not-a-uuid"), 404)
    assert_error(admin.get(f"/webhooks/{hook['id'][:-1]}\u00e9"), 404)


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/hooks",  # plain http
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://172.16.5.4/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[fd00:ec2::254]/hooks",
        "https://0.0.0.0/hooks",
        "https://user:password@93.184.215.14/hooks",
        "https://93.184.215.14/hooks#fragment",
        "https://hooks.invalid/hooks",  # does not resolve
        "ftp://93.184.215.14/hooks",
        "/relative/path",
        "",
    ],
)
def test_urls_that_are_not_public_https_are_refused(admin: Caller, url: str):
    assert_error(admin.post("/webhooks", json={"url": url, "events": ["*"]}), 400, "url")
    hook = subscribe(admin, PUBLIC_IP_URL)
    assert_error(admin.put(f"/webhooks/{hook['id']}", json={"url": url}), 400, "url")
    assert admin.get(f"/webhooks/{hook['id']}").json["url"] == PUBLIC_IP_URL


def test_private_urls_are_accepted_when_allowed(admin: Caller, private_webhooks: None):
    hook = subscribe(admin, "http://127.0.0.1:9/hooks")
    assert hook["url"] == "http://127.0.0.1:9/hooks"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"events": ["*"]}, "url"),
        ({"url": PUBLIC_IP_URL}, "events"),
        ({"url": 12, "events": ["*"]}, "url"),
        ({"url": [PUBLIC_IP_URL], "events": ["*"]}, "url"),
        ({"url": PUBLIC_IP_URL + "/\x00", "events": ["*"]}, "url"),
        ({"url": PUBLIC_IP_URL + "/ a", "events": ["*"]}, "url"),
        ({"url": "https://" + "a" * 2000 + ".example/", "events": ["*"]}, "url"),
        ({"url": PUBLIC_IP_URL, "events": []}, "events"),
        ({"url": PUBLIC_IP_URL, "events": "*"}, "events"),
        ({"url": PUBLIC_IP_URL, "events": [7]}, "events"),
        ({"url": PUBLIC_IP_URL, "events": ["time_entry"]}, "events"),
        ({"url": PUBLIC_IP_URL, "events": ["time_entries.*"]}, "events"),
        ({"url": PUBLIC_IP_URL, "events": ["time_entry.explode"]}, "events"),
        ({"url": PUBLIC_IP_URL, "events": ["TIME_ENTRY.*"]}, "events"),
        ({"url": PUBLIC_IP_URL, "events": ["customer.stop"]}, "events"),  # no such event
        ({"url": PUBLIC_IP_URL, "events": ["user.delete"]}, "events"),
        ({"url": PUBLIC_IP_URL, "events": ["*"] * (MAX_PATTERNS + 1)}, "events"),
        ({"url": PUBLIC_IP_URL, "events": ["*"], "description": 5}, "description"),
        ({"url": PUBLIC_IP_URL, "events": ["*"], "description": "x" * 501}, "description"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(admin: Caller, body: dict[str, Any], field: str):
    assert_error(admin.post("/webhooks", json=body), 400, field)
    assert admin.get("/webhooks").json == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"url": "https://93.184.215.14/\\ud800", "events": ["*"]}',  # a lone surrogate
        b'{"url": "https://93.184.215.14/\xff", "events": ["*"]}',  # invalid UTF-8
        b'{"url": "https://93.184.215.14/", "events": ["*"], "description": "\\u0000"}',
        b"[" * 100 + b"]" * 100,  # deep JSON
        b'{"url": "https://93.184.215.14/", "events": ["*"]',  # cut short
        b'"just a string"',
    ],
)
def test_hostile_bodies_are_a_clean_400(admin: Caller, raw: bytes):
    response = admin.post("/webhooks", data=raw, content_type="application/json")
    assert_error(response, 400)


def test_an_oversized_body_is_a_413(admin: Caller):
    raw = (
        b'{"url": "https://93.184.215.14/", "events": ["*"], "description": "'
        + b"x" * (2 * 1024 * 1024)
        + b'"}'
    )
    assert_error(admin.post("/webhooks", data=raw, content_type="application/json"), 413)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": None}, "enabled"),
        ({"events": None}, "events"),
        ({"url": None}, "url"),
        ({"events": ["nope"]}, "events"),
    ],
)
def test_bad_changes_are_a_400_and_change_nothing(
    admin: Caller, change: dict[str, Any], field: str
):
    hook = subscribe(admin, PUBLIC_IP_URL, ["customer.*"])
    assert_error(admin.put(f"/webhooks/{hook['id']}", json=change), 400, field)
    assert admin.get(f"/webhooks/{hook['id']}").json["events"] == ["customer.*"]


@pytest.mark.parametrize(
    "query", ["start=-1", "start=x", "length=0", "length=501", "start=99999999999999999999"]
)
def test_bad_paging_of_deliveries_is_a_400(admin: Caller, query: str):
    hook = subscribe(admin, PUBLIC_IP_URL)
    assert_error(admin.get(f"/webhooks/{hook['id']}/deliveries?{query}"), 400)


def test_a_webhook_without_attempts_has_an_empty_page(admin: Caller):
    hook = subscribe(admin, PUBLIC_IP_URL)
    page = admin.get(f"/webhooks/{hook['id']}/deliveries")
    assert page.status_code == 200
    assert page.json == {"records_total": 0, "data": []}


def test_a_ping_is_queued_at_once(admin: Caller):
    hook = subscribe(admin, PUBLIC_IP_URL)
    ping = admin.post(f"/webhooks/{hook['id']}/ping")
    assert ping.status_code == 202, ping.json
    assert ping.json["type"] == "webhook.ping"
    uuid.UUID(ping.json["event_id"])


def test_the_swagger_document_describes_the_webhooks(client: Any):
    document = client.get("/swagger.json").json
    paths = document["paths"]
    assert set(paths["/webhooks"]) >= {"get", "post"}
    assert set(paths["/webhooks/{id}"]) >= {"get", "put", "delete"}
    assert "post" in paths["/webhooks/{id}/ping"]
    assert "get" in paths["/webhooks/{id}/deliveries"]
    definitions = document["definitions"]
    assert "secret" in str(definitions["CreatedWebhook"])
    assert "secret" not in definitions["Webhook"]["properties"]
    assert {"event_id", "response_status", "duration_ms", "error", "next_attempt_at"} <= set(
        definitions["DeliveryAttempt"]["properties"]
    )
    events = definitions["WebhookInput"]["properties"]["events"]
    assert all(f"`{type_}`" in events["description"] for type_ in EVENT_TYPES)
    assert events["items"]["pattern"] == EVENT_PATTERN
    assert set(definitions["WebhookInput"]["required"]) == {"url", "events"}
    assert "required" not in definitions["WebhookUpdate"]  # a change names what changes
    assert definitions["Webhook"]["properties"]["failing_since"].get("x-nullable") is True
    # What a receiver gets: documented as a model, its type one of the types that occur.
    event = definitions["WebhookEvent"]
    assert set(event["properties"]) == {"id", "type", "timestamp", "data"}
    assert event["properties"]["type"]["enum"] == list(EVENT_TYPES)
    assert event["properties"]["data"] == {"$ref": "#/definitions/WebhookEventData"}
    data = definitions["WebhookEventData"]["properties"]
    assert set(data) == {
        "tenant_id",
        "user_id",
        "item_id",
        "container_id",
        "action",
        "description",
        "item",
    }
    assert data["container_id"]["enum"] == list(CONTAINERS)
    assert data["action"]["enum"] == list(ACTIONS)
    assert data["item"].get("x-nullable") is True
    assert "WebhookEvent" in paths["/webhooks/{id}/ping"]["post"]["description"]
    assert "WebhookEvent" in paths["/webhooks/{id}/deliveries"]["get"]["description"]
    tag = next(tag for tag in document["tags"] if tag["name"] == "webhooks")
    assert "webhook-signature" in tag["description"]
    assert "WebhookEvent" in tag["description"] and "`time_entry.restart`" in tag["description"]


@pytest.mark.parametrize(
    "address, forbidden",
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("169.254.169.254", True),
        ("::1", True),
        ("fe80::1%eth0", True),
        ("::ffff:10.0.0.1", True),
        ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
        ("224.0.0.1", True),
        ("93.184.215.14", False),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", False),
    ],
)
def test_forbidden_addresses(address: str, forbidden: bool):
    assert forbidden_address(address) is forbidden


def test_parse_url_refuses_control_characters_and_bad_ports():
    for url in ("https://a.example:99999/", "https://a.example/\u200b", "https://\t/"):
        with pytest.raises(ValidationFailed):
            parse_url(url, allow_private=False)


def test_a_change_names_only_what_changes(admin: Caller):
    hook = subscribe(admin, PUBLIC_IP_URL, ["customer.*"])
    changed = admin.put(f"/webhooks/{hook['id']}", json={"description": "Only this"})
    assert changed.status_code == 200, changed.json
    assert changed.json["events"] == ["customer.*"]
    assert changed.json["description"] == "Only this"
