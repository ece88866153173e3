"""The /activities resource."""
