"""The OOM witness: an exit 137 is an OOM kill only on evidence that does not race."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from dockyard.adapters.engine.oom import (
    EVENT_GRACE_SECONDS,
    OomWitness,
    epoch_seconds,
    event_seconds,
)

FINISHED = "2026-12-01T10:00:05.250000000Z"
FINISHED_AT = epoch_seconds(FINISHED)
STARTED = "2026-12-01T10:00:00.000000000Z"


class Log:
    """An engine's events log: what it holds, and what was asked of it."""

    def __init__(self, *events: Mapping[str, Any]) -> None:
        self.events = list(events)
        self.queries: list[tuple[str, float, float]] = []

    def __call__(
        self, container_id: str, since: float, until: float
    ) -> Iterable[Mapping[str, Any]]:
        self.queries.append((container_id, since, until))
        return [e for e in self.events if since <= (event_seconds(e) or 0) <= until]


def oom_at(at: float, action: str = "oom") -> dict[str, Any]:
    return {"Action": action, "time": int(at), "timeNano": int(at * 1e9)}


def witness(log: Log, now: float, slept: list[float] | None = None) -> OomWitness:
    clock = [now]

    def sleep(seconds_: float) -> None:
        if slept is not None:
            slept.append(seconds_)
        clock[0] += seconds_

    return OomWitness(log, clock=lambda: clock[0], sleep=sleep)


def killed(w: OomWitness, exit_code: int | None = 137, **more: Any) -> bool:
    return w.killed("c1", exit_code=exit_code, started_at=STARTED, finished_at=FINISHED, **more)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-12-01T10:00:05Z", 1796119205.0),
        ("2026-12-01T10:00:05.5Z", 1796119205.5),
        ("2026-12-01T10:00:05.250000000Z", 1796119205.25),
        ("2026-12-01T11:00:05.250000000+01:00", 1796119205.25),
        ("2026-12-01T10:00:05.25", 1796119205.25),
    ],
)
def test_engine_timestamps_read_to_the_nanosecond_in_any_zone(stamp: str, expected: float) -> None:
    assert epoch_seconds(stamp) == pytest.approx(expected)


@pytest.mark.parametrize("stamp", [None, "", "yesterday", "2026-13-45T99:00:00Z"])
def test_a_timestamp_that_is_not_one_reads_as_none(stamp: str | None) -> None:
    assert epoch_seconds(stamp) is None


def test_an_oom_event_at_the_exit_makes_a_sigkill_an_oom_kill() -> None:
    assert FINISHED_AT is not None
    log = Log(oom_at(FINISHED_AT - 0.01))
    assert killed(witness(log, FINISHED_AT + 10))
    assert log.queries == [("c1", 1796119200.0, FINISHED_AT + 10)]


def test_an_oom_event_logged_just_after_the_exit_counts() -> None:
    assert FINISHED_AT is not None
    assert killed(witness(Log(oom_at(FINISHED_AT + 0.2)), FINISHED_AT + 10))


def test_a_sidecar_killed_long_after_the_tasks_oom_keeps_its_own_reason() -> None:
    assert FINISHED_AT is not None
    assert not killed(witness(Log(oom_at(FINISHED_AT - 30)), FINISHED_AT + 10))


def test_only_oom_events_count() -> None:
    assert FINISHED_AT is not None
    assert not killed(witness(Log(oom_at(FINISHED_AT, "die")), FINISHED_AT + 10))


def test_an_exit_other_than_sigkill_is_never_asked_about() -> None:
    log = Log()
    w = witness(log, 0)
    assert not killed(w, exit_code=1, cgroup_count=lambda: 3)
    assert not killed(w, exit_code=None, cgroup_count=lambda: 3)
    assert log.queries == []


def test_the_task_cgroups_count_is_enough_without_the_events_log() -> None:
    log = Log()
    assert killed(witness(log, 0), cgroup_count=lambda: 1)
    assert log.queries == []


def test_an_exit_seen_at_once_waits_for_its_event_before_saying_no() -> None:
    assert FINISHED_AT is not None
    slept: list[float] = []
    assert not killed(witness(Log(), FINISHED_AT + 0.1, slept))
    assert slept == [pytest.approx(EVENT_GRACE_SECONDS - 0.1)]


def test_an_exit_seen_later_does_not_wait() -> None:
    assert FINISHED_AT is not None
    slept: list[float] = []
    assert not killed(witness(Log(), FINISHED_AT + 5, slept))
    assert slept == []


def test_a_verdict_is_kept_so_the_log_is_asked_once_per_container() -> None:
    assert FINISHED_AT is not None
    log = Log(oom_at(FINISHED_AT))
    w = witness(log, FINISHED_AT + 5)
    assert killed(w) and killed(w)
    assert len(log.queries) == 1


def test_an_exit_without_a_finish_time_is_not_an_oom_kill() -> None:
    log = Log()
    w = witness(log, 0)
    assert not w.killed("c1", exit_code=137, started_at=None, finished_at=None)
    assert log.queries == []
