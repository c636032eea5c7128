"""The metric-store contract, run against both adapters (SQLite and in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.adapters.store.metrics import MemoryMetrics, SqliteMetrics
from dockyard.adapters.store.sqlite import Documents, SqliteStore
from dockyard.ports.metrics import MetricPoint, MetricStore

pytestmark = pytest.mark.unit

JOB = "training-job/iris-1"


def point(at: float, value: float, name: str = "loss", source: str = "algo-1") -> MetricPoint:
    return MetricPoint(JOB, source, name, at, value)


@pytest.fixture(params=["sqlite", "memory"])
def metrics(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetricStore]:
    if request.param == "memory":
        yield MemoryMetrics(max_points=3)
        return
    docs = Documents(tmp_path / "state.db")
    yield SqliteMetrics(docs, max_points=3)
    docs.close()


def test_points_read_back_in_the_order_added(metrics: MetricStore) -> None:
    added = [point(1, 0.9), point(2, 0.5, name="acc"), point(3, 0.4)]
    metrics.add(added)
    assert metrics.points(JOB) == added


def test_points_of_another_series_are_not_read(metrics: MetricStore) -> None:
    metrics.add([point(1, 0.9), MetricPoint("training-job/other", "algo-1", "loss", 1, 7)])
    assert [p.series for p in metrics.points(JOB)] == [JOB]


def test_since_keeps_only_later_points(metrics: MetricStore) -> None:
    metrics.add([point(1, 0.9), point(2, 0.8), point(3, 0.7)])
    assert [p.value for p in metrics.points(JOB, since=1)] == [0.8, 0.7]


def test_each_metric_keeps_only_its_newest_points(metrics: MetricStore) -> None:
    metrics.add([point(t, t) for t in range(5)])
    metrics.add([point(9, 9, name="acc")])
    assert [(p.name, p.value) for p in metrics.points(JOB)] == [
        ("loss", 2),
        ("loss", 3),
        ("loss", 4),
        ("acc", 9),
    ]


def test_clearing_one_source_keeps_the_others(metrics: MetricStore) -> None:
    metrics.add([point(1, 1), point(1, 2, source="algo-2"), point(2, 3)])
    assert metrics.clear(JOB, "algo-1") == 2
    assert [p.source for p in metrics.points(JOB)] == ["algo-2"]
    assert metrics.clear(JOB) == 1
    assert metrics.points(JOB) == []


def test_adding_nothing_is_a_no_op(metrics: MetricStore) -> None:
    metrics.add([])
    assert metrics.points(JOB) == []


def test_points_survive_reopening_the_state_file(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "state.db")
    first.metrics.add([point(1, 0.5)])
    first.close()
    again = SqliteStore(tmp_path / "state.db")
    assert again.metrics.points(JOB) == [point(1, 0.5)]
    again.close()


def test_prune_forgets_points_older_than_the_cutoff(metrics: MetricStore) -> None:
    metrics.add([point(1, 1), point(5, 2), point(9, 3, name="acc")])
    assert metrics.prune(before=5) == 1
    assert [p.at for p in metrics.points(JOB)] == [5, 9]


def test_latest_is_the_newest_point_of_each_source_and_metric(metrics: MetricStore) -> None:
    metrics.add([point(1, 1), point(2, 2), point(1, 7, source="algo-2"), point(3, 9, name="acc")])
    assert metrics.latest(JOB) == [
        point(3, 9, name="acc"),
        point(2, 2),
        point(1, 7, "loss", "algo-2"),
    ]
