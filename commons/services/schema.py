"""Whether the storage's schema is up to date, cheap enough to ask before every request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from commons.data_access_layer.ports import Storage
from commons.domain.exceptions import SchemaOutOfDate

DEFAULT_RECHECK_SECONDS = 5.0


class SchemaCheck:
    """Asks the storage which migrations are pending, and remembers the answer.

    An up-to-date schema is remembered for good: a migrated database does not become unmigrated
    under a running app. A pending one is asked about again at most every `recheck_seconds`, by
    one request while the others keep the last answer, so that the app becomes ready soon after
    `python cli.py migrate`, without a restart.
    """

    def __init__(
        self,
        storage: Storage,
        recheck_seconds: float = DEFAULT_RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._storage = storage
        self._recheck_seconds = recheck_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._up_to_date = False
        self._pending: list[str] | None = None  # None: not known yet
        self._checked_at = 0.0

    def pending(self, fresh: bool = False) -> list[str]:
        """The pending migrations (StorageUnavailable when the storage cannot be reached);
        `fresh` asks the storage now unless the schema is known to be up to date."""
        if self._up_to_date:
            return []
        known = self._pending
        if known is not None and not fresh and not self._claim_recheck():
            return known
        pending = self._storage.pending_migrations()
        with self._lock:
            self._checked_at = self._clock()
            if not self._up_to_date:  # a slower, older answer never undoes an up-to-date one
                self._pending = pending
                self._up_to_date = not pending
            return [] if self._up_to_date else pending

    def require_up_to_date(self, fresh: bool = False) -> None:
        """Raise SchemaOutOfDate while migrations are pending."""
        pending = self.pending(fresh)
        if pending:
            raise SchemaOutOfDate(pending, retry_after=max(1, round(self._recheck_seconds)))

    def _claim_recheck(self) -> bool:
        # Only the request that claims the due recheck asks the storage.
        now = self._clock()
        with self._lock:
            if now - self._checked_at < self._recheck_seconds:
                return False
            self._checked_at = now
            return True
