"""Service events read like ECS's."""

from __future__ import annotations

import pytest

from dockyard.control import events

pytestmark = pytest.mark.unit


def test_started_event_lists_every_task() -> None:
    assert events.started("web", ["a", "b"]) == (
        "(service web) has started 2 tasks: (task a) (task b)."
    )


def test_stopped_event_says_running_or_pending() -> None:
    assert events.stopped("web", ["a"]) == "(service web) has stopped 1 running tasks: (task a)."
    assert events.stopped("web", ["a"], running=False) == (
        "(service web) has stopped 1 pending tasks: (task a)."
    )


def test_steady_state_and_target_events() -> None:
    assert events.steady_state("web") == "(service web) has reached a steady state."
    assert (
        events.registered("web", "tg", 2)
        == "(service web) registered 2 targets in (target-group tg)"
    )
    assert events.deregistered("web", "tg", 1) == (
        "(service web) deregistered 1 targets in (target-group tg)"
    )
