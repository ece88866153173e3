"""The feature toggles service: a cached snapshot of flags, refreshed on a TTL, never failing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from commons.domain.principal import Principal
from commons.feature_toggles.evaluation import FlagSet
from commons.feature_toggles.sources import FlagSource

logger = logging.getLogger(__name__)

DEFAULT_REFRESH_SECONDS = 30.0


class FeatureToggles:
    """Flags from a source, loaded on first use and refreshed lazily once `refresh_seconds` have
    passed. A failing source keeps the last known flags (none before the first success)."""

    def __init__(
        self,
        source: FlagSource,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.source = source
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._flags = FlagSet()
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def evaluate(self, principal: Principal) -> dict[str, bool]:
        """Every known flag, on or off for the caller."""
        flags = self._current()
        return {name: flags.is_enabled(name, principal) for name in flags.names}

    def is_enabled(self, name: str, principal: Principal, default: bool = True) -> bool:
        """Whether a flag is on for the caller; `default` when the flag is not defined."""
        flags = self._current()
        return flags.is_enabled(name, principal) if name in flags else default

    def _current(self) -> FlagSet:
        if self._attempted_at is None:
            with self._lock:  # the first callers wait for the first load
                if self._attempted_at is None:
                    self._refresh()
        elif self._stale() and self._lock.acquire(blocking=False):
            # One caller refreshes; the others go on with the last known flags meanwhile.
            try:
                if self._stale():  # nobody refreshed them while we looked
                    self._refresh()
            finally:
                self._lock.release()
        return self._flags

    def _stale(self) -> bool:
        attempted_at = self._attempted_at
        return attempted_at is None or self._clock() - attempted_at >= self._refresh_seconds

    def _refresh(self) -> None:
        try:
            flags = FlagSet(self.source.load())
        except Exception as error:  # whatever the source raises, requests must go on
            logger.warning(
                "Cannot refresh feature flags from %s; keeping the %d last known: %s",
                self.source,
                len(self._flags),
                error,
            )
        else:
            self._flags = flags
        finally:
            # Counted from the end of the attempt, so a slow or failing source is asked at most
            # once per period.
            self._attempted_at = self._clock()
