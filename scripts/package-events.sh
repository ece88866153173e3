#!/usr/bin/env bash
# Make time_tracker_events/ deployable on its own: copy the `commons` package it runs on into it
# (or into the folder given), so that the Functions host finds `commons` beside function_app.py.
#
#   scripts/package-events.sh && cd time_tracker_events && func azure functionapp publish <app> --build local
#
# The copy is git-ignored; run this again after changing commons. The Docker image
# (time_tracker_events/Dockerfile) copies commons itself and needs no packaging.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${1:-$ROOT/time_tracker_events}"
rm -rf "$TARGET/commons"
cp -R "$ROOT/commons" "$TARGET/commons"
find "$TARGET/commons" -name __pycache__ -type d -prune -exec rm -rf {} +
echo "commons copied into $TARGET"
