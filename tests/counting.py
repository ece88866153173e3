"""Count the round trips a block of code makes to the database, on any backend.

SQL: statements seen by the engine. Cosmos DB: HTTP requests sent by the Azure SDK's transport.
Memory: none, ever.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from commons.data_access_layer.memory.unit_of_work import MemoryStorage


@contextmanager
def counted_round_trips(storage: Any) -> Iterator[list[str]]:
    """The round trips made inside the block, as a growing list of descriptions."""
    trips: list[str] = []
    engine = getattr(storage, "engine", None)
    if engine is not None:

        def count(connection, cursor, statement, parameters, context, executemany) -> None:
            trips.append(statement)

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            yield trips
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        return
    if isinstance(storage, MemoryStorage):
        yield trips
        return
    transport = storage.client.client_connection.pipeline_client._pipeline._transport
    send = transport.send

    def counting_send(request: Any, **kwargs: Any) -> Any:
        query = request.headers.get("x-ms-documentdb-isquery", "").lower() == "true"
        trips.append(f"{request.method} {request.url}{' (query)' if query else ''}")
        return send(request, **kwargs)

    transport.send = counting_send
    try:
        yield trips
    finally:
        transport.send = send
