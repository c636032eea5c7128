"""The launch throttle: free retries first, then a doubling wait up to a bound."""

from __future__ import annotations

import pytest

from dockyard.control.launch_throttle import (
    FREE_FAILURES,
    MAX_WAIT_S,
    launch_wait,
    next_launch_at,
    unable_to_start,
)

pytestmark = pytest.mark.unit


def test_the_first_failures_are_retried_at_once() -> None:
    assert [launch_wait(n) for n in range(FREE_FAILURES)] == [0.0] * FREE_FAILURES
    assert next_launch_at([]) is None
    assert next_launch_at([10.0, 11.0]) is None


def test_then_each_failure_doubles_the_wait_up_to_the_bound() -> None:
    waits = [launch_wait(FREE_FAILURES + k) for k in range(12)]
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert waits == sorted(waits)
    assert waits[-1] == MAX_WAIT_S


def test_the_next_launch_waits_from_the_last_failure() -> None:
    failures = [100.0, 100.1, 100.2, 100.3]  # four in a row: the wait is 2 s
    assert next_launch_at(failures) == pytest.approx(102.3)


def test_the_event_is_ecs_s() -> None:
    assert (
        unable_to_start("web")
        == "(service web) is unable to consistently start tasks successfully."
    )
