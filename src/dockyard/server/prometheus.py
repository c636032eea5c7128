"""The daemon's ``/metrics`` for Prometheus, built at each scrape from what is known.

Counters come live from the load balancer (cumulative, as Prometheus wants them:
``rate()`` is computed by the scraper); gauges are the latest collected points
(:mod:`dockyard.server.usage`): response-time percentiles per route, CPU and memory
per task. Nothing is kept in the process, so a restarted daemon exposes the same
names at once.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from dockyard.control.task import TaskStatus
from dockyard.errors import DockyardError
from dockyard.server.platform import Platform
from dockyard.server.usage import LB_SOURCE, MIB, route_series


class _PlatformCollector(Collector):
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def collect(self) -> Iterator[Metric]:
        yield from self._routes()
        yield from self._tasks()

    def _routes(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "dockyard_route_requests", "Requests received by a route.", labels=["route"]
        )
        errors = CounterMetricFamily(
            "dockyard_route_error_responses",
            "4xx and 5xx answers of a route.",
            labels=["route", "class"],
        )
        in_flight = GaugeMetricFamily(
            "dockyard_route_in_flight", "Requests being served now.", labels=["route"]
        )
        latency = GaugeMetricFamily(
            "dockyard_route_response_ms",
            "Response time percentiles over the last collection interval, in ms.",
            labels=["route", "quantile"],
        )
        try:
            traffic = self.platform.lb.traffic()
        except DockyardError:
            traffic = []
        for route in traffic:
            requests.add_metric([route.route], route.requests)
            errors.add_metric([route.route, "4xx"], route.responses_4xx)
            errors.add_metric([route.route, "5xx"], route.responses_5xx)
            in_flight.add_metric([route.route], route.in_flight)
            for point in self.platform.store.metrics.latest(route_series(route.route)):
                if point.source == LB_SOURCE and point.name in ("p50_ms", "p99_ms"):
                    quantile = "0.5" if point.name == "p50_ms" else "0.99"
                    latency.add_metric([route.route, quantile], point.value)
        yield from (requests, errors, in_flight, latency)

    def _tasks(self) -> Iterator[Metric]:
        cpu = GaugeMetricFamily(
            "dockyard_task_cpu_percent",
            "CPU a task used over the last collection interval, in % of one core.",
            labels=["owner", "task"],
        )
        memory = GaugeMetricFamily(
            "dockyard_task_memory_bytes", "Memory a task uses.", labels=["owner", "task"]
        )
        tasks = GaugeMetricFamily("dockyard_tasks", "Tasks by status.", labels=["status"])
        by_status: dict[str, int] = {}
        running: set[tuple[str, str]] = set()
        for record in self.platform.store.tasks.list():
            status = str(record.task.last_status)
            by_status[status] = by_status.get(status, 0) + 1
            if record.task.last_status is TaskStatus.RUNNING:
                running.add((record.owner, record.task.task_id))
        for status, count in sorted(by_status.items()):
            tasks.add_metric([status], count)
        for owner in sorted({owner for owner, _ in running}):
            for point in self.platform.store.metrics.latest(owner):
                if (owner, point.source) not in running:
                    continue
                if point.name == "cpu_percent":
                    cpu.add_metric([owner, point.source], point.value)
                elif point.name == "memory_mib":
                    memory.add_metric([owner, point.source], point.value * MIB)
        yield from (cpu, memory, tasks)


def exposition(platform: Platform) -> tuple[bytes, str]:
    """The text Prometheus scrapes, and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_PlatformCollector(platform))
    return generate_latest(registry), CONTENT_TYPE_LATEST
