"""The REST resources every catalog kind shares: list, create, read, update, archive/delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_restx import Model, Namespace, Resource, reqparse

from commons.domain.catalog import STATUSES, CatalogKind
from commons.domain.exceptions import NotFound
from commons.services import catalog
from time_tracker_api.catalog_models import partial_model
from time_tracker_api.context import principal, storage
from time_tracker_api.pages import SYNC_ARGUMENTS, sync_arguments, sync_query
from time_tracker_api.validation import json_body, uuid_argument


def filters_parser(kind: CatalogKind, *uuid_filters: str) -> reqparse.RequestParser:
    """Query filters of a list: `status` for archivable kinds plus reference ids, and the
    sync parameters."""
    parser = sync_arguments(reqparse.RequestParser())
    if kind.archivable:
        parser.add_argument("status", location="args", choices=STATUSES, help="active or inactive")
    for name in uuid_filters:
        parser.add_argument(name, location="args", type=uuid_argument, help="must be a UUID")
    return parser


def plural(word: str) -> str:
    """The English plural of a catalog kind's key or label: activity -> activities."""
    if word.endswith("y") and word[-2:-1] not in tuple("aeiou"):
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def with_article(noun: str) -> str:
    """The noun after "a" or "an": an activity, a project."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _doc(text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        function.__doc__ = text
        return function

    return decorate


def _admins_only(
    ns: Namespace, applies: bool
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The 403 answer of an operation only admins may call; nothing where anyone may."""
    if applies:
        return ns.response(403, "Admins only")
    return lambda function: function


def register_catalog_resources(
    ns: Namespace,
    kind: CatalogKind,
    output: Model,
    payload: Model,
    parser: reqparse.RequestParser,
) -> None:
    """Add the collection (`''`) and item (`/<id>`) routes of a catalog kind to a namespace."""
    label, labels = kind.label.lower(), ns.name.replace("-", " ")
    a_label = with_article(label)
    removal = (
        f"Archive {a_label} (its status becomes inactive)"
        if kind.archivable
        else (f"Delete {a_label}; it is hidden from every read afterwards")
    )
    who = "any member" if kind.members_may_create else "admins"
    update = partial_model(ns, payload)

    class Collection(Resource):
        @ns.doc(id=f"list_{plural(kind.key)}")
        @ns.expect(parser)
        @ns.marshal_list_with(output)
        @_doc(
            f"List the tenant's {labels}, by name\n\nWith updated_since or include_deleted, a "
            "sync: those changed since then, oldest change first (by updated_at, then id)."
        )
        def get(self) -> Any:
            args = parser.parse_args()
            sync = sync_query(args)
            filters = {k: v for k, v in args.items() if v is not None and k not in SYNC_ARGUMENTS}
            return catalog.list_items(storage(), kind, principal(), filters, sync)

        @ns.doc(id=f"create_{kind.key}")
        @ns.expect(payload)
        @ns.response(400, "Invalid input")
        @_admins_only(ns, not kind.members_may_create)
        @ns.response(409, "The name is taken")
        @ns.marshal_with(output, code=201)
        @_doc(f"Create {a_label} ({who})")
        def post(self) -> Any:
            catalog.require_may_create(principal(), kind)
            return catalog.create_item(storage(), kind, principal(), json_body(payload)), 201

    @ns.param("id", f"The {label} id (a UUID)")
    @ns.response(404, f"No such {label} in your tenant")
    class Item(Resource):
        @ns.doc(id=f"get_{kind.key}")
        @ns.marshal_with(output)
        @_doc(f"Read {a_label}")
        def get(self, id: str) -> Any:
            return catalog.get_item(storage(), kind, principal(), _item_id(id))

        @ns.doc(id=f"update_{kind.key}")
        @ns.expect(update)
        @ns.response(400, "Invalid input")
        @ns.response(403, "Admins only")
        @ns.response(409, "The name is taken")
        @ns.marshal_with(output)
        @_doc(f"Update some fields of {a_label} (admins)")
        def put(self, id: str) -> Any:
            catalog.require_admin(principal(), kind)
            changes = json_body(payload, partial=True)
            return catalog.update_item(storage(), kind, principal(), _item_id(id), changes)

        @ns.doc(id=f"delete_{kind.key}")
        @ns.response(204, "Done")
        @ns.response(403, "Admins only")
        @_doc(f"{removal} (admins)")
        def delete(self, id: str) -> Any:
            catalog.delete_item(storage(), kind, principal(), _item_id(id))
            return None, 204

    def _item_id(value: str) -> str:
        # A value that is no UUID names no record: the same answer as a missing one.
        try:
            return uuid_argument(value)
        except ValueError:
            raise NotFound(f"{kind.label} not found") from None

    ns.add_resource(Collection, "", endpoint=f"{kind.key}_collection")
    ns.add_resource(Item, "/<record_id:id>", endpoint=f"{kind.key}_item")
