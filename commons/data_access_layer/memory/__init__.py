"""The in-memory backend: every port in plain Python, for fast tests and demos."""
