"""The flags the product itself consults; each gates a capability that is on while undefined."""

AUDIT_LOG = "audit-log"  # GET /events
