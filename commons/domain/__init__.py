"""The domain: entities, rules and exceptions. Standard library only."""
