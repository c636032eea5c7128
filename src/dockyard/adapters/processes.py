"""Daemons Dockyard starts and owns (HAProxy, the registry): pid files and stopping.

Each runs detached, with its pid in a file Dockyard writes; what is shared here is how
such a process is found again, whether it still runs, and how it is stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie left by a killed, unreaped process does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X")


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def write_pid(pidfile: Path, pid: int) -> None:
    write_atomic(pidfile, f"{pid}\n")


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:])


def stop_process(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; return once ``pid`` is gone.

    Callers first check that ``pid`` is still the process they started (pids recycle).
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.02)
