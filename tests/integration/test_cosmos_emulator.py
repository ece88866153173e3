"""The Cosmos DB emulator the storage tests run on: the real protocol, 404s and keep-alive."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.cosmos import ContainerProxy, CosmosClient, PartitionKey
from azure.cosmos.exceptions import CosmosResourceNotFoundError

from tests.cosmos_emulator import Emulator


@pytest.fixture
def container(cosmos_emulator: Emulator) -> Iterator[ContainerProxy]:
    """A container partitioned on /tenant_id in a database of its own, dropped afterwards."""
    client = CosmosClient(
        cosmos_emulator.endpoint, credential=cosmos_emulator.key, connection_verify=False
    )
    database = client.create_database(f"tt_test_{uuid.uuid4().hex[:12]}")
    try:
        yield database.create_container("entries", partition_key=PartitionKey(path="/tenant_id"))
    finally:
        client.delete_database(database)


def test_an_item_reads_back_by_id_and_partition_key(container):
    container.create_item({"id": "entry-1", "tenant_id": "tenant-a", "description": "coding"})

    item = container.read_item("entry-1", partition_key="tenant-a")

    assert (item["id"], item["tenant_id"], item["description"]) == (
        "entry-1",
        "tenant-a",
        "coding",
    )


def test_reading_a_missing_item_is_not_found(container):
    with pytest.raises(CosmosResourceNotFoundError) as raised:
        container.read_item("nothing-here", partition_key="tenant-a")

    assert raised.value.status_code == 404


def test_an_item_of_another_partition_is_not_found(container):
    container.create_item({"id": "entry-1", "tenant_id": "tenant-a"})

    with pytest.raises(CosmosResourceNotFoundError):
        container.read_item("entry-1", partition_key="tenant-b")


def test_the_server_keeps_the_connection_open_between_requests(container):
    container.create_item({"id": "entry-1", "tenant_id": "tenant-a"})
    seen: dict[str, Any] = {}

    container.read_item(
        "entry-1", partition_key="tenant-a", response_hook=lambda headers, _: seen.update(headers)
    )

    # HTTP/1.1 keeps a connection open unless the server answers `connection: close`, as the
    # CLI of cosmosdb-server does (a new TLS handshake per request); scripts/cosmos-emulator.js
    # says `keep-alive`, a real account usually says nothing.
    headers = {name.lower(): value for name, value in seen.items()}
    assert headers.get("connection", "keep-alive") == "keep-alive"
