"""The Time Tracker HTTP API: `create_app()` is the application factory."""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

from flask import Flask, request
from flask_cors import CORS

from commons.bootstrap import create_feature_toggles, create_storage
from commons.domain.exceptions import ConfigurationError, StorageUnavailable
from commons.services.schema import SchemaCheck
from time_tracker_api import idempotency, observability, rate_limits, security, validation
from time_tracker_api.api import create_api
from time_tracker_api.config import MIN_SECRET_BYTES, Config
from time_tracker_api.errors import error_response, too_large
from time_tracker_api.records import record_format

logger = logging.getLogger("time_tracker_api")


def create_app(config: Config | None = None) -> Flask:
    """Build the app from `config`, or from the environment when none is given."""
    config = config or Config.from_env()
    if config.problems:
        _refuse_to_start(f"set {', '.join(config.problems)}")
    _configure_logging(config)
    _export_to_azure_monitor()
    try:
        return _build_app(config)
    except (ConfigurationError, StorageUnavailable) as error:
        _refuse_to_start(getattr(error, "detail", None) or error.message)


def _refuse_to_start(reason: str) -> NoReturn:
    # One line saying why; exit code 3 tells gunicorn's arbiter that the worker cannot boot,
    # so it stops instead of respawning it forever.
    print(f"Time Tracker cannot start: {reason}", file=sys.stderr)
    raise SystemExit(3)


def _build_app(config: Config) -> Flask:
    app = Flask(__name__, instance_path=str(config.instance_path))
    # `/time-entries/running/` is the same route as `/time-entries/running`, not a 404.
    app.url_map.strict_slashes = False
    app.config.update(
        TIME_TRACKER=config,
        RESTX_MASK_SWAGGER=False,
        RESTX_ERROR_404_HELP=False,
        # Swagger also shows the models no operation answers with: `WebhookEvent`, what a
        # webhook receives.
        RESTX_INCLUDE_ALL_MODELS=True,
        PROPAGATE_EXCEPTIONS=False,
        JSON_SORT_KEYS=False,
        # Werkzeug stops reading a body without Content-Length here (413).
        MAX_CONTENT_LENGTH=config.max_request_bytes,
    )
    app.extensions["storage"] = storage = create_storage(
        config.storage, default_sql_url=config.default_sql_url, record_format=record_format
    )
    app.extensions["feature_toggles"] = create_feature_toggles(
        config.app_configuration_connection_string,
        config.feature_flags_file,
        config.feature_flags_refresh_seconds,
    )
    app.extensions["schema"] = schema = SchemaCheck(storage, config.schema_recheck_seconds)
    if config.auto_migrate:
        config.instance_path.mkdir(parents=True, exist_ok=True)
        storage.migrate()
    else:
        _warn_when_migrations_are_pending(schema)
    if config.cors_origins:
        CORS(
            app,
            origins=list(config.cors_origins),
            expose_headers=["X-Request-ID", *rate_limits.HEADERS, "Retry-After"],
        )
    observability.init_app(app, config.metrics_token)
    _limit_request_size(app, config.max_request_bytes)
    _require_an_up_to_date_schema(app)  # before authentication, which records the caller
    # Before authentication: a refused token still counts, against the client address.
    rate_limits.init_app(app, config)
    security.init_app(app, config.jwt)
    validation.init_app(app)
    idempotency.init_app(app)  # after both: keys are per caller, and checked text only
    app.register_error_handler(Exception, error_response)
    create_api().init_app(app)
    if config.environment == "development":
        _log_development_hint()
    return app


def _limit_request_size(app: Flask, limit: int) -> None:
    @app.before_request
    def refuse_large_bodies() -> None:
        # Refused from the header, before the body is read or the token verified.
        if (request.content_length or 0) > limit:
            raise too_large(limit)


def _warn_when_migrations_are_pending(schema: SchemaCheck) -> None:
    # The app starts all the same: the operator may migrate right after deploying, and /ready
    # answers 503 until then.
    try:
        pending = schema.pending(fresh=True)
    except StorageUnavailable as error:
        logger.warning(
            "The database schema cannot be checked at start (%s); /ready answers 503 until the "
            "storage can be reached",
            error.detail or error.message,
        )
        return
    if pending:
        logger.warning(
            "The database schema is out of date: run `python cli.py migrate` to apply the %d "
            "pending migration(s) %s; until then /ready and every API call answer 503",
            len(pending),
            ", ".join(pending),
        )


def _require_an_up_to_date_schema(app: Flask) -> None:
    schema = app.extensions["schema"]

    @app.before_request
    def refuse_while_migrations_are_pending() -> None:
        # /ready says it itself; the docs and /health need no database.
        if request.method != "OPTIONS" and not security.is_public(request.path):
            schema.require_up_to_date()


def _configure_logging(config: Config) -> None:
    observability.configure_logging(config.log_format)
    if config.jwt_secret_is_short and config.environment == "development":
        logger.warning(
            "JWT_SECRET_KEY is shorter than %d bytes; production refuses to start with it",
            MIN_SECRET_BYTES,
        )
    # The Azure SDK logs every HTTP request and response at INFO.
    logging.getLogger("azure").setLevel(logging.WARNING)


def _export_to_azure_monitor() -> None:
    # Imported here: the exporter is heavy, and nothing connects unless it is configured.
    if os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor()


def _log_development_hint() -> None:
    logger.info(
        "Development mode: mint a token with `python cli.py create_token --tenant-id my-tenant "
        "--user-id me --role admin`, open the Swagger UI at / and paste `Bearer <token>` "
        "into Authorize."
    )
