"""Users of the tenant, their roles and groups."""

from typing import Any

from flask_restx import Resource, fields

from commons.domain.principal import GROUP_NAME_MAX_LENGTH, GROUPS
from commons.services import users
from time_tracker_api.context import principal, storage
from time_tracker_api.serialization import Namespace
from time_tracker_api.validation import NullableString, json_body

ns = Namespace("users", description="The tenant's users, roles and groups")

user = ns.model(
    "User",
    {
        "id": fields.String(readonly=True, description="The user's id (token `oid` or `sub`)"),
        "name": NullableString(readonly=True),
        "email": NullableString(readonly=True),
        "roles": fields.List(fields.String, readonly=True, description="Role groups held"),
        "groups": fields.List(fields.String, readonly=True, description="Every group held"),
    },
)
group_input = ns.model(
    "GroupInput",
    {
        "group_name": fields.String(
            required=True,
            enum=list(GROUPS),
            max_length=GROUP_NAME_MAX_LENGTH,
            description="A group",
        )
    },
)
membership = ns.model("Membership", {"value": fields.Boolean(readonly=True)})


@ns.route("")
class Users(Resource):
    @ns.doc(id="list_users")
    @ns.marshal_list_with(user)
    def get(self) -> Any:
        """List the tenant's users (testers are listed to testers only)"""
        return users.list_users(storage(), principal())


@ns.route("/<string:id>")
@ns.param("id", "The user id")
@ns.response(404, "No such user in your tenant")
class User(Resource):
    @ns.doc(id="get_user")
    @ns.marshal_with(user)
    def get(self, id: str) -> Any:
        """Read a user"""
        return users.get_user(storage(), principal(), id)


@ns.route("/<string:id>/roles/<string:role>/<string:action>")
@ns.param("role", "admin or test", enum=["admin", "test"])
@ns.param("action", "grant or revoke", enum=["grant", "revoke"])
@ns.response(400, "Unknown role")
@ns.response(403, "Admins only")
@ns.response(404, "No such user in your tenant")
class Role(Resource):
    @ns.doc(id="change_user_role")
    @ns.marshal_with(user)
    def post(self, id: str, role: str, action: str) -> Any:
        """Grant or revoke a role within the tenant (admins)"""
        change = {"grant": users.grant_role, "revoke": users.revoke_role}.get(action)
        if change is None:
            ns.abort(404, "Unknown action; use grant or revoke")
        return change(storage(), principal(), id, role)


@ns.route("/<string:id>/is-member-of")
@ns.response(400, "Unknown group")
@ns.response(403, "Admins only")
@ns.response(404, "No such user in your tenant")
class IsMemberOf(Resource):
    @ns.doc(id="is_user_member_of")
    @ns.expect(group_input)
    @ns.marshal_with(membership)
    def post(self, id: str) -> Any:
        """Whether a user belongs to a group (admins)"""
        users.require_admin(principal())
        group = json_body(group_input)["group_name"]
        return {"value": users.is_member_of(storage(), principal(), id, group)}


@ns.route("/<string:id>/groups/<string:action>")
@ns.param("action", "add or remove", enum=["add", "remove"])
@ns.response(400, "Unknown group")
@ns.response(403, "Admins only")
@ns.response(404, "No such user in your tenant")
class Groups(Resource):
    @ns.doc(id="change_user_groups")
    @ns.expect(group_input)
    @ns.marshal_with(user)
    def post(self, id: str, action: str) -> Any:
        """Add a user to a group or remove them from it (admins)"""
        users.require_admin(principal())
        change = {"add": users.add_to_group, "remove": users.remove_from_group}.get(action)
        if change is None:
            ns.abort(404, "Unknown action; use add or remove")
        return change(storage(), principal(), id, json_body(group_input)["group_name"])
