"""Feature toggles as the caller sees them."""

from typing import Any

from flask_restx import Resource

from time_tracker_api.context import feature_toggles, principal
from time_tracker_api.serialization import Namespace

ns = Namespace("feature-toggles", description="Feature flags evaluated for the caller")

# A map from flag name to state; Flask-RESTX models cannot say "any key, boolean values".
toggles = ns.schema_model(
    "FeatureToggles",
    {
        "type": "object",
        "description": "Each defined flag, and whether it is on for the caller",
        "additionalProperties": {"type": "boolean"},
        "example": {"audit-log": True, "new-timesheet": False},
    },
)


@ns.route("")
class FeatureToggles(Resource):
    @ns.doc(id="list_feature_toggles")
    @ns.response(200, "Success", toggles)
    def get(self) -> Any:
        """Every defined feature flag, on or off for the caller"""
        return feature_toggles().evaluate(principal())
