"""The /reports resource."""
