"""The /feature-toggles resource."""
