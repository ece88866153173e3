"""What the functions share: the app settings and the stores, connected on first use.

The relays themselves are the storage adapters' (`commons.data_access_layer.sql.outbox`,
`commons.data_access_layer.cosmos.changes`): each function only adapts its trigger's input.
"""
