"""When a scheduled task runs (pure): EventBridge-style schedules that launch RunTask.

A schedule's expression is one of

* ``rate(N minutes|hours|days)``, counted from when the schedule was created;
* ``cron(min hour day-of-month month day-of-week year)``, EventBridge's six fields
  (``?`` for one of the day fields, weekdays 1-7 with 1 = Sunday);
* a standard 5-field cron line, ``0 2 * * *`` (Unix semantics, weekdays 0-7),

all in UTC (:mod:`dockyard.control.schedules` reads them). ``at()`` is refused: a
one-off belongs to ``run-task``.

**Missed runs collapse into one.** :func:`plan_schedule` looks at the first firing
after the last one it handled (``last_due_at``, else the creation). If that moment
has passed it runs *once*, whatever number of firings passed meanwhile (a daemon
stopped over three nightly runs runs one catch-up task, not three), and the new
``last_due_at`` is the latest firing that has passed, so the next run is the next
one in the future. The count of skipped firings is reported for the event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.control.schedules import (
    At,
    Schedule,
    next_run,
    parse_schedule,
    parse_standard_cron,
)
from dockyard.errors import SpecError

FIELD = "scheduleExpression"
HINT = (
    'write "rate(5 minutes)", "cron(0 2 * * ? *)" (EventBridge: minutes hours '
    'day-of-month month day-of-week year) or "0 2 * * *" (standard cron), in UTC'
)
#: how many passed firings are counted for the "missed" figure (the rest is "more")
MAX_COUNTED = 10_000


@dataclass(frozen=True)
class SchedulePlan:
    """``run``: launch the task now; ``due_at``: the firing it stands for (store it as
    ``last_due_at``); ``missed``: firings passed beyond that one and not run;
    ``next_at``: when to look again (None: the schedule never fires again)."""

    run: bool
    due_at: float | None
    missed: int
    next_at: float | None


def parse_task_schedule(text: str) -> Schedule:
    """The schedule ``text`` names; a SpecError naming ``scheduleExpression`` if none."""
    stripped = text.strip()
    try:
        if re.fullmatch(r"(rate|cron|at)\(.*\)", stripped):
            schedule = parse_schedule(stripped)
        else:
            schedule = parse_standard_cron(stripped)
    except SpecError as error:
        raise SpecError(error.message, field=FIELD, hint=HINT) from None
    if isinstance(schedule, At):
        raise SpecError(
            f"{text!r}: at() fires once", field=FIELD, hint="run it now with `dockyard run-task`"
        )
    return schedule


def next_due(schedule: Schedule, created_at: float, last_due_at: float | None) -> float | None:
    """The next firing after the last one handled (or after creation)."""
    after = last_due_at if last_due_at is not None else created_at
    return next_run(schedule, after, anchor=created_at)


def plan_schedule(
    schedule: Schedule, created_at: float, last_due_at: float | None, now: float
) -> SchedulePlan:
    """Run once if a firing has passed; skip the older passed firings (see module doc)."""
    due = next_due(schedule, created_at, last_due_at)
    if due is None or due > now:
        return SchedulePlan(run=False, due_at=None, missed=0, next_at=due)
    latest, missed = due, 0
    while missed < MAX_COUNTED:
        following = next_run(schedule, latest, anchor=created_at)
        if following is None or following > now:
            return SchedulePlan(run=True, due_at=latest, missed=missed, next_at=following)
        latest, missed = following, missed + 1
    # very many passed (rate(1 minute) over a long outage): jump without counting each
    following = next_run(schedule, now, anchor=created_at)
    return SchedulePlan(run=True, due_at=now, missed=missed, next_at=following)
