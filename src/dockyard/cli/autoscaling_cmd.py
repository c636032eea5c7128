"""`dockyard autoscaling put-policy / describe / delete-policy / schedule / deregister`.

Flags become Application Auto Scaling's requests (RegisterScalableTarget with the
min/max, then PutScalingPolicy with target tracking on one of ECS's predefined
metrics); the daemon judges them and decides. ``describe`` shows the policies, the
metrics as the policies read them now, what they would do, and the last activities.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from dockyard.cli.context import api
from dockyard.cli.output import console, table
from dockyard.errors import SpecError

METRICS = {
    "cpu": "ECSServiceAverageCPUUtilization",
    "memory": "ECSServiceAverageMemoryUtilization",
    "requests": "ALBRequestCountPerTarget",
}

autoscaling_app = typer.Typer(help="Scale ECS services as Application Auto Scaling does.")


def _resource(service: str) -> dict[str, str]:
    return {
        "ServiceNamespace": "ecs",
        "ResourceId": f"service/default/{service}",
        "ScalableDimension": "ecs:service:DesiredCount",
    }


@autoscaling_app.command("put-policy")
def put_policy(
    service: str = typer.Argument(..., help="The service to scale."),
    metric: str = typer.Option("cpu", help="cpu, memory or requests (per target per minute)."),
    target: float = typer.Option(..., help="Target value: % for cpu/memory, requests/min."),
    min_capacity: int | None = typer.Option(None, "--min", help="MinCapacity."),
    max_capacity: int | None = typer.Option(None, "--max", help="MaxCapacity."),
    scale_out_cooldown: int | None = typer.Option(None, help="ScaleOutCooldown s (300)."),
    scale_in_cooldown: int | None = typer.Option(None, help="ScaleInCooldown s (300)."),
    disable_scale_in: bool = typer.Option(False, help="Never remove tasks."),
    policy_name: str | None = typer.Option(None, help="Default: METRIC-target-tracking."),
) -> None:
    """Keep a metric of a service near a target, between --min and --max tasks."""
    if metric not in METRICS:
        raise SpecError(f"unknown metric {metric}", field="--metric", hint="cpu, memory, requests")
    client = api()
    if min_capacity is not None or max_capacity is not None:
        body: dict[str, Any] = _resource(service)
        if min_capacity is not None:
            body["MinCapacity"] = min_capacity
        if max_capacity is not None:
            body["MaxCapacity"] = max_capacity
        client.request("POST", "/v1/autoscaling/targets", json=body)
    config: dict[str, Any] = {
        "TargetValue": target,
        "PredefinedMetricSpecification": {"PredefinedMetricType": METRICS[metric]},
        "DisableScaleIn": disable_scale_in,
    }
    if scale_out_cooldown is not None:
        config["ScaleOutCooldown"] = scale_out_cooldown
    if scale_in_cooldown is not None:
        config["ScaleInCooldown"] = scale_in_cooldown
    name = policy_name or f"{metric}-target-tracking"
    answer = client.request(
        "POST",
        "/v1/autoscaling/policies",
        json={
            **_resource(service),
            "PolicyName": name,
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": config,
        },
    )
    console.print(f"[green]✓[/] {service}: {name} keeps {metric} near {target:g}")
    console.print(f"  {answer['PolicyARN']}")


@autoscaling_app.command("schedule")
def schedule(
    service: str = typer.Argument(..., help="The service."),
    name: str = typer.Option(..., help="ScheduledActionName."),
    expression: str = typer.Option(
        ..., "--schedule", help='"cron(0 8 * * ? *)", "rate(1 hour)", "at(2026-12-01T08:00:00)"'
    ),
    min_capacity: int | None = typer.Option(None, "--min", help="New MinCapacity."),
    max_capacity: int | None = typer.Option(None, "--max", help="New MaxCapacity."),
) -> None:
    """Change a service's min/max on a schedule (UTC)."""
    action: dict[str, int] = {}
    if min_capacity is not None:
        action["MinCapacity"] = min_capacity
    if max_capacity is not None:
        action["MaxCapacity"] = max_capacity
    api().request(
        "POST",
        "/v1/autoscaling/scheduled-actions",
        json={
            **_resource(service),
            "ScheduledActionName": name,
            "Schedule": expression,
            "ScalableTargetAction": action,
        },
    )
    console.print(f"[green]✓[/] {service}: scheduled action {name} {expression}")


@autoscaling_app.command("delete-policy")
def delete_policy(
    service: str = typer.Argument(..., help="The service."),
    policy_name: str | None = typer.Option(None, help="Default: every policy of the service."),
) -> None:
    """Delete a scaling policy (the service keeps its current count)."""
    client = api()
    names = (
        [policy_name]
        if policy_name
        else [
            p["PolicyName"]
            for p in client.request("GET", "/v1/autoscaling/policies", params={"service": service})[
                "ScalingPolicies"
            ]
        ]
    )
    for name in names:
        client.request("DELETE", f"/v1/autoscaling/policies/{service}/{name}")
        console.print(f"[green]✓[/] {service}: deleted policy {name}")
    if not names:
        console.print(f"{service} has no scaling policy")


@autoscaling_app.command("deregister")
def deregister(service: str = typer.Argument(..., help="The service.")) -> None:
    """Remove the service's scalable target with its policies and scheduled actions."""
    api().request("DELETE", f"/v1/autoscaling/targets/{service}")
    console.print(f"[green]✓[/] {service} is no longer scaled")


def _when(text: str) -> str:
    return datetime.fromisoformat(text).astimezone().strftime("%H:%M:%S")


def _metric_line(name: str, reading: dict[str, Any]) -> str:
    def number(value: float | None) -> str:
        return "—" if value is None else f"{value:.1f}"

    return (
        f"  {name}: {number(reading['short'])} now (10 s), {number(reading['long'])} "
        f"over 60 s, {reading['tasks']} tasks measured"
    )


@autoscaling_app.command("describe")
def describe(service: str = typer.Argument(..., help="The service.")) -> None:
    """Policy, current metric, desired count, and the last scaling decisions."""
    answer: dict[str, Any] = api().request("GET", f"/v1/autoscaling/services/{service}")
    target = answer["ScalableTarget"]
    console.print(
        f"[bold]{service}[/]  desired {answer['DesiredCount']}  "
        f"(min {target['MinCapacity']}, max {target['MaxCapacity']})"
    )
    for policy in answer["ScalingPolicies"]:
        tracking = policy.get("TargetTrackingScalingPolicyConfiguration")
        if tracking:
            console.print(
                f"  policy {policy['PolicyName']}: TargetTracking "
                f"{tracking['PredefinedMetricSpecification']['PredefinedMetricType']} "
                f"target {tracking['TargetValue']:g}, cooldowns out "
                f"{tracking['ScaleOutCooldown']} s / in {tracking['ScaleInCooldown']} s"
                + (", scale-in disabled" if tracking["DisableScaleIn"] else "")
            )
        else:
            alarm = policy.get("Alarm", {})
            console.print(
                f"  policy {policy['PolicyName']}: StepScaling on {alarm.get('MetricType')} "
                f"{alarm.get('ComparisonOperator')} {alarm.get('Threshold')}"
            )
    for action in answer["ScheduledActions"]:
        console.print(
            f"  scheduled {action['ScheduledActionName']}: {action['Schedule']} → "
            f"{action['ScalableTargetAction']}"
        )
    for name, reading in answer["Metrics"].items():
        console.print(_metric_line(name, reading))
    console.print(f"  now: {answer['Now']['Reason']}")
    table(
        "last scaling activities",
        ["at", "description", "cause"],
        (
            [_when(a["StartTime"]), a["Description"], a["Cause"]]
            for a in answer["ScalingActivities"][:10]
        ),
    )
