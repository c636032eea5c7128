"""`dockyard server`: run the control-plane daemon in the foreground."""

from __future__ import annotations

import typer

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
