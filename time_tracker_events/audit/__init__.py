"""Turning change events into the audit log: plain functions, no Azure Functions types.

This package stands alone: the Functions app deploys it without the rest of the repository.
"""
