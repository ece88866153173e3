"""Users of the tenant, their roles and groups."""

from typing import Any

from flask_restx import Resource, fields

from commons.domain.exceptions import NotFound
from commons.domain.principal import (
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    GROUP_NAME_MAX_LENGTH,
    GROUPS,
    USER_NAME_MAX_LENGTH,
)
from commons.services import users
from time_tracker_api.context import principal, storage
from time_tracker_api.serialization import Namespace
from time_tracker_api.validation import NullableString, json_body

ns = Namespace("users", description="The tenant's users, roles and groups")

user = ns.model(
    "User",
    {
        "id": fields.String(
            readonly=True,
            description="The user's id (token `oid` or `sub`); a server id for a user added"
            " by an admin until their first login",
        ),
        "name": NullableString(readonly=True),
        "email": NullableString(readonly=True),
        "roles": fields.List(fields.String, readonly=True, description="Role groups held"),
        "groups": fields.List(fields.String, readonly=True, description="Every group held"),
        "created_at": fields.DateTime(
            readonly=True, description="When the user was first recorded (server time, UTC)"
        ),
        "updated_at": fields.DateTime(
            readonly=True,
            description="When their name, email, roles or groups last changed (server time)",
        ),
    },
)
user_input = ns.model(
    "UserInput",
    {
        "email": fields.String(
            required=True,
            max_length=EMAIL_MAX_LENGTH,
            pattern=EMAIL_PATTERN,
            description="Their email; their first login with a token of this email (in any"
            " case) makes them this user",
            example="colleague@example.com",
        ),
        "name": NullableString(
            max_length=USER_NAME_MAX_LENGTH, description="Their name", example="Ana Pérez"
        ),
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

    @ns.doc(id="add_user")
    @ns.expect(user_input)
    @ns.response(400, "Invalid input")
    @ns.response(403, "Admins only")
    @ns.response(409, "A user of your tenant has that email")
    @ns.marshal_with(user, code=201)
    def post(self) -> Any:
        """Add a colleague by email before their first login (admins); grants given now stay"""
        users.require_admin(principal())
        body = json_body(user_input)
        return users.add_user(storage(), principal(), body["email"], body.get("name")), 201


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
@ns.response(409, "The role comes from the identity provider's token: change it there")
class Role(Resource):
    @ns.doc(id="change_user_role")
    @ns.marshal_with(user)
    def post(self, id: str, role: str, action: str) -> Any:
        """Grant or revoke a role within the tenant (admins); token roles are the IdP's"""
        change = {"grant": users.grant_role, "revoke": users.revoke_role}.get(action)
        if change is None:
            raise NotFound("Unknown action; use grant or revoke")
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
@ns.response(409, "The group comes from the identity provider's token: change it there")
class Groups(Resource):
    @ns.doc(id="change_user_groups")
    @ns.expect(group_input)
    @ns.marshal_with(user)
    def post(self, id: str, action: str) -> Any:
        """Add a user to a group or remove them from it (admins)"""
        users.require_admin(principal())
        change = {"add": users.add_to_group, "remove": users.remove_from_group}.get(action)
        if change is None:
            raise NotFound("Unknown action; use add or remove")
        return change(storage(), principal(), id, json_body(group_input)["group_name"])
