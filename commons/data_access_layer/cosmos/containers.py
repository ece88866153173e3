"""Names of the Cosmos DB containers the application uses at run time.

The containers themselves are created by the migrations in `migrations/`, which keep their own
frozen copies of these definitions: renaming a constant here never rewrites an applied migration.
"""

from __future__ import annotations

from types import MappingProxyType

ACTIVITY = "activity"
CUSTOMER = "customer"
PROJECT_TYPE = "project_type"
PROJECT = "project"
TECHNOLOGY = "technology"
USER = "user"
TIME_ENTRY = "time_entry"
EVENT = "event"
MIGRATION = "migration"
LEASES = "leases"
IDEMPOTENCY = "idempotency"
WEBHOOK = "webhook"
DELIVERY = "delivery"  # deliveries to webhooks and AMQP, and their attempts

# Catalog kind key (`CatalogKind` key) → the container holding that catalog.
CATALOG_CONTAINERS = MappingProxyType(
    {
        "activity": ACTIVITY,
        "customer": CUSTOMER,
        "project_type": PROJECT_TYPE,
        "project": PROJECT,
        "technology": TECHNOLOGY,
    }
)

# Every container the migrations create for the application (the migrations' own bookkeeping
# container, MIGRATION, is created by the migration storage instead).
APPLICATION_CONTAINERS = frozenset(
    {
        ACTIVITY,
        CUSTOMER,
        PROJECT_TYPE,
        PROJECT,
        TECHNOLOGY,
        USER,
        TIME_ENTRY,
        EVENT,
        LEASES,
        IDEMPOTENCY,
        WEBHOOK,
        DELIVERY,
    }
)

# The containers whose records' changes are audited: each holds its records' change documents.
# `user` carries role and group changes (and the API's timeline locks, which have no event).
AUDITED_CONTAINERS = (ACTIVITY, CUSTOMER, PROJECT, PROJECT_TYPE, TECHNOLOGY, TIME_ENTRY, USER)
