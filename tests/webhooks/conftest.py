"""Webhook tests: loopback receivers (allowed by a fixture, as WEBHOOKS_ALLOW_PRIVATE=true
allows them), a dispatcher on a clock the test moves, and no webhook left behind."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commons.services.deliveries import Dispatcher
from commons.settings import OutboundSettings
from tests.conftest import Caller


class MovingClock:
    """The dispatcher's "now": a second ahead of the real clock, and moved on by the test."""

    def __init__(self) -> None:
        self.offset = timedelta(seconds=1)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def private_webhooks(app: Any) -> Iterator[None]:
    """The API accepts loopback and http webhook URLs, as with WEBHOOKS_ALLOW_PRIVATE=true."""
    config = app.config["TIME_TRACKER"]
    outbound = dataclasses.replace(config.outbound, webhooks_allow_private=True)
    app.config["TIME_TRACKER"] = dataclasses.replace(config, outbound=outbound)
    yield
    app.config["TIME_TRACKER"] = config


@pytest.fixture
def moving_clock() -> MovingClock:
    return MovingClock()


@pytest.fixture
def dispatcher(storage: Any, moving_clock: MovingClock) -> Iterator[Dispatcher]:
    dispatcher = Dispatcher(
        storage,
        OutboundSettings(webhooks_allow_private=True),
        clock=moving_clock,
        timeout=timedelta(seconds=2),
    )
    yield dispatcher
    dispatcher.close()


@pytest.fixture(autouse=True)
def no_webhook_left_behind(client: Any, tenant: str, storage: Any) -> Iterator[None]:
    """Each test's webhooks go with it, their deliveries too: none is sent in a later test."""
    yield
    from commons.domain.principal import ADMIN_GROUP, Principal
    from commons.services import webhooks

    principal = Principal(tenant, "cleanup", groups=frozenset({ADMIN_GROUP}))
    for webhook in webhooks.list_webhooks(storage, principal):
        webhooks.delete_webhook(storage, principal, webhook.id)


def subscribe(admin: Caller, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = admin.post("/webhooks", json={"url": url, "events": events or ["*"]})
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]
