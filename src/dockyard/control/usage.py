"""What two readings of counters say about the time between them (pure).

The engine reports a container's CPU as nanoseconds used since it started, and the
load balancer counts requests and responses since it started; both only grow, until
a restart sets them back to zero. A rate is therefore the difference of two
readings over the time between them, and a reading smaller than the one before
means a restart: that interval gives no rate rather than a negative one.

Latency percentiles come from the response times the balancer logged in the
interval (all of them, or the newest it kept when there were more).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CpuReading:
    """Nanoseconds of CPU a container has used, read at ``at`` (Unix seconds)."""

    used_ns: int
    at: float


def cpu_percent(before: CpuReading | None, now: CpuReading) -> float | None:
    """CPU used between two readings, in percent of one core (200 = two cores busy)."""
    if before is None or now.at <= before.at or now.used_ns < before.used_ns:
        return None
    return (now.used_ns - before.used_ns) / ((now.at - before.at) * 1e9) * 100


def rate(before: int | None, now: int, seconds: float) -> float | None:
    """Per second, from two readings of a counter ``seconds`` apart."""
    if before is None or seconds <= 0 or now < before:
        return None
    return (now - before) / seconds


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` 0.99 for p99) of ``values``."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]
