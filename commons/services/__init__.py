"""Use cases: each takes a principal and its inputs, and works through a unit of work."""
