"""Fields every catalog response carries."""

from __future__ import annotations

import copy

from flask_restx import Model, Namespace, fields

from commons.domain.catalog import NAME_MAX_LENGTH, STATUSES
from time_tracker_api.validation import NOT_BLANK, UUID, NullableDateTime

COMMON_OUTPUT = {
    "id": UUID(readonly=True, description="Server-generated id"),
    "tenant_id": fields.String(readonly=True, description="The owning tenant"),
    "deleted": NullableDateTime(readonly=True, description="When it was deleted; null if live"),
    "created_at": fields.DateTime(
        readonly=True, description="When it was created (server time, UTC)"
    ),
    "updated_at": fields.DateTime(
        readonly=True,
        description="When it last changed (server time, UTC): any update, archive, deletion, "
        "stop or restart; what `updated_since` compares",
    ),
}


def name_field(what: str, example: str) -> fields.String:
    return fields.String(
        required=True,
        max_length=NAME_MAX_LENGTH,
        pattern=NOT_BLANK,
        description=f"Name of the {what}; not blank",
        example=example,
    )


def partial_model(ns: Namespace, model: Model) -> Model:
    """The model of a partial update (PUT): the same fields, none of them required."""
    optional = {}
    for name, field in model.items():
        optional[name] = copy.copy(field)
        optional[name].required = False
    return ns.model(f"{model.name.removesuffix('Input')}Update", optional)


def status_field() -> fields.String:
    return fields.String(enum=list(STATUSES), description="active or inactive (archived)")
