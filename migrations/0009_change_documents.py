"""Cosmos DB: the containers of audited records hold change documents, which expire.

Each change writes a change document (a transactional outbox) into its record's container with
a `ttl`; a time to live applies only where the container has one switched on. `defaultTtl: -1`
switches it on without a default: the records themselves, which carry no `ttl`, never expire.
SQL keeps its outbox table: nothing to do there.
"""

from commons.data_access_layer.migrations import target

CONTAINERS = ("activity", "customer", "project", "project_type", "technology", "time_entry", "user")


def _replace(database, container_id, change):
    # The SDK's replace_container sends only the settings it is given, and Cosmos DB takes a
    # replace as the whole definition: the unique key policy would go. Replace the definition
    # as read, with the one setting changed.
    container = database.get_container_client(container_id)
    definition = {
        name: value
        for name, value in container.read().items()
        if not name.startswith("_") or name == "_rid"
    }
    change(definition)
    database.client_connection.ReplaceContainer(container.container_link, definition)


def _cosmos_up(database):
    for container_id in CONTAINERS:
        _replace(database, container_id, lambda definition: definition.update(defaultTtl=-1))


def _cosmos_down(database):
    for container_id in CONTAINERS:
        _replace(database, container_id, lambda definition: definition.pop("defaultTtl", None))
        container = database.get_container_client(container_id)
        documents = container.query_items(
            "SELECT c.id, c.tenant_id FROM c WHERE c.type = 'change'",
            enable_cross_partition_query=True,
        )
        for document in list(documents):
            container.delete_item(document["id"], partition_key=document["tenant_id"])


def up():
    target().run_cosmos(_cosmos_up)


def down():
    target().run_cosmos(_cosmos_down)
