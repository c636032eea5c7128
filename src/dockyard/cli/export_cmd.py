"""`dockyard export kubernetes NAME [-o DIR|-]`: a resource as Kubernetes manifests.

The daemon renders them from what it stores (so the export is exactly what Dockyard
runs); this side writes them as multi-document YAML: to stdout with ``-o -`` (the
default), or into DIR as ``<kind>-<name>.yaml``, ready for ``kubectl apply -f``.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from dockyard.cli.context import api
from dockyard.cli.output import err_console

export_app = typer.Typer(help="Write a resource in another orchestrator's format.")


@export_app.command("kubernetes")
def kubernetes(
    name: str = typer.Argument(
        ...,
        help="An endpoint, ECS service, training job or task: NAME, or "
        "endpoint/NAME, service/NAME, training-job/NAME, task/ID.",
    ),
    output: str = typer.Option(
        "-", "--output", "-o", help="A directory to write the YAML file into, or - for stdout."
    ),
) -> None:
    """Write the Kubernetes manifests (YAML) that run NAME on a cluster."""
    from dockyard.kube.bundle import to_yaml

    answer = api().request("GET", f"/v1/kubernetes/manifests/{name}")
    text = to_yaml(
        answer["Manifests"],
        header=f"{answer['Resource']}: kubectl apply --server-side -f <this file>",
    )
    if output == "-":
        typer.echo(text, nl=False)
        return
    directory = Path(output)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / (re.sub(r"[^A-Za-z0-9_.-]+", "-", answer["Resource"]) + ".yaml")
    target.write_text(text)
    err_console.print(f"[green]✓[/] {len(answer['Manifests'])} objects written to {target}")
