"""Check hysteresis (control.health): one lost ping never takes a healthy replica out."""

from __future__ import annotations

import pytest

from dockyard.control.health import DEFAULT_POLICY, CheckHistory, CheckPolicy, record_check
from dockyard.control.task import HealthStatus

pytestmark = pytest.mark.unit


FALL = DEFAULT_POLICY.fall


def _history(*results: bool, policy: CheckPolicy = DEFAULT_POLICY) -> CheckHistory:
    history = CheckHistory()
    for at, ok in enumerate(results):
        history = record_check(history, ok, float(at), policy)
    return history


def _after(*results: bool) -> HealthStatus:
    return _history(*results).status


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


def test_first_healthy_time_is_kept_after_the_replica_turns_unhealthy() -> None:
    history = _history(False, True, *[False] * FALL)
    assert history.status is HealthStatus.UNHEALTHY
    assert history.first_healthy_at == 1.0


def test_a_stricter_rise_needs_that_many_passes_in_a_row() -> None:
    policy = CheckPolicy(rise=2, fall=2)
    assert _history(True, policy=policy).status is HealthStatus.UNKNOWN
    assert _history(True, False, True, policy=policy).status is HealthStatus.UNKNOWN
    assert _history(True, True, policy=policy).status is HealthStatus.HEALTHY
