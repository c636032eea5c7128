"""`dockyard server`: run the control-plane daemon in the foreground."""

from __future__ import annotations

import fcntl
import os
import signal
import time
from pathlib import Path

import typer

from dockyard.cli.output import console
from dockyard.settings import get_settings

SHUTDOWN_TIMEOUT = 30.0


def server(
    tcp: str | None = typer.Option(
        None,
        "--tcp",
        metavar="HOST:PORT",
        help="Also listen on TCP (every request must carry the API token).",
    ),
) -> None:
    """Run the daemon: API on a private unix socket, reconcile loop, load balancer."""
    from dockyard.server.daemon import run_daemon

    settings = get_settings()
    if tcp:
        settings = settings.model_copy(update={"api_tcp": tcp})
    run_daemon(settings)


def shutdown() -> None:
    """Stop the background daemon. Endpoints keep serving (their containers and the
    load balancer run on); the next command starts the daemon again, which re-adopts
    them. Use it after upgrading Dockyard."""
    settings = get_settings()
    lock = settings.run_dir / "daemon.lock"
    if not _daemon_holds(lock):
        console.print("no daemon runs on this state directory")
        return
    pid = int(lock.read_text().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_TIMEOUT
    while settings.api_socket.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    console.print(f"[green]✓[/] daemon {pid} stopped")


def _daemon_holds(lock: Path) -> bool:
    """True while a daemon holds its lock (a pid alone may name a zombie or a stranger)."""
    if not lock.exists():
        return False
    with lock.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
