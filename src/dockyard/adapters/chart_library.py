"""The console's chart library (uPlot), installed once per user with npm.

The console draws its charts with uPlot, a small, dependency-free library. Its files
are not part of Dockyard's sources: ``dockyard setup`` installs the pinned release
from the npm registry into ``<share dir>/console`` with the ordinary npm client, and
the daemon serves them from there, so a browser never fetches anything from the
internet. Without them the console still works and says how to get charts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from dockyard.errors import SetupError

PACKAGE = "uplot"
VERSION = "1.6.32"
#: the files the console loads, relative to the package's directory
FILES = ("dist/uPlot.iife.min.js", "dist/uPlot.min.css")
NPM_TIMEOUT_S = 300


def install_dir(share_dir: Path) -> Path:
    """The npm prefix the library is installed under."""
    return share_dir / "console"


def package_dir(share_dir: Path) -> Path:
    return install_dir(share_dir) / "node_modules" / PACKAGE


def installed_version(share_dir: Path) -> str | None:
    """The version npm left in place, when every file the console loads is there."""
    directory = package_dir(share_dir)
    if not all((directory / name).is_file() for name in FILES):
        return None
    manifest = directory / "package.json"
    if not manifest.is_file():
        return None
    version = json.loads(manifest.read_text()).get("version")
    return str(version) if version else None


def ensure_chart_library(share_dir: Path) -> bool:
    """Install uPlot ``VERSION`` unless it is there; True when this call installed it.

    Raises :class:`SetupError` naming the fix when npm is missing or fails.
    """
    if installed_version(share_dir) == VERSION:
        return False
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError(
            "npm is not installed, so the console's chart library cannot be fetched",
            hint="install npm (apt-get install npm, or Node.js from nodejs.org), then "
            "run `dockyard setup` again",
        )
    prefix = install_dir(share_dir)
    prefix.mkdir(parents=True, exist_ok=True)
    command = [
        npm,
        "install",
        "--prefix",
        str(prefix),
        "--no-audit",
        "--no-fund",
        "--save-exact",
        f"{PACKAGE}@{VERSION}",
    ]
    env = {**os.environ, "NPM_CONFIG_UPDATE_NOTIFIER": "false"}
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=NPM_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise SetupError(
            f"`npm install {PACKAGE}@{VERSION}` did not finish in {NPM_TIMEOUT_S} s",
            hint="check that the npm registry is reachable (npm config get registry)",
        ) from None
    if result.returncode != 0 or installed_version(share_dir) != VERSION:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
        raise SetupError(
            f"`{' '.join(command[1:])}` failed (exit {result.returncode}):\n{tail}",
            hint="check npm's registry and proxy settings (npm config list), then run "
            "`dockyard setup` again",
        )
    return True
