"""The audit log: who changed what, and when."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask_restx import Resource, fields, reqparse

from commons.domain.audit import EventFilters
from commons.feature_toggles.flags import AUDIT_LOG
from commons.services import audit
from time_tracker_api.context import principal, require_feature, storage
from time_tracker_api.pages import page_arguments, page_fields, page_request
from time_tracker_api.serialization import Namespace
from time_tracker_api.validation import NullableString, query_instant

ns = Namespace("events", description="The tenant's audit log (admins)")

event = ns.model(
    "AuditEvent",
    {
        "id": fields.String(readonly=True, description="The event id"),
        "date": fields.DateTime(readonly=True, description="When the change happened (UTC)"),
        "user_id": fields.String(readonly=True, description="Who made the change"),
        "action": fields.String(
            readonly=True, description="create, update, archive, delete, stop or restart"
        ),
        "description": fields.String(readonly=True, description="What changed, for people"),
        "item_id": fields.String(readonly=True, description="The changed record's id"),
        "container_id": fields.String(readonly=True, description="The kind of record changed"),
        "session_id": NullableString(readonly=True, description="The request that made it"),
        "tenant_id": fields.String(readonly=True, description="The owning tenant"),
    },
)
page = ns.model("AuditEventPage", page_fields(event))

page_filters = reqparse.RequestParser()
page_filters.add_argument("item_id", location="args", help="the changed record's id")
page_filters.add_argument("container_id", location="args", help="e.g. project or time_entry")
page_filters.add_argument("user_id", location="args", help="who made the change")
page_filters.add_argument(
    "start_date", location="args", help="ISO 8601 date (UTC midnight) or date-time, inclusive"
)
page_filters.add_argument(
    "end_date", location="args", help="ISO 8601 date (inclusive) or date-time (exclusive)"
)
page_arguments(page_filters)


def _filters(args: dict[str, Any]) -> EventFilters:
    start, end = args.get("start_date"), args.get("end_date")
    return EventFilters(
        item_id=args.get("item_id") or None,
        container_id=args.get("container_id") or None,
        user_id=args.get("user_id") or None,
        start_date=query_instant(start, UTC, "start_date") if start else None,
        end_date=query_instant(end, UTC, "end_date", end_of_day=True) if end else None,
    )


@ns.route("")
class Events(Resource):
    @ns.doc(id="page_events")
    @ns.expect(page_filters)
    @ns.response(400, "Invalid filter or paging parameter")
    @ns.response(403, "Admins only; also when the `audit-log` feature flag is off for the caller")
    @ns.marshal_with(page)
    def get(self) -> Any:
        """A page of the tenant's audit log, newest first, the next page's cursor, the total"""
        require_feature(AUDIT_LOG)
        args = page_filters.parse_args()
        return audit.page_events(storage(), principal(), _filters(args), page_request(args))
