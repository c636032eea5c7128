"""`dockyard server`: run the control-plane daemon in the foreground."""

from __future__ import annotations

import typer

from dockyard.cli import daemon_process
from dockyard.cli.output import console
from dockyard.settings import get_settings


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
    them. (A command run after an upgrade restarts a daemon of the earlier
    installation by itself.)"""
    pid = daemon_process.stop(get_settings())
    if pid is None:
        console.print("no daemon runs on this state directory")
        return
    console.print(f"[green]✓[/] daemon {pid} stopped")
