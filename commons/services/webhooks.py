"""Webhook use cases: a tenant's admins subscribe URLs to its change events, ping them, and read
what each delivery attempt came to."""

from __future__ import annotations

import dataclasses
import socket
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

import orjson

from commons.data_access_layer.ports import Storage
from commons.domain.audit import AuditEvent
from commons.domain.deliveries import PING_TYPE, Attempt, Delivery, envelope
from commons.domain.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from commons.domain.principal import Principal
from commons.domain.webhooks import (
    DESCRIPTION_MAX_LENGTH,
    MAX_WEBHOOKS_PER_TENANT,
    Webhook,
    clean_patterns,
    forbidden_address,
    new_secret,
    parse_url,
)
from commons.services import idempotency

# A host name must resolve within this, or the URL is refused.
RESOLVE_TIMEOUT_SECONDS = 3.0
Resolver = Callable[[str, int], list[str]]
_resolving = ThreadPoolExecutor(max_workers=16, thread_name_prefix="webhook-dns")


def resolve(host: str, port: int) -> list[str]:
    """The IP addresses a host name resolves to (an IP address: itself)."""
    future = _resolving.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=RESOLVE_TIMEOUT_SECONDS)
    except FutureTimeout:
        raise OSError(f"{host} did not resolve within {RESOLVE_TIMEOUT_SECONDS:g} s") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(
    url: str, allow_private: bool, resolver: Resolver = resolve
) -> tuple[str, list[str]]:
    """The host of a webhook URL and the addresses it may be sent to; ValidationFailed when its
    form is wrong, its host does not resolve, or (unless `allow_private`) it resolves to an
    address off limits (loopback, private, link-local, metadata)."""
    target = parse_url(url, allow_private)
    try:
        addresses = resolver(target.host, target.port)
    except (OSError, UnicodeError) as error:
        raise ValidationFailed(
            "Invalid webhook url", {"url": f"its host does not resolve: {error}"}
        ) from None
    if not addresses:
        raise ValidationFailed("Invalid webhook url", {"url": "its host does not resolve"})
    if not allow_private and any(forbidden_address(address) for address in addresses):
        raise ValidationFailed(
            "Invalid webhook url",
            {"url": "resolves to a loopback, private, link-local or reserved address"},
        )
    return target.host, addresses


def require_admin(principal: Principal) -> None:
    """Refuse a caller who is not an admin: checked before their input is (403 before 400)."""
    if not principal.is_admin:
        raise Forbidden("Only admins can manage webhooks")


def create_webhook(
    storage: Storage,
    principal: Principal,
    data: Mapping[str, Any],
    allow_private: bool,
    resolver: Resolver = resolve,
    now: datetime | None = None,
) -> Webhook:
    """Subscribe a URL to some of the tenant's events; the answer carries its signing secret."""
    require_admin(principal)
    now = now or datetime.now(UTC)
    url = data.get("url")
    checked_addresses(url, allow_private, resolver)  # type: ignore[arg-type]
    webhook = Webhook(
        id=str(uuid.uuid4()),
        tenant_id=principal.tenant_id,
        url=url,  # type: ignore[arg-type]
        events=clean_patterns(data.get("events")),
        secret=new_secret(),
        description=_description(data.get("description")),
        created_at=now,
        updated_at=now,
    )
    with storage.unit_of_work(write=True) as uow:
        if len(uow.webhooks.list(principal.tenant_id)) >= MAX_WEBHOOKS_PER_TENANT:
            raise Conflict(f"A tenant has at most {MAX_WEBHOOKS_PER_TENANT} webhooks")
        uow.webhooks.add(webhook)
        idempotency.commit(uow, webhook)
    return webhook


def list_webhooks(storage: Storage, principal: Principal) -> list[Webhook]:
    require_admin(principal)
    with storage.unit_of_work() as uow:
        return uow.webhooks.list(principal.tenant_id)


def get_webhook(storage: Storage, principal: Principal, webhook_id: str) -> Webhook:
    require_admin(principal)
    with storage.unit_of_work() as uow:
        return _existing(uow, principal, webhook_id)


def update_webhook(
    storage: Storage,
    principal: Principal,
    webhook_id: str,
    changes: Mapping[str, Any],
    allow_private: bool,
    resolver: Resolver = resolve,
    now: datetime | None = None,
) -> Webhook:
    """Change a webhook's url, events, description or `enabled`; enabling a disabled one clears
    its failures, so it gets three days again."""
    require_admin(principal)
    now = now or datetime.now(UTC)
    values: dict[str, Any] = {}
    if "url" in changes:
        checked_addresses(changes["url"], allow_private, resolver)
        values["url"] = changes["url"]
    if "events" in changes:
        values["events"] = clean_patterns(changes["events"])
    if "description" in changes:
        values["description"] = _description(changes["description"])
    if "enabled" in changes:
        if not isinstance(changes["enabled"], bool):
            raise ValidationFailed("Invalid webhook enabled", {"enabled": "must be a boolean"})
        values["enabled"] = changes["enabled"]
    with storage.unit_of_work(write=True) as uow:
        webhook = _existing(uow, principal, webhook_id)
        if values.get("enabled") and not webhook.enabled:
            values |= {"disabled_reason": None, "failing_since": None}
        elif values.get("enabled") is False:
            values["disabled_reason"] = "Disabled by an admin"
        webhook = dataclasses.replace(webhook, **values, updated_at=now)
        uow.webhooks.update(webhook)
        idempotency.commit(uow, webhook)
    return webhook


def delete_webhook(storage: Storage, principal: Principal, webhook_id: str) -> None:
    """Remove a webhook with its pending deliveries and its attempts."""
    require_admin(principal)
    with storage.unit_of_work(write=True) as uow:
        _existing(uow, principal, webhook_id)
        uow.webhooks.delete(principal.tenant_id, webhook_id)
        idempotency.commit(uow)


def ping_webhook(
    storage: Storage, principal: Principal, webhook_id: str, now: datetime | None = None
) -> Delivery:
    """Queue a `webhook.ping` event to the webhook, due at once (the dispatcher sends it)."""
    require_admin(principal)
    now = now or datetime.now(UTC)
    with storage.unit_of_work(write=True) as uow:
        webhook = _existing(uow, principal, webhook_id)
        event = AuditEvent(
            id=str(uuid.uuid4()),
            date=now,
            user_id=principal.user_id,
            action="ping",
            description=f"Ping of {webhook.url}",
            item_id=webhook.id,
            container_id="webhook",
            session_id=principal.session_id,
            tenant_id=principal.tenant_id,
        )
        body = orjson.dumps(envelope(event, public_view(webhook))).decode("utf-8")
        delivery = Delivery(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            sink=webhook.id,
            event_id=event.id,
            event_type=PING_TYPE,
            body=body,
            next_attempt_at=now,
            created_at=now,
        )
        uow.webhooks.enqueue(delivery)
        idempotency.commit(uow, delivery)
    return delivery


def list_attempts(
    storage: Storage, principal: Principal, webhook_id: str, start: int, length: int
) -> tuple[int, list[Attempt]]:
    """How many delivery attempts the webhook has, and `length` of them from `start`, newest
    first."""
    require_admin(principal)
    with storage.unit_of_work() as uow:
        _existing(uow, principal, webhook_id)
        total = uow.webhooks.count_attempts(principal.tenant_id, webhook_id)
        return total, uow.webhooks.attempts(principal.tenant_id, webhook_id, start, length)


def public_view(webhook: Webhook) -> dict[str, Any]:
    """A webhook as a ping's record shows it: without its secret."""
    return {
        "id": webhook.id,
        "url": webhook.url,
        "events": list(webhook.events),
        "description": webhook.description,
        "enabled": webhook.enabled,
    }


def _existing(uow: Any, principal: Principal, webhook_id: str) -> Webhook:
    webhook = uow.webhooks.get(principal.tenant_id, webhook_id)
    if webhook is None:
        raise NotFound("Webhook not found")
    return webhook  # type: ignore[no-any-return]


def _description(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > DESCRIPTION_MAX_LENGTH:
        raise ValidationFailed(
            "Invalid webhook description",
            {"description": f"must be text of at most {DESCRIPTION_MAX_LENGTH} characters"},
        )
    return value
