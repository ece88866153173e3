"""The events app's settings, read from the environment (Functions app settings)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from commons.settings import DEFAULT_COSMOS_DATABASE

DEFAULT_BATCH_SIZE = 100


@dataclass(frozen=True)
class EventsSettings:
    cosmos_connection: str | None = None
    database_name: str = DEFAULT_COSMOS_DATABASE
    cosmos_verify_tls: bool = True
    sql_url: str | None = None
    outbox_batch_size: int = DEFAULT_BATCH_SIZE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> EventsSettings:
        """Read the app settings; blank ones count as unset."""

        def get(name: str) -> str | None:
            return (environ.get(name) or "").strip() or None

        return cls(
            cosmos_connection=get("COSMOS_CONNECTION"),
            database_name=get("DATABASE_NAME") or DEFAULT_COSMOS_DATABASE,
            cosmos_verify_tls=(get("COSMOS_VERIFY_TLS") or "true").lower() != "false",
            sql_url=get("SQL_DATABASE_URI"),
            outbox_batch_size=_positive_int("OUTBOX_BATCH_SIZE", get("OUTBOX_BATCH_SIZE")),
        )


def _positive_int(name: str, value: str | None) -> int:
    if value is None:
        return DEFAULT_BATCH_SIZE
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    return int(value)
