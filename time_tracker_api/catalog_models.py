"""Fields every catalog response carries (contract §5)."""

from __future__ import annotations

from flask_restx import fields

from commons.domain.catalog import NAME_MAX_LENGTH, STATUSES
from time_tracker_api.validation import UUID

COMMON_OUTPUT = {
    "id": UUID(readonly=True, description="Server-generated id"),
    "tenant_id": fields.String(readonly=True, description="The owning tenant"),
    "deleted": fields.DateTime(readonly=True, description="When it was deleted; null if live"),
}


def name_field(what: str) -> fields.String:
    return fields.String(
        required=True, max_length=NAME_MAX_LENGTH, description=f"Name of the {what}", example="Name"
    )


def status_field() -> fields.String:
    return fields.String(enum=list(STATUSES), description="active or inactive (archived)")
