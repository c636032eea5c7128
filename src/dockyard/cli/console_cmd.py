"""`dockyard console`: the address of the web console, with its token."""

from __future__ import annotations

import typer

from dockyard.cli.context import api
from dockyard.errors import DaemonUnavailable
from dockyard.settings import get_settings


def console() -> None:
    """Print the web console's address (open it in a browser on this machine)."""
    from dockyard.server.auth import load_or_create_token

    settings = get_settings()
    health = api().request("GET", "/v1/health")
    url = health.get("Console")
    if not url:
        raise DaemonUnavailable(
            "the daemon serves no console (its port was taken, or it predates the console)",
            hint="see the daemon's log; set DOCKYARD_CONSOLE_PORT to a free port and "
            "restart it (`dockyard shutdown`, then any command)",
        )
    token = load_or_create_token(settings.run_dir / "api-token", settings.api_token)
    typer.echo(f"{url}?token={token}")
