"""The /health resource."""
