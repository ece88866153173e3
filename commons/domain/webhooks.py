"""Webhooks: a tenant's subscriptions to its change events, delivered as signed HTTP POSTs.

A subscription names the events it wants by type patterns: `time_entry.stop` (one type),
`time_entry.*` (every action on a container), `*.delete` (one action everywhere) or `*` (all).
Deliveries are signed as the Standard Webhooks specification says, with the subscription's
secret (`whsec_` and base64, shown to the admin once, when the subscription is created).
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from commons.domain.deliveries import EVENT_ACTIONS, EVENT_TYPES, stored_values
from commons.domain.exceptions import ValidationFailed

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
URL_MAX_LENGTH = 2000
DESCRIPTION_MAX_LENGTH = 500
MAX_PATTERNS = 50
MAX_WEBHOOKS_PER_TENANT = 50

# The names a pattern may use: the containers and the actions of the event types that occur.
CONTAINERS = tuple(EVENT_ACTIONS)
ACTIONS = tuple(dict.fromkeys(action for actions in EVENT_ACTIONS.values() for action in actions))


@dataclass(frozen=True)
class Webhook:
    id: str
    tenant_id: str
    url: str
    events: tuple[str, ...]
    secret: str
    description: str | None = None
    enabled: bool = True
    # Why it was disabled (its deliveries failed for DISABLE_AFTER); None while enabled.
    disabled_reason: str | None = None
    # When the first of its deliveries failed since the last that succeeded; None: none did.
    failing_since: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def wants(self, event_type: str) -> bool:
        """Whether one of its patterns matches the event type."""
        return self.enabled and wants(self.events, event_type)

    def stored(self) -> dict[str, Any]:
        """Its fields as both backends store them (the patterns as a list)."""
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        fields["events"] = list(self.events)
        return fields

    @classmethod
    def from_stored(cls, fields: Mapping[str, Any]) -> Webhook:
        values = stored_values(cls, fields)
        values["events"] = tuple(values["events"])
        values["enabled"] = bool(values["enabled"])
        return cls(**values)


def wants(patterns: tuple[str, ...] | list[str], event_type: str) -> bool:
    """Whether one of the patterns matches the event type (`*` is a wildcard)."""
    return any(fnmatchcase(event_type, pattern) for pattern in patterns)


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def clean_patterns(values: object) -> tuple[str, ...]:
    """The event patterns of a subscription, checked: each `*`, or `<container>.<action>` with
    `*` for either part that matches an event type that occurs; no duplicates."""
    if not isinstance(values, list) or not values or len(values) > MAX_PATTERNS:
        raise _invalid("events", f"must be a list of 1 to {MAX_PATTERNS} event patterns")
    patterns: list[str] = []
    for value in values:
        if not isinstance(value, str) or not _valid_pattern(value):
            raise _invalid(
                "events",
                "each must be `*` or `<container>.<action>` (either may be `*`) matching one of "
                f"the event types {', '.join(EVENT_TYPES)}",
            )
        if value not in patterns:
            patterns.append(value)
    return tuple(patterns)


def _valid_pattern(value: str) -> bool:
    if value == "*":
        return True
    container, _, action = value.partition(".")
    named = (container == "*" or container in CONTAINERS) and (action == "*" or action in ACTIONS)
    # `customer.stop` names a container and an action, yet no event: a typo to refuse.
    return named and any(fnmatchcase(type_, value) for type_ in EVENT_TYPES)


@dataclass(frozen=True)
class Target:
    """Where a webhook URL points: its scheme, host and port."""

    scheme: str
    host: str
    port: int


def parse_url(value: object, allow_private: bool) -> Target:
    """A webhook URL, checked for its form: absolute https (http too when `allow_private`), a
    host, no credentials, no fragment."""
    if not isinstance(value, str) or not value or len(value) > URL_MAX_LENGTH:
        raise _invalid("url", f"must be an absolute URL of at most {URL_MAX_LENGTH} characters")
    if value != value.strip() or any(unicodedata.category(c)[0] in "CZ" for c in value):
        raise _invalid("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        raise _invalid("url", f"is not a valid URL: {error}") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise _invalid("url", "must use https" if not allow_private else "must use http(s)")
    if not parts.hostname:
        raise _invalid("url", "must name a host")
    if parts.username is not None or parts.password is not None:
        raise _invalid("url", "must not carry credentials")
    if parts.fragment:
        raise _invalid("url", "must not have a fragment")
    default_port = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default_port)


def forbidden_address(address: str) -> bool:
    """Whether an IP address is off limits to webhooks: loopback, private, link-local (cloud
    metadata services live there: 169.254.169.254, fd00:ec2::254), multicast, reserved,
    unspecified, or an IPv4 address wrapped in IPv6."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        wrapped = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if wrapped is not None:
            return forbidden_address(str(wrapped))
        if ip in ipaddress.ip_network("fd00:ec2::/32"):
            return True
    return not ip.is_global or ip.is_multicast


def _invalid(field_name: str, reason: str) -> ValidationFailed:
    return ValidationFailed(f"Invalid webhook {field_name}", {field_name: reason})
