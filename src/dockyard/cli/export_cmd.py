"""`dockyard export kubernetes NAME [-o DIR|-]`: a resource as Kubernetes manifests.

The daemon renders them from what it stores (so the export is exactly what Dockyard
runs); this side writes them as multi-document YAML: to stdout with ``-o -`` (the
default), or into DIR as ``<kind>-<name>.yaml``, ready for ``kubectl apply -f``. What
will not work as the records mean it is said on stderr and in the file's header.
``--apply`` has the daemon apply them to its cluster instead (secrets filled in).
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
    apply: bool = typer.Option(
        False,
        "--apply",
        help="Apply NAME to the cluster instead (the daemon needs DOCKYARD_BACKEND="
        "kubernetes and a kubeconfig); its status is read back from then on.",
    ),
) -> None:
    """Write the Kubernetes manifests (YAML) that run NAME on a cluster, or apply them."""
    from dockyard.kube.bundle import to_yaml

    if apply:
        _apply(name)
        return
    answer = api().request("GET", f"/v1/kubernetes/manifests/{name}")
    warnings = answer.get("Warnings", [])
    for warning in warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    header = f"{answer['Resource']}: kubectl apply --server-side -f <this file>"
    text = to_yaml(
        answer["Manifests"],
        header="\n".join([header, *(f"WARNING: {w}" for w in warnings)]),
    )
    if output == "-":
        typer.echo(text, nl=False)
        return
    directory = Path(output)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / (re.sub(r"[^A-Za-z0-9_.-]+", "-", answer["Resource"]) + ".yaml")
    target.write_text(text)
    err_console.print(f"[green]✓[/] {len(answer['Manifests'])} objects written to {target}")


def _apply(name: str) -> None:
    answer = api().request("POST", f"/v1/kubernetes/apply/{name}")
    for warning in answer.get("Warnings", []):
        err_console.print(f"[yellow]warning:[/] {warning}")
    for item in answer["Applied"]:
        typer.echo(f"applied {item}")
    err_console.print(
        f"[green]✓[/] {answer['Resource']} applied to {answer['Backend']}: "
        f"{len(answer['Applied'])} objects; its status is read back from the cluster"
    )
