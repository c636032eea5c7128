"""Probe hysteresis: one lost ping never takes a healthy replica out of rotation."""

from __future__ import annotations

import pytest

from dockyard.control.task import HealthStatus
from dockyard.server.health import FALL, ProbeRecord

pytestmark = pytest.mark.unit


def _after(*results: bool) -> HealthStatus:
    record = ProbeRecord()
    for ok in results:
        record.record(ok)
    return record.status


def test_unknown_until_the_first_pass() -> None:
    assert _after() is HealthStatus.UNKNOWN
    assert _after(False) is HealthStatus.UNKNOWN


def test_one_pass_makes_a_replica_healthy() -> None:
    assert _after(False, False, True) is HealthStatus.HEALTHY


def test_a_single_failure_keeps_a_healthy_replica_healthy() -> None:
    assert _after(True, False) is HealthStatus.HEALTHY


def test_consecutive_failures_make_it_unhealthy() -> None:
    assert _after(True, *[False] * FALL) is HealthStatus.UNHEALTHY


def test_failures_interrupted_by_a_pass_start_over() -> None:
    assert _after(True, *[False] * (FALL - 1), True, *[False] * (FALL - 1)) is (
        HealthStatus.HEALTHY
    )
