"""The /time-entries resource."""
