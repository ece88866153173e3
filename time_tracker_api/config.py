"""Configuration: one class read from the environment, and one for tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import limits

from commons.feature_toggles.service import DEFAULT_REFRESH_SECONDS
from commons.services.schema import DEFAULT_RECHECK_SECONDS
from commons.settings import OutboundSettings, StorageSettings

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = REPOSITORY_ROOT / "instance"
DEV_SECRET_FILE = "dev-jwt-secret"
ENVIRONMENTS = ("development", "production", "test")
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
DEFAULT_RATE_LIMIT = "1200/minute"
DEFAULT_RATE_LIMIT_STORAGE_URI = "memory://"
RATE_LIMIT_OFF = "off"
RATE_LIMIT_STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel")
TEST_JWT_SECRET = "test-only-secret-never-used-outside-the-test-suite"
LOG_FORMATS = ("json", "text")
# HS256 keys shorter than its 256-bit hash can be brute-forced offline from one token.
MIN_SECRET_BYTES = 32


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


@dataclass(frozen=True)
class JwtSettings:
    secret_key: str | None = None
    jwks_uri: str | None = None
    issuers: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    leeway_seconds: int = 60
    # Shortest pause between two fetches of the key set prompted by unknown `kid`s.
    jwks_min_refresh_seconds: float = 30

    @property
    def configured(self) -> bool:
        return bool(self.secret_key or self.jwks_uri or self.issuers)


@dataclass(frozen=True)
class Config:
    environment: str = "development"
    instance_path: Path = DEFAULT_INSTANCE_PATH
    storage: StorageSettings = field(default_factory=StorageSettings)
    jwt: JwtSettings = field(default_factory=JwtSettings)
    cors_origins: tuple[str, ...] = ()
    app_configuration_connection_string: str | None = None
    feature_flags_file: str | None = None
    feature_flags_refresh_seconds: float = DEFAULT_REFRESH_SECONDS
    auto_migrate: bool = False
    # How often a schema found out of date is checked again (commons/services/schema.py).
    schema_recheck_seconds: float = DEFAULT_RECHECK_SECONDS
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    # Requests per caller, in the `limits` syntax ("1200/minute", "10/second;1000/hour"); None: off.
    rate_limit: str | None = DEFAULT_RATE_LIMIT
    rate_limit_storage_uri: str = DEFAULT_RATE_LIMIT_STORAGE_URI
    # Prepended to every counter's key, so that apps sharing one Redis can keep apart.
    rate_limit_key_prefix: str = "time_tracker"
    # Webhook URLs are checked against it (WEBHOOKS_ALLOW_PRIVATE) when admins set them.
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    log_format: str = "text"
    # When set, `/metrics` answers only `Authorization: Bearer <token>`.
    metrics_token: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def jwt_secret_is_short(self) -> bool:
        secret = self.jwt.secret_key
        return secret is not None and len(secret.encode()) < MIN_SECRET_BYTES

    @property
    def default_sql_url(self) -> str:
        return f"sqlite:///{self.instance_path / 'time_tracker.db'}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Config:
        """Read every setting; in development, fill in what a laptop needs to just run."""

        def get(name: str) -> str | None:
            return (environ.get(name) or "").strip() or None

        environment = get("APP_ENV") or (
            "development" if environ.get("FLASK_RUN_FROM_CLI") == "true" else "production"
        )
        problems: list[str] = []
        if environment not in ENVIRONMENTS:
            problems.append(f"APP_ENV (must be one of {', '.join(ENVIRONMENTS)})")
        instance_path = Path(get("INSTANCE_PATH") or DEFAULT_INSTANCE_PATH)
        storage = StorageSettings.from_env(environ)
        problems += storage.problems()
        leeway = get("JWT_LEEWAY_SECONDS") or "60"
        if not leeway.isdigit():
            problems.append("JWT_LEEWAY_SECONDS (must be a whole number of seconds)")
            leeway = "60"
        jwt = JwtSettings(
            secret_key=get("JWT_SECRET_KEY"),
            jwks_uri=get("JWT_JWKS_URI"),
            issuers=_split(get("JWT_ISSUER")),
            audiences=_split(get("JWT_AUDIENCE")),
            leeway_seconds=int(leeway),
        )
        app_configuration = get("AZURE_APP_CONFIGURATION_CONNECTION_STRING")
        if app_configuration and not _is_app_configuration_connection_string(app_configuration):
            problems.append(
                "AZURE_APP_CONFIGURATION_CONNECTION_STRING (must be Endpoint=...;Id=...;Secret=...)"
            )
        refresh = _non_negative_number(
            get("FEATURE_FLAGS_REFRESH_SECONDS"), DEFAULT_REFRESH_SECONDS
        )
        if refresh is None:
            problems.append("FEATURE_FLAGS_REFRESH_SECONDS (must be a number of seconds)")
        max_request_bytes = get("MAX_REQUEST_BYTES") or str(DEFAULT_MAX_REQUEST_BYTES)
        if not max_request_bytes.isdigit() or int(max_request_bytes) == 0:
            problems.append("MAX_REQUEST_BYTES (must be a positive whole number of bytes)")
            max_request_bytes = str(DEFAULT_MAX_REQUEST_BYTES)
        requested_rate_limit = get("RATE_LIMIT") or DEFAULT_RATE_LIMIT
        rate_limit: str | None = requested_rate_limit
        if requested_rate_limit.lower() == RATE_LIMIT_OFF:
            rate_limit = None
        elif not _is_rate_limit(requested_rate_limit):
            problems.append('RATE_LIMIT (e.g. "1200/minute", "10/second;1000/hour", or off)')
            rate_limit = DEFAULT_RATE_LIMIT
        rate_limit_storage_uri = get("RATE_LIMIT_STORAGE_URI") or DEFAULT_RATE_LIMIT_STORAGE_URI
        if not _is_rate_limit_storage_uri(rate_limit_storage_uri):
            problems.append("RATE_LIMIT_STORAGE_URI (memory:// or redis://HOST:PORT)")
            rate_limit_storage_uri = DEFAULT_RATE_LIMIT_STORAGE_URI
        log_format = (
            get("LOG_FORMAT") or ("json" if environment == "production" else "text")
        ).lower()
        if log_format not in LOG_FORMATS:
            problems.append("LOG_FORMAT (json or text)")
            log_format = "text"
        if environment == "production":
            secret = jwt.secret_key
            if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
                problems.append(f"JWT_SECRET_KEY (at least {MIN_SECRET_BYTES} bytes in production)")
            if not jwt.configured:
                problems.append("JWT_SECRET_KEY (or JWT_JWKS_URI / JWT_ISSUER)")
            if storage.backend == "sql" and not storage.sql_url:
                problems.append("SQL_DATABASE_URI")
        elif not jwt.configured:
            jwt = JwtSettings(
                secret_key=development_secret(instance_path),
                leeway_seconds=jwt.leeway_seconds,
            )
        sql_url = storage.sql_url or ""
        return cls(
            environment=environment,
            instance_path=instance_path,
            storage=storage,
            jwt=jwt,
            cors_origins=_split(get("CORS_ORIGINS")),
            app_configuration_connection_string=app_configuration,
            feature_flags_file=get("FEATURE_FLAGS_FILE"),
            feature_flags_refresh_seconds=DEFAULT_REFRESH_SECONDS if refresh is None else refresh,
            auto_migrate=storage.backend == "sql" and (not sql_url or sql_url.startswith("sqlite")),
            max_request_bytes=int(max_request_bytes),
            rate_limit=rate_limit,
            rate_limit_storage_uri=rate_limit_storage_uri,
            outbound=OutboundSettings.from_env(environ),
            log_format=log_format,
            metrics_token=get("METRICS_TOKEN"),
            problems=tuple(problems),
        )


def _is_app_configuration_connection_string(value: str) -> bool:
    # The shape the Azure SDK accepts: exactly these three segments, each with a value.
    segments = [segment.strip().partition("=") for segment in value.split(";")]
    names = sorted(name for name, _, content in segments if content)
    return len(segments) == 3 and names == ["Endpoint", "Id", "Secret"]


def _is_rate_limit(value: str) -> bool:
    try:
        items = limits.parse_many(value)
    except ValueError:
        return False
    return bool(items) and all(item.amount > 0 for item in items)


def _is_rate_limit_storage_uri(value: str) -> bool:
    parts = urlsplit(value)
    # The storages the pinned dependencies can reach (the `redis` package for Redis).
    return parts.scheme in RATE_LIMIT_STORAGE_SCHEMES and (
        parts.scheme == "memory" or bool(parts.netloc or parts.path)
    )


def _non_negative_number(value: str | None, default: float) -> float | None:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        return None
    return number if 0 <= number < float("inf") else None


def development_secret(instance_path: Path) -> str:
    """The signing secret kept in the instance folder, created on first use (development only)."""
    path = instance_path / DEV_SECRET_FILE
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it a moment ago
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def config_for_tests(storage: str | StorageSettings, instance_path: Path, **jwt: object) -> Config:
    """A configuration for tests: a known secret, the given database (a SQL URL or storage
    settings), schema migrated, no rate limit (tests that need one set `rate_limit`)."""
    settings = JwtSettings(**{"secret_key": TEST_JWT_SECRET, **jwt})  # type: ignore[arg-type]
    if isinstance(storage, str):
        storage = StorageSettings(backend="sql", sql_url=storage)
    return Config(
        environment="test",
        instance_path=instance_path,
        storage=storage,
        jwt=settings,
        auto_migrate=True,
        rate_limit=None,
    )
