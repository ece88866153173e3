"""Bearer tokens: signature always verified, claims turned into an identity."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.request
from typing import Any

import jwt
from flask import Flask, current_app, g, request

from commons.domain.exceptions import AuthenticationUnavailable, Unauthenticated, ValidationFailed
from commons.domain.principal import (
    EMAIL_MAX_LENGTH,
    GROUPS,
    TENANT_ID_MAX_LENGTH,
    USER_ID_MAX_LENGTH,
    USER_NAME_MAX_LENGTH,
    Identity,
)
from commons.services.users import resolve_principal
from time_tracker_api.config import JwtSettings
from time_tracker_api.validation import text_problem

logger = logging.getLogger(__name__)

SYMMETRIC_ALGORITHMS = ("HS256",)
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512")
PUBLIC_PATHS = {"/", "/swagger.json", "/health", "/ready", "/metrics"}
B2C_ISSUER = re.compile(r"^https://[^/]+\.b2clogin\.com/([0-9a-fA-F-]{36})/v2\.0/?$")
# Claims read from a token and the JSON type each must have; any other type is refused (401).
STRING_CLAIMS = (
    "oid",
    "sub",
    "tid",
    "iss",
    "email",
    "preferred_username",
    "name",
    "given_name",
    "family_name",
    "extension_role",
)
STRING_LIST_CLAIMS = ("emails", "roles")


class JwksKeys:
    """Signing keys of an identity provider, fetched lazily, cached, refreshed on a new `kid`."""

    def __init__(
        self,
        jwks_uri: str | None,
        issuer: str | None,
        max_age: float = 3600,
        min_refresh_interval: float = 30,
        timeout: float = 5,
    ):
        self._jwks_uri = jwks_uri
        self._issuer = issuer
        self._max_age = max_age
        self._min_refresh_interval = min_refresh_interval
        self._timeout = timeout
        self._keys: dict[str | None, jwt.PyJWK] = {}
        # Not 0: the monotonic clock may start near 0.
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> jwt.PyJWK:
        """The key that signed a token, refreshing the set when the `kid` is unknown."""
        now = time.monotonic()
        wanted = kid not in self._keys or now - self._fetched_at > self._max_age
        # Attempts are rate limited, so unknown kids or a provider that is down cannot make
        # every request wait on a fetch.
        if wanted and now - self._attempted_at > self._min_refresh_interval:
            with self._lock:
                if self._attempted_at < now:  # nobody tried while we waited for the lock
                    self._refresh()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        try:
            return self._keys[kid]
        except KeyError:
            if not self._keys and self._fetched_at == float("-inf"):
                raise AuthenticationUnavailable() from None
            raise Unauthenticated("The token was signed by an unknown key") from None

    def _refresh(self) -> None:
        self._attempted_at = time.monotonic()
        try:
            document = self._fetch_json(self._jwks_uri or self._discover_jwks_uri())
            entries = document.get("keys", [])
        except (OSError, ValueError, LookupError, TypeError, AttributeError) as error:
            logger.error("Cannot fetch the identity provider's keys: %s", error)
            return  # keep the keys we have
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                keys[entry.get("kid")] = jwt.PyJWK(entry)
            except (jwt.PyJWTError, ValueError, TypeError):
                logger.warning("Skipping an unusable key %s in the JWKS", entry.get("kid"))
        self._keys = keys
        self._fetched_at = time.monotonic()

    def _discover_jwks_uri(self) -> str:
        issuer = (self._issuer or "").rstrip("/")
        document = self._fetch_json(f"{issuer}/.well-known/openid-configuration")
        return str(document["jwks_uri"])

    def _fetch_json(self, url: str) -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=self._timeout) as response:  # noqa: S310
            return json.loads(response.read())


class TokenVerifier:
    """Verifies a token's signature and standard claims under the configured mode."""

    def __init__(self, settings: JwtSettings):
        self.settings = settings
        self.keys = (
            JwksKeys(
                settings.jwks_uri,
                settings.issuers[0] if settings.issuers else None,
                min_refresh_interval=settings.jwks_min_refresh_seconds,
            )
            if settings.jwks_uri or settings.issuers
            else None
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or Unauthenticated saying what is wrong with it."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("The token is malformed") from None
        algorithm = header.get("alg")
        key: Any
        if algorithm in SYMMETRIC_ALGORITHMS and self.settings.secret_key:
            key = self.settings.secret_key
        elif algorithm in ASYMMETRIC_ALGORITHMS and self.keys is not None:
            key = self.keys.key_for(header.get("kid"))
            if key.algorithm_name != algorithm:
                raise Unauthenticated("The token's algorithm does not match its key")
        else:
            raise Unauthenticated(f"Tokens signed with {algorithm!r} are not accepted")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=list(self.settings.audiences) or None,
                issuer=list(self.settings.issuers) or None,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp"], "verify_aud": bool(self.settings.audiences)},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("The token is not valid yet") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("The token's signature is invalid") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("The token is not meant for this API (audience)") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("The token was issued by an untrusted issuer") from None
        except jwt.MissingRequiredClaimError as error:
            raise Unauthenticated(f"The token has no {error.claim!r} claim") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthenticated("The token is invalid") from None


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    """Tenant, user, email, name and groups from Azure AD B2C, Entra ID or our own tokens."""
    _check_claim_types(claims)
    user_id = claims.get("oid") or claims.get("sub")
    tenant_id = claims.get("tid") or _b2c_tenant(claims.get("iss"))
    if not user_id:
        raise Unauthenticated("The token has no user id claim (oid or sub)")
    if not tenant_id:
        raise Unauthenticated("The token has no tenant id claim (tid or a B2C issuer)")
    if len(tenant_id) > TENANT_ID_MAX_LENGTH or len(user_id) > USER_ID_MAX_LENGTH:
        raise Unauthenticated("The token's tenant or user id is too long")
    emails = claims.get("emails")
    email = (
        (emails[0] if emails else None) or claims.get("email") or claims.get("preferred_username")
    )
    if email is not None and len(email) > EMAIL_MAX_LENGTH:
        raise Unauthenticated(f"The token's email is longer than {EMAIL_MAX_LENGTH} characters")
    name = claims.get("name") or " ".join(
        part for part in (claims.get("given_name"), claims.get("family_name")) if part
    )
    claimed = {claims.get("extension_role"), *(claims.get("roles") or ())}
    return Identity(
        tenant_id=tenant_id,
        user_id=user_id,
        email=email or None,
        # A display name is shortened rather than refused: it only labels the user.
        name=name[:USER_NAME_MAX_LENGTH] or None,
        token_groups=frozenset(group for group in GROUPS if group in claimed),
    )


def _check_claim_types(claims: dict[str, Any]) -> None:
    """Refuse a claim of the wrong JSON type (401) or with text no storage keeps (NUL, lone
    surrogates: 400, as anywhere else)."""
    for name in (*STRING_CLAIMS, *STRING_LIST_CLAIMS):
        value = claims.get(name)
        if value is None:
            continue
        many = name in STRING_LIST_CLAIMS
        texts = value if many and isinstance(value, list) else [value]
        if not all(isinstance(text, str) for text in texts) or (many and texts is not value):
            kind = "a list of strings" if many else "a string"
            raise Unauthenticated(f"The token's {name!r} claim must be {kind}")
        for text in texts:
            problem = text_problem(text)
            if problem:  # text refused everywhere, as in a body or a query: 400
                raise ValidationFailed(f"The token's {name!r} claim {problem}", {name: problem})


def _b2c_tenant(issuer: object) -> str | None:
    match = B2C_ISSUER.match(issuer) if isinstance(issuer, str) else None
    return match.group(1).lower() if match else None


def bearer_token() -> str:
    """The token of the request's `Authorization: Bearer` header."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthenticated("An Authorization header with a Bearer token is required")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'")
    return token.strip()


def init_app(app: Flask, settings: JwtSettings) -> None:
    """Require a verified token on every request except the public ones."""
    app.extensions["token_verifier"] = TokenVerifier(settings)

    @app.before_request
    def authenticate() -> None:
        if request.method == "OPTIONS" or is_public(request.path):
            return
        g.principal = resolve_principal(
            current_app.extensions["storage"], verified_identity(), session_id=g.get("request_id")
        )


def verified_identity() -> Identity:
    """The caller named by the request's verified token, verified once per request."""
    if "identity" not in g:
        claims = current_app.extensions["token_verifier"].verify(bearer_token())
        g.identity = identity_from_claims(claims)
    return g.identity


def is_public(path: str) -> bool:
    """Whether the path is served without a token (the docs and the probes)."""
    return (
        path in PUBLIC_PATHS or path.rstrip("/") in PUBLIC_PATHS or path.startswith("/swaggerui/")
    )
