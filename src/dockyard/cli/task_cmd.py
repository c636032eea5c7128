"""`dockyard tasks`: the ECS layer's tasks (task definitions: ``task_definition_cmd``)."""

from __future__ import annotations

import typer

from dockyard.cli.context import api
from dockyard.cli.output import ago, table


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
