"""A training job's metrics: read from its hosts' output as it is copied, kept as series.

The job's ``MetricDefinitions`` are applied to every line of every host's output
(:mod:`dockyard.control.metrics` decides what a line says); the points go to the
store's bounded time series under ``training-job/NAME``, one source per host. A
copy that starts over after a daemon restart first clears its host's points, so no
point is counted twice, and the engine's timestamps keep each point's time true.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.control.metrics import (
    MetricRule,
    MetricValue,
    compile_rules,
    final_values,
    values_in_line,
)
from dockyard.ports.metrics import MetricPoint, MetricStore
from dockyard.records.training import TrainingJobRecord
from dockyard.server.run_logs import LineWatcher


def series_of(job_name: str) -> str:
    return f"training-job/{job_name}"


class MetricsWatcher:
    """A :class:`~dockyard.server.run_logs.LineWatcher` that stores one host's points."""

    def __init__(
        self, store: MetricStore, series: str, host: str, rules: tuple[MetricRule, ...]
    ) -> None:
        self.store = store
        self.series = series
        self.host = host
        self.rules = rules

    def start(self) -> None:
        self.store.clear(self.series, self.host)

    def line(self, text: str, at: float) -> None:
        found = values_in_line(self.rules, text, at)
        if found:
            self.store.add(
                [MetricPoint(self.series, self.host, v.name, v.at, v.value) for v in found]
            )


def watchers(
    store: MetricStore, record: TrainingJobRecord
) -> Callable[[str], LineWatcher | None] | None:
    """For each host of a job with MetricDefinitions, the watcher of its output."""
    rules = compile_rules(record.spec.algorithm_specification.metric_definitions)
    if not rules:
        return None
    series = series_of(record.name)
    return lambda host: MetricsWatcher(store, series, host, rules)


def final_metric_data(store: MetricStore, job_name: str) -> list[dict[str, Any]]:
    """DescribeTrainingJob's ``FinalMetricDataList``: each metric's latest value."""
    points = store.points(series_of(job_name))
    latest = final_values(MetricValue(p.name, p.value, p.at) for p in points)
    return [{"MetricName": v.name, "Value": v.value, "Timestamp": v.at} for v in latest]


def metric_series(
    store: MetricStore, job_name: str, since: float | None = None
) -> list[dict[str, Any]]:
    """Every metric of every host as a series: ``{MetricName, Host, Timestamps, Values}``."""
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for point in store.points(series_of(job_name), since=since):
        entry = series.setdefault(
            (point.name, point.source),
            {"MetricName": point.name, "Host": point.source, "Timestamps": [], "Values": []},
        )
        entry["Timestamps"].append(point.at)
        entry["Values"].append(point.value)
    return [series[key] for key in sorted(series)]
