"""Bearer tokens over HTTP: both signing modes, every rejection, claims, tenancy.

The identity provider is a real local HTTP server serving an OIDC discovery document and a
JWKS of real RSA and EC keys; the API runs on a SQLite file of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.conftest import ADMIN, TEST_SECRET, claims, hs256, make_token
from time_tracker_api import create_app
from time_tracker_api.config import config_for_tests

ISSUER = "https://login.example.com/issuer/v2.0"
AUDIENCE = "api://time-tracker"
B2C_TENANT = "9188040D-6C67-4C5B-B112-36A304B66DAD"
B2C_ISSUER = f"https://contoso.b2clogin.com/{B2C_TENANT}/v2.0/"
DEFAULT_LEEWAY = 60
# RFC 6750: error_description is printable ASCII without `"` and `\`.
CHALLENGE_DESCRIPTION = re.compile(r'error_description="([\x20-\x21\x23-\x5b\x5d-\x7e]*)"$')


# Tokens ---------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_token(
    header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    """A JWS built without PyJWT, for tokens PyJWT refuses to produce."""
    signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (header, payload))
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def seconds_from_now(seconds: int) -> int:
    return int(time.time()) + seconds


@dataclass(frozen=True)
class SigningKey:
    """A real private key of the identity provider, published in its JWKS under `kid`."""

    kid: str
    algorithm: str
    private_key: Any

    @classmethod
    def rsa(cls, kid: str) -> SigningKey:
        return cls(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ec(cls, kid: str) -> SigningKey:
        return cls(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.algorithms.get_default_algorithms()[self.algorithm]
        public = algorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, payload: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(
            payload, self.private_key, algorithm=self.algorithm, headers={"kid": kid or self.kid}
        )


# The identity provider ------------------------------------------------------------------------


class IdentityProvider:
    """A local OIDC provider: discovery document and JWKS over HTTP, requests counted."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = []
        self.available = True
        self.requests: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = f"{self.url}/{uuid.uuid4()}/v2.0"
        self.discovery_path = (
            "/" + self.issuer.split("/", 3)[3] + "/.well-known/openid-configuration"
        )
        self.jwks_path = "/discovery/v2.0/keys"
        self.jwks_uri = self.url + self.jwks_path
        self.discovery: dict[str, Any] = {"issuer": self.issuer, "jwks_uri": self.jwks_uri}

    def publish(self, *keys: SigningKey) -> None:
        """Serve exactly these keys from now on."""
        self.keys = list(keys)

    def documents(self) -> dict[str, Any]:
        return {
            self.discovery_path: self.discovery,
            self.jwks_path: {"keys": [key.public_jwk() for key in self.keys]},
        }

    def start(self) -> None:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.requests[self.path] += 1
                documents = provider.documents()
                status = 503 if not provider.available else 200 if self.path in documents else 404
                document = documents.get(self.path)
                body = json.dumps(document if status == 200 else {"error": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass  # keep the test output quiet

        return Handler


@pytest.fixture
def idp(rsa_key: SigningKey, ec_key: SigningKey) -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    provider.publish(rsa_key, ec_key)
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.rsa("rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey.ec("ec-1")


@pytest.fixture(scope="module")
def rotated_key() -> SigningKey:
    return SigningKey.rsa("rsa-2")


@pytest.fixture(scope="module")
def unknown_key() -> SigningKey:
    return SigningKey.rsa("not-published")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Apps -----------------------------------------------------------------------------------------


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Test clients of apps on one SQLite file, each with the given JWT settings."""
    apps = []

    def make(**jwt_settings: Any) -> Any:
        config = config_for_tests(
            f"sqlite:///{tmp_path / 'time_tracker.db'}", tmp_path / "instance", **jwt_settings
        )
        apps.append(create_app(config))
        return apps[-1].test_client()

    yield make
    for app in apps:
        app.extensions["storage"].engine.dispose()


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    """The API in shared-secret (HS256) mode."""
    return make_client()


@pytest.fixture
def checked_client(make_client: Callable[..., Any]) -> Any:
    """The API in shared-secret mode that also checks issuer and audience."""
    return make_client(issuers=(ISSUER, f"{ISSUER}/other"), audiences=(AUDIENCE,))


@pytest.fixture
def jwks_client(make_client: Callable[..., Any], idp: IdentityProvider) -> Any:
    """The API trusting only the identity provider's JWKS."""
    return make_client(secret_key=None, jwks_uri=idp.jwks_uri)


def assert_rejected(response: Any, mentioning: str = "") -> None:
    """401 with the standard error body and a Bearer challenge."""
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json["code"] == "invalid_token"
    assert response.json["message"]
    assert mentioning in response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# Shared secret --------------------------------------------------------------------------------


def test_an_hs256_token_signed_with_the_shared_secret_is_accepted(client):
    response = client.get("/activities", headers=bearer(make_token(f"tenant-{uuid.uuid4()}")))
    assert response.status_code == 200
    assert response.json == []


def test_the_bearer_scheme_is_case_insensitive(client):
    token = hs256(claims())
    assert (
        client.get("/activities", headers={"Authorization": f"bearer {token}"}).status_code == 200
    )


@pytest.mark.parametrize("path", ["/health", "/swagger.json"])
def test_public_paths_need_no_token(client, path):
    assert client.get(path).status_code == 200


def test_a_request_without_an_authorization_header_is_rejected(client):
    assert_rejected(client.get("/activities"), mentioning="Authorization")


@pytest.mark.parametrize(
    "authorization", ["Basic x", "Bearer", "Bearer ", "Bearer    ", "Token abc", "eyJhbGciOi"]
)
def test_an_authorization_header_that_is_not_bearer_with_a_token_is_rejected(client, authorization):
    assert_rejected(client.get("/activities", headers={"Authorization": authorization}))


@pytest.mark.parametrize(
    "garbage",
    [
        "not-a-token",
        "a.b.c",
        "...",
        b64url(b"[1, 2]") + "." + b64url(b"{}") + ".",
        b64url(b'{"alg": "HS256"}') + "." + b64url(b"not json") + ".",
        b64url(b'{"alg": "HS256"}') + "." + b64url(b"[]") + ".",
    ],
    ids=[
        "one-word",
        "three-words",
        "empty-parts",
        "header-a-list",
        "payload-not-json",
        "payload-a-list",
    ],
)
def test_a_garbage_token_is_rejected(client, garbage):
    assert_rejected(client.get("/activities", headers=bearer(garbage)))


@pytest.mark.parametrize(
    "algorithm",
    ["\N{SNOWMAN}", "\N{LATIN SMALL LETTER E WITH ACUTE}", 'a"b\\c', "a\r\nX-Injected: 1"],
)
def test_the_challenge_stays_printable_ascii_whatever_the_token_says(client, algorithm):
    token = hand_made_token({"alg": algorithm}, claims(), sign=lambda _: b"")
    response = client.get("/activities", headers=bearer(token))
    assert_rejected(response)
    assert CHALLENGE_DESCRIPTION.search(response.headers["WWW-Authenticate"])


def test_a_token_expired_beyond_the_leeway_is_rejected(client):
    token = hs256(claims(exp=seconds_from_now(-DEFAULT_LEEWAY - 60)))
    assert_rejected(client.get("/activities", headers=bearer(token)), mentioning="expired")


def test_a_token_not_valid_yet_beyond_the_leeway_is_rejected(client):
    token = hs256(claims(nbf=seconds_from_now(DEFAULT_LEEWAY + 60)))
    assert_rejected(client.get("/activities", headers=bearer(token)), mentioning="not valid yet")


@pytest.mark.parametrize(
    "clock_skew",
    [{"exp": -30}, {"nbf": 30}, {"iat": 30}],
    ids=["expired-30s-ago", "valid-in-30s", "issued-in-30s"],
)
def test_a_token_within_the_leeway_is_accepted(client, clock_skew):
    skewed = {claim: seconds_from_now(offset) for claim, offset in clock_skew.items()}
    assert client.get("/activities", headers=bearer(hs256(claims(**skewed)))).status_code == 200


def test_the_leeway_is_configurable(make_client):
    strict = make_client(leeway_seconds=0)
    token = hs256(claims(exp=seconds_from_now(-30)))
    assert_rejected(strict.get("/activities", headers=bearer(token)), mentioning="expired")


def test_a_token_signed_with_another_secret_is_rejected(client):
    token = make_token(
        f"tenant-{uuid.uuid4()}", secret="another-secret-that-is-long-enough-for-hs256"
    )
    assert_rejected(client.get("/activities", headers=bearer(token)), mentioning="signature")


def test_a_token_without_an_expiry_is_rejected(client):
    token = hs256(claims(exp=None))
    assert_rejected(client.get("/activities", headers=bearer(token)), mentioning="'exp'")


@pytest.mark.parametrize("algorithm", ["none", "None", "NONE"])
def test_an_unsigned_token_is_rejected(client, algorithm):
    token = hand_made_token({"alg": algorithm, "typ": "JWT"}, claims(), sign=lambda _: b"")
    assert_rejected(client.get("/activities", headers=bearer(token)), mentioning="not accepted")


def test_an_rs256_token_is_rejected_when_only_the_shared_secret_is_configured(client, rsa_key):
    response = client.get("/activities", headers=bearer(rsa_key.sign(claims())))
    assert_rejected(response, mentioning="'RS256'")


@pytest.mark.parametrize(
    "user_claims, named",
    [({"oid": None}, "oid or sub"), ({"oid": ""}, "oid or sub"), ({"oid": 42}, "'oid'")],
    ids=["none", "empty", "number"],
)
def test_a_token_without_a_user_id_is_rejected_naming_the_claim(client, user_claims, named):
    token = hs256(claims(**user_claims))
    response = client.get("/activities", headers=bearer(token))
    assert_rejected(response, mentioning=named)


@pytest.mark.parametrize(
    "tenant_claims",
    [
        {"tid": None},
        {"tid": ""},
        {"tid": None, "iss": "https://login.microsoftonline.com/" + B2C_TENANT + "/v2.0"},
        {"tid": None, "iss": "https://contoso.b2clogin.com/not-a-tenant-uuid/v2.0/"},
    ],
    ids=["no-tid", "empty-tid", "entra-issuer-without-tid", "b2c-issuer-without-uuid"],
)
def test_a_token_without_a_tenant_is_rejected_naming_the_claim(client, tenant_claims):
    response = client.get("/activities", headers=bearer(hs256(claims(**tenant_claims))))
    assert_rejected(response, mentioning="tid")


def test_a_token_with_an_overlong_tenant_id_is_rejected(client):
    response = client.get("/activities", headers=bearer(hs256(claims(tid="t" * 65))))
    assert_rejected(response, mentioning="too long")


# Issuer and audience --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token_claims",
    [
        {"iss": ISSUER, "aud": AUDIENCE},
        {"iss": f"{ISSUER}/other", "aud": AUDIENCE},
        {"iss": ISSUER, "aud": ["another-api", AUDIENCE]},
    ],
    ids=["issuer-and-audience", "second-issuer", "audience-among-several"],
)
def test_a_token_of_a_configured_issuer_and_audience_is_accepted(checked_client, token_claims):
    token = hs256(claims(**token_claims))
    assert checked_client.get("/activities", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    ("token_claims", "mentioning"),
    [
        ({"iss": "https://evil.example.com/v2.0", "aud": AUDIENCE}, "issuer"),
        ({"iss": ISSUER + "/", "aud": AUDIENCE}, "issuer"),
        ({"aud": AUDIENCE}, "'iss'"),
        ({"iss": ISSUER, "aud": "api://another-api"}, "audience"),
        ({"iss": ISSUER}, "'aud'"),
    ],
    ids=[
        "wrong-issuer",
        "issuer-with-trailing-slash",
        "no-issuer",
        "wrong-audience",
        "no-audience",
    ],
)
def test_a_token_of_another_issuer_or_audience_is_rejected(
    checked_client, token_claims, mentioning
):
    token = hs256(claims(**token_claims))
    assert_rejected(checked_client.get("/activities", headers=bearer(token)), mentioning=mentioning)


# Identity provider keys (JWKS) ----------------------------------------------------------------


def test_an_rs256_token_with_a_published_kid_is_accepted(jwks_client, rsa_key):
    assert jwks_client.get("/activities", headers=bearer(rsa_key.sign(claims()))).status_code == 200


def test_an_es256_token_with_a_published_kid_is_accepted(jwks_client, ec_key):
    assert jwks_client.get("/activities", headers=bearer(ec_key.sign(claims()))).status_code == 200


def test_a_token_without_a_kid_is_accepted_when_the_jwks_has_one_key(make_client, idp, rsa_key):
    idp.publish(rsa_key)
    client = make_client(secret_key=None, jwks_uri=idp.jwks_uri)
    token = jwt.encode(claims(), rsa_key.private_key, algorithm="RS256")
    assert client.get("/activities", headers=bearer(token)).status_code == 200


def test_keys_are_found_by_oidc_discovery_of_the_issuer(make_client, idp, rsa_key):
    client = make_client(secret_key=None, issuers=(idp.issuer,))
    response = client.get("/activities", headers=bearer(rsa_key.sign(claims(iss=idp.issuer))))
    assert response.status_code == 200
    assert idp.requests == {idp.discovery_path: 1, idp.jwks_path: 1}


def test_keys_are_cached(jwks_client, idp, rsa_key, ec_key):
    for key in (rsa_key, ec_key, rsa_key, ec_key):
        assert jwks_client.get("/activities", headers=bearer(key.sign(claims()))).status_code == 200
    assert idp.requests == {idp.jwks_path: 1}


def test_a_rotated_key_is_fetched_when_its_kid_first_appears(
    make_client, idp, rsa_key, rotated_key
):
    client = make_client(secret_key=None, jwks_uri=idp.jwks_uri, jwks_min_refresh_seconds=0)
    assert client.get("/activities", headers=bearer(rsa_key.sign(claims()))).status_code == 200
    idp.publish(rotated_key)
    assert client.get("/activities", headers=bearer(rotated_key.sign(claims()))).status_code == 200
    assert idp.requests == {idp.jwks_path: 2}


def test_unknown_kids_refetch_the_keys_at_most_once_per_minimum_interval(
    jwks_client, idp, rsa_key, unknown_key
):
    assert jwks_client.get("/activities", headers=bearer(rsa_key.sign(claims()))).status_code == 200
    for _ in range(3):
        assert_rejected(jwks_client.get("/activities", headers=bearer(unknown_key.sign(claims()))))
    assert idp.requests == {idp.jwks_path: 1}


def test_a_token_signed_by_an_unknown_key_is_rejected(jwks_client, unknown_key):
    response = jwks_client.get("/activities", headers=bearer(unknown_key.sign(claims())))
    assert_rejected(response, mentioning="unknown key")


def test_a_token_signed_by_another_key_under_a_published_kid_is_rejected(
    jwks_client, rsa_key, unknown_key
):
    token = unknown_key.sign(claims(), kid=rsa_key.kid)
    assert_rejected(jwks_client.get("/activities", headers=bearer(token)), mentioning="signature")


def test_a_token_whose_algorithm_does_not_match_its_key_is_rejected(jwks_client, rsa_key, ec_key):
    token = ec_key.sign(claims(), kid=rsa_key.kid)
    assert_rejected(jwks_client.get("/activities", headers=bearer(token)), mentioning="algorithm")


@pytest.mark.parametrize("secret_key", [None, TEST_SECRET], ids=["jwks-only", "jwks-and-secret"])
def test_an_hs256_token_signed_with_the_public_key_is_rejected(
    make_client, idp, rsa_key, secret_key
):
    client = make_client(secret_key=secret_key, jwks_uri=idp.jwks_uri)
    pem = rsa_key.public_pem()
    token = hand_made_token(
        {"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid},
        claims(),
        sign=lambda signing_input: hmac.new(pem, signing_input, hashlib.sha256).digest(),
    )
    assert_rejected(client.get("/activities", headers=bearer(token)))


def test_an_unreachable_identity_provider_is_a_503_not_a_500(make_client, rsa_key):
    client = make_client(secret_key=None, jwks_uri=f"http://127.0.0.1:{free_port()}/keys")
    response = client.get("/activities", headers=bearer(rsa_key.sign(claims())))
    assert response.status_code == 503
    assert response.json["code"] == "identity_provider_unavailable"
    assert response.headers["Retry-After"]


@pytest.mark.parametrize(
    "discovery",
    [{}, {"jwks_uri": None}, ["not", "an", "object"]],
    ids=["no-jwks-uri", "null", "list"],
)
def test_a_broken_discovery_document_is_a_503_not_a_500(make_client, idp, rsa_key, discovery):
    idp.discovery = discovery
    client = make_client(secret_key=None, issuers=(idp.issuer,))
    response = client.get("/activities", headers=bearer(rsa_key.sign(claims(iss=idp.issuer))))
    assert response.status_code == 503
    assert response.json["code"] == "identity_provider_unavailable"


def test_known_keys_keep_working_while_the_identity_provider_is_down(
    make_client, idp, rsa_key, rotated_key
):
    client = make_client(secret_key=None, jwks_uri=idp.jwks_uri, jwks_min_refresh_seconds=0)
    assert client.get("/activities", headers=bearer(rsa_key.sign(claims()))).status_code == 200
    idp.available = False
    assert_rejected(client.get("/activities", headers=bearer(rotated_key.sign(claims()))))
    assert client.get("/activities", headers=bearer(rsa_key.sign(claims()))).status_code == 200


# Claims ---------------------------------------------------------------------------------------


def user_seen_by(client: Any, token: str) -> dict[str, Any]:
    """The caller as the API recorded them, from the tenant's user list."""
    response = client.get("/users", headers=bearer(token))
    assert response.status_code == 200, response.json
    [user] = response.json
    return user


@pytest.mark.parametrize(
    ("id_claims", "expected"),
    [
        ({"oid": "the-oid", "sub": "the-sub"}, "the-oid"),
        ({"oid": None, "sub": "the-sub"}, "the-sub"),
    ],
    ids=["oid", "sub-without-oid"],
)
def test_the_user_id_is_the_oid_else_the_sub(client, id_claims, expected):
    token = hs256(claims(**id_claims))
    assert user_seen_by(client, token)["id"] == expected
    assert client.get(f"/users/{expected}", headers=bearer(token)).json["id"] == expected


@pytest.mark.parametrize(
    ("tenant_claims", "expected"),
    [
        ({"tid": "the-tid"}, "the-tid"),
        ({"tid": None, "iss": B2C_ISSUER}, B2C_TENANT.lower()),
        ({"tid": None, "iss": B2C_ISSUER.rstrip("/")}, B2C_TENANT.lower()),
        ({"tid": "the-tid", "iss": B2C_ISSUER}, "the-tid"),
    ],
    ids=["tid", "b2c-issuer", "b2c-issuer-without-slash", "tid-over-b2c-issuer"],
)
def test_the_tenant_is_the_tid_else_the_uuid_of_a_b2c_issuer(client, tenant_claims, expected):
    token = hs256(claims(**tenant_claims))
    created = client.post(
        "/technologies", json={"name": f"T {uuid.uuid4()}"}, headers=bearer(token)
    )
    assert created.status_code == 201, created.json
    assert created.json["tenant_id"] == expected


@pytest.mark.parametrize(
    ("email_claims", "expected"),
    [
        (
            {"emails": ["first@b2c.example", "second@b2c.example"], "email": "e@x.example"},
            "first@b2c.example",
        ),
        (
            {"emails": [], "email": "e@x.example", "preferred_username": "p@x.example"},
            "e@x.example",
        ),
        ({"preferred_username": "p@x.example"}, "p@x.example"),
        ({}, None),
    ],
    ids=["emails", "email", "preferred-username", "none"],
)
def test_the_email_is_the_first_of_emails_else_email_else_preferred_username(
    client, email_claims, expected
):
    assert user_seen_by(client, hs256(claims(**email_claims)))["email"] == expected


@pytest.mark.parametrize(
    ("name_claims", "expected"),
    [
        ({"name": "Ada Lovelace", "given_name": "Augusta"}, "Ada Lovelace"),
        ({"given_name": "Ada", "family_name": "Lovelace"}, "Ada Lovelace"),
        ({}, None),
    ],
    ids=["name", "given-and-family-name", "none"],
)
def test_the_name_is_the_name_else_given_and_family_name(client, name_claims, expected):
    assert user_seen_by(client, hs256(claims(**name_claims)))["name"] == expected


@pytest.mark.parametrize(
    ("role_claims", "status"),
    [
        ({"extension_role": ADMIN}, 201),
        ({"roles": [ADMIN]}, 201),
        ({"roles": ["reader", ADMIN]}, 201),
        ({}, 403),
        ({"extension_role": "time-tracker-user"}, 403),
        ({"roles": ["reader"]}, 403),
    ],
    ids=[
        "b2c-extension-role",
        "entra-roles",
        "among-other-roles",
        "no-role",
        "other-extension-role",
        "other-roles",
    ],
)
def test_admins_are_recognised_from_the_token(client, role_claims, status):
    token = hs256(claims(**role_claims))
    created = client.post("/activities", json={"name": "Design"}, headers=bearer(token))
    assert created.status_code == status, created.json
    assert (ADMIN in user_seen_by(client, token)["roles"]) == (status == 201)


# Tenancy --------------------------------------------------------------------------------------


def test_a_record_of_another_tenant_is_not_found_even_for_the_same_user(client):
    owner = hs256(claims(oid="same-user", tid=f"tenant-{uuid.uuid4()}", roles=[ADMIN]))
    outsider = hs256(claims(oid="same-user", tid=f"tenant-{uuid.uuid4()}", roles=[ADMIN]))
    created = client.post("/activities", json={"name": "Secret"}, headers=bearer(owner))
    assert created.status_code == 201
    response = client.get(f"/activities/{created.json['id']}", headers=bearer(outsider))
    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    assert client.get("/activities", headers=bearer(outsider)).json == []
    assert client.get(f"/activities/{created.json['id']}", headers=bearer(owner)).status_code == 200
