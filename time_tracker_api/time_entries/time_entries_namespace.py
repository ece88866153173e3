"""Time entries: timers and timesheets."""

from __future__ import annotations

from typing import Any

from flask_restx import Resource, fields, inputs, reqparse

from commons.domain.catalog import NAME_MAX_LENGTH
from commons.domain.exceptions import NotFound
from commons.domain.time_entries import DESCRIPTION_MAX_LENGTH, MAX_TECHNOLOGIES, URI_MAX_LENGTH
from commons.domain.time_windows import MAX_OFFSET_MINUTES, caller_zone, offset_minutes
from commons.services import time_entries
from commons.services.time_entries import EntryFilters
from time_tracker_api.catalog_models import COMMON_OUTPUT
from time_tracker_api.context import principal, storage
from time_tracker_api.pages import (
    page_arguments,
    page_fields,
    page_request,
    sync_arguments,
    sync_query,
)
from time_tracker_api.serialization import Namespace
from time_tracker_api.validation import (
    UUID,
    NullableDateTime,
    NullableInteger,
    NullableString,
    count_argument,
    json_body,
    query_instant,
    uuid_argument,
)

ns = Namespace("time-entries", description="Timers and timesheets")

entry_fields = {
    "project_id": UUID(required=True, description="An active project of the tenant"),
    "activity_id": UUID(required=True, description="An active activity of the tenant"),
    "description": NullableString(
        max_length=DESCRIPTION_MAX_LENGTH,
        description="What was done",
        example="Reviewed the pull request",
    ),
    "start_date": fields.DateTime(
        description="When it started (default: now); ISO 8601", example="2025-01-06T09:00:00Z"
    ),
    "end_date": NullableDateTime(
        description="When it ended; null while running", example="2025-01-06T10:30:00Z"
    ),
    "uri": NullableString(
        max_length=URI_MAX_LENGTH, description="A ticket id or link", example="TT-42"
    ),
    "technologies": fields.List(
        fields.String(max_length=NAME_MAX_LENGTH),
        max_items=MAX_TECHNOLOGIES,
        unique=True,
        description="At most ten different technologies",
        example=["python"],
    ),
    "timezone_offset": NullableInteger(
        min=-MAX_OFFSET_MINUTES,
        max=MAX_OFFSET_MINUTES,
        description="The client's offset in minutes, JavaScript's sign (UTC-5 is 300)",
        example=0,
    ),
}
entry_input = ns.model("TimeEntryInput", entry_fields)
entry_update = ns.model(
    "TimeEntryUpdate",
    {
        **entry_fields,
        "project_id": UUID(description="An active project of the tenant"),
        "activity_id": UUID(description="An active activity of the tenant"),
        "update_last_entry_if_overlap": fields.Boolean(
            description="Shorten the previous entry to end where this one now starts"
        ),
    },
)
entry = ns.model(
    "TimeEntry",
    {
        **COMMON_OUTPUT,
        **entry_fields,
        "start_date": fields.DateTime(description="When it started"),
        "running": fields.Boolean(readonly=True),
        "owner_id": fields.String(readonly=True),
        # Read model, from the referenced records: null where one cannot be found.
        "owner_email": NullableString(readonly=True),
        "project_name": NullableString(readonly=True, description="Suffixed ' (archived)'"),
        "activity_name": NullableString(readonly=True),
        "customer_id": NullableString(readonly=True),
        "customer_name": NullableString(readonly=True),
    },
)
duration = ns.model(
    "Duration", {"hours": fields.Integer, "minutes": fields.Integer, "seconds": fields.Integer}
)
worked = ns.model(
    "WorkedTime",
    {
        "day": fields.Nested(duration),
        "week": fields.Nested(duration),
        "month": fields.Nested(duration),
    },
)
page = ns.model("TimeEntryPage", page_fields(entry))


def _offset_minutes(value: str) -> int:
    """A UTC offset in minutes, within the range of real time zones."""
    minutes = offset_minutes(value)
    if abs(minutes) > MAX_OFFSET_MINUTES:
        raise ValueError(f"must be between -{MAX_OFFSET_MINUTES} and {MAX_OFFSET_MINUTES}")
    return minutes


_offset_minutes.__schema__ = {  # type: ignore[attr-defined]
    "type": "integer",
    "minimum": -MAX_OFFSET_MINUTES,
    "maximum": MAX_OFFSET_MINUTES,
}


def _zone_arguments(parser: reqparse.RequestParser) -> reqparse.RequestParser:
    parser.add_argument(
        "timezone_offset", type=_offset_minutes, location="args", help="minutes, JavaScript's sign"
    )
    parser.add_argument("timezone", location="args", help="an IANA time zone, e.g. America/Bogota")
    return parser


list_filters = _zone_arguments(reqparse.RequestParser())
list_filters.add_argument("project_id", type=uuid_argument, location="args")
list_filters.add_argument("activity_id", type=uuid_argument, location="args")
list_filters.add_argument("uri", location="args", help="exact ticket id or link")
list_filters.add_argument("limit", type=count_argument(1), location="args")
list_filters.add_argument(
    "user_id", location="args", help="admins: comma-separated user ids, or * for everyone"
)
list_filters.add_argument("month", type=inputs.int_range(1, 12), location="args")
list_filters.add_argument("year", type=inputs.int_range(1, 9998), location="args")
list_filters.add_argument("start_date", location="args", help="ISO 8601 date or date-time")
list_filters.add_argument(
    "end_date", location="args", help="ISO 8601 date (inclusive) or date-time"
)
sync_arguments(list_filters)

page_filters = page_arguments(list_filters.copy())

summary_filters = _zone_arguments(reqparse.RequestParser())
summary_filters.add_argument(
    "time_offset", type=_offset_minutes, location="args", help="alias of timezone_offset"
)


def _filters(args: dict[str, Any]) -> EntryFilters:
    zone = caller_zone(args.get("timezone_offset"), args.get("timezone"))
    start, end = args.get("start_date"), args.get("end_date")
    user_ids = args.get("user_id")
    return EntryFilters(
        zone=zone,
        user_ids=tuple(u for u in user_ids.split(",") if u) if user_ids else None,
        start_date=query_instant(start, zone, "start_date") if start else None,
        end_date=query_instant(end, zone, "end_date", end_of_day=True) if end else None,
        month=args.get("month"),
        year=args.get("year"),
        project_id=args.get("project_id"),
        activity_id=args.get("activity_id"),
        uri=args.get("uri"),
        limit=args.get("limit"),
        sync=sync_query(args),
    )


def _entry_id(value: str) -> str:
    # A value that is no UUID names no entry: the same answer as a missing one.
    try:
        return uuid_argument(value)
    except ValueError:
        raise NotFound("Time entry not found") from None


@ns.route("")
class TimeEntries(Resource):
    @ns.doc(id="list_time_entries")
    @ns.expect(list_filters)
    @ns.response(403, "user_id is for admins")
    @ns.stream_list_with(entry)
    def get(self) -> Any:
        """List time entries intersecting a window (default: this month), newest first

        With updated_since or include_deleted, a sync: the entries changed since then, of any
        date unless a window is given, oldest change first (by updated_at, then id)."""
        filters = _filters(list_filters.parse_args())
        if filters.user_ids is None:
            return [time_entries.list_entries(storage(), principal(), filters)]
        # Other people's entries (an admin's team, the whole tenant) are read in batches
        # from one snapshot and written as they are read.
        return time_entries.stream_entries(storage(), principal(), filters)

    @ns.doc(id="create_time_entry")
    @ns.expect(entry_input)
    @ns.response(400, "Invalid input")
    @ns.response(409, "You already have a running entry")
    @ns.response(422, "It overlaps another entry")
    @ns.marshal_with(entry, code=201)
    def post(self) -> Any:
        """Start a timer (no end_date) or log a finished time entry"""
        return time_entries.create_entry(storage(), principal(), json_body(entry_input)), 201


@ns.route("/running")
class Running(Resource):
    @ns.doc(id="get_running_time_entry")
    @ns.response(204, "No entry is running")
    @ns.marshal_with(entry)
    def get(self) -> Any:
        """The caller's running entry (204 when none)"""
        running = time_entries.running_entry(storage(), principal())
        return running if running is not None else (None, 204)


@ns.route("/latest")
class Latest(Resource):
    @ns.doc(id="list_latest_time_entries")
    @ns.marshal_list_with(entry)
    def get(self) -> Any:
        """The caller's most recent entry of each project, newest first"""
        return time_entries.latest_entries(storage(), principal())


@ns.route("/summary")
class Summary(Resource):
    @ns.doc(id="get_time_entries_summary")
    @ns.expect(summary_filters)
    @ns.marshal_with(worked)
    def get(self) -> Any:
        """Time worked today, this week (from Monday) and this month, in the caller's zone"""
        args = summary_filters.parse_args()
        offset = (
            args["timezone_offset"] if args["timezone_offset"] is not None else args["time_offset"]
        )
        return time_entries.summary(storage(), principal(), caller_zone(offset, args["timezone"]))


@ns.route("/paginated")
class Paginated(Resource):
    @ns.doc(id="page_time_entries")
    @ns.expect(page_filters)
    @ns.response(403, "user_id is for admins")
    @ns.marshal_with(page)
    def get(self) -> Any:
        """A page of the list (start or after, length ≤ 500), the next page's cursor, the total"""
        args = page_filters.parse_args()
        filters = _filters(args)
        request = page_request(args, by_update=filters.sync is not None)
        return time_entries.page_entries(storage(), principal(), filters, request)


@ns.route("/<record_id:id>")
@ns.param("id", "The time entry id (a UUID)")
@ns.response(404, "No such entry in your tenant")
class TimeEntry(Resource):
    @ns.doc(id="get_time_entry")
    @ns.response(403, "Neither the owner nor an admin")
    @ns.marshal_with(entry)
    def get(self, id: str) -> Any:
        """Read a time entry (its owner and admins)"""
        return time_entries.get_entry(storage(), principal(), _entry_id(id))

    @ns.doc(id="update_time_entry")
    @ns.expect(entry_update)
    @ns.response(400, "Invalid input")
    @ns.response(403, "Not the owner")
    @ns.response(409, "You already have a running entry")
    @ns.response(422, "It overlaps another entry")
    @ns.marshal_with(entry)
    def put(self, id: str) -> Any:
        """Change some fields of your entry"""
        changes = json_body(entry_update, partial=True)
        shorten = bool(changes.pop("update_last_entry_if_overlap", False))
        return time_entries.update_entry(
            storage(), principal(), _entry_id(id), changes, update_last_entry_if_overlap=shorten
        )

    @ns.doc(id="delete_time_entry")
    @ns.response(204, "Deleted")
    @ns.response(403, "Not the owner")
    def delete(self, id: str) -> Any:
        """Delete your entry; it is hidden from every read afterwards"""
        time_entries.delete_entry(storage(), principal(), _entry_id(id))
        return None, 204


@ns.route("/<record_id:id>/stop")
@ns.param("id", "The time entry id (a UUID)")
@ns.response(404, "No such entry in your tenant")
class Stop(Resource):
    @ns.doc(id="stop_time_entry")
    @ns.response(403, "Not the owner")
    @ns.response(422, "Already stopped")
    @ns.marshal_with(entry)
    def post(self, id: str) -> Any:
        """End your running entry now"""
        return time_entries.stop_entry(storage(), principal(), _entry_id(id))


@ns.route("/<record_id:id>/restart")
@ns.param("id", "The time entry id (a UUID)")
@ns.response(404, "No such entry in your tenant")
class Restart(Resource):
    @ns.doc(id="restart_time_entry")
    @ns.response(403, "Not the owner")
    @ns.response(409, "You already have a running entry")
    @ns.response(422, "Already running, or it would overlap a later entry")
    @ns.marshal_with(entry)
    def post(self, id: str) -> Any:
        """Make your stopped entry run again"""
        return time_entries.restart_entry(storage(), principal(), _entry_id(id))
