"""A scheduled task as stored: the schedule, the RunTask it launches, what it last did.

The API writes the schedule and the RunTask request (``dockyard schedule create``);
the schedule reconciler writes ``last_due_at`` (the firing it last handled, so a
restart neither repeats it nor runs every firing it missed) together with the tasks
it launches, in one transaction; ``run-now`` writes ``last_run_at`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class ScheduleRecord:
    """``run_task``: the validated RunTask request as JSON text (taskDefinition, count,
    overrides, launchType), replayed at every run with ``startedBy`` ``schedule/NAME``.
    Times are epoch seconds."""

    KIND: ClassVar[str] = "schedule"

    name: str
    expression: str  # as given (validated)
    task_definition: str
    run_task: str
    created_at: float
    last_due_at: float | None = None
    last_run_at: float | None = None
    last_task_ids: tuple[str, ...] = ()
    last_error: str = ""

    @property
    def key(self) -> str:
        return self.name

    @property
    def owner(self) -> None:
        return None

    @property
    def started_by(self) -> str:
        """What every task of this schedule carries as ``startedBy``."""
        return f"schedule/{self.name}"
