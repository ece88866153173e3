"""Feature toggles: flags read from a source, cached, evaluated for a caller."""

from commons.feature_toggles.service import FeatureToggles
from commons.feature_toggles.sources import FileFlagSource, FlagSource, NoFlagSource

__all__ = ["FeatureToggles", "FileFlagSource", "FlagSource", "NoFlagSource"]
