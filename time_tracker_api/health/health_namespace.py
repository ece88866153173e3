"""Liveness and readiness probes; no token needed."""

from typing import Any

from flask_restx import Resource, fields

from time_tracker_api.context import schema, storage
from time_tracker_api.serialization import Namespace
from time_tracker_api.version import __version__

ns = Namespace("health", description="Probes for orchestrators and load balancers")

status = ns.model(
    "Status", {"status": fields.String(readonly=True), "version": fields.String(readonly=True)}
)


@ns.route("health")
@ns.doc(security=[])
class Health(Resource):
    @ns.doc(id="health")
    @ns.marshal_with(status)
    def get(self) -> Any:
        """The process is up"""
        return {"status": "ok", "version": __version__}


@ns.route("ready")
@ns.doc(security=[])
@ns.response(
    503,
    "The storage cannot be reached (`storage_unavailable`), or migrations are pending "
    "(`schema_out_of_date`: run `python cli.py migrate`)",
)
class Ready(Resource):
    @ns.doc(id="ready")
    @ns.marshal_with(status)
    def get(self) -> Any:
        """The storage can be reached and its schema is up to date"""
        schema().require_up_to_date(fresh=True)
        storage().ping()
        return {"status": "ready", "version": __version__}
