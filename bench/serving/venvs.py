"""One virtual environment per peer, installed from PyPI by the benchmark itself.

Environments live under the cache directory (default
``~/.cache/dockyard-bench/peers/<name>``) and are reused while their requirement list
is unchanged (a marker file holds it). The installed versions (``pip freeze``) go into
the results, so every figure names exactly what it measured.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .peers import Peer

MARKER = ".bench-requirements"


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dockyard-bench"


def host_python() -> str:
    """The interpreter that makes the venvs: the base of the one running us (3.11)."""
    return shutil.which("python3.11") or getattr(sys, "_base_executable", sys.executable)


def ensure_venv(peer: Peer, root: Path, log: Path) -> Path:
    """The peer's venv, (re)installed when its requirements changed; its path."""
    venv = root / peer.name
    wanted = "\n".join(peer.requirements) + "\n"
    marker = venv / MARKER
    if marker.is_file() and marker.read_text() == wanted and (venv / "bin" / "python").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with log.open("w") as out:
        subprocess.run([host_python(), "-m", "venv", str(venv)], check=True, stdout=out, stderr=out)
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *peer.requirements],
            stdout=out,
            stderr=out,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"installing {peer.name} failed; see {log}")
    marker.write_text(wanted)
    print(f"  installed {peer.name} in {time.monotonic() - began:.0f} s", flush=True)
    return venv


def freeze(venv: Path) -> dict[str, str]:
    """``pip freeze`` of ``venv`` as {name: version}."""
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all"],
        capture_output=True,
        text=True,
        check=True,
    )
    versions = {}
    for line in done.stdout.splitlines():
        name, sep, version = line.partition("==")
        if sep:
            versions[name.lower()] = version
    return versions
