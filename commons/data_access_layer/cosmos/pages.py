"""Pages of lists on Cosmos DB: newest first by a moment and then by id, or by update.

The emulator has no OFFSET/LIMIT, and real Cosmos DB orders by two fields only with a
composite index of exactly those fields: a page reads the TOP of its list by the moment alone,
one row beyond the page, and when that row shares the page's last moment it reads every row of
that moment too, so that ties are ordered by id in Python and none is lost or repeated.
A page after a cursor starts at the cursor's position (a range of the moment's index). A page
deep into the list reads only ids and moments for the rows it skips, then its own documents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azure.cosmos import ContainerProxy

from commons.data_access_layer.cosmos.documents import timestamp
from commons.domain.pagination import Position

if TYPE_CHECKING:
    from commons.data_access_layer.cosmos.unit_of_work import CosmosUnitOfWork

# TOP takes a 32-bit integer; no partition holds more documents than that anyway.
MAX_TOP = 2**31 - 1


def newest_first(
    uow: CosmosUnitOfWork,
    container: ContainerProxy,
    tenant_id: str,
    where: str,
    values: dict[str, Any],
    *,
    moment: str,
    offset: int,
    limit: int | None,
    after: Position | None,
) -> list[dict[str, Any]]:
    """At most `limit` (None: all) documents matching `where`, newest first by the field
    `moment`, then by id: those after `after` when it is given, else those from position
    `offset` on."""
    if after is not None:
        where = (
            f"{where} AND c.{moment} <= @after_moment "
            f"AND (c.{moment} < @after_moment OR c.id < @after_id)"
        )
        values = {**values, "after_moment": timestamp(after.moment), "after_id": after.id}
        offset = 0
    # At the top of the list whole documents are read at once; deeper, only the positions of
    # the rows skipped are.
    skim = offset > 0 and limit is not None
    fields = f"c.id, c.{moment}" if skim else "*"

    def read(sql: str, **more: Any) -> list[dict[str, Any]]:
        return uow.query(container, sql, tenant_id, **values, **more)

    if limit is None:
        rows = read(f"SELECT {fields} FROM c WHERE {where}")
        end = len(rows)
    else:
        end = offset + limit
        top = f"SELECT TOP @top {fields} FROM c WHERE {where} ORDER BY c.{moment} DESC"
        rows = read(top, top=min(end + 1, MAX_TOP))
    if len(rows) > end and rows[end][moment] == rows[end - 1][moment]:
        boundary = rows[end][moment]
        tied = read(
            f"SELECT {fields} FROM c WHERE {where} AND c.{moment} = @boundary", boundary=boundary
        )
        rows = [row for row in rows if row[moment] != boundary] + tied
    rows.sort(key=lambda row: (row[moment], row["id"]), reverse=True)
    page = rows[offset:end]
    if not skim or not page:
        return page
    documents = uow.documents_by_id(container.id, tenant_id, {row["id"] for row in page})
    return [documents[row["id"]] for row in page if row["id"] in documents]


def by_update(
    uow: CosmosUnitOfWork,
    container: ContainerProxy,
    tenant_id: str,
    where: str,
    values: dict[str, Any],
    *,
    offset: int,
    limit: int | None,
    after: Position | None,
) -> list[dict[str, Any]]:
    """At most `limit` (None: all) documents matching `where`, oldest change first (by
    `updated_at`, then id): those after `after` when it is given, else those from position
    `offset` on. Ordered by the database from the composite index (updated_at, id) of
    migration 0011; without OFFSET on the emulator, a page from a position reads the rows
    before it too."""
    if after is not None:
        where = (
            f"{where} AND c.updated_at >= @after_moment "
            "AND (c.updated_at > @after_moment OR c.id > @after_id)"
        )
        values = {**values, "after_moment": timestamp(after.moment), "after_id": after.id}
        offset = 0
    order = "ORDER BY c.updated_at ASC, c.id ASC"
    if limit is None:
        rows = uow.query(container, f"SELECT * FROM c WHERE {where} {order}", tenant_id, **values)
        return rows[offset:]
    top = min(offset + limit, MAX_TOP)
    sql = f"SELECT TOP @top * FROM c WHERE {where} {order}"
    return uow.query(container, sql, tenant_id, **values, top=top)[offset:]
