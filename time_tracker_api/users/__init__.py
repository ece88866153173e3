"""The /users resource."""
