"""The /projects resource."""
