"""Reports: totals grouped the way people bill and review time, and exports of the rows."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from flask import current_app, request
from flask_restx import Resource, fields, reqparse

from commons.domain.exceptions import ValidationFailed
from commons.domain.reports import DIMENSIONS, ReportFilters, report_filters
from commons.domain.time_windows import MAX_OFFSET_MINUTES
from commons.services import reports
from time_tracker_api.context import principal, storage
from time_tracker_api.reports.exports import CSV, XLSX, csv_chunks, xlsx_chunks
from time_tracker_api.serialization import Namespace
from time_tracker_api.validation import SPACE_FOR_PLUS, NullableString, uuid_argument

ns = Namespace("reports", description="Totals per customer, project, person or period; exports")

FILTERS = (
    ("start_date", "First day (ISO 8601 date, or a date-time), required", "2026-06-01"),
    ("end_date", "Last day, inclusive (or an exclusive date-time), required", "2026-06-30"),
    ("timezone", "An IANA time zone for days, weeks and months", "Europe/Berlin"),
    ("timezone_offset", "Or an offset in minutes, JavaScript's sign (UTC-5 is 300)", "300"),
    ("user_id", "Admins: comma-separated user ids, or * for everyone", None),
    ("customer_id", "Only this customer's projects", None),
    ("project_id", "Only this project", None),
    ("activity_id", "Only this activity", None),
    ("uri", "Only this ticket id or link", None),
    ("technology", "Only entries with this technology", None),
)


def _documented(schema: dict[str, Any]) -> Callable[[str], str]:
    """A query value kept as text for `report_filters`, documented in Swagger as `schema`."""

    def text(value: str) -> str:
        return value

    text.__schema__ = schema  # type: ignore[attr-defined]
    return text


SCHEMAS: dict[str, Callable[[str], str]] = {
    "timezone_offset": _documented(
        {"type": "integer", "minimum": -MAX_OFFSET_MINUTES, "maximum": MAX_OFFSET_MINUTES}
    ),
    "customer_id": uuid_argument,
    "project_id": uuid_argument,
    "activity_id": uuid_argument,
    "format": _documented({"type": "string", "enum": ["csv", "xlsx"]}),
}


def _arguments(*extra: tuple[str, str, str | None]) -> reqparse.RequestParser:
    parser = reqparse.RequestParser()
    for name, help, example in (*FILTERS, *extra):
        # Text: `report_filters` validates every value, in one place for both reports.
        described = f"{help}; e.g. {example}" if example else help
        required = name in ("start_date", "end_date")
        kind = SCHEMAS.get(name, str)
        parser.add_argument(name, location="args", help=described, required=required, type=kind)
    return parser


summary_arguments = _arguments(
    ("group_by", f"One or two of {', '.join(DIMENSIONS)}, comma-separated", "project,day")
)
export_arguments = _arguments(("format", "csv (default) or xlsx; else the Accept header", "xlsx"))


def _group_fields(key: str, name: str, seconds: float, entries: int) -> dict[str, fields.Raw]:
    """A group's fields, with the example Swagger UI shows for them."""
    return {
        "key": NullableString(
            description="An id, a technology, or the day/week/month start; null for the entries "
            "without any technology (named `(none)`)",
            example=key,
        ),
        "name": fields.String(
            description="A name, an email, or the date, ISO week or month", example=name
        ),
        "seconds": fields.Float(description="Time inside the group", example=seconds),
        "entries": fields.Integer(description="Entries with time in the group", example=entries),
    }


# The example: a project's time in June, and the part of it in one week.
sub_group = ns.model(
    "ReportSubGroup",
    {
        **_group_fields("2026-06-01", "2026-W23", 28800.0, 4),
        "groups": fields.List(fields.Raw, description="Always empty: two levels", example=[]),
    },
)
group = ns.model(
    "ReportGroup",
    {
        **_group_fields("6f1c2a5e-8d3b-4c7a-9e21-0b5d4f3a6c18", "Website", 61200.0, 9),
        "groups": fields.List(fields.Nested(sub_group), description="Sub-groups"),
    },
)
report = ns.model(
    "ReportSummary",
    {
        "total_seconds": fields.Float(description="Time inside the window", example=95400.0),
        "entries": fields.Integer(description="Entries with time inside the window", example=14),
        "groups": fields.List(fields.Nested(group)),
    },
)


def _filters(parser: reqparse.RequestParser) -> ReportFilters:
    args = dict(parser.parse_args())
    # reqparse keeps a repeated argument's first value: repeated user ids name each user (as
    # commas do); any other filter given twice is refused rather than half read.
    for name in args:
        given = request.args.getlist(name)
        if len(given) < 2:
            continue
        if name != "user_id":
            raise ValidationFailed(f"{name} is given {len(given)} times", {name: "give it once"})
        args[name] = ",".join(given)
    for name in ("start_date", "end_date"):
        if isinstance(args.get(name), str):
            args[name] = SPACE_FOR_PLUS.sub(r"\1+\2", args[name].strip())
    return report_filters(args)


@ns.route("/summary")
class Summary(Resource):
    @ns.doc(id="get_report_summary")
    @ns.expect(summary_arguments)
    @ns.response(400, "Bad filters or group_by")
    @ns.response(403, "user_id is for admins")
    @ns.marshal_with(report)
    def get(self) -> Any:
        """Time in the window, in groups and sub-groups (by seconds; periods in order)"""
        return reports.summary(storage(), principal(), _filters(summary_arguments))


@ns.route("/entries")
class Entries(Resource):
    @ns.doc(id="export_report_entries")
    @ns.expect(export_arguments)
    @ns.produces([CSV, XLSX, "application/json"])  # JSON: the error answers
    @ns.response(200, "The rows, as a CSV or XLSX file")
    @ns.response(400, "Bad filters or format")
    @ns.response(403, "user_id is for admins")
    def get(self) -> Any:
        """The report's entries as CSV (default) or XLSX, newest first, times in your zone"""
        filters = _filters(export_arguments)
        kind = _format(request.args.get("format"))
        batches = reports.report_entries(storage(), principal(), filters)
        # The first batch is read now: a refusal (403, 400) is an error answer, not a file.
        head = list(itertools.islice(batches, 1))
        rows = itertools.chain(head, batches)
        chunks = (csv_chunks if kind == CSV else xlsx_chunks)(rows, filters.zone)
        response = current_app.response_class(_closing(chunks, batches), 200, mimetype=kind)
        if kind == CSV:
            response.headers["Content-Type"] = "text/csv; charset=utf-8"
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{_file_name(filters)}.{"csv" if kind == CSV else "xlsx"}"'
        )
        return response


def _format(requested: str | None) -> str:
    if requested is not None:
        chosen = {"csv": CSV, "xlsx": XLSX}.get(requested.strip().lower())
        if chosen is None:
            raise ValidationFailed("Unknown format", {"format": "must be csv or xlsx"})
        return chosen
    best = request.accept_mimetypes.best_match([CSV, XLSX], default=CSV)
    return (
        XLSX
        if best == XLSX and request.accept_mimetypes[XLSX] > request.accept_mimetypes[CSV]
        else CSV
    )


def _file_name(filters: ReportFilters) -> str:
    first = filters.window.start.astimezone(filters.zone).date()
    last = (filters.window.end - timedelta(microseconds=1)).astimezone(filters.zone).date()
    return f"time-entries_{first.isoformat()}_{last.isoformat()}"


def _closing(chunks: Iterator[bytes], source: Iterator[Any]) -> Iterator[bytes]:
    """`chunks`, closing `source` (its snapshot) once written or when the client is gone."""
    try:
        yield from chunks
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
