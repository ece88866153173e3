"""The detailed rows of a report as CSV (RFC 4180, UTF-8) or XLSX, written as they are read."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any

import xlsxwriter

from commons.domain.reports import hours_and_minutes
from commons.domain.time_entries import TimeEntry

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = (
    "User",
    "Date",
    "Start",
    "End",
    "Duration (h:mm)",
    "Duration (hours)",
    "Customer",
    "Project",
    "Activity",
    "Description",
    "Ticket",
    "Technologies",
)
# A spreadsheet runs a cell starting with one of these as a formula (or a DDE command).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64 * 1024


def neutralised(text: str | None) -> str:
    """Text that no spreadsheet reads as a formula: a leading ' where it could."""
    if not text:
        return ""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _row(entry: TimeEntry, zone: tzinfo, now: datetime) -> tuple[Any, ...]:
    start = entry.start_date.astimezone(zone)
    end = entry.end_date.astimezone(zone) if entry.end_date else None
    seconds = max(((entry.end_date or now) - entry.start_date).total_seconds(), 0.0)
    return (
        start,
        end,
        seconds,
        tuple(
            neutralised(value)
            for value in (
                entry.owner_email or entry.owner_id,
                entry.customer_name,
                entry.project_name,
                entry.activity_name,
                entry.description,
                entry.uri,
                ", ".join(entry.technologies),
            )
        ),
    )


def csv_chunks(batches: Iterable[list[TimeEntry]], zone: tzinfo) -> Iterator[bytes]:
    """The CSV, a header row then one chunk of rows per batch of entries."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for batch in batches:
        now = datetime.now(UTC)
        for entry in batch:
            start, end, seconds, (user, customer, project, activity, text, uri, techs) = _row(
                entry, zone, now
            )
            writer.writerow(
                (
                    user,
                    start.date().isoformat(),
                    start.isoformat(timespec="seconds"),
                    end.isoformat(timespec="seconds") if end else "",
                    hours_and_minutes(seconds),
                    f"{seconds / 3600:.2f}",
                    customer,
                    project,
                    activity,
                    text,
                    uri,
                    techs,
                )
            )
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def xlsx_chunks(batches: Iterable[list[TimeEntry]], zone: tzinfo) -> Iterator[bytes]:
    """The workbook: rows go to disk as they are written (constant memory), then the file is
    sent in chunks and removed."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "remove_timezone": True})
        sheet = workbook.add_worksheet("Time entries")
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        moment = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        duration = workbook.add_format({"num_format": "[h]:mm"})
        hours = workbook.add_format({"num_format": "0.00"})
        sheet.write_row(0, 0, HEADER)
        row = 1
        for batch in batches:
            now = datetime.now(UTC)
            for entry in batch:
                start, end, seconds, (user, customer, project, activity, text, uri, techs) = _row(
                    entry, zone, now
                )
                local_start = start.replace(tzinfo=None)
                sheet.write_string(row, 0, user)
                sheet.write_datetime(
                    row, 1, local_start.replace(hour=0, minute=0, second=0, microsecond=0), day
                )
                sheet.write_datetime(row, 2, local_start, moment)
                if end is not None:
                    sheet.write_datetime(row, 3, end.replace(tzinfo=None), moment)
                sheet.write_number(row, 4, seconds / 86400, duration)
                sheet.write_number(row, 5, round(seconds / 3600, 4), hours)
                for column, value in enumerate((customer, project, activity, text, uri, techs), 6):
                    sheet.write_string(row, column, value)
                row += 1
        workbook.close()
        with open(path, "rb") as file:
            while chunk := file.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)
