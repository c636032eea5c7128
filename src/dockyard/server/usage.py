"""What services and endpoints are doing: traffic per route, CPU and memory per task.

A reconciler like the others (kind ``metrics``), so it shares the control loop's
workers and lives and dies with the daemon. Each pass turns readings into points of
the store's bounded time series (:mod:`dockyard.ports.metrics`):

* every :data:`TRAFFIC_INTERVAL_S`, the load balancer's counters and the response
  times it logged since the last pass: series ``route/ROUTE``, source ``lb``, metrics
  ``requests_per_s``, ``responses_4xx_per_s``, ``responses_5xx_per_s``, ``in_flight``,
  ``p50_ms`` and ``p99_ms`` (the percentiles only when requests were answered);
* every :data:`TASK_INTERVAL_S`, the engine's statistics of each running task of a
  service (endpoint replicas included): series ``OWNER`` (``service/NAME``), source
  the task id, metrics ``cpu_percent`` (of one core, all its containers) and
  ``memory_mib``.

Rates need two readings, so the first pass after a start (or a counter reset) gives
none. Points older than :data:`RETENTION_S` are dropped every :data:`PRUNE_EVERY_S`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.control.task import TaskStatus
from dockyard.control.usage import CpuReading, cpu_percent, percentile, rate
from dockyard.errors import DockyardError
from dockyard.ports.lb import RouteTraffic
from dockyard.ports.metrics import MetricPoint
from dockyard.server.platform import Platform

log = logging.getLogger("dockyard.usage")

KIND = "metrics"
COLLECT = "collect"
TRAFFIC_INTERVAL_S = 2.0
TASK_INTERVAL_S = 5.0
RETENTION_S = 24 * 3600.0
PRUNE_EVERY_S = 600.0
LB_SOURCE = "lb"
MIB = 1024 * 1024


def route_series(route: str) -> str:
    return f"route/{route}"


@dataclass
class _Previous:
    """The last readings, to difference the next ones against (memory only)."""

    traffic: dict[str, tuple[RouteTraffic, float]] = field(default_factory=dict)
    cpu: dict[str, CpuReading] = field(default_factory=dict)  # container id -> reading


class UsageCollector:
    kind = KIND

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._previous = _Previous()
        self._traffic_at = float("-inf")
        self._tasks_at = float("-inf")
        self._pruned_at = float("-inf")

    def keys(self) -> list[str]:
        return [COLLECT]

    def reconcile(self, key: str, now: float) -> float | None:
        if now - self._traffic_at >= TRAFFIC_INTERVAL_S:
            self._traffic_at = now
            self._guarded(self._collect_traffic, now)
        if now - self._tasks_at >= TASK_INTERVAL_S:
            self._tasks_at = now
            self._guarded(self._collect_tasks, now)
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = now
            self.platform.store.metrics.prune(before=now - RETENTION_S)
        return min(self._traffic_at + TRAFFIC_INTERVAL_S, self._tasks_at + TASK_INTERVAL_S)

    def _guarded(self, collect: Callable[[float], None], now: float) -> None:
        try:
            collect(now)
        except DockyardError as error:  # an engine or balancer hiccup: next pass retries
            log.warning("collecting usage failed: %s", error)

    # -- traffic -------------------------------------------------------------------------

    def _collect_traffic(self, now: float) -> None:
        lb = self.platform.lb
        times: dict[str, list[float]] = defaultdict(list)
        for answered in lb.response_times():
            times[answered.route].append(answered.ms)
        points: list[MetricPoint] = []
        seen = set()
        for traffic in lb.traffic():
            seen.add(traffic.route)
            points.extend(self._traffic_points(traffic, times.get(traffic.route, []), now))
        for gone in set(self._previous.traffic) - seen:
            del self._previous.traffic[gone]
        self.platform.store.metrics.add(points)

    def _traffic_points(
        self, traffic: RouteTraffic, times: list[float], now: float
    ) -> list[MetricPoint]:
        series = route_series(traffic.route)
        before, before_at = self._previous.traffic.get(traffic.route, (None, now))
        self._previous.traffic[traffic.route] = (traffic, now)
        values: dict[str, float | None] = {"in_flight": float(traffic.in_flight)}
        if before is not None:
            seconds = now - before_at
            values["requests_per_s"] = rate(before.requests, traffic.requests, seconds)
            values["responses_4xx_per_s"] = rate(
                before.responses_4xx, traffic.responses_4xx, seconds
            )
            values["responses_5xx_per_s"] = rate(
                before.responses_5xx, traffic.responses_5xx, seconds
            )
        values["p50_ms"] = percentile(times, 0.50)
        values["p99_ms"] = percentile(times, 0.99)
        return [
            MetricPoint(series, LB_SOURCE, name, now, value)
            for name, value in values.items()
            if value is not None
        ]

    # -- tasks ---------------------------------------------------------------------------

    def _collect_tasks(self, now: float) -> None:
        engine = self.platform.engine
        points: list[MetricPoint] = []
        alive: set[str] = set()
        for record in self.platform.store.tasks.list():
            if not record.owner.startswith("service/"):
                continue
            if record.task.last_status is not TaskStatus.RUNNING:
                continue
            cpu_total: float | None = 0.0
            memory = 0
            for container in record.task.containers:
                if container.container_id is None:
                    continue
                reading = engine.stats(container.container_id)
                if reading is None:
                    continue
                alive.add(container.container_id)
                now_cpu = CpuReading(reading.cpu_used_ns, reading.at)
                used = cpu_percent(self._previous.cpu.get(container.container_id), now_cpu)
                self._previous.cpu[container.container_id] = now_cpu
                cpu_total = None if used is None or cpu_total is None else cpu_total + used
                memory += reading.memory_bytes
            task_id = record.task.task_id
            points.append(MetricPoint(record.owner, task_id, "memory_mib", now, memory / MIB))
            if cpu_total is not None:
                points.append(MetricPoint(record.owner, task_id, "cpu_percent", now, cpu_total))
        for gone in set(self._previous.cpu) - alive:
            del self._previous.cpu[gone]
        self.platform.store.metrics.add(points)
