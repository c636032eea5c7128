"""Shared helpers for commands: the API client (daemon started on demand) and the
small resolutions several commands need."""

from __future__ import annotations

from dockyard.cli.client import ApiClient
from dockyard.cli.output import console
from dockyard.settings import get_settings

_client: ApiClient | None = None


def api() -> ApiClient:
    """The API client, with the daemon running (started in the background if needed)."""
    global _client  # noqa: PLW0603 - one client per CLI process
    if _client is None:
        client = ApiClient(get_settings())
        if not client.alive():
            with console.status("Starting the Dockyard daemon…"):
                client.ensure_daemon()
        _client = client
    return _client


def resolve_model_data(client: ApiClient, model_data: str | None) -> str | None:
    """``training-job:NAME`` → that job's model.tar.gz URI; anything else unchanged."""
    if model_data is None or not model_data.startswith("training-job:"):
        return model_data
    name = model_data.split(":", 1)[1]
    job = client.request("GET", f"/v1/training-jobs/{name}")
    uri = (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
    if job.get("TrainingJobStatus") != "Completed" or not uri:
        from dockyard.errors import Conflict

        raise Conflict(
            f"training job {name!r} is {job.get('TrainingJobStatus')}, it has no model yet",
            resource=f"training-job/{name}",
            hint="wait for it to complete (`dockyard training-job " + name + "`)",
        )
    return str(uri)


def framework_image(framework: str) -> str:
    """The ref of a framework image, prepared by the daemon (built once, then cached)."""
    ref = ""
    with console.status(f"Preparing the {framework} framework image…"):
        for item in api().stream("POST", f"/v1/frameworks/{framework}/image"):
            if "result" in item:
                ref = str(item["result"]["Image"])
    return ref
