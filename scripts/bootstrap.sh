#!/usr/bin/env bash
# Prepare this checkout: a Python 3.11 virtualenv in .venv with the locked (hashed) requirements; with
# --system, the Debian packages the tests need (the MariaDB ODBC driver for pyodbc); with --node,
# Node.js and the locked npm packages in node_modules (the Cosmos DB emulator, package.json); with
# --bench, wrk (the HTTP load generator of bench/harness.py).
# Sourced by scripts/run.sh and scripts/test.sh; safe to run again (it only does what is missing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAGE="prod"
SYSTEM=0
NODE=0
BENCH=0
for arg in "$@"; do
  case "$arg" in
    --dev) STAGE="dev" ;;
    --system) SYSTEM=1 ;;
    --node) NODE=1 ;;
    --bench) BENCH=1 ;;
    *) echo "bootstrap.sh: unknown option $arg (use --dev, --system, --node, --bench)" >&2; exit 2 ;;
  esac
done

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing Debian packages: $*"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

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
  apt_install "${missing[@]}"
}

# Without Node.js the Cosmos DB tests skip (fail under CI=true); the rest of the suite still runs.
install_node_packages() {
  if ! command -v npm >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
      echo "bootstrap.sh: install Node.js and npm with your package manager (for the Cosmos DB emulator)" >&2
      return 0
    fi
    apt_install nodejs npm
  fi
  if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    echo "bootstrap.sh: @vercel/cosmosdb-server wants Node.js 20 or newer, this is $(node --version)" >&2
  fi
  local stamp="$ROOT/node_modules/.installed-package-lock"
  local digest
  digest="$(cat "$ROOT/package.json" "$ROOT/package-lock.json" "$ROOT"/patches/*.patch | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ] && return 0
  echo "Installing npm packages into node_modules"
  local log
  log="$(mktemp)"
  if ! (cd "$ROOT" && npm ci --no-audit --no-fund) >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
  echo "$digest" >"$stamp"
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

install_bench_packages() {
  command -v wrk >/dev/null 2>&1 && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap.sh: install wrk (HTTP load generator) with your package manager" >&2
    return 1
  fi
  apt_install wrk
}

[ "$SYSTEM" -eq 1 ] && install_system_packages
[ "$NODE" -eq 1 ] && install_node_packages
[ "$BENCH" -eq 1 ] && install_bench_packages

if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating the virtualenv in .venv"
  "$(find_python)" -m venv "$VENV"
fi

REQUIREMENTS="$ROOT/requirements/time_tracker_api/$STAGE.txt"
STAMP="$VENV/.installed-$STAGE"
# The locks (*.txt, compiled from *.in by scripts/lock.sh) decide what is installed; any change
# to them or to the .in files they come from reinstalls.
DIGEST="$(cat "$ROOT"/requirements/time_tracker_api/*.txt "$ROOT"/requirements/time_tracker_api/*.in \
  "$ROOT"/time_tracker_events/requirements.txt "$ROOT"/time_tracker_events/requirements.in | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$DIGEST" ]; then
  echo "Installing $STAGE requirements into .venv"
  # Every package pinned and hashed, pip and setuptools among them (current releases, in the lock).
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$REQUIREMENTS"
  echo "$DIGEST" >"$STAMP"
fi
