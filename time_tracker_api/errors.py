"""The one place where exceptions become HTTP responses: `{message, code, errors}`."""

from __future__ import annotations

import logging
import re

from flask import Response, current_app, g, jsonify
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from commons.domain import exceptions as domain

logger = logging.getLogger(__name__)
CHALLENGE_UNSAFE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")

STATUS = {
    domain.ValidationFailed: 400,
    domain.Unauthenticated: 401,
    domain.Forbidden: 403,
    domain.NotFound: 404,
    domain.AlreadyExists: 409,
    domain.Conflict: 409,
    domain.PayloadTooLarge: 413,
    domain.Unprocessable: 422,
    domain.SchemaOutOfDate: 503,
    domain.StorageUnavailable: 503,
}


def error_response(error: BaseException) -> Response:
    """The JSON response for any exception; never a stack trace or a driver message."""
    if isinstance(error, RequestEntityTooLarge):  # a body without Content-Length grew too big
        error = too_large(current_app.config["MAX_CONTENT_LENGTH"])
    if isinstance(error, domain.DomainError):
        return _domain_response(error)
    if isinstance(error, RateLimitExceeded):
        return _rate_limited(error)
    if isinstance(error, HTTPException):
        return _http_response(error)
    logger.exception("Unexpected error (request id %s)", g.get("request_id", "-"), exc_info=error)
    return body(500, "An unexpected error occurred", "internal_error")


def too_large(limit: int) -> domain.PayloadTooLarge:
    return domain.PayloadTooLarge(
        f"The request body is larger than {limit} bytes", {"body": f"must be at most {limit} bytes"}
    )


def body(status: int, message: str, code: str, errors: dict | None = None) -> Response:
    payload: dict[str, object] = {"message": message, "code": code}
    if errors:
        payload["errors"] = errors
    response = jsonify(payload)
    response.status_code = status
    return response


def _domain_response(error: domain.DomainError) -> Response:
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
    response = body(status, error.message, error.code, error.errors)
    if isinstance(error, domain.Unauthenticated):
        # RFC 6750 allows printable ASCII but `"` and `\` here; the message may quote a token.
        description = CHALLENGE_UNSAFE.sub("?", error.message.replace('"', "'"))
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="time-tracker", error="invalid_token", error_description="{description}"'
        )
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _rate_limited(error: RateLimitExceeded) -> Response:
    from time_tracker_api.rate_limits import (
        seconds_until_reset,
    )  # it imports security, which imports us

    retry_after = seconds_until_reset()
    response = body(
        429,
        f"Too many requests: at most {error.limit.limit}; try again in {retry_after} seconds",
        "rate_limited",
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def _http_response(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") if isinstance(data, dict) else None
    message = (data.get("message") if isinstance(data, dict) else None) or error.description
    code = "validation_error" if errors else _snake_case(error.name)
    response = body(status, str(message or error.name), code, errors)
    valid_methods = getattr(error, "valid_methods", None)
    if valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


def _snake_case(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
