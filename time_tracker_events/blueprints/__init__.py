"""The app's functions, one blueprint per source of changes."""
