"""Rates and percentiles from two readings of counters (pure)."""

from __future__ import annotations

import pytest

from dockyard.control.usage import CpuReading, cpu_percent, percentile, rate

pytestmark = pytest.mark.unit


def test_cpu_percent_is_of_one_core() -> None:
    before, now = CpuReading(1_000_000_000, 10.0), CpuReading(4_000_000_000, 12.0)
    assert cpu_percent(before, now) == pytest.approx(150.0)  # 3 s of CPU in 2 s


@pytest.mark.parametrize(
    "before",
    [None, CpuReading(9_000_000_000, 10.0), CpuReading(1, 12.0)],
    ids=["first-reading", "counter-restarted", "no-time-passed"],
)
def test_cpu_percent_needs_two_readings_that_move_forward(before: CpuReading | None) -> None:
    assert cpu_percent(before, CpuReading(4_000_000_000, 12.0)) is None


def test_rate_is_per_second() -> None:
    assert rate(100, 160, 2.0) == 30.0


@pytest.mark.parametrize(("before", "seconds"), [(None, 2.0), (500, 2.0), (100, 0.0)])
def test_no_rate_without_a_reading_across_a_reset_or_over_no_time(
    before: int | None, seconds: float
) -> None:
    assert rate(before, 160, seconds) is None


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None
