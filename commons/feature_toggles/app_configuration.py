"""Feature flags stored in Azure App Configuration: keys `.appconfig.featureflag/<name>`."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from commons.feature_toggles.sources import FlagDefinition

logger = logging.getLogger(__name__)

FEATURE_FLAG_PREFIX = ".appconfig.featureflag/"
NULL_LABEL = "\0"  # App Configuration's filter for "no label", the provider's default too


class AppConfigurationFlagSource:
    """Reads the store's feature flags through `azure-appconfiguration`; the client is created on
    the first load, so building the source touches no network."""

    def __init__(
        self,
        connection_string: str,
        label: str = NULL_LABEL,
        connection_timeout: float = 3,
        read_timeout: float = 5,
    ):
        self._connection_string = connection_string
        self._label = label
        # A refresh runs inside one request: it must fail fast rather than retry for minutes.
        self._client_options: dict[str, Any] = {
            "connection_timeout": connection_timeout,
            "read_timeout": read_timeout,
            "retry_total": 1,
            "retry_backoff_factor": 0.2,
        }
        self._client: Any = None

    def load(self) -> list[FlagDefinition]:
        """Every feature flag of the label; raises an `AzureError` when the store cannot answer."""
        # Without the content type in the answer the SDK hands back each flag's JSON as stored;
        # with it, the SDK rebuilds the JSON and may stumble on a malformed flag.
        settings = self._get_client().list_configuration_settings(
            key_filter=FEATURE_FLAG_PREFIX + "*",
            label_filter=self._label,
            fields=["key", "label", "value"],
        )
        flags = []
        for setting in settings:
            flag = _definition(setting.key, setting.value)
            if flag is None:
                logger.warning("App Configuration: %s is not a feature flag; skipped", setting.key)
            else:
                flags.append(flag)
        return flags

    def _get_client(self) -> Any:
        if self._client is None:
            from azure.appconfiguration import AzureAppConfigurationClient

            self._client = AzureAppConfigurationClient.from_connection_string(
                self._connection_string, **self._client_options
            )
        return self._client

    def __str__(self) -> str:
        return f"Azure App Configuration at {_endpoint(self._connection_string)}"


def _definition(key: str, value: str | None) -> FlagDefinition | None:
    try:
        flag = json.loads(value or "")
    except ValueError:
        return None
    if not isinstance(flag, dict):
        return None
    if not flag.get("id"):
        flag["id"] = key.removeprefix(FEATURE_FLAG_PREFIX)
    return flag


def _endpoint(connection_string: str) -> str:
    """The store's host, for logs; never the secret."""
    for segment in connection_string.split(";"):
        name, _, value = segment.strip().partition("=")
        if name.lower() == "endpoint":
            return urlsplit(value).netloc or value
    return "an unknown endpoint"
