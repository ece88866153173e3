"""The /events resource: the audit log."""
