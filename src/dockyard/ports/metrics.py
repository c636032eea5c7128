"""Time series the control plane keeps: training metrics today, request rates later.

Kept apart from records because they are many small points appended often and read
as ranges, never replaced one by one. Bounded: each (series, source, metric) keeps
its newest :data:`MAX_POINTS` points, so a chatty job or a long-lived endpoint costs
a fixed amount of disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

#: newest points kept per (series, source, metric)
MAX_POINTS = 10_000


@dataclass(frozen=True)
class MetricPoint:
    """One value of one metric.

    ``series`` is the resource (``training-job/NAME``), ``source`` where inside it the
    value came from (a host such as ``algo-1``, a replica), ``at`` a Unix time.
    """

    series: str
    source: str
    name: str
    at: float
    value: float


class MetricStore(Protocol):
    def add(self, points: Sequence[MetricPoint]) -> None:
        """Append points (then drop the oldest beyond :data:`MAX_POINTS`)."""

    def points(self, series: str, *, since: float | None = None) -> list[MetricPoint]:
        """A series' points in the order they were added, optionally only after ``since``."""

    def clear(self, series: str, source: str | None = None) -> int:
        """Forget a series (or one source of it); how many points went."""

    def prune(self, before: float) -> int:
        """Forget every point older than ``before`` (Unix time); how many went."""

    def latest(self, series: str) -> list[MetricPoint]:
        """The newest point of each (source, metric) of a series."""
