"""Activities: what kind of work time is logged for."""

from commons.domain.catalog import ACTIVITY, ACTIVITY_DESCRIPTION_MAX_LENGTH
from time_tracker_api.catalog_models import COMMON_OUTPUT, name_field, status_field
from time_tracker_api.catalog_resources import filters_parser, register_catalog_resources
from time_tracker_api.serialization import Namespace
from time_tracker_api.validation import NullableString

ns = Namespace("activities", description="Kinds of work time is logged for")

activity_input = ns.model(
    "ActivityInput",
    {
        "name": name_field("activity", "Development"),
        "description": NullableString(
            max_length=ACTIVITY_DESCRIPTION_MAX_LENGTH,
            description="What the activity covers",
            example="Writing and reviewing code",
        ),
        "status": status_field(),
    },
)
activity = ns.inherit("Activity", activity_input, dict(COMMON_OUTPUT))

register_catalog_resources(ns, ACTIVITY, activity, activity_input, filters_parser(ACTIVITY))
