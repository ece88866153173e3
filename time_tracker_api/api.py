"""The Flask-RESTX Api: Swagger UI at `/`, the bearer-token Authorize button, every namespace."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, make_response
from flask_restx import Api
from werkzeug.routing import BaseConverter

from time_tracker_api.errors import error_response
from time_tracker_api.serialization import json_bytes
from time_tracker_api.swagger_errors import document_errors
from time_tracker_api.version import __version__

AUTHORIZATIONS = {
    "Bearer": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Paste `Bearer <token>`; mint a development token with "
        "`python cli.py create_token --tenant-id T --user-id U --role admin`.",
    }
}


DESCRIPTION = (
    "Multi-tenant time tracking: catalog, timers and timesheets.\n\n"
    "Every error has the body `{message, code, errors}`. Text in bodies, paths, query strings "
    "and token claims must be UTF-8 without NUL characters or lone surrogates (400); a claim "
    "of the wrong JSON type is 401. Bodies are JSON nested at most 32 levels deep and at most "
    "`MAX_REQUEST_BYTES` (1 MiB by default) long, 413 `payload_too_large` beyond. Admin-only "
    "operations answer 403 before they look at the body. A query date-time whose `+` offset "
    "arrived as a space is read as `+`; paths answer with or without a trailing slash."
)


class RecordIdConverter(BaseConverter):
    """`<record_id:id>`: a path segment shaped like a UUID (any case), the ids of records.

    A route like `/projects/recent` then is not also the project "recent", and the methods it
    advertises (`Allow`) are only its own. Any other segment is 404, as a missing record is.
    """

    regex = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"


class TimeTrackerApi(Api):
    """An Api whose every error, from any layer, has the one error body."""

    def init_app(self, app: Flask, **kwargs: Any) -> None:
        app.url_map.converters["record_id"] = RecordIdConverter
        super().init_app(app, **kwargs)

    def handle_error(self, e: Exception) -> Response:
        return error_response(e)

    @property
    def __schema__(self) -> dict[str, Any]:
        """flask-restx's Swagger document, with the error answers every operation shares."""
        document = super().__schema__
        if "paths" in document and "Error" not in document.get("definitions", {}):
            document_errors(document)
        return document


def create_api() -> TimeTrackerApi:
    """The Api with every namespace added, not yet bound to an app."""
    from time_tracker_api.activities.activities_namespace import ns as activities
    from time_tracker_api.customers.customers_namespace import ns as customers
    from time_tracker_api.events.events_namespace import ns as events
    from time_tracker_api.feature_toggles.feature_toggles_namespace import ns as feature_toggles
    from time_tracker_api.health.health_namespace import ns as health
    from time_tracker_api.project_types.project_types_namespace import ns as project_types
    from time_tracker_api.projects.projects_namespace import ns as projects
    from time_tracker_api.reports.reports_namespace import ns as reports
    from time_tracker_api.technologies.technologies_namespace import ns as technologies
    from time_tracker_api.time_entries.time_entries_namespace import ns as time_entries
    from time_tracker_api.users.users_namespace import ns as users
    from time_tracker_api.webhooks.webhooks_namespace import ns as webhooks

    api = TimeTrackerApi(
        version=__version__,
        title="Time Tracker API",
        description=DESCRIPTION,
        doc="/",
        authorizations=AUTHORIZATIONS,
        security="Bearer",
        catch_all_404s=True,
    )
    namespaces = (
        activities,
        customers,
        project_types,
        projects,
        technologies,
        time_entries,
        reports,
        users,
        events,
        webhooks,
        feature_toggles,
    )
    for namespace in namespaces:
        api.add_namespace(namespace)
    api.add_namespace(health, path="/")
    api.representation("application/json")(output_json)
    return api


def output_json(data: Any, code: int, headers: Any = None) -> Response:
    """Responses as JSON (`json_bytes`)."""
    response = make_response(json_bytes(data), code)
    response.headers["Content-Type"] = "application/json"
    response.headers.extend(headers or {})
    return response
