#!/usr/bin/env bash
# Prepare this checkout: a Python 3.11 virtualenv in .venv with the pinned requirements, and,
# with --system, the Debian packages the tests need (the MariaDB ODBC driver for pyodbc).
# Sourced by scripts/run.sh and scripts/test.sh; safe to run again (it only does what is missing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAGE="prod"
SYSTEM=0
for arg in "$@"; do
  case "$arg" in
    --dev) STAGE="dev" ;;
    --system) SYSTEM=1 ;;
    *) echo "bootstrap.sh: unknown option $arg (use --dev, --system)" >&2; exit 2 ;;
  esac
done

install_system_packages() {
  local missing=()
  for package in unixodbc unixodbc-dev odbc-mariadb; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap.sh: install ${missing[*]} (ODBC for MariaDB) with your package manager" >&2
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))'; then
      echo "$candidate"
      return 0
    fi
  done
  echo "bootstrap.sh: Python 3.11 or newer is required (apt-get install python3.11 python3.11-venv)" >&2
  return 1
}

[ "$SYSTEM" -eq 1 ] && install_system_packages

if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating the virtualenv in .venv"
  "$(find_python)" -m venv "$VENV"
fi

REQUIREMENTS="$ROOT/requirements/time_tracker_api/$STAGE.txt"
STAMP="$VENV/.installed-$STAGE"
DIGEST="$(cat "$ROOT"/requirements/time_tracker_api/*.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$DIGEST" ]; then
  echo "Installing $STAGE requirements into .venv"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$DIGEST" >"$STAMP"
fi
