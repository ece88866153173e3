"""Rate limits per caller, with the draft IETF `RateLimit-*` headers on every answer.

An authenticated call counts against the token's tenant and user; any other call (no token, or
one that fails verification) counts against the client address. The docs and the probes are
exempt. The counters live in `RATE_LIMIT_STORAGE_URI`: `memory://` per worker process, or Redis
shared by every worker and instance.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter

from commons.domain.exceptions import DomainError
from time_tracker_api import security
from time_tracker_api.config import Config

logger = logging.getLogger(__name__)
LIMIT_HEADER = "RateLimit-Limit"
REMAINING_HEADER = "RateLimit-Remaining"
RESET_HEADER = "RateLimit-Reset"
HEADERS = {
    LIMIT_HEADER: "The requests allowed in the current window",
    REMAINING_HEADER: "The requests left in the current window",
    RESET_HEADER: "Seconds until the window resets",
}


def init_app(app: Flask, config: Config) -> None:
    """Count every call but the exempt ones; must be wired before authentication."""
    limiter = Limiter(
        caller_key,
        # One budget per caller across every endpoint (default limits would be per endpoint).
        application_limits=[config.rate_limit] if config.rate_limit else [],
        storage_uri=config.rate_limit_storage_uri,
        key_prefix=config.rate_limit_key_prefix,
        # Written below instead: Flask-Limiter's own put `Retry-After` on every answer and the
        # reset as a timestamp, where the draft has seconds.
        headers_enabled=False,
        # When Redis cannot be reached, each worker counts in memory until it is back.
        in_memory_fallback_enabled=True,
        enabled=bool(config.rate_limit),
    )
    limiter.init_app(app)
    limiter.request_filter(_exempt)
    app.extensions["rate_limiter"] = limiter

    @app.after_request
    def add_rate_limit_headers(response: Response) -> Response:
        current = limiter.current_limit
        if current is None:
            return response
        try:
            reset, remaining = current.window
        except Exception as error:  # noqa: BLE001 - the headers are a hint, the answer stands
            logger.warning("Rate limit headers left out: the storage failed (%s)", error)
            return response
        response.headers[LIMIT_HEADER] = str(current.limit.amount)
        response.headers[REMAINING_HEADER] = str(max(remaining, 0))
        response.headers[RESET_HEADER] = str(_seconds_until(reset))
        return response


def caller_key() -> str:
    """`user:…` for a verified token's tenant and user, else `address:<client address>`."""
    if request.headers.get("Authorization"):
        try:
            identity = security.verified_identity()
        except DomainError:
            pass  # authentication refuses it right after; the refusal counts for the address
        else:
            # The tenant's length keeps "a:b" + "c" apart from "a" + "b:c".
            tenant, user = identity.tenant_id, identity.user_id
            return f"user:{len(tenant)}:{tenant}:{user}"
    return f"address:{request.remote_addr or 'unknown'}"


def seconds_until_reset() -> int:
    """Seconds until the current caller's window resets (at least 1), for `Retry-After`."""
    limiter: Limiter | None = current_app.extensions.get("rate_limiter")
    current = limiter.current_limit if limiter else None
    return max(_seconds_until(current.window[0]), 1) if current else 1


def _seconds_until(moment: float) -> int:
    return max(int(moment - time.time() + 0.999), 0)


def _exempt() -> bool:
    return request.method == "OPTIONS" or security.is_public(request.path)
