"""Messaging adapters that carry change events out of the process (AMQP)."""
