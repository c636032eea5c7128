"""`dockyard service create / update / describe / list / delete`: ECS services.

Flags build ECS's CreateService / UpdateService requests (``--file`` takes a
CreateService JSON as `aws ecs create-service --cli-input-json` does, flags on top);
the daemon judges them. ``--load-balancer CONTAINER:PORT`` puts the service behind
Dockyard's load balancer with the service's name as its target group, so
``http://127.0.0.1:9080/endpoints/NAME/invocations`` reaches that container port's
``/invocations`` (and ``/endpoints/NAME/ping`` its ``/ping``, the health check).
``--lb-algorithm``, ``--slow-start`` and ``--deregistration-delay`` set that target
group's attributes (ELB's keys, see :mod:`dockyard.spec.target_group`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from dockyard.cli.context import api, wait_until_gone
from dockyard.cli.instances_cmd import CONSTRAINT_HELP, STRATEGY_HELP, placement_body
from dockyard.cli.output import ago, console, table
from dockyard.errors import SpecError
from dockyard.spec.target_group import attributes_from_flags

WAIT_TIMEOUT = 600.0
SHOWN_EVENTS = 10

service_app = typer.Typer(help="ECS services: keep N tasks of a task definition running.")


def json_file(path: Path, field: str) -> Any:
    """A JSON file's content; SpecError naming the flag when it is not JSON."""
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise SpecError(f"cannot read {path}: {error.strerror}", field=field) from None
    except ValueError as error:
        raise SpecError(f"{path} is not JSON: {error}", field=field, hint="fix the JSON") from None


def _load_balancer(text: str, service: str) -> list[dict[str, Any]]:
    container, _, port = text.rpartition(":")
    if not container or not port.isdigit():
        raise SpecError(
            f'"{text}" is not CONTAINER:PORT',
            field="--load-balancer",
            hint="name the container and the port it serves on, e.g. --load-balancer web:8080",
        )
    return [{"targetGroupArn": service, "containerName": container, "containerPort": int(port)}]


def _deployment_configuration(
    min_healthy: int | None,
    max_percent: int | None,
    base: dict[str, Any],
    *,
    circuit_breaker: bool = False,
    rollback: bool = False,
) -> dict[str, Any] | None:
    """ECS's deploymentConfiguration from the flags (``--rollback`` implies the breaker)."""
    config = dict(base.get("deploymentConfiguration") or {})
    if min_healthy is not None:
        config["minimumHealthyPercent"] = min_healthy
    if max_percent is not None:
        config["maximumPercent"] = max_percent
    if circuit_breaker or rollback:
        config["deploymentCircuitBreaker"] = {"enable": True, "rollback": rollback}
    return config or None


CIRCUIT_BREAKER_HELP = (
    "Fail a deployment whose tasks keep failing to start (0.5 x desired count, 3..200)."
)
ROLLBACK_HELP = "With the circuit breaker: go back to the last completed deployment."
ALGORITHM_HELP = "round_robin (default) or least_outstanding_requests."
SLOW_START_HELP = "Seconds a new target's share of requests ramps up (0 off, 30-900)."
DEREGISTRATION_HELP = "Seconds a draining target may finish its requests (0-3600, 5)."


def _with_attributes(
    body: dict[str, Any], algorithm: str | None, slow_start: int | None, delay: int | None
) -> dict[str, Any]:
    """``body`` with Dockyard's ``targetGroupAttributes`` from the flags, if any given."""
    attributes = attributes_from_flags(algorithm, slow_start, delay)
    return {**body, "targetGroupAttributes": attributes} if attributes else body


@service_app.command("create")
def create(
    name: str | None = typer.Argument(None, help="Service name (or serviceName in --file)."),
    task_definition: str | None = typer.Option(None, help="family:revision (or family)."),
    desired_count: int | None = typer.Option(None, help="Tasks to keep running (default 1)."),
    load_balancer: str | None = typer.Option(
        None, help="CONTAINER:PORT that receives the traffic of /endpoints/NAME/invocations."
    ),
    launch_type: str | None = typer.Option(None, help="FARGATE or EC2."),
    health_check_grace: int | None = typer.Option(
        None, help="Seconds failed health checks are ignored after a task starts."
    ),
    min_healthy_percent: int | None = typer.Option(None, help="Rolling update floor (100)."),
    max_percent: int | None = typer.Option(None, help="Rolling update ceiling (200)."),
    circuit_breaker: bool = typer.Option(False, "--circuit-breaker", help=CIRCUIT_BREAKER_HELP),
    rollback: bool = typer.Option(False, "--rollback", help=ROLLBACK_HELP),
    lb_algorithm: str | None = typer.Option(None, help=ALGORITHM_HELP),
    slow_start: int | None = typer.Option(None, help=SLOW_START_HELP),
    deregistration_delay: int | None = typer.Option(None, help=DEREGISTRATION_HELP),
    placement_strategy: list[str] | None = typer.Option(None, help=STRATEGY_HELP),
    placement_constraint: list[str] | None = typer.Option(None, help=CONSTRAINT_HELP),
    file: Path | None = typer.Option(None, help="A CreateService JSON request."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for a steady state."),
) -> None:
    """Create a service that keeps tasks of a task definition running."""
    body: dict[str, Any] = dict(json_file(file, "--file")) if file else {}
    if name:
        body["serviceName"] = name
    service = str(body.get("serviceName") or "")
    if not service:
        raise SpecError("no service name", field="NAME", hint="dockyard service create NAME …")
    flags = {
        "taskDefinition": task_definition,
        "desiredCount": desired_count,
        "launchType": launch_type,
        "healthCheckGracePeriodSeconds": health_check_grace,
        "deploymentConfiguration": _deployment_configuration(
            min_healthy_percent,
            max_percent,
            body,
            circuit_breaker=circuit_breaker,
            rollback=rollback,
        ),
        "loadBalancers": _load_balancer(load_balancer, service) if load_balancer else None,
    }
    body.update({key: value for key, value in flags.items() if value is not None})
    body.update(placement_body(placement_strategy, placement_constraint))
    body.setdefault("desiredCount", 1)
    if "taskDefinition" not in body:
        raise SpecError(
            "no task definition", field="--task-definition", hint="--task-definition family:N"
        )
    body = _with_attributes(body, lb_algorithm, slow_start, deregistration_delay)
    answer = api().request("POST", "/v1/services", json=body)
    _finish(answer, service, wait)


@service_app.command("update")
def update(
    name: str = typer.Argument(..., help="Service name."),
    task_definition: str | None = typer.Option(None, help="Roll to this family:revision."),
    desired_count: int | None = typer.Option(None, help="Tasks to keep running."),
    force_new_deployment: bool = typer.Option(
        False, "--force-new-deployment", help="Replace every task, same revision."
    ),
    health_check_grace: int | None = typer.Option(None, help="Grace period in seconds."),
    min_healthy_percent: int | None = typer.Option(None, help="Rolling update floor."),
    max_percent: int | None = typer.Option(None, help="Rolling update ceiling."),
    circuit_breaker: bool = typer.Option(False, "--circuit-breaker", help=CIRCUIT_BREAKER_HELP),
    rollback: bool = typer.Option(False, "--rollback", help=ROLLBACK_HELP),
    lb_algorithm: str | None = typer.Option(None, help=ALGORITHM_HELP),
    slow_start: int | None = typer.Option(None, help=SLOW_START_HELP),
    deregistration_delay: int | None = typer.Option(None, help=DEREGISTRATION_HELP),
    placement_strategy: list[str] | None = typer.Option(None, help=STRATEGY_HELP),
    placement_constraint: list[str] | None = typer.Option(None, help=CONSTRAINT_HELP),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for a steady state."),
) -> None:
    """Change a service: a new revision or --force-new-deployment rolls its tasks; new
    placement rules apply to the tasks it starts from then on."""
    body: dict[str, Any] = {
        key: value
        for key, value in {
            "taskDefinition": task_definition,
            "desiredCount": desired_count,
            "healthCheckGracePeriodSeconds": health_check_grace,
            "deploymentConfiguration": _deployment_configuration(
                min_healthy_percent,
                max_percent,
                {},
                circuit_breaker=circuit_breaker,
                rollback=rollback,
            ),
        }.items()
        if value is not None
    }
    if force_new_deployment:
        body["forceNewDeployment"] = True
    body = _with_attributes(body, lb_algorithm, slow_start, deregistration_delay)
    body.update(placement_body(placement_strategy, placement_constraint))
    if not body:
        raise SpecError(
            "nothing to change",
            field="update",
            hint="give --task-definition, --desired-count, --force-new-deployment, a "
            "load-balancer attribute (--lb-algorithm, --slow-start, --deregistration-delay) "
            "or placement (--placement-strategy, --placement-constraint)",
        )
    answer = api().request("POST", f"/v1/services/{name}", json=body)
    _finish(answer, name, wait)


def _finish(answer: dict[str, Any], name: str, wait: bool) -> None:
    failed = False
    if wait:
        answer, failed = _wait_steady(name)
    show(answer)
    if failed:
        raise typer.Exit(1)


def _primary(answer: dict[str, Any]) -> dict[str, Any]:
    deployments: list[dict[str, Any]] = answer["service"]["deployments"]
    return deployments[0] if deployments else {}


def _failed(answer: dict[str, Any], deployment: str) -> dict[str, Any] | None:
    """The deployment ``deployment`` once it FAILED (the circuit breaker tripped)."""
    for entry in answer["service"]["deployments"]:
        if entry["id"] == deployment and entry.get("rolloutState") == "FAILED":
            return dict(entry)
    return None


def _wait_steady(name: str) -> tuple[dict[str, Any], bool]:
    """Poll until the PRIMARY deployment completes or the one waited for FAILED.

    After a rollback the PRIMARY deployment is the one rolled back to: wait until it
    completes too, then report the failure (True).
    """
    client = api()
    started = time.monotonic()
    waited_for = ""
    with console.status(f"Deploying {name}…") as status:
        while True:
            answer: dict[str, Any] = client.request("GET", f"/v1/services/{name}")
            waited_for = waited_for or _primary(answer).get("id", "")
            failed = _failed(answer, waited_for)
            service = answer["service"]
            healthy = sum(1 for t in answer["tasks"] if t["health"] == "healthy")
            elapsed = time.monotonic() - started
            status.update(
                f"Deploying {name}… {healthy}/{service['desiredCount']} tasks healthy, "
                f"{len(service['deployments'])} deployment(s) ({elapsed:.1f} s)"
            )
            primary = _primary(answer)
            halted = primary.get("id") == waited_for
            if failed is not None and (halted or primary.get("rolloutState") == "COMPLETED"):
                console.print(
                    f"[red]✗[/] deployment {waited_for} failed after {elapsed:.1f} s: "
                    f"{failed.get('rolloutStateReason', '')} ({failed.get('failedTasks', 0)} "
                    "failed tasks)"
                )
                return answer, True
            if failed is None and primary.get("rolloutState") == "COMPLETED":
                console.print(f"[green]✓[/] {name} reached a steady state in {elapsed:.1f} s")
                return answer, False
            if elapsed > WAIT_TIMEOUT:
                console.print(f"[yellow]not steady after {WAIT_TIMEOUT:.0f} s[/]")
                return answer, False
            time.sleep(0.2)


def show(answer: dict[str, Any]) -> None:
    """A service as `dockyard service describe` prints it."""
    service = answer["service"]
    name = service["serviceName"]
    revision = service["taskDefinition"].rsplit("/", 1)[-1]
    console.print(
        f"[bold]{name}[/]  {service['status']}  {revision}  "
        f"{service['runningCount']}/{service['desiredCount']} running  "
        f"{service.get('launchType') or ''}"
    )
    url = answer.get("url")
    if url:
        balancer = service["loadBalancers"][0]
        ping = url.rsplit("/", 1)[0] + "/ping"
        console.print(
            f"  [link={url}]{url}[/link] → container {balancer['containerName']} port "
            f"{balancer['containerPort']} /invocations   (health: {ping} → /ping)"
        )
        attributes = {a["Key"]: a["Value"] for a in answer.get("targetGroupAttributes") or []}
        if attributes:
            console.print(
                "  [dim]"
                + "  ".join(f"{key.split('.')[0]}: {value}" for key, value in attributes.items())
                + "[/]"
            )
    else:
        console.print("  [dim]no load balancer: the tasks get no traffic from Dockyard[/]")
    table(
        "deployments",
        [
            "id",
            "status",
            "task definition",
            "desired",
            "running",
            "pending",
            "failed",
            "rollout",
            "reason",
            "updated",
        ],
        (
            [
                d["id"],
                d["status"],
                d["taskDefinition"].rsplit("/", 1)[-1],
                d["desiredCount"],
                d["runningCount"],
                d["pendingCount"],
                d.get("failedTasks", 0),
                d["rolloutState"],
                d.get("rolloutStateReason") or "",
                ago(d["updatedAt"]),
            ]
            for d in service["deployments"]
        ),
    )
    table(
        "tasks",
        ["task", "definition", "status", "health", "address", "exit", "stopped reason"],
        (
            [
                t["taskId"][:12],
                t["taskDefinition"],
                t["lastStatus"],
                t["health"],
                t.get("address") or "—",
                ",".join(str(c["exitCode"]) for c in t["containers"] if c["exitCode"] is not None),
                t.get("stoppedReason") or "",
            ]
            for t in answer["tasks"]
        ),
    )
    events = service["events"][:SHOWN_EVENTS]
    table("events", ["when", "message"], ([ago(e["createdAt"]), e["message"]] for e in events))


@service_app.command("describe")
def describe(name: str = typer.Argument(..., help="Service name.")) -> None:
    """URL, deployments and their rollout, tasks with health, recent events."""
    show(api().request("GET", f"/v1/services/{name}"))


@service_app.command("list")
def list_services() -> None:
    """Services you created (endpoints' replicas: `dockyard endpoints`)."""
    answer = api().request("GET", "/v1/services")
    urls = answer.get("urls", {})
    table(
        None,
        ["name", "status", "task definition", "desired", "running", "pending", "rollout", "url"],
        (
            [
                s["serviceName"],
                s["status"],
                s["taskDefinition"].rsplit("/", 1)[-1],
                s["desiredCount"],
                s["runningCount"],
                s["pendingCount"],
                s["deployments"][0]["rolloutState"] if s["deployments"] else "",
                urls.get(s["serviceName"]) or "",
            ]
            for s in answer["services"]
        ),
    )


@service_app.command("delete")
def delete(
    name: str = typer.Argument(..., help="Service name."),
    force: bool = typer.Option(False, "--force", help="Delete even while desiredCount > 0."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until it is gone."),
) -> None:
    """Delete a service: DRAINING, its tasks stop, then it is gone (with its route)."""
    client = api()
    client.request("DELETE", f"/v1/services/{name}", params={"force": str(force).lower()})
    if wait:
        wait_until_gone(f"/v1/services/{name}", name)
        console.print(f"[green]✓[/] deleted {name}")
    else:
        console.print(f"[green]✓[/] {name} is DRAINING")
