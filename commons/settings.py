"""Storage settings read from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

BACKENDS = ("sql", "cosmos", "memory")  # memory: in-process, for tests and demos
DEFAULT_COSMOS_DATABASE = "time-tracker-db"  # DATABASE_NAME, for the API and the events app


@dataclass(frozen=True)
class StorageSettings:
    backend: str = "sql"
    sql_url: str | None = None
    cosmos_connection_string: str | None = None
    cosmos_account_uri: str | None = None
    cosmos_master_key: str | None = None
    cosmos_database: str = DEFAULT_COSMOS_DATABASE
    cosmos_verify_tls: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> StorageSettings:
        """Read the storage variables; blank ones count as unset."""

        def get(name: str) -> str | None:
            return (environ.get(name) or "").strip() or None

        return cls(
            backend=(get("DATABASE_BACKEND") or "sql").lower(),
            sql_url=get("SQL_DATABASE_URI"),
            cosmos_connection_string=get("COSMOS_DATABASE_URI"),
            cosmos_account_uri=get("DATABASE_ACCOUNT_URI"),
            cosmos_master_key=get("DATABASE_MASTER_KEY"),
            cosmos_database=get("DATABASE_NAME") or DEFAULT_COSMOS_DATABASE,
            cosmos_verify_tls=(get("COSMOS_VERIFY_TLS") or "true").lower() != "false",
        )

    def problems(self) -> list[str]:
        """What is wrong or missing, one short phrase each."""
        if self.backend not in BACKENDS:
            return [f"DATABASE_BACKEND (must be one of {', '.join(BACKENDS)})"]
        if self.backend == "cosmos" and not (
            self.cosmos_connection_string or (self.cosmos_account_uri and self.cosmos_master_key)
        ):
            return ["COSMOS_DATABASE_URI (or DATABASE_ACCOUNT_URI and DATABASE_MASTER_KEY)"]
        return []


DEFAULT_AMQP_EXCHANGE = "time_tracker.events"


@dataclass(frozen=True)
class OutboundSettings:
    """Where change events go beyond the audit log, for the processes that dispatch them (the
    CLI's dispatcher and the events app): an AMQP topic exchange and the tenants' webhooks."""

    amqp_url: str | None = None
    amqp_exchange: str = DEFAULT_AMQP_EXCHANGE
    # Webhooks may point at loopback, private, link-local and metadata addresses, and use plain
    # http: for tests and private deployments only.
    webhooks_allow_private: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> OutboundSettings:
        """Read AMQP_URL, AMQP_EXCHANGE and WEBHOOKS_ALLOW_PRIVATE; blank ones count as unset."""

        def get(name: str) -> str | None:
            return (environ.get(name) or "").strip() or None

        return cls(
            amqp_url=get("AMQP_URL"),
            amqp_exchange=get("AMQP_EXCHANGE") or DEFAULT_AMQP_EXCHANGE,
            webhooks_allow_private=(get("WEBHOOKS_ALLOW_PRIVATE") or "false").lower() == "true",
        )
