"""The /technologies resource."""
