"""Project types: a tree of kinds of project, per customer or internal."""

from commons.domain.catalog import DESCRIPTION_MAX_LENGTH, PROJECT_TYPE
from time_tracker_api.catalog_models import COMMON_OUTPUT, name_field
from time_tracker_api.catalog_resources import filters_parser, register_catalog_resources
from time_tracker_api.serialization import Namespace
from time_tracker_api.validation import NullableString, NullableUUID

ns = Namespace("project-types", description="Kinds of project, forming a tree")

project_type_input = ns.model(
    "ProjectTypeInput",
    {
        "name": name_field("project type", "Fixed price"),
        "description": NullableString(
            max_length=DESCRIPTION_MAX_LENGTH,
            description="About the project type",
            example="Billed per milestone",
        ),
        "customer_id": NullableUUID(description="The customer it belongs to; none = internal"),
        "parent_id": NullableUUID(description="The parent project type"),
    },
)
project_type = ns.inherit("ProjectType", project_type_input, dict(COMMON_OUTPUT))

register_catalog_resources(
    ns,
    PROJECT_TYPE,
    project_type,
    project_type_input,
    filters_parser(PROJECT_TYPE, "customer_id", "parent_id"),
)
