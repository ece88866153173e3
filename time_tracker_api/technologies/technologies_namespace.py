"""Technologies: tools and skills time entries mention."""

from flask_restx import fields

from commons.domain.catalog import TECHNOLOGY
from time_tracker_api.catalog_models import COMMON_OUTPUT, name_field
from time_tracker_api.catalog_resources import filters_parser, register_catalog_resources
from time_tracker_api.serialization import Namespace
from time_tracker_api.validation import NullableUUID

ns = Namespace("technologies", description="Tools and skills time entries mention")

technology_input = ns.model(
    "TechnologyInput",
    {
        "name": name_field("technology", "python"),
        "first_use_time_entry_id": NullableUUID(description="The entry that first used it"),
    },
)
technology = ns.inherit(
    "Technology",
    technology_input,
    {
        **COMMON_OUTPUT,
        "creation_date": fields.DateTime(readonly=True, description="When it was added"),
    },
)

register_catalog_resources(ns, TECHNOLOGY, technology, technology_input, filters_parser(TECHNOLOGY))
