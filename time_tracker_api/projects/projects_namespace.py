"""Projects: what time is logged against, for a customer."""

from typing import Any

from flask_restx import Resource, fields

from commons.domain.catalog import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, PROJECT
from commons.services import time_entries
from time_tracker_api.catalog_models import COMMON_OUTPUT, name_field, status_field
from time_tracker_api.catalog_resources import filters_parser, register_catalog_resources
from time_tracker_api.context import principal, storage
from time_tracker_api.serialization import Namespace
from time_tracker_api.validation import UUID, NullableNested, NullableString, NullableUUID

ns = Namespace("projects", description="What time is logged against")

project_input = ns.model(
    "ProjectInput",
    {
        "name": name_field("project", "Website redesign"),
        "description": NullableString(
            max_length=DESCRIPTION_MAX_LENGTH,
            description="About the project",
            example="The new public website",
        ),
        "customer_id": UUID(required=True, description="The customer the project is for"),
        "project_type_id": NullableUUID(description="The kind of project"),
        "technologies": fields.List(
            fields.String(max_length=NAME_MAX_LENGTH),
            description="Technologies used",
            example=["python", "react"],
        ),
        "status": status_field(),
    },
)
summary = ns.model(
    "NamedSummary",
    {"name": fields.String(readonly=True), "description": NullableString(readonly=True)},
)
project = ns.inherit(
    "Project",
    project_input,
    {
        **COMMON_OUTPUT,
        "customer_name": NullableString(readonly=True, description="The customer's name"),
        "customer": NullableNested(summary, readonly=True),
        "project_type": NullableNested(summary, readonly=True),
    },
)


@ns.route("/recent")
class RecentProjects(Resource):
    @ns.doc(id="list_recent_projects")
    @ns.marshal_list_with(project)
    def get(self) -> Any:
        """Your active projects among your 20 latest time entries, most recent first"""
        return time_entries.recent_projects(storage(), principal())


register_catalog_resources(
    ns,
    PROJECT,
    project,
    project_input,
    filters_parser(PROJECT, "customer_id", "project_type_id"),
)
