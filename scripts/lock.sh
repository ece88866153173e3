#!/usr/bin/env bash
# Re-lock the Python requirements: compile each *.in (top-level packages) into its *.txt lock,
# every package pinned with its sha256 hashes (pip-tools). Edit the .in files, then run:
#   scripts/lock.sh              # pip-tools in a throwaway virtualenv under ${TMPDIR:-/tmp}
#   scripts/lock.sh --upgrade    # also move every pin to the newest release allowed
# Hashes come from PyPI alone (no local pip configuration, no extra indexes or find-links),
# so the locks install anywhere with `pip install --require-hashes`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${LOCK_TOOLS_VENV:-${TMPDIR:-/tmp}/time-tracker-pip-tools}"
PYTHON="$(command -v python3.11 || command -v python3)"
if [ ! -x "$TOOLS/bin/pip-compile" ]; then
  "$PYTHON" -m venv "$TOOLS"
  env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null "$TOOLS/bin/pip" install -q --index-url https://pypi.org/simple pip-tools
fi
compile() {
  local in="$1"
  shift
  (cd "$(dirname "$in")" && env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="scripts/lock.sh" \
    "$TOOLS/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
    --index-url https://pypi.org/simple "$@" "$(basename "$in")" -o "$(basename "${in%.in}").txt")
}
# prod first: dev.in is constrained by prod.txt (-c prod.txt), so the versions agree.
compile "$ROOT/requirements/time_tracker_api/prod.in" "${@}"
compile "$ROOT/time_tracker_events/requirements.in" "${@}"
compile "$ROOT/requirements/time_tracker_api/dev.in" "${@}"
