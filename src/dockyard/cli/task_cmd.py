"""`dockyard tasks / run-task / stop-task`: the ECS layer's tasks (task definitions:
``task_definition_cmd``).

``run-task`` sends ECS's RunTask (``--overrides`` takes a TaskOverride JSON, as `aws
ecs run-task --overrides` does); the daemon starts the tasks and follows them, and a
stopped task stays listed for an hour with its exit codes and stop reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer

from dockyard.cli.context import api
from dockyard.cli.instances_cmd import CONSTRAINT_HELP, STRATEGY_HELP, placement_body
from dockyard.cli.output import ago, console, table
from dockyard.cli.service_cmd import json_file

WAIT_TIMEOUT = 3600.0


def _show(items: Iterable[dict[str, Any]]) -> None:
    table(
        None,
        ["task", "started by", "definition", "last", "desired", "exit", "stopped reason", "age"],
        (
            [
                t["taskId"][:12],
                t.get("startedBy") or "",
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


def tasks(
    started_by: str | None = typer.Option(
        None,
        "--started-by",
        help="Only tasks of service/NAME, training-job/NAME, run-task, or a RunTask startedBy.",
    ),
) -> None:
    """List tasks: lifecycle status, exit codes and stop reasons, as ECS reports them."""
    params = {"startedBy": started_by} if started_by else {}
    _show(api().request("GET", "/v1/tasks", params=params)["tasks"])


def run_task(
    task_definition: str = typer.Option(..., help="family:revision (or family)."),
    count: int = typer.Option(1, help="How many tasks (1-10)."),
    overrides: Path | None = typer.Option(None, help="A TaskOverride JSON file."),
    started_by: str | None = typer.Option(None, help="A tag to find the tasks by."),
    launch_type: str | None = typer.Option(None, help="FARGATE or EC2."),
    placement_strategy: list[str] | None = typer.Option(None, help=STRATEGY_HELP),
    placement_constraint: list[str] | None = typer.Option(None, help=CONSTRAINT_HELP),
    wait: bool = typer.Option(False, "--wait", help="Wait until every task has stopped."),
) -> None:
    """Run tasks of a task definition outside any service (ECS RunTask)."""
    body: dict[str, Any] = {"taskDefinition": task_definition, "count": count}
    body.update(placement_body(placement_strategy, placement_constraint))
    if overrides is not None:
        body["overrides"] = json_file(overrides, "--overrides")
    if started_by is not None:
        body["startedBy"] = started_by
    if launch_type is not None:
        body["launchType"] = launch_type
    client = api()
    answer = client.request("POST", "/v1/tasks", json=body)
    ids = [t["taskId"] for t in answer["tasks"]]
    for task_id in ids:
        console.print(f"[green]✓[/] started task {task_id}")
    for failure in answer.get("failures") or []:
        where = failure.get("arn") or failure.get("detail") or ""
        console.print(f"[red]✗[/] a task could not be placed: {failure['reason']} ({where})")
    if answer.get("failures"):
        raise typer.Exit(1)
    if not wait:
        return
    begun = time.monotonic()
    with console.status("Waiting for the tasks to stop…"):
        while True:
            current = [client.request("GET", f"/v1/tasks/{i}")["task"] for i in ids]
            if all(t["lastStatus"] == "STOPPED" for t in current):
                break
            if time.monotonic() - begun > WAIT_TIMEOUT:
                break
            time.sleep(0.5)
    _show(current)
    codes = [c["exitCode"] for t in current for c in t["containers"] if c["essential"]]
    if any(code != 0 for code in codes):
        raise typer.Exit(1)


def stop_task(
    task: str = typer.Argument(..., help="Task id (or ARN)."),
    reason: str | None = typer.Option(None, help="Recorded as the stoppedReason."),
) -> None:
    """Stop a task (UserInitiated); a service replaces its task."""
    body = {"reason": reason} if reason else {}
    stopped = api().request("POST", f"/v1/tasks/{task}/stop", json=body)["task"]
    console.print(f"[green]✓[/] stopping {stopped['taskId']} ({stopped['lastStatus']})")
