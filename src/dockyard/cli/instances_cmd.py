"""`dockyard instances [register | drain | activate | deregister]`: EC2 container instances.

A container instance is a container engine that EC2-launch-type tasks run on; the
daemon's own engine is registered by default with the CPU and memory it reports. More
engines register by URL (``tcp://HOST:PORT``, ``unix:///PATH``), optionally offering
less than they report. ``drain`` stops new placements there and moves service tasks
away; ``deregister`` takes it out for good (``--force`` while tasks still run there).

Placement flags shared by ``run-task`` and ``service create``:
``--placement-strategy binpack:memory`` (``binpack:cpu``, ``spread:instanceId``,
``spread:attribute:ecs.availability-zone``, ``random``) and ``--placement-constraint
distinctInstance`` (``memberOf:attribute:ecs.availability-zone == local-b``).
"""

from __future__ import annotations

from typing import Any

import typer

from dockyard.cli.context import api
from dockyard.cli.output import console, table
from dockyard.errors import SpecError

instances_app = typer.Typer(
    help="Container instances (engines) that EC2-launch-type tasks are placed on.",
    invoke_without_command=True,
)

STRATEGY_HELP = (
    "binpack:memory, binpack:cpu, spread:instanceId, spread:attribute:NAME or random "
    "(repeat to chain)."
)
CONSTRAINT_HELP = "distinctInstance or memberOf:EXPRESSION (repeatable)."


def placement_body(strategies: list[str] | None, constraints: list[str] | None) -> dict[str, Any]:
    """ECS's placementStrategy / placementConstraints members from the flags."""
    body: dict[str, Any] = {}
    if strategies:
        body["placementStrategy"] = [
            {"type": kind, **({"field": field} if field else {})}
            for kind, _, field in (text.partition(":") for text in strategies)
        ]
    if constraints:
        parsed = []
        for text in constraints:
            kind, _, expression = text.partition(":")
            if kind not in ("distinctInstance", "memberOf"):
                raise SpecError(
                    f'"{text}" is not a placement constraint',
                    field="--placement-constraint",
                    hint="use distinctInstance or memberOf:EXPRESSION",
                )
            parsed.append({"type": kind, **({"expression": expression} if expression else {})})
        body["placementConstraints"] = parsed
    return body


def _resource(instance: dict[str, Any], key: str, name: str) -> int:
    return next(int(r["integerValue"]) for r in instance[key] if r["name"] == name)


def show(instances: list[dict[str, Any]]) -> None:
    table(
        None,
        ["id", "engine", "status", "running", "cpu free/total", "memory MiB free/total", "zone"],
        (
            [
                i["containerInstanceId"][:12],
                i["ec2InstanceId"],
                i["status"],
                i["runningTasksCount"],
                f"{_resource(i, 'remainingResources', 'CPU')}/"
                f"{_resource(i, 'registeredResources', 'CPU')}",
                f"{_resource(i, 'remainingResources', 'MEMORY')}/"
                f"{_resource(i, 'registeredResources', 'MEMORY')}",
                next(
                    (a["value"] for a in i["attributes"] if a["name"] == "ecs.availability-zone"),
                    "",
                ),
            ]
            for i in instances
        ),
    )


@instances_app.callback()
def list_instances(ctx: typer.Context) -> None:
    """List container instances with their registered and remaining CPU and memory."""
    if ctx.invoked_subcommand is None:
        show(api().request("GET", "/v1/container-instances")["containerInstances"])


@instances_app.command("register")
def register(
    url: str = typer.Argument(..., help="The engine's API URL: tcp://HOST:PORT or unix:///PATH."),
    cpu: int | None = typer.Option(None, help="CPU units to offer (default: cores x 1024)."),
    memory: int | None = typer.Option(None, help="MiB to offer (default: all it reports)."),
    attribute: list[str] | None = typer.Option(
        None, help="NAME=VALUE, e.g. ecs.availability-zone=local-b (repeatable)."
    ),
    address: str | None = typer.Option(
        None,
        help="The engine host's address as this host reaches it; tasks' ports are "
        "published there (default: HOST of a tcp:// URL; none for a local unix:// engine).",
    ),
) -> None:
    """Register an engine as a container instance."""
    attributes = {}
    for text in attribute or []:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise SpecError(
                f'"{text}" is not NAME=VALUE', field="--attribute", hint="e.g. --attribute a=b"
            )
        attributes[name] = value
    body: dict[str, Any] = {"engineUrl": url, "attributes": attributes}
    if cpu is not None:
        body["cpu"] = cpu
    if memory is not None:
        body["memory"] = memory
    if address is not None:
        body["address"] = address
    answer = api().request("POST", "/v1/container-instances", json=body)
    console.print(f"[green]✓[/] registered {answer['containerInstance']['containerInstanceId']}")
    show([answer["containerInstance"]])


def _set(instance: str, status: str) -> None:
    answer = api().request(
        "PUT", f"/v1/container-instances/{instance}/status", json={"status": status}
    )
    show([answer["containerInstance"]])


@instances_app.command("drain")
def drain(instance: str = typer.Argument(..., help="Instance id (or a unique prefix).")) -> None:
    """DRAINING: no new task is placed there; services move their tasks away."""
    _set(instance, "DRAINING")


@instances_app.command("activate")
def activate(instance: str = typer.Argument(..., help="Instance id (or a unique prefix).")) -> None:
    """ACTIVE again: tasks may be placed there."""
    _set(instance, "ACTIVE")


@instances_app.command("deregister")
def deregister(
    instance: str = typer.Argument(..., help="Instance id (or a unique prefix)."),
    force: bool = typer.Option(False, "--force", help="Even while tasks run there."),
) -> None:
    """Take the instance out for good; services replace their tasks that ran there."""
    answer = api().request(
        "DELETE",
        f"/v1/container-instances/{instance}",
        params={"force": str(force).lower()},
    )
    show([answer["containerInstance"]])
