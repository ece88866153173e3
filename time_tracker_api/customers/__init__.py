"""The /customers resource."""
