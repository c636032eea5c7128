"""Throttling a service whose tasks keep failing to start (pure).

When the engine refuses a service's containers outright (TaskFailedToStart: a name it
rejects, a missing bind source, an image that cannot be pulled), the failure comes
back in milliseconds, and replacing the task at once would launch tasks as fast as
the control loop turns, filling the event log and the engine with nothing. ECS
throttles such a service: the time between its launch attempts grows, and it says
``(service NAME) is unable to consistently start tasks successfully.`` Dockyard does
the same: the first few failures are retried at once (a transient refusal should cost
nothing), then each further failure doubles the wait, up to a bound. A task that
starts resets the count.
"""

from __future__ import annotations

from collections.abc import Sequence

#: failures retried without waiting
FREE_FAILURES = 3
#: the wait after the first throttled failure, doubled after each further one
FIRST_WAIT_S = 1.0
#: the longest wait between two launch attempts
MAX_WAIT_S = 300.0


def unable_to_start(service: str) -> str:
    """ECS's event for a throttled service."""
    return f"(service {service}) is unable to consistently start tasks successfully."


def launch_wait(failures: int) -> float:
    """How long to wait after ``failures`` consecutive failed launches."""
    if failures < FREE_FAILURES:
        return 0.0
    wait: float = FIRST_WAIT_S * 2.0 ** min(failures - FREE_FAILURES, 30)
    return min(wait, MAX_WAIT_S)


def next_launch_at(failed_at: Sequence[float]) -> float | None:
    """When the service may launch again, given the times of its consecutive failed
    launches (oldest first); None when it may launch now or has no failures."""
    if not failed_at:
        return None
    wait = launch_wait(len(failed_at))
    return failed_at[-1] + wait if wait > 0 else None
