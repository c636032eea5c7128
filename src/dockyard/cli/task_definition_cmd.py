"""`dockyard register-task-definition / describe- / deregister- / task-definitions`.

The file a user registers is the one `aws ecs register-task-definition
--cli-input-json` takes. The daemon judges it; this side reads the JSON, prints the
revision it became and every warning the daemon returned (members kept but not acted
on locally), and lists, describes and deregisters revisions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from dockyard.cli.context import api
from dockyard.cli.output import console, err_console, table
from dockyard.errors import SpecError


def register_task_definition(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Task definition JSON."),
) -> None:
    """Validate an ECS task definition and register its family's next revision."""
    try:
        document = json.loads(file.read_text())
    except ValueError as error:
        raise SpecError(
            f"{file} is not JSON: {error}", field=str(file), hint="fix the JSON"
        ) from None
    answer = api().request("POST", "/v1/task-definitions", json=document)
    registered = answer["taskDefinition"]
    for warning in answer.get("warnings", []):
        err_console.print(f"[yellow]warning[/]: {warning}", markup=True, soft_wrap=True)
    console.print(f"[green]✓[/] registered {registered['family']}:{registered['revision']}")


def describe_task_definition(
    task_definition: str = typer.Argument(
        ..., help="family:revision, or family for its latest ACTIVE revision."
    ),
) -> None:
    """Print a registered task definition as ECS describes it (JSON)."""
    answer = api().request("GET", f"/v1/task-definitions/{task_definition}")
    typer.echo(json.dumps(answer, indent=2))


def deregister_task_definition(
    task_definition: str = typer.Argument(..., help="family:revision to make INACTIVE."),
) -> None:
    """Make a revision INACTIVE: its running tasks and services go on; nothing new starts."""
    answer = api().request("POST", f"/v1/task-definitions/{task_definition}/deregister")
    described = answer["taskDefinition"]
    console.print(f"[green]✓[/] {described['family']}:{described['revision']} is INACTIVE")


def task_definitions(
    family: str | None = typer.Option(None, help="Only this family."),
    status: str | None = typer.Option(None, help="Only ACTIVE or INACTIVE revisions."),
) -> None:
    """List registered task definitions (every revision, with its status)."""
    params: dict[str, Any] = {}
    if family:
        params["family"] = family
    if status:
        params["status"] = status.upper()
    items = api().request("GET", "/v1/task-definitions", params=params)
    table(
        None,
        ["task definition", "status", "containers", "cpu", "memory"],
        (
            [
                f"{d['family']}:{d['revision']}",
                d["status"],
                ", ".join(c["name"] for c in d["containerDefinitions"]),
                d.get("cpu", ""),
                d.get("memory", ""),
            ]
            for d in items["taskDefinitions"]
        ),
    )
