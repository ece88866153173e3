"""The Python floor (P): S1 in plain Python, with no framework and no ORM.

A bare WSGI callable, served by bench/harness.py with the API's gunicorn settings, that does
what S1 must do and nothing else: it verifies the same JWT with the API's `TokenVerifier`
(PyJWT, the run's secret), runs the SQL statements S1 sends (captured from the application by
bench/db_floor.py, the caller's tenant and user put in place of the captured ones) on a
psycopg connection of its thread (autocommit, as the API reads), and answers the month's rows
as JSON dumped by orjson. What S1 costs above P is what Flask, Flask-RESTX, SQLAlchemy, the
domain objects and the API's serialization add.

Configured by the environment: JWT_SECRET_KEY, FLOOR_DATABASE_URL (a libpq URL) and
FLOOR_STATEMENTS (a pickle of bench.db_floor.Statement's, with the captured tenant and user).
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import psycopg

from commons.domain.exceptions import Unauthenticated
from time_tracker_api.config import JwtSettings
from time_tracker_api.security import TokenVerifier, identity_from_claims

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
JSON = [("Content-Type", "application/json")]


def create_app() -> Callable[[dict, StartResponse], Iterable[bytes]]:
    verifier = TokenVerifier(JwtSettings(secret_key=os.environ["JWT_SECRET_KEY"]))
    captured = pickle.loads(Path(os.environ["FLOOR_STATEMENTS"]).read_bytes())  # noqa: S301
    statements, tenant_id, user_id = captured["statements"], captured["tenant"], captured["user"]
    dsn = os.environ["FLOOR_DATABASE_URL"]
    local = threading.local()

    def connection() -> psycopg.Connection:
        found = getattr(local, "connection", None)
        if found is None or found.closed:
            found = local.connection = psycopg.connect(dsn, autocommit=True)
        return found

    def answer(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
        start_response(status, [*JSON, ("Content-Length", str(len(body)))])
        return [body]

    def app(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/health":
            return answer(start_response, "200 OK", b'{"status":"ok"}')
        if path != "/p":
            return answer(start_response, "404 Not Found", b'{"message":"not found"}')
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return answer(start_response, "401 Unauthorized", b'{"message":"no bearer token"}')
        try:
            identity = identity_from_claims(verifier.verify(token))
        except Unauthenticated:
            return answer(start_response, "401 Unauthorized", b'{"message":"bad token"}')
        swap = {tenant_id: identity.tenant_id, user_id: identity.user_id}
        rows: list[dict[str, Any]] = []
        with connection().cursor() as cursor:
            for statement, parameters in statements:
                cursor.execute(statement, substitute(parameters, swap))
                if cursor.description is not None:
                    names = [column.name for column in cursor.description]
                    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return answer(start_response, "200 OK", orjson.dumps(rows))

    return app


def substitute(parameters: Any, swap: dict[str, str]) -> Any:
    """The statement's parameters with the captured tenant and user replaced by the caller's."""
    if isinstance(parameters, dict):
        return {
            name: swap.get(value, value) if isinstance(value, str) else value
            for name, value in parameters.items()
        }
    if isinstance(parameters, list | tuple):
        return [swap.get(value, value) if isinstance(value, str) else value for value in parameters]
    return parameters
