"""Storage ports and their adapters."""
