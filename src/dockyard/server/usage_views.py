"""Usage as users ask for it: by endpoint or service name, and for Prometheus.

An endpoint's traffic is its route's (the endpoint's name); its tasks are those of
its variants' services. A service's traffic is its target group's route, if it is
load balanced; its tasks are its own. See :mod:`dockyard.server.usage` for how the
points are collected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.control.task import TaskStatus
from dockyard.errors import NotFound
from dockyard.ports.metrics import MetricPoint
from dockyard.server.platform import Platform
from dockyard.server.usage import route_series


@dataclass(frozen=True)
class UsageScope:
    """Where a named resource's points are: its route's series and its tasks' series."""

    kind: str  # "endpoint" or "service"
    name: str
    route: str | None
    task_series: tuple[str, ...]


def scope_of(platform: Platform, name: str) -> UsageScope:
    """The endpoint or user service called ``name``; NotFound naming both otherwise."""
    endpoint = platform.store.endpoints.get(name)
    if endpoint is not None:
        owners = tuple(f"service/{variant.service_name}" for variant in endpoint.variants)
        return UsageScope("endpoint", name, name, owners)
    service = platform.store.services.get(name)
    if service is not None and service.owner is None:
        route = service.state.target_group if service.target is not None else None
        return UsageScope("service", name, route, (f"service/{name}",))
    raise NotFound(
        f"no endpoint or service named {name}",
        resource=name,
        hint="`dockyard endpoints` and `dockyard service list` show what exists",
    )


def series(points: list[MetricPoint]) -> list[dict[str, Any]]:
    """Points grouped per (series, source, metric), oldest first."""
    grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
    for point in points:
        entry = grouped.setdefault(
            (point.series, point.source, point.name),
            {
                "Series": point.series,
                "Source": point.source,
                "MetricName": point.name,
                "Timestamps": [],
                "Values": [],
            },
        )
        entry["Timestamps"].append(point.at)
        entry["Values"].append(point.value)
    return [grouped[key] for key in sorted(grouped)]


def usage(platform: Platform, name: str, since: float | None) -> dict[str, Any]:
    """``GET /v1/metrics/NAME``: the resource's series since ``since`` (Unix time)."""
    scope = scope_of(platform, name)
    metrics = platform.store.metrics
    points: list[MetricPoint] = []
    if scope.route is not None:
        points.extend(metrics.points(route_series(scope.route), since=since))
    for owner in scope.task_series:
        points.extend(metrics.points(owner, since=since))
    running = sorted(
        record.task.task_id
        for owner in scope.task_series
        for record in platform.store.tasks.list(owner)
        if record.task.last_status is TaskStatus.RUNNING
    )
    return {
        "Kind": scope.kind,
        "Name": name,
        "Route": scope.route,
        "RunningTasks": running,
        "Series": series(points),
    }
