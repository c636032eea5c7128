"""Standalone tasks (ECS ``RunTask``): when to look again, and when a stopped one goes (pure).

A standalone task belongs to no service: nothing replaces it, it simply runs until
its essential container exits (or a user stops it; see :func:`dockyard.control.task.observe`
for ``stoppedReason`` and the exit codes). ECS keeps a stopped task describable for
about an hour, so a user can still read its exit code and reason after it ended;
Dockyard does the same, then reaps it (containers, scratch volumes, record; the tail
of its output is kept by the server's reap).
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.control.task import Task

#: how long a STOPPED standalone task stays visible before it is reaped (ECS: ~1 hour)
STOPPED_TASK_RETENTION_S = 3600.0
#: while a task starts, runs or stops, it is looked at this often
ACTIVE_RECHECK_S = 0.25


@dataclass(frozen=True)
class StandaloneStep:
    """What to do with a standalone task after observing it."""

    reap: bool
    next_check_at: float | None  # None: nothing to do until the next resync


def plan_standalone(
    task: Task, now: float, *, retention_s: float = STOPPED_TASK_RETENTION_S
) -> StandaloneStep:
    """Reap a task stopped for longer than ``retention_s``; otherwise when to look again."""
    if not task.is_done:
        return StandaloneStep(reap=False, next_check_at=now + ACTIVE_RECHECK_S)
    stopped = task.stopped_at if task.stopped_at is not None else task.created_at
    reap_at = stopped + retention_s
    if now >= reap_at:
        return StandaloneStep(reap=True, next_check_at=None)
    return StandaloneStep(reap=False, next_check_at=reap_at)
