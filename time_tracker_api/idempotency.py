"""`Idempotency-Key` on POST, PUT, PATCH and DELETE: a repeated request gets the first answer.

Before the view runs (after authentication and the input checks), the key is claimed or the
stored answer replayed with `Idempotent-Replayed: true`. The write services store the answer
in their transaction (`commons.services.idempotency.commit`); after the view, a failed request
frees its key and an answer no write stored is kept.
"""

from __future__ import annotations

import hashlib
import logging

from flask import Flask, Response, current_app, g, request

from commons.domain.exceptions import StorageUnavailable
from commons.domain.idempotency import HEADER, REPLAYED_HEADER, Answer, parse_key
from commons.services import idempotency
from time_tracker_api.context import storage

logger = logging.getLogger(__name__)
METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def init_app(app: Flask) -> None:
    """Wire the key handling; after authentication and the request text checks."""

    @app.before_request
    def replay_or_claim() -> Response | None:
        header = request.headers.get(HEADER)
        if header is None or request.method not in METHODS or "principal" not in g:
            return None
        if request.routing_exception is not None:
            return None  # no such route or method: its 404 or 405 comes next
        key = parse_key(header)
        answer = idempotency.begin(storage(), g.principal, key, fingerprint())
        return None if answer is None else replayed(answer)

    @app.after_request
    def keep_or_free(response: Response) -> Response:
        if idempotency.current() is None:
            return response
        success = 200 <= response.status_code < 300
        answer = Answer(response.status_code, response.get_data()) if success else None
        try:
            idempotency.finish(storage(), answer)
        except StorageUnavailable as error:
            # The answer stands; an unfreed claim expires with its lease.
            logger.warning("Idempotency key left as it was: %s", error.detail or error.message)
        return response

    @app.teardown_request
    def forget(error: BaseException | None) -> None:
        idempotency.forget()


def fingerprint() -> str:
    """What makes two requests the same: method, path, query, field mask and body bytes."""
    parts = (
        request.method.encode(),
        request.path.rstrip("/").encode(),
        request.query_string,
        request.headers.get(current_app.config["RESTX_MASK_HEADER"], "").encode(),
        request.get_data(cache=True),
    )
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def replayed(answer: Answer) -> Response:
    response = Response(answer.body, status=answer.status)
    if answer.body:
        response.content_type = "application/json"
    response.headers[REPLAYED_HEADER] = "true"
    return response
