"""Hostile and odd input on every backend: always a 4xx with the JSON error body, never stored.

Token claims of the wrong type, NUL characters, lone surrogates, invalid UTF-8, deep JSON,
oversized bodies, out-of-range dates and numbers, clients that build URLs by hand, and the
order of authorization and validation.
"""

from __future__ import annotations

import base64
import json
import socket
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests

from commons.domain.pagination import MAX_CURSOR_LENGTH, Position, encode_cursor
from tests.conftest import ADMIN, Caller, claims, hs256
from time_tracker_api.validation import MAX_JSON_DEPTH, MAX_QUERY_INTEGER

MIB = 1024 * 1024


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is `status` with the one error body; its JSON is returned."""
    assert response.status_code == status, (response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/json"
    body = response.json
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code, body
    return body


def names(caller: Caller, path: str = "/customers") -> list[str]:
    response = caller.get(path)
    assert response.status_code == 200, response.json
    return [record["name"] for record in response.json]


def raw_post(caller: Caller, path: str, data: bytes, method: str = "post") -> Any:
    send = getattr(caller, method)
    return send(path, data=data, headers={"Content-Type": "application/json"})


@pytest.fixture
def customer(admin: Caller) -> dict[str, Any]:
    response = admin.post("/customers", json={"name": "Acme"})
    assert response.status_code == 201, response.json
    return response.json


# Token claims ---------------------------------------------------------------------------------


def bearer(**overrides: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {hs256(claims(**overrides))}"}


@pytest.mark.parametrize(
    "claim, value",
    [
        ("roles", [{"x": 1}]),
        ("roles", "time-tracker-admin"),
        ("extension_role", ["time-tracker-admin"]),
        ("given_name", 5),
        ("family_name", {"a": 1}),
        ("name", ["Ada"]),
        ("email", 5),
        ("emails", [5]),
        ("emails", "ada@example.com"),
        ("preferred_username", True),
        ("oid", 42),
        ("tid", ["tenant"]),
    ],
)
def test_a_claim_of_the_wrong_type_is_401_naming_it(client, claim, value):
    response = client.get("/users", headers=bearer(**{claim: value}))

    body = assert_error(response, 401, "invalid_token")
    assert repr(claim) in body["message"]


@pytest.mark.parametrize(
    "claim, value, problem",
    [
        ("name", "Ada\u0000Lovelace", "must not contain NUL characters"),
        ("email", "ada\u0000@example.com", "must not contain NUL characters"),
        ("tid", "tenant\u0000x", "must not contain NUL characters"),
        ("oid", "user\u0000x", "must not contain NUL characters"),
        ("roles", ["time-tracker-admin\u0000"], "must not contain NUL characters"),
        ("given_name", "\ud800", "must not contain lone surrogates"),
    ],
)
def test_a_claim_with_nul_or_a_lone_surrogate_is_400_like_any_input(
    client, admin, claim, value, problem
):
    claims = {"tid": admin.tenant_id, claim: value}

    response = client.get("/users", headers=bearer(**claims))

    body = assert_error(response, 400, "validation_error")
    assert body["errors"] == {claim: problem}
    assert [user["id"] for user in admin.get("/users").json] == [admin.user_id]


def test_an_email_claim_over_320_characters_is_refused(client):
    email = f"{'a' * 309}@example.com"  # 321 characters

    response = client.get("/users", headers=bearer(email=email))

    body = assert_error(response, 401, "invalid_token")
    assert "320" in body["message"]


def test_an_email_claim_of_320_characters_is_kept_whole(client):
    user, email = f"user-{uuid.uuid4()}", f"{'é' * 308}@example.com"

    response = client.get(f"/users/{user}", headers=bearer(oid=user, email=email))

    assert response.status_code == 200, response.json
    assert response.json["email"] == email


def test_a_name_claim_over_200_characters_is_shortened_to_200(client):
    user, name = f"user-{uuid.uuid4()}", "Ünïcödé " * 40

    response = client.get(f"/users/{user}", headers=bearer(oid=user, name=name))

    assert response.status_code == 200, response.json
    assert response.json["name"] == name[:200]


# NUL characters, lone surrogates, invalid UTF-8 -------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ('{"name": "Ac\\u0000me"}', "name"),
        ('{"name": "Acme", "description": "\\u0000"}', "description"),
        ('{"name\\u0000": "Acme"}', "body"),
        ('{"name": "\\ud800"}', "body"),
        ('{"name": "Acme", "description": "x\\udc00y"}', "body"),
    ],
    ids=[
        "NUL in a value",
        "NUL alone",
        "NUL in a key",
        "lone high surrogate",
        "lone low surrogate",
    ],
)
def test_nul_characters_and_lone_surrogates_in_a_body_are_400_and_nothing_is_stored(
    admin, body, field
):
    response = raw_post(admin, "/customers", body.encode())

    error = assert_error(response, 400, "validation_error")
    assert field in error["errors"]
    assert names(admin) == []


def test_nul_in_a_nested_string_is_400(member, customer):
    body = {"project_id": str(uuid.uuid4()), "activity_id": str(uuid.uuid4())}
    body["technologies"] = ["python", "sql\u0000"]

    response = member.post("/time-entries", json=body)

    error = assert_error(response, 400, "validation_error")
    assert error["errors"] == {"technologies": "must not contain NUL characters"}


@pytest.mark.parametrize(
    "raw",
    [b'{"name": "Ac\xffme"}', b'{"name": "\xed\xa0\x80"}', b'{"name": "\xc3"}'],
    ids=["stray byte", "encoded surrogate", "truncated sequence"],
)
def test_a_body_that_is_not_utf8_is_400_and_nothing_is_stored(admin, raw):
    response = raw_post(admin, "/customers", raw)

    error = assert_error(response, 400, "validation_error")
    assert error["errors"] == {"body": "must be UTF-8"}
    assert names(admin) == []


def test_an_update_with_nul_changes_nothing(admin, customer):
    response = raw_post(admin, f"/customers/{customer['id']}", b'{"name": "x\\u0000"}', "put")

    assert_error(response, 400, "validation_error")
    assert names(admin) == ["Acme"]


@pytest.mark.parametrize(
    "path",
    [
        "/users/a%00b",
        "/customers/a%00b",
        "/time-entries/%00",
        "/time-entries/running%00",
        "/users/%FF",
        "/users/%ED%A0%80",
    ],
)
def test_a_path_with_nul_or_invalid_utf8_is_400(served, member, path):
    # Over HTTP: the test client would replace invalid UTF-8 before the app sees it.
    response = requests.get(f"{served}{path}", headers=member.headers(), timeout=10)

    assert response.status_code == 400, response.text[:300]
    assert response.json()["code"] == "validation_error"
    assert "path" in response.json()["errors"]


@pytest.mark.parametrize(
    "path, query, field",
    [
        ("/time-entries", "uri=a%00b", "uri"),
        ("/time-entries", "timezone=UTC%00", "timezone"),
        ("/time-entries", "user_id=%00", "user_id"),
        ("/customers", "status=active%00", "status"),
        ("/time-entries", "uri=%FF", "uri"),
        ("/time-entries", "uri=%ED%A0%80", "uri"),
        ("/time-entries", "u%FFri=x", "query"),
        ("/events", "item_id=%00", "item_id"),
    ],
)
def test_a_query_value_with_nul_or_invalid_utf8_is_400(admin, path, query, field):
    response = admin.get(f"{path}?{query}")

    error = assert_error(response, 400, "validation_error")
    assert field in error["errors"]


# Deep JSON and oversized bodies ----------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 2000, 100_000])
def test_json_nested_too_deeply_is_400(admin, depth):
    nested = "[" * depth + "]" * depth
    body = f'{{"name": "Acme", "description": {nested}}}'

    response = raw_post(admin, "/customers", body.encode())

    error = assert_error(response, 400, "validation_error")
    assert error["errors"] == {"body": f"must be nested at most {MAX_JSON_DEPTH} levels deep"}
    assert names(admin) == []


def test_a_body_over_the_limit_is_413(admin):
    description = "x" * MIB

    response = admin.post("/customers", json={"name": "Acme", "description": description})

    error = assert_error(response, 413, "payload_too_large")
    assert error["errors"] == {"body": f"must be at most {MIB} bytes"}
    assert names(admin) == []


def test_the_body_limit_is_configurable(make_client, tenant):
    client = make_client(max_request_bytes=100)
    caller = Caller(client, tenant, "admin", (ADMIN,))

    small = caller.post("/customers", json={"name": "Small"})
    large = caller.post("/customers", json={"name": "Large", "description": "x" * 100})

    assert small.status_code == 201, small.json
    assert_error(large, 413, "payload_too_large")


def http_exchange(base_url: str, request: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes to the served app; the bytes it answers until it closes or goes quiet."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 60:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            pass
    return answer


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(served, admin):
    # The headers alone promise 100 MB that never come: only a server that judges the
    # Content-Length header before reading can answer.
    request = (
        "POST /customers HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Bearer {admin.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * MIB}\r\n\r\n{{"
    ).encode()

    answer = http_exchange(served, request)

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"413", answer[:200]
    assert b'"code":"payload_too_large"' in rest.replace(b" ", b"")


def test_a_chunked_body_over_the_limit_is_413(served, admin):
    def chunks():
        yield b'{"name": "Acme", "description": "'
        for _ in range(2 * 16):
            yield b"x" * (MIB // 16)
        yield b'"}'

    response = requests.post(
        f"{served}/customers",
        data=chunks(),
        headers={**admin.headers(), "Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 413, response.text[:300]
    assert response.json()["code"] == "payload_too_large"
    assert names(admin) == []


# Dates and numbers out of range ----------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("start_date", "0001-01-01T00:00:00+01:00"),
        ("start_date", "1899-12-31T23:59:59Z"),
        ("end_date", "9999-12-31T23:59:59-01:00"),
        ("start_date", "9999-12-31T23:59:59Z"),
        ("start_date", "2026-02-30T10:00:00Z"),
    ],
)
def test_a_date_time_out_of_range_in_a_body_is_400(member, customer, field, value):
    body = {"project_id": str(uuid.uuid4()), "activity_id": str(uuid.uuid4()), field: value}
    if field == "end_date":
        body["start_date"] = "2026-03-10T09:00:00Z"

    response = member.post("/time-entries", json=body)

    error = assert_error(response, 400, "validation_error")
    assert field in error["errors"]


@pytest.mark.parametrize(
    "path, query",
    [
        ("/time-entries", "limit=10000000000000000000000000000000"),
        ("/time-entries", "limit=1e31"),
        ("/time-entries", f"limit={MAX_QUERY_INTEGER + 1}"),
        ("/time-entries/paginated", f"start={2**63}"),
        ("/time-entries/paginated", f"length={2**63}"),
        ("/time-entries", f"month={2**63}"),
        ("/time-entries", f"year={2**63}"),
        ("/time-entries", "year=9999"),
        ("/time-entries", f"timezone_offset={2**63}"),
        ("/time-entries", "timezone_offset=" + "9" * 5000),
        ("/time-entries/summary", f"time_offset={-(2**63)}"),
        ("/time-entries", "start_date=0001-01-01T00:00:00%2B01:00"),
        ("/time-entries", "end_date=9999-12-31T23:59:59-01:00"),
        ("/time-entries", "start_date=99999-01-01"),
        ("/events", f"start={2**63}"),
        ("/events", "start_date=0001-01-01T00:00:00%2B01:00"),
    ],
)
def test_numbers_and_dates_out_of_range_in_a_query_are_400(admin, path, query):
    response = admin.get(f"{path}?{query}")

    error = assert_error(response, 400, "validation_error")
    assert error["errors"]


@pytest.mark.parametrize("path", ["/time-entries", "/time-entries/paginated", "/events"])
def test_the_largest_accepted_counts_work(admin, path):
    parameter = "start" if path != "/time-entries" else "limit"

    response = admin.get(f"{path}?{parameter}={MAX_QUERY_INTEGER}")

    assert response.status_code == 200, response.json


@pytest.mark.parametrize("value", ["1e400", "123456789012345678901234567890", "-1e400"])
def test_huge_numbers_in_a_body_are_400(member, customer, value):
    body = (
        f'{{"project_id": "{uuid.uuid4()}", "activity_id": "{uuid.uuid4()}",'
        f' "timezone_offset": {value}}}'
    )

    response = raw_post(member, "/time-entries", body.encode())

    assert_error(response, 400, "validation_error")


# Clients that build URLs by hand -----------------------------------------------------------------


def new_entry(admin: Caller, member: Caller, start: str, end: str) -> dict[str, Any]:
    customer = admin.post("/customers", json={"name": "Web"}).json
    project = admin.post("/projects", json={"name": "Web", "customer_id": customer["id"]}).json
    activity = admin.post("/activities", json={"name": "Web"}).json
    body = {
        "project_id": project["id"],
        "activity_id": activity["id"],
        "start_date": start,
        "end_date": end,
    }
    response = member.post("/time-entries", json=body)
    assert response.status_code == 201, response.json
    return response.json


def test_an_offset_whose_plus_arrived_as_a_space_is_read_as_plus(admin, member):
    # 23:30 UTC on the 28th is 00:30 on the 29th at UTC+01:00.
    entry = new_entry(admin, member, "2026-11-28T23:30:00Z", "2026-11-28T23:45:00Z")
    window = "start_date=2026-11-29T00:00:00{sign}01:00&end_date=2026-11-29T23:59:59.999{sign}01:00"

    by_hand = member.get(f"/time-entries?{window.format(sign='+')}")
    encoded = member.get(f"/time-entries?{window.format(sign='%2B')}")
    west = member.get(f"/time-entries?{window.format(sign='-')}")

    assert by_hand.status_code == 200, by_hand.json
    assert [e["id"] for e in by_hand.json] == [e["id"] for e in encoded.json] == [entry["id"]]
    assert west.json == []


@pytest.mark.parametrize(
    "query", ["start_date=2000-01-01T00:00:00{}01:00", "end_date=9000-01-01T00:00:00.5{}01:00"]
)
def test_the_audit_log_reads_a_plus_that_arrived_as_a_space(admin, query):
    by_hand = admin.get(f"/events?{query.format('+')}")
    encoded = admin.get(f"/events?{query.format('%2B')}")

    assert by_hand.status_code == 200, by_hand.json
    assert by_hand.json == encoded.json


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-29T00:00:00 1:00",
        "2026-11-29T00:00 01:00",
        "2026-11-29T00:00:00  01:00",
        "2026-11-29T00:00:00 01:00 ",
        "2026-11-29T00:00:00 0100",
        "2026-11-29T00:00:00 01:00:00:00",
    ],
)
def test_other_spaces_in_a_date_time_are_still_refused(member, value):
    response = member.get(f"/time-entries?start_date={quote(value)}")

    error = assert_error(response, 400, "validation_error")
    assert "start_date" in error["errors"]


def test_every_route_answers_with_a_trailing_slash_as_without(app, admin, customer):
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/swaggerui", "/static")):
            continue
        values = dict.fromkeys(rule.arguments, customer["id"])
        path = rule.rule
        for name, value in values.items():
            path = path.replace(f"<string:{name}>", value).replace(f"<{name}>", value)
        if path == "/":
            continue
        plain, slashed = admin.get(path), admin.get(f"{path}/")
        if path == "/metrics":  # counts the requests made between the two
            assert slashed.status_code == plain.status_code == 200
            continue
        assert (slashed.status_code, slashed.get_data()) == (
            plain.status_code,
            plain.get_data(),
        ), path
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("path", ["/health/", "/time-entries/running/", "/customers/"])
def test_a_trailing_slash_is_neither_a_404_nor_a_redirect(admin, path):
    response = admin.get(path)

    assert response.status_code in (200, 204), response.get_data()[:200]


# Authorization before validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "/projects", {"name": "Web"}),
        ("post", "/projects", {}),
        ("post", "/customers", {"name": 5}),
        ("post", "/activities", "not an object"),
        ("put", "/customers/{id}", {"name": ["x"]}),
        ("put", "/projects/{id}", {"customer_id": "not a uuid"}),
        ("post", "/users/{user}/groups/add", {}),
        ("post", "/users/{user}/is-member-of", {"group_name": 5}),
    ],
)
def test_a_member_is_refused_before_their_input_is_checked(member, customer, method, path, body):
    path = path.format(id=customer["id"], user=member.user_id)

    response = getattr(member, method)(path, json=body)

    assert_error(response, 403)


# Every route, every hostile body -----------------------------------------------------------------

HOSTILE_BODIES = {
    "NUL": '{"name": "\\u0000", "group_name": "\\u0000", "project_id": "\\u0000"}',
    "surrogate": '{"name": "\\udfff"}',
    "not UTF-8": b'{"name": "\x80"}',
    "deep": "[" * 5000 + "]" * 5000,
    "wrong types": json.dumps({"name": [1], "project_id": 5, "start_date": {}, "group_name": 1}),
    "huge number": '{"timezone_offset": 1e999}',
    "not JSON": "{'name': 'x'}",
}


@pytest.mark.parametrize("kind", list(HOSTILE_BODIES))
def test_every_route_answers_a_hostile_body_with_a_4xx_error_body(app, admin, customer, kind):
    body = HOSTILE_BODIES[kind]
    data = body if isinstance(body, bytes) else body.encode()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/swaggerui", "/static")):
            continue
        path = rule.rule
        for name in rule.arguments:  # ids of nothing: no operation may succeed
            path = path.replace(f"<string:{name}>", str(uuid.uuid4()))
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            response = raw_post(admin, path, data, method.lower())
            assert 400 <= response.status_code < 500, (method, path, response.status_code)
            assert set(response.json) >= {"message", "code"}, (method, path)
    assert names(admin) == ["Acme"]


# Page cursors (`after`) -------------------------------------------------------------------------

PAGED = ["/time-entries/paginated", "/events"]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def other_spelling(cursor: str) -> str:
    """The cursor with other unused low bits in its last character: the same bytes, decoded
    leniently, but not a spelling the API writes."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    pad = "=" * (-len(cursor) % 4)
    same = base64.urlsafe_b64decode(cursor + pad)
    for letter in alphabet:
        twin = cursor[:-1] + letter
        if twin != cursor and base64.urlsafe_b64decode(twin + pad) == same:
            return twin
    raise AssertionError("every spelling of this length is canonical")


MOMENT = "2026-03-10T09:00:00.000000Z"
VALID = encode_cursor(Position(datetime(2026, 3, 10, 9, tzinfo=UTC), "a" * 35))
HOSTILE_CURSORS = {
    "empty": "",
    "not base64": "!!!!",
    "padded": VALID + "=" * (-len(VALID) % 4 or 4),
    "standard alphabet": b64(f"1|{MOMENT}|a?>?").replace("-", "+").replace("_", "/"),
    "a number": "12345",
    "a word": "true",
    "JSON": quote('{"start": 0}'),
    "garbage bytes": "____",
    "NUL": "%00",
    "NUL inside": VALID[:4] + "%00" + VALID[4:],
    "NUL in the id": b64(f"1|{MOMENT}|a\x00b"),
    "lone surrogate": "%ED%A0%80",
    "invalid UTF-8": "%FF%FE",
    "invalid UTF-8 inside": b64("1|") + "_w",
    "huge": "A" * 100_000,
    "too long": "A" * (MAX_CURSOR_LENGTH + 1),
    "another version": b64(f"2|{MOMENT}|x"),
    "no id": b64(f"1|{MOMENT}|"),
    "id too long": b64(f"1|{MOMENT}|" + "x" * 65),
    "no separators": b64(f"1{MOMENT}x"),
    "month 13": b64("1|2026-13-10T09:00:00.000000Z|x"),
    "short moment": b64("1|2026-3-10T09:00:00.0Z|x"),
    "offset moment": b64("1|2026-03-10T09:00:00.000000+01:00|x"),
    "before 1900": b64("1|1899-12-31T23:59:59.999999Z|x"),
    "year 9999": b64("1|9999-01-01T00:00:00.000000Z|x"),
    "other low bits": other_spelling(VALID),
}


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("kind", list(HOSTILE_CURSORS))
def test_a_cursor_the_api_did_not_write_is_400(admin, path, kind):
    response = admin.get(f"{path}?after={HOSTILE_CURSORS[kind]}")

    error = assert_error(response, 400, "validation_error")
    assert list(error["errors"]) == ["after"]


@pytest.mark.parametrize("path", PAGED)
def test_a_well_formed_cursor_of_nothing_is_an_empty_last_page(admin, path):
    response = admin.get(f"{path}?after={VALID}")

    assert response.status_code == 200, response.json
    assert response.json == {"records_total": None, "data": [], "next": None}


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("value", ["1", "yes", "TRUE", "", "%00"])
def test_count_is_true_or_false(admin, path, value):
    response = admin.get(f"{path}?count={value}")

    error = assert_error(response, 400, "validation_error")
    assert list(error["errors"]) == ["count"]


@pytest.mark.parametrize("mask", ["{", "id,{", "id}", "project{name"])
@pytest.mark.parametrize(
    "path", ["/customers", "/time-entries?user_id=*", "/time-entries/paginated", "/events"]
)
def test_a_field_mask_that_does_not_parse_is_400_on_a_read(admin, customer, mask, path):
    error = assert_error(admin.get(path, headers={"X-Fields": mask}), 400, "validation_error")
    assert "X-Fields" in error["errors"]


def test_a_field_mask_that_does_not_parse_is_400_and_the_write_is_not_made(admin):
    response = admin.post("/customers", json={"name": "Acme"}, headers={"X-Fields": "{"})

    assert_error(response, 400, "validation_error")
    assert names(admin) == []
    assert admin.get("/customers", headers={"X-Fields": "name"}).json == []
