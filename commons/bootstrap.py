"""The composition root: the one place that turns settings into a storage backend and a source
of feature flags."""

from __future__ import annotations

from commons.data_access_layer.ports import RecordFormat, Storage
from commons.domain.exceptions import ConfigurationError
from commons.feature_toggles import FeatureToggles, FileFlagSource, FlagSource, NoFlagSource
from commons.settings import StorageSettings


def create_storage(
    settings: StorageSettings, default_sql_url: str, record_format: RecordFormat | None = None
) -> Storage:
    """The storage the settings ask for. Creating it opens no connection. `record_format` is
    how records appear in the events going out (the API's answers); without it they carry none."""
    if settings.backend == "sql":
        from commons.data_access_layer.sql.unit_of_work import SqlStorage

        return SqlStorage(settings.sql_url or default_sql_url, record_format)
    if settings.backend == "cosmos":
        from commons.data_access_layer.cosmos.unit_of_work import CosmosStorage

        return CosmosStorage(settings, record_format)
    if settings.backend == "memory":
        from commons.data_access_layer.memory.unit_of_work import MemoryStorage

        return MemoryStorage(record_format)
    raise ConfigurationError(f"Unsupported DATABASE_BACKEND: {settings.backend}")


def create_feature_toggles(
    app_configuration_connection_string: str | None,
    flags_file: str | None,
    refresh_seconds: float,
) -> FeatureToggles:
    """Toggles over App Configuration when a connection string is set, else over the flags file,
    else over no flags at all. Nothing is read before the first evaluation."""
    source: FlagSource
    if app_configuration_connection_string:
        from commons.feature_toggles.app_configuration import AppConfigurationFlagSource

        source = AppConfigurationFlagSource(app_configuration_connection_string)
    elif flags_file:
        source = FileFlagSource(flags_file)
    else:
        source = NoFlagSource()
    return FeatureToggles(source, refresh_seconds=refresh_seconds)
