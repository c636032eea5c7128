"""Scheduled tasks: the API side (create, list, describe, delete, run now) and the
reconciler that launches a RunTask when a schedule is due.

A schedule stores a validated RunTask request; every run replays it through
:func:`~dockyard.server.standalone_tasks.run_task` with ``startedBy`` ``schedule/NAME``,
so its tasks are ordinary standalone tasks (``dockyard tasks --started-by
schedule/NAME``), followed and reaped like any other. When to run is decided by
:func:`dockyard.control.scheduled_tasks.plan_schedule`; the reconciler stores the
handled firing (``last_due_at``) in the same transaction as the tasks it creates, so
a crash either launches and records a run or does neither: a firing is never run
twice, and firings missed while the daemon was down are run once, not N times.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from dockyard.control.scheduled_tasks import next_due, parse_task_schedule, plan_schedule
from dockyard.errors import DockyardError, SpecError
from dockyard.ports.store import Store
from dockyard.records.schedule import ScheduleRecord
from dockyard.server import standalone_tasks
from dockyard.server.ecs_services import launchable
from dockyard.server.ecs_shapes import describe_task
from dockyard.server.platform import Platform
from dockyard.spec.ecs_requests import apply_overrides, parse_run_task
from dockyard.spec.service import check_launch_type

log = logging.getLogger("dockyard.schedules")

KIND = "schedule"
_REQUEST_FIELDS = ("taskDefinition", "count", "overrides", "launchType", "group")


def create(platform: Platform, doc: Any) -> dict[str, Any]:
    """Validate everything (expression, revision, overrides), then store the schedule."""
    if not isinstance(doc, dict):
        raise SpecError("a schedule is a JSON object", hint="send {name, scheduleExpression, …}")
    name = doc.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise SpecError("name is missing or holds a /", field="name", hint="e.g. nightly")
    expression = doc.get("scheduleExpression")
    if not isinstance(expression, str):
        raise SpecError(
            "scheduleExpression is missing", field="scheduleExpression", hint="e.g. 0 2 * * *"
        )
    parse_task_schedule(expression)
    unknown = sorted(set(doc) - {"name", "scheduleExpression", *_REQUEST_FIELDS})
    if unknown:
        raise SpecError(f"unknown field {unknown[0]}", field=unknown[0], hint="remove it")
    request = {key: doc[key] for key in _REQUEST_FIELDS if doc.get(key) is not None}
    parsed = parse_run_task(request)
    registered = launchable(platform, parsed.task_definition, "taskDefinition")
    check_launch_type(parsed.launch_type, registered.definition)
    apply_overrides(registered.definition, parsed.overrides)
    record = ScheduleRecord(
        name=name,
        expression=expression.strip(),
        task_definition=registered.key,
        run_task=json.dumps(request, sort_keys=True),
        created_at=platform.clock(),
    )
    platform.store.schedules.create(record)
    platform.store.add_event(KIND, name, f"created: {record.expression} runs {registered.key}")
    platform.wake(KIND, name)
    return {"schedule": described(platform.store, record)}


def delete(platform: Platform, name: str) -> dict[str, Any]:
    """Delete the schedule; tasks it launched run on (stop them with stop-task)."""
    record = platform.store.schedules.require(name)
    platform.store.schedules.delete(name)
    platform.store.add_event(KIND, name, "deleted")
    return {"schedule": described(platform.store, record)}


def run_now(platform: Platform, name: str) -> dict[str, Any]:
    """Launch the schedule's RunTask at once; the schedule's own clock is untouched."""
    record = platform.store.schedules.require(name)
    result = _launch(platform, record)
    ids = tuple(task["taskId"] for task in result["tasks"])
    with platform.store.transaction():
        current = platform.store.schedules.get(name)
        if current is not None:
            platform.store.schedules.put(
                replace(current, last_run_at=platform.clock(), last_task_ids=ids, last_error="")
            )
    platform.store.add_event(KIND, name, f"run now: started {_tasks(ids)}")
    return result


def described(store: Store, record: ScheduleRecord) -> dict[str, Any]:
    """A schedule as the API shows it: the request, the times, its tasks still listed."""
    upcoming = next_due(
        parse_task_schedule(record.expression), record.created_at, record.last_due_at
    )
    tasks = standalone_tasks.standalone_started_by(store, record.started_by)
    return {
        "name": record.name,
        "scheduleExpression": record.expression,
        "taskDefinition": record.task_definition,
        "runTask": json.loads(record.run_task),
        "startedBy": record.started_by,
        "createdAt": record.created_at,
        "nextRunAt": upcoming,
        "nextRun": _iso(upcoming),
        "lastRunAt": record.last_run_at,
        "lastTaskIds": list(record.last_task_ids),
        "lastError": record.last_error or None,
        "tasks": [describe_task(task) for task in tasks],
    }


def _launch(platform: Platform, record: ScheduleRecord) -> dict[str, Any]:
    request = {**json.loads(record.run_task), "startedBy": record.started_by}
    return standalone_tasks.run_task(platform, request)


def _tasks(ids: tuple[str, ...]) -> str:
    return ", ".join(ids) if ids else "no task"


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ScheduleReconciler:
    """Launch each schedule's RunTask when a firing has passed (once per firing)."""

    kind = KIND

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def keys(self) -> list[str]:
        return [record.name for record in self.platform.store.schedules.list()]

    def reconcile(self, key: str, now: float) -> float | None:
        store = self.platform.store
        record = store.schedules.get(key)
        if record is None:
            return None
        schedule = parse_task_schedule(record.expression)
        plan = plan_schedule(schedule, record.created_at, record.last_due_at, now)
        if not plan.run or plan.due_at is None:
            return plan.next_at
        ids: tuple[str, ...] = ()
        error = ""
        with store.transaction():
            current = store.schedules.get(key)
            if current is None or current.last_due_at != record.last_due_at:
                return now  # deleted, or another pass handled this firing meanwhile
            try:
                with store.transaction():  # the tasks roll back alone if the launch fails
                    result = _launch(self.platform, current)
                ids = tuple(task["taskId"] for task in result["tasks"])
            except DockyardError as failure:
                error = str(failure)
            store.schedules.put(
                replace(
                    current,
                    last_due_at=plan.due_at,
                    last_run_at=now if ids else current.last_run_at,
                    last_task_ids=ids or current.last_task_ids,
                    last_error=error,
                )
            )
        store.add_event(KIND, key, _run_event(record, plan.due_at, plan.missed, ids, error))
        return plan.next_at


def _run_event(
    record: ScheduleRecord, due_at: float, missed: int, ids: tuple[str, ...], error: str
) -> str:
    what = f"could not run {record.task_definition}: {error}" if error else f"started {_tasks(ids)}"
    text = f"scheduled run of {_iso(due_at)} ({record.expression}): {what}"
    if missed:
        text += f"; {missed} earlier firing(s) passed while the daemon was not running, run once"
    return text
