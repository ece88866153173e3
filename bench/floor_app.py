"""The framework floor: a bare Flask app that verifies the API's JWT and returns a constant.

bench/harness.py serves `bench.floor_app:create_app()` with the API's gunicorn settings; the
difference between it and a scenario is what the API's own work costs (routing through
Flask-RESTX, the database, serialization).
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request

from time_tracker_api.config import JwtSettings
from time_tracker_api.security import TokenVerifier, identity_from_claims

CONSTANT = {"ok": True}


def create_app() -> Flask:
    app = Flask(__name__)
    verifier = TokenVerifier(JwtSettings(secret_key=os.environ["JWT_SECRET_KEY"]))

    @app.get("/health")
    def health():
        return jsonify(status="ok")

    @app.get("/floor")
    def floor():
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return jsonify(message="no bearer token"), 401
        identity_from_claims(verifier.verify(token))  # Unauthenticated -> 500, never expected
        return jsonify(CONSTANT)

    return app
