"""The local daemon as a process: which one holds the state directory, and stopping it.

A daemon holds ``RUN_DIR/daemon.lock`` (an exclusive lock, its pid inside) for as long
as it runs, so the lock, not the pid alone, says whether one runs: a stale pid may
name a zombie or a stranger. Stopping is SIGTERM, which the daemon handles by closing
its API and leaving every container and the load balancer running.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from pathlib import Path

from dockyard.settings import Settings

SHUTDOWN_TIMEOUT = 30.0


def _holds(lock: Path) -> bool:
    if not lock.exists():
        return False
    with lock.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def running_pid(settings: Settings) -> int | None:
    """The pid of the daemon running on this state directory, or None."""
    lock = settings.run_dir / "daemon.lock"
    if not _holds(lock):
        return None
    try:
        return int(lock.read_text().strip())
    except ValueError:
        return None


def stop(settings: Settings, timeout: float = SHUTDOWN_TIMEOUT) -> int | None:
    """SIGTERM the running daemon and wait until it has let go; its pid, or None when
    none runs."""
    pid = running_pid(settings)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (
        settings.api_socket.exists() or running_pid(settings) is not None
    ):
        time.sleep(0.1)
    return pid
