"""What resources need from the request context: the storage and the authenticated caller."""

from __future__ import annotations

from flask import current_app, g

from commons.data_access_layer.ports import Storage
from commons.domain.principal import Principal


def storage() -> Storage:
    return current_app.extensions["storage"]


def principal() -> Principal:
    return g.principal
