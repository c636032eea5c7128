#!/usr/bin/env bash
# Create the project's virtual environment and install Dockyard into it.
# On Debian/Ubuntu as root, installs the interpreter pieces Debian splits out
# (python3-venv) when they are missing; elsewhere says what to install.
set -euo pipefail
venv="${1:-.venv}"

python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    python="$candidate"; break
  fi
done

if [ -z "$python" ] || ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing python3 and python3-venv with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
    python=python3
  else
    echo "Dockyard needs Python >= 3.11 with the venv module." >&2
    echo "  Debian/Ubuntu: sudo apt-get install python3 python3-venv" >&2
    echo "  macOS:         brew install python@3.11" >&2
    exit 1
  fi
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating $venv with $($python --version)"
  "$python" -m venv "$venv"
fi
echo "==> installing dockyard and its development tools into $venv"
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$venv/bin/python" -m pip install -q -e '.[dev]'
