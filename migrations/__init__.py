"""Numbered migrate-anything migrations for every backend; run `python cli.py migrate`.

Each module has `up()` and `down()`, imports absolutely (migrate-anything replays the stored
source of applied migrations when reverting) and keeps its own frozen copy of the schema it
creates, so later changes to the application's tables never rewrite history.
"""
