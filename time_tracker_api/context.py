"""What resources need from the request context: the storage, the authenticated caller and the
feature toggles."""

from __future__ import annotations

from flask import current_app, g

from commons.data_access_layer.ports import Storage
from commons.domain.exceptions import FeatureDisabled
from commons.domain.principal import Principal
from commons.feature_toggles import FeatureToggles
from commons.services.schema import SchemaCheck


def storage() -> Storage:
    return current_app.extensions["storage"]


def schema() -> SchemaCheck:
    return current_app.extensions["schema"]


def principal() -> Principal:
    return g.principal


def feature_toggles() -> FeatureToggles:
    return current_app.extensions["feature_toggles"]


def require_feature(name: str) -> None:
    """Refuse the request (403 `feature_disabled`) when the flag is defined and off for the
    caller; an undefined flag leaves the capability on."""
    if not feature_toggles().is_enabled(name, principal(), default=True):
        raise FeatureDisabled()
