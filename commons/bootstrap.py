"""The composition root: the one place that turns settings into a storage backend."""

from __future__ import annotations

from commons.data_access_layer.ports import Storage
from commons.domain.exceptions import ConfigurationError
from commons.settings import StorageSettings


def create_storage(settings: StorageSettings, default_sql_url: str) -> Storage:
    """The storage the settings ask for. Creating it opens no connection."""
    if settings.backend == "sql":
        from commons.data_access_layer.sql.unit_of_work import SqlStorage

        return SqlStorage(settings.sql_url or default_sql_url)
    if settings.backend == "cosmos":
        from commons.data_access_layer.cosmos.unit_of_work import CosmosStorage

        return CosmosStorage(settings)
    raise ConfigurationError(f"Unsupported DATABASE_BACKEND: {settings.backend}")
