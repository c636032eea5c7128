"""What a service's scaling policies read: its metrics, averaged the way AAS averages them.

The usage collector (:mod:`dockyard.server.usage`) stores each RUNNING task's CPU (%
of one core) and memory every 5 s, and the route's requests per second every 2 s.
Here they become AAS's predefined metrics for one service:

* ECSServiceAverageCPUUtilization: each task's CPU as % of what the task reserved
  (task-level ``cpu`` units / 1024 cores; one core without a size), averaged per task
  over the window, then over the service's RUNNING tasks;
* ECSServiceAverageMemoryUtilization: each task's memory as % of its task-level
  ``memory`` (or its containers' ``memory``/``memoryReservation`` summed);
* ALBRequestCountPerTarget: the route's requests a minute divided by the targets the
  balancer serves (healthy, not draining).

Two windows, as AAS's alarms use few datapoints to scale out and many to scale in:
:data:`SCALE_OUT_WINDOW_S` (two task readings, so a spike is acted on within about
10 s against AAS's three minutes) and :data:`SCALE_IN_WINDOW_S`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from statistics import fmean

from dockyard.control.autoscaling import (
    MetricType,
    Reading,
    cpu_utilization,
    memory_utilization,
    requests_per_target,
)
from dockyard.control.task import TaskStatus
from dockyard.errors import DockyardError
from dockyard.ports.metrics import MetricPoint
from dockyard.records.service import ServiceRecord
from dockyard.server import task_definitions
from dockyard.server.platform import Platform
from dockyard.server.usage import LB_SOURCE, route_series

SCALE_OUT_WINDOW_S = 10.0
SCALE_IN_WINDOW_S = 60.0


def task_size(platform: Platform, service: ServiceRecord) -> tuple[int | None, int | None]:
    """(cpu units, memory MiB) a task of the service reserves; None where unset."""
    try:
        definition = task_definitions.get(platform.store, service.state.revision).definition
    except DockyardError:
        return None, None
    memory = definition.memory_mib
    if memory is None:
        sizes = [c.memory or c.memory_reservation for c in definition.container_definitions]
        memory = sum(s for s in sizes if s) or None
    return definition.cpu_units, memory


def readings(
    platform: Platform, service: ServiceRecord, metrics: Iterable[MetricType], now: float
) -> dict[MetricType, Reading]:
    """Each wanted metric of ``service``, over its RUNNING tasks, measured at ``now``."""
    wanted = set(metrics)
    found: dict[MetricType, Reading] = {}
    if wanted & {MetricType.CPU, MetricType.MEMORY}:
        running = {
            r.task.task_id
            for r in platform.store.tasks.list(service.tasks_owner)
            if r.task.last_status is TaskStatus.RUNNING
        }
        points = [
            p
            for p in platform.store.metrics.points(
                service.tasks_owner, since=now - SCALE_IN_WINDOW_S
            )
            if p.source in running
        ]
        cpu, memory = task_size(platform, service)
        if MetricType.CPU in wanted:
            found[MetricType.CPU] = _per_task(
                points, "cpu_percent", now, lambda v: cpu_utilization(v, cpu)
            )
        if MetricType.MEMORY in wanted and memory is not None:
            found[MetricType.MEMORY] = _per_task(
                points, "memory_mib", now, lambda v: memory_utilization(v, memory) or 0.0
            )
    if MetricType.REQUESTS in wanted and service.target is not None:
        found[MetricType.REQUESTS] = _requests(platform, service, now)
    return found


def _per_task(
    points: list[MetricPoint], name: str, now: float, unit: Callable[[float], float]
) -> Reading:
    short: dict[str, list[float]] = defaultdict(list)
    long: dict[str, list[float]] = defaultdict(list)
    for point in points:
        if point.name != name:
            continue
        long[point.source].append(unit(point.value))
        if point.at > now - SCALE_OUT_WINDOW_S:
            short[point.source].append(unit(point.value))
    per_task = [fmean(values) for values in short.values()]
    return Reading(
        short=fmean(per_task) if per_task else None,
        long=fmean(fmean(v) for v in long.values()) if long else None,
        tasks=len(per_task),
        minimum=min(per_task) if per_task else None,
        maximum=max(per_task) if per_task else None,
    )


def _requests(platform: Platform, service: ServiceRecord, now: float) -> Reading:
    route = service.state.target_group or service.name
    targets = len([t for t in platform.lb.targets(route) if t.health == "healthy"])
    points = [
        p
        for p in platform.store.metrics.points(route_series(route), since=now - SCALE_IN_WINDOW_S)
        if p.source == LB_SOURCE and p.name == "requests_per_s"
    ]
    short = [p.value for p in points if p.at > now - SCALE_OUT_WINDOW_S]
    short_value = requests_per_target(fmean(short), targets) if short else None
    long_value = requests_per_target(fmean(p.value for p in points), targets) if points else None
    return Reading(
        short_value, long_value, targets if short_value is not None else 0, short_value, short_value
    )
