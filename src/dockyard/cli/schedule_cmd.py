"""`dockyard schedule create / list / describe / delete / run-now`: scheduled tasks.

A schedule runs a RunTask at each firing. ``--cron`` takes ``rate(5 minutes)``,
EventBridge's ``cron(0 2 * * ? *)`` or a standard 5-field line ``0 2 * * *``, all in
UTC. Each run's tasks are listed by ``dockyard tasks --started-by schedule/NAME``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dockyard.cli.context import api
from dockyard.cli.output import ago, console, table
from dockyard.cli.service_cmd import json_file

schedule_app = typer.Typer(
    help="Scheduled tasks: run a task definition on a cron or rate schedule (UTC).",
    no_args_is_help=True,
)


@schedule_app.command("create")
def create(
    name: str = typer.Argument(..., help="Schedule name, e.g. nightly."),
    cron: str = typer.Option(
        ...,
        "--cron",
        "--schedule",
        help='"0 2 * * *" (standard cron), "cron(0 2 * * ? *)" (EventBridge) or '
        '"rate(5 minutes)"; UTC.',
    ),
    task_definition: str = typer.Option(..., help="family:revision (or family)."),
    count: int = typer.Option(1, help="Tasks per run (1-10)."),
    overrides: Path | None = typer.Option(None, help="A TaskOverride JSON file."),
    launch_type: str | None = typer.Option(None, help="FARGATE or EC2."),
) -> None:
    """Create a schedule that runs a task definition's task at each firing."""
    body: dict[str, Any] = {
        "name": name,
        "scheduleExpression": cron,
        "taskDefinition": task_definition,
        "count": count,
    }
    if overrides is not None:
        body["overrides"] = json_file(overrides, "--overrides")
    if launch_type is not None:
        body["launchType"] = launch_type
    made = api().request("POST", "/v1/schedules", json=body)["schedule"]
    console.print(
        f"[green]✓[/] schedule {made['name']}: {made['scheduleExpression']} runs "
        f"{made['taskDefinition']}; next run {made['nextRun'] or 'never'}"
    )


@schedule_app.command("list")
def list_schedules() -> None:
    """Every schedule with its next and last run."""
    rows = [
        [
            s["name"],
            s["scheduleExpression"],
            s["taskDefinition"],
            s["nextRun"] or "never",
            ago(s["lastRunAt"]),
            s["lastError"] or "",
        ]
        for s in api().request("GET", "/v1/schedules")["schedules"]
    ]
    table(
        None, ["NAME", "SCHEDULE", "TASK DEFINITION", "NEXT RUN (UTC)", "LAST RUN", "ERROR"], rows
    )


@schedule_app.command("describe")
def describe(name: str = typer.Argument(..., help="Schedule name.")) -> None:
    """A schedule: its RunTask, next and last run, and its tasks still listed."""
    s = api().request("GET", f"/v1/schedules/{name}")["schedule"]
    console.print(f"[bold]{s['name']}[/]  {s['scheduleExpression']} (UTC)")
    console.print(
        f"  task definition  {s['taskDefinition']}  (count {s['runTask'].get('count', 1)})"
    )
    console.print(f"  next run         {s['nextRun'] or 'never'}")
    console.print(f"  last run         {ago(s['lastRunAt']) or 'not yet'}")
    if s["lastError"]:
        console.print(f"  [red]last error[/]       {s['lastError']}")
    table(
        f"tasks (startedBy {s['startedBy']})",
        ["task", "last", "exit", "stopped reason", "age"],
        (
            [
                t["taskId"][:12],
                t["lastStatus"],
                ",".join(str(c["exitCode"]) for c in t["containers"] if c["exitCode"] is not None),
                t.get("stoppedReason") or "",
                ago(t["createdAt"]),
            ]
            for t in s["tasks"]
        ),
    )


@schedule_app.command("delete")
def delete(name: str = typer.Argument(..., help="Schedule name.")) -> None:
    """Delete a schedule (tasks it started run on)."""
    api().request("DELETE", f"/v1/schedules/{name}")
    console.print(f"[green]✓[/] deleted schedule {name}")


@schedule_app.command("run-now")
def run_now(name: str = typer.Argument(..., help="Schedule name.")) -> None:
    """Run the schedule's task now, without waiting for its next firing."""
    started = api().request("POST", f"/v1/schedules/{name}/run")["tasks"]
    for task in started:
        console.print(f"[green]✓[/] started task {task['taskId']} (startedBy schedule/{name})")
