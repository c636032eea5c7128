"""Shared helpers for commands: the API client (daemon started on demand) and the
small resolutions several commands need."""

from __future__ import annotations

import time
from pathlib import Path

from dockyard.cli import daemon_process
from dockyard.cli.client import ApiClient
from dockyard.cli.output import console, err_console
from dockyard.errors import DockyardError
from dockyard.settings import get_settings

TRAINING_JOB_PREFIX = "training-job:"

_client: ApiClient | None = None


def api() -> ApiClient:
    """The API client, with the daemon running (started in the background if needed)."""
    global _client  # noqa: PLW0603 - one client per CLI process
    if _client is None:
        settings = get_settings()
        client = ApiClient(settings)
        health = client.health()
        if client.runs_another_installation(health):
            err_console.print(
                "Restarting the Dockyard daemon: it runs an earlier installation "
                "(endpoints and services keep serving meanwhile)"
            )
            daemon_process.stop(settings)
            health = None
        if health is None:
            with console.status("Starting the Dockyard daemon…"):
                client.ensure_daemon()
        _client = client
    return _client


def wait_until_gone(path: str, what: str) -> None:
    """Poll ``GET path`` until the daemon says the resource is gone (a deletion that
    drains first: replicas, tasks, a route), with a status line meanwhile."""
    client = api()
    with console.status(f"Deleting {what}…"):
        while True:
            try:
                client.request("GET", path)
            except DockyardError as error:
                if error.code == "ResourceNotFound":
                    return
                raise
            time.sleep(0.2)


def input_arg(text: str) -> str:
    """An input as the daemon should read it: a plain path made absolute, the rest as given.

    The daemon resolves every form itself (``training-job:NAME``, ``s3://…``,
    ``file://…``, absolute paths) and does not share the CLI's working directory, so
    the only thing to settle here is what a relative path (or ``~``) means. Anything
    with a scheme, and an empty value, goes through unchanged for the daemon to judge.
    """
    if not text or text.startswith(TRAINING_JOB_PREFIX) or "://" in text:
        return text
    return str(Path(text).expanduser().resolve())


def framework_image(framework: str) -> str:
    """The ref of a framework image, prepared by the daemon (built once, then cached)."""
    ref = ""
    with console.status(f"Preparing the {framework} framework image…"):
        for item in api().stream("POST", f"/v1/frameworks/{framework}/image"):
            if "result" in item:
                ref = str(item["result"]["Image"])
    return ref
