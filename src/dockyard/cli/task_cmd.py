"""`dockyard task-definitions / register-task-definition / tasks`: the ECS layer."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from dockyard.cli.context import api
from dockyard.cli.output import ago, console, table
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
    registered = api().request("POST", "/v1/task-definitions", json=document)["taskDefinition"]
    console.print(f"[green]✓[/] registered {registered['family']}:{registered['revision']}")


def task_definitions(family: str | None = typer.Option(None, help="Only this family.")) -> None:
    """List registered task definitions (every revision)."""
    items = api().request(
        "GET", "/v1/task-definitions", params={"family": family} if family else {}
    )
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


def tasks(
    started_by: str | None = typer.Option(
        None, "--started-by", help="Only tasks of service/NAME or training-job/NAME."
    ),
) -> None:
    """List tasks: lifecycle status, exit codes and stop reasons, as ECS reports them."""
    params = {"startedBy": started_by} if started_by else {}
    items = api().request("GET", "/v1/tasks", params=params)["tasks"]
    table(
        None,
        ["task", "started by", "definition", "last", "desired", "exit", "stopped reason", "age"],
        (
            [
                t["taskId"][:12],
                t["startedBy"],
                t["taskDefinition"],
                t["lastStatus"],
                t["desiredStatus"],
                ",".join(str(c["exitCode"]) for c in t["containers"] if c["exitCode"] is not None),
                t.get("stoppedReason") or "",
                ago(t["createdAt"]),
            ]
            for t in items
        ),
    )
