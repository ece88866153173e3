"""Lets `flask run` from the repository root find the app factory with nothing set.

Flask looks for `wsgi.py` in the working directory and calls its `create_app()`; importing
this module builds nothing (no I/O at import). Gunicorn uses `time_tracker_api:create_app()`.
"""

from time_tracker_api import create_app

__all__ = ["create_app"]
