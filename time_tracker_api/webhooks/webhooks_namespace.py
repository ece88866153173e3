"""Webhooks: a tenant's admins subscribe URLs to its change events, signed as Standard Webhooks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_restx import Resource, fields, inputs, reqparse

from commons.domain.deliveries import (
    DISABLE_AFTER,
    EVENT_TYPES,
    PING_TYPE,
    WEBHOOK_DELAYS,
    WEBHOOK_TIMEOUT,
)
from commons.domain.exceptions import NotFound
from commons.domain.pagination import DEFAULT_PAGE_LENGTH, MAX_PAGE_LENGTH
from commons.domain.webhooks import (
    ACTIONS,
    CONTAINERS,
    DESCRIPTION_MAX_LENGTH,
    MAX_PATTERNS,
    URL_MAX_LENGTH,
)
from commons.services import webhooks
from time_tracker_api.context import principal, storage
from time_tracker_api.serialization import Namespace
from time_tracker_api.validation import (
    NullableDateTime,
    NullableInteger,
    NullableRaw,
    NullableString,
    count_argument,
    json_body,
    uuid_argument,
)


def _span(delay: timedelta) -> str:
    seconds = int(delay.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _listed(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


ns = Namespace(
    "webhooks",
    description="Signed HTTP callbacks of the tenant's changes (admins). Each change is POSTed "
    "as a JSON `WebhookEvent` `{id, type, timestamp, data: {tenant_id, user_id, item_id, "
    "container_id, action, description, item}}`, `item` being the record as the API returns it "
    "after the change, signed per the Standard Webhooks specification (`webhook-id` = the event "
    "id, the same on every retry; `webhook-timestamp`; `webhook-signature: v1,<base64 "
    "HMAC-SHA256 of id.timestamp.body>` with the webhook's secret). A 2xx answer within "
    f"{WEBHOOK_TIMEOUT.total_seconds():g} s is a success; otherwise it is tried again after "
    f"{', '.join(_span(delay) for delay in WEBHOOK_DELAYS)}, then given up; a webhook none of "
    f"whose deliveries succeeded for {DISABLE_AFTER.days} days is disabled. The event types: "
    f"{_listed(EVENT_TYPES)}.",
)


def _alternatives(names: Iterable[str]) -> str:
    return "|".join(re.escape(name) for name in names)


# What `clean_patterns` accepts: `*`, `<container>.*`, `*.<action>`, or an event type.
EVENT_PATTERN = (
    rf"^(\*|(\*|{_alternatives(CONTAINERS)})\.\*|\*\.({_alternatives(ACTIONS)})"
    rf"|{_alternatives(EVENT_TYPES)})$"
)


def events_field(required: bool) -> fields.List:
    return fields.List(
        fields.String(max_length=64, pattern=EVENT_PATTERN),
        required=required,
        min_items=1,
        max_items=MAX_PATTERNS,
        description="Event type patterns to send: an event type, `<container>.*`, `*.<action>`, "
        f"or `*` for all. The event types: {_listed(EVENT_TYPES)}",
        example=["time_entry.*", "project.archive"],
    )


event_data = ns.model(
    "WebhookEventData",
    {
        "tenant_id": fields.String(),
        "user_id": fields.String(description="Who made the change"),
        "item_id": fields.String(description="The record that changed"),
        "container_id": fields.String(enum=list(CONTAINERS), example="time_entry"),
        "action": fields.String(enum=list(ACTIONS), example="stop"),
        "description": fields.String(example="Time entry 2026-12-02T15:00:00+00:00 – running"),
        "item": NullableRaw(
            description="The record as the API returns it after the change (the webhook, "
            "without its secret, for a ping)"
        ),
    },
)
# What a receiver gets: the body of each POST, the same on every retry (documented only).
webhook_event = ns.model(
    "WebhookEvent",
    {
        "id": fields.String(
            description="The event's id, also its `webhook-id` header: the same on every retry"
        ),
        "type": fields.String(
            enum=list(EVENT_TYPES), description="`<container>.<action>`", example="time_entry.stop"
        ),
        "timestamp": fields.DateTime(description="When the change happened (UTC)"),
        "data": fields.Nested(event_data),
    },
)


webhook_input = ns.model(
    "WebhookInput",
    {
        "url": fields.String(
            required=True,
            max_length=URL_MAX_LENGTH,
            description="Where to POST the events: https, on a public address",
            example="https://93.184.215.14/time-tracker",
        ),
        "events": events_field(required=True),
        "description": NullableString(
            max_length=DESCRIPTION_MAX_LENGTH, example="Timesheets to the billing system"
        ),
    },
)
webhook_update = ns.model(
    "WebhookUpdate",
    {
        "url": fields.String(max_length=URL_MAX_LENGTH, description="A new URL"),
        "events": events_field(required=False),
        "description": NullableString(max_length=DESCRIPTION_MAX_LENGTH),
        "enabled": fields.Boolean(
            description="false stops deliveries; true resumes a disabled webhook with its "
            "failures forgotten"
        ),
    },
)
webhook = ns.model(
    "Webhook",
    {
        "id": fields.String(readonly=True),
        "url": fields.String(readonly=True),
        "events": fields.List(fields.String, readonly=True),
        "description": NullableString(readonly=True),
        "enabled": fields.Boolean(readonly=True),
        "disabled_reason": NullableString(
            readonly=True, description="Why it is disabled; null while enabled"
        ),
        "failing_since": NullableDateTime(
            readonly=True, description="Since when its deliveries fail; null when none does"
        ),
        "created_at": fields.DateTime(readonly=True),
        "updated_at": fields.DateTime(readonly=True),
    },
)
created_webhook = ns.inherit(
    "CreatedWebhook",
    webhook,
    {
        "secret": fields.String(
            readonly=True,
            description="The signing secret (`whsec_` + base64): shown only in this answer",
        )
    },
)
ping = ns.model(
    "WebhookPing",
    {
        "event_id": fields.String(readonly=True, description="The ping's `webhook-id`"),
        "type": fields.String(readonly=True, attribute="event_type", example=PING_TYPE),
    },
)
attempt = ns.model(
    "DeliveryAttempt",
    {
        "id": fields.String(readonly=True),
        "event_id": fields.String(readonly=True, description="The event (`webhook-id`)"),
        "type": fields.String(readonly=True, attribute="event_type"),
        "attempted_at": fields.DateTime(readonly=True),
        "response_status": NullableInteger(
            readonly=True, description="The receiver's HTTP status; null without an answer"
        ),
        "duration_ms": fields.Integer(readonly=True),
        "error": NullableString(readonly=True, description="Why it failed; null on success"),
        "next_attempt_at": NullableDateTime(
            readonly=True, description="When it is tried again; null when it is not"
        ),
    },
)
attempts_page = ns.model(
    "DeliveryAttemptPage",
    {
        "records_total": fields.Integer(description="How many attempts the webhook has"),
        "data": fields.List(fields.Nested(attempt)),
    },
)

attempts_parser = reqparse.RequestParser()
attempts_parser.add_argument("start", type=count_argument(0), default=0, location="args")
attempts_parser.add_argument(
    "length",
    type=inputs.int_range(1, MAX_PAGE_LENGTH),
    default=DEFAULT_PAGE_LENGTH,
    location="args",
)


def _allow_private() -> bool:
    return bool(current_app.config["TIME_TRACKER"].outbound.webhooks_allow_private)


def _id(value: str) -> str:
    # A value that is no UUID names no webhook: the same answer as a missing one.
    try:
        return uuid_argument(value)
    except ValueError:
        raise NotFound("Webhook not found") from None


@ns.route("")
class Webhooks(Resource):
    @ns.doc(id="list_webhooks")
    @ns.response(403, "Admins only")
    @ns.marshal_list_with(webhook)
    def get(self) -> Any:
        """List the tenant's webhooks, oldest first (admins)"""
        return webhooks.list_webhooks(storage(), principal())

    @ns.doc(id="create_webhook")
    @ns.expect(webhook_input)
    @ns.response(400, "Invalid input, or a URL on a private address")
    @ns.response(403, "Admins only")
    @ns.response(409, "The tenant has the most webhooks it may have")
    @ns.marshal_with(created_webhook, code=201)
    def post(self) -> Any:
        """Subscribe a URL to change events (admins); the answer shows its signing secret once"""
        webhooks.require_admin(principal())
        body = json_body(webhook_input)
        return webhooks.create_webhook(storage(), principal(), body, _allow_private()), 201


@ns.route("/<record_id:id>")
@ns.param("id", "The webhook id (a UUID)")
@ns.response(403, "Admins only")
@ns.response(404, "No such webhook in your tenant")
class WebhookItem(Resource):
    @ns.doc(id="get_webhook")
    @ns.marshal_with(webhook)
    def get(self, id: str) -> Any:
        """Read a webhook (admins)"""
        return webhooks.get_webhook(storage(), principal(), _id(id))

    @ns.doc(id="update_webhook")
    @ns.expect(webhook_update)
    @ns.response(400, "Invalid input, or a URL on a private address")
    @ns.marshal_with(webhook)
    def put(self, id: str) -> Any:
        """Change a webhook's url, events, description, or enable or disable it (admins)"""
        webhooks.require_admin(principal())
        body = json_body(webhook_update, partial=True)
        return webhooks.update_webhook(storage(), principal(), _id(id), body, _allow_private())

    @ns.doc(id="delete_webhook")
    @ns.response(204, "Deleted")
    def delete(self, id: str) -> Any:
        """Delete a webhook, its pending deliveries and its attempts (admins)"""
        webhooks.delete_webhook(storage(), principal(), _id(id))
        return None, 204


@ns.route("/<record_id:id>/ping")
@ns.param("id", "The webhook id (a UUID)")
@ns.response(403, "Admins only")
@ns.response(404, "No such webhook in your tenant")
class WebhookPing(Resource):
    @ns.doc(id="ping_webhook")
    @ns.marshal_with(ping, code=202)
    def post(self, id: str) -> Any:
        """Send the webhook a ping now (admins)

        The receiver gets a `WebhookEvent` of type `webhook.ping` whose item is the webhook; the
        attempt shows among the deliveries.
        """
        return webhooks.ping_webhook(storage(), principal(), _id(id)), 202


@ns.route("/<record_id:id>/deliveries")
@ns.param("id", "The webhook id (a UUID)")
@ns.response(400, "Invalid paging parameter")
@ns.response(403, "Admins only")
@ns.response(404, "No such webhook in your tenant")
class WebhookDeliveries(Resource):
    @ns.doc(id="list_webhook_deliveries")
    @ns.expect(attempts_parser)
    @ns.marshal_with(attempts_page)
    def get(self, id: str) -> Any:
        """List the webhook's delivery attempts, newest first (admins)

        Each is an attempt to POST a `WebhookEvent`: its event id and type, the receiver's
        status, the duration, the error and when it is tried again.
        """
        webhooks.require_admin(principal())
        args = attempts_parser.parse_args()
        total, data = webhooks.list_attempts(
            storage(), principal(), _id(id), args["start"], args["length"]
        )
        return {"records_total": total, "data": data}
