"""Where flag definitions come from: the `FlagSource` port and its local adapters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

FlagDefinition = dict[str, Any]


class FlagSource(Protocol):
    """Flag definitions in Microsoft's feature flag schema (`id`, `enabled`, `conditions`)."""

    def load(self) -> list[FlagDefinition]:
        """Every flag definition; raises when the source cannot be read."""
        ...


class NoFlagSource:
    """No flags configured: every flag is undefined."""

    def load(self) -> list[FlagDefinition]:
        """No definitions."""
        return []

    def __str__(self) -> str:
        return "no flag source"


class FileFlagSource:
    """A JSON file shaped like `{"feature_management": {"feature_flags": [...]}}`, read anew on
    every load so that edits show up at the next refresh."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def load(self) -> list[FlagDefinition]:
        """The definitions in the file; raises OSError or ValueError when it cannot be used."""
        document = json.loads(self.path.read_text(encoding="utf-8"))
        management = document.get("feature_management") if isinstance(document, dict) else None
        flags = management.get("feature_flags", []) if isinstance(management, dict) else None
        if not isinstance(flags, list):
            raise ValueError(f"{self.path}: feature_management.feature_flags must be a list")
        return flags

    def __str__(self) -> str:
        return f"the file {self.path}"
