"""Tables in memory: committed data is never changed in place, only replaced on commit.

A unit of work reads the tables as they were when it began (a snapshot, for free) overlaid by
its own changes, and publishes those changes at once on commit, under the storage's lock.
Rows are deep-copied in and out, so no caller can change stored data behind the storage's back.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

# A table holds partitions (a tenant's rows, or "" for those of every tenant) of rows by id.
Table = dict[str, dict[str, Any]]
GLOBAL = ""
_GONE = object()
MICROSECOND = timedelta(microseconds=1)
TICK = timedelta(milliseconds=1)  # coarser than any clock this runs on


class Store:
    """The committed tables, the lock that serializes writing units of work, and the clock
    that stamps their writes."""

    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}
        self.lock = threading.RLock()
        self._last_stamp = datetime(1970, 1, 1, tzinfo=UTC)

    def stamp(self) -> datetime:
        """Now, as the clock says; within one tick of the clock, a microsecond after the stamp
        before, so that two writes never share an `updated_at` (a clock set back further, as
        tests travel in time, is followed)."""
        with self.lock:
            now = datetime.now(UTC)
            if self._last_stamp - TICK < now <= self._last_stamp:
                now = self._last_stamp + MICROSECOND
            self._last_stamp = now
            return now

    def publish(self, changes: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Replace the tables changed with copies that hold the changes (call under the lock)."""
        tables = dict(self.tables)
        for name, partitions in changes.items():
            table = dict(tables.get(name, {}))
            for partition, rows in partitions.items():
                merged = dict(table.get(partition, {}))
                for row_id, value in rows.items():
                    if value is _GONE:
                        merged.pop(row_id, None)
                    else:
                        merged[row_id] = value
                table[partition] = merged
            tables[name] = table
        self.tables = tables


class Staged:
    """The tables as one unit of work sees them: those of its start, and its own changes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.committed = store.tables
        self.changes: dict[str, dict[str, dict[str, Any]]] = {}

    def get(self, table: str, partition: str, row_id: str) -> Any:
        """A copy of the row, or None."""
        changed = self.changes.get(table, {}).get(partition, {})
        if row_id in changed:
            value = changed[row_id]
        else:
            value = self.committed.get(table, {}).get(partition, {}).get(row_id)
        return None if value is _GONE or value is None else copy.deepcopy(value)

    def rows(self, table: str, partition: str) -> Iterator[Any]:
        """Copies of the partition's rows, in no particular order."""
        committed = self.committed.get(table, {}).get(partition, {})
        changed = self.changes.get(table, {}).get(partition, {})
        for row_id, value in committed.items():
            if row_id not in changed:
                yield copy.deepcopy(value)
        for value in changed.values():
            if value is not _GONE:
                yield copy.deepcopy(value)

    def ids(self, table: str, partition: str) -> list[str]:
        """The ids of the partition's rows."""
        committed = self.committed.get(table, {}).get(partition, {})
        changed = self.changes.get(table, {}).get(partition, {})
        ids = [row_id for row_id in committed if row_id not in changed]
        return ids + [row_id for row_id, value in changed.items() if value is not _GONE]

    def put(self, table: str, partition: str, row_id: str, value: Any) -> None:
        self._changes(table, partition)[row_id] = copy.deepcopy(value)

    def delete(self, table: str, partition: str, row_id: str) -> None:
        self._changes(table, partition)[row_id] = _GONE

    def _changes(self, table: str, partition: str) -> dict[str, Any]:
        return self.changes.setdefault(table, {}).setdefault(partition, {})

    def commit(self) -> None:
        """Publish the changes at once; they are gone from this view's pending changes."""
        with self.store.lock:
            self.store.publish(self.changes)
            self.committed = self.store.tables
        self.changes = {}
