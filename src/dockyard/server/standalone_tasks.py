"""Standalone tasks (ECS ``RunTask`` / ``StopTask``): the API side and their reconciler.

``run_task`` validates the request, resolves the revision (ACTIVE only) and applies
the overrides, then stores each task PROVISIONING under the owner ``run-task`` and
wakes it; it never starts a container itself. :class:`StandaloneReconciler` (kind
``task``, one key per task) does the rest on the loop: starts the containers
(:meth:`TaskRunner.step`), follows them until an essential container exits, records
why and with which exit codes (:mod:`dockyard.control.task`), keeps the STOPPED task
visible for :data:`~dockyard.control.standalone.STOPPED_TASK_RETENTION_S` (one hour,
like ECS) and then reaps it (:func:`~dockyard.control.standalone.plan_standalone`).

``stop_task`` writes a stop request into any task's record (the reconcilers keep it,
see :meth:`TaskRunner._put`) and wakes its owner: a standalone task stops; a
service's task is replaced by its service, after the load balancer let go of it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from dockyard.adapters.engine.fleet import INSTANCE_LABEL
from dockyard.control.placement import PlacedTask, Unplaceable, reservation
from dockyard.control.standalone import plan_standalone
from dockyard.control.task import StopCode, new_task, request_stop
from dockyard.errors import Conflict, NotFound
from dockyard.ports.store import Store
from dockyard.records.placement import Placement
from dockyard.records.task import TaskRecord
from dockyard.server import instances
from dockyard.server.containers import new_task_id
from dockyard.server.ecs_services import launchable
from dockyard.server.ecs_shapes import (
    GROUP_LABEL,
    LAUNCH_TYPE_LABEL,
    STANDALONE_OWNER,
    arn_name,
    describe_task,
)
from dockyard.server.platform import Platform
from dockyard.server.tasks import TaskRunner
from dockyard.spec.ecs_requests import apply_overrides, parse_run_task
from dockyard.spec.placement import request_placement
from dockyard.spec.service import check_launch_type

log = logging.getLogger("dockyard.tasks")

KIND = "task"
USER_STOP_REASON = "Task stopped by user"


def run_task(platform: Platform, doc: Any) -> dict[str, Any]:
    """RunTask: ``{"tasks": [...], "failures": [...]}``, each task PROVISIONING.

    An EC2 task is placed on a container instance first (:mod:`.instances`); one that
    no instance can take is not started and is reported in ``failures`` with ECS's
    reason (``RESOURCE:MEMORY``, ``RESOURCE:CPU``, a constraint's name).
    """
    request = parse_run_task(doc)
    rules = request_placement(
        request.aws_field("placementStrategy"),
        request.aws_field("placementConstraints"),
        request.launch_type,
    )
    registered = launchable(platform, request.task_definition, "taskDefinition")
    check_launch_type(request.launch_type, registered.definition)
    definition = apply_overrides(registered.definition, request.overrides)
    group = request.group or f"family:{registered.family}"
    placement = Placement(
        name_prefix=registered.family,
        labels={GROUP_LABEL: group, LAUNCH_TYPE_LABEL: request.launch_type or "EC2"},
    )
    now = platform.clock()
    records: list[TaskRecord] = []
    failures: list[dict[str, Any]] = []
    placed: list[PlacedTask] = []
    placing_here = platform.settings.backend == "local" and instances.is_ec2(placement.labels)
    with instances.placing:
        for _ in range(request.count):
            where = placement
            if placing_here:
                instances.ensure_default(platform)
                outcome = instances.place(platform, definition, group, rules, placed)
                if isinstance(outcome, Unplaceable):
                    failures.append(_failure(outcome))
                    continue
                cpu, memory = reservation(definition)
                placed.append(PlacedTask(outcome.instance_id, cpu, memory, group))
                labels = {**placement.labels, INSTANCE_LABEL: outcome.instance_id}
                where = replace(placement, labels=labels)
            task_id = new_task_id()
            task = new_task(task_id, definition, registered.key, now, started_by=request.started_by)
            records.append(TaskRecord(task, STANDALONE_OWNER, definition, where))
        with platform.store.transaction():
            for record in records:
                platform.store.tasks.put(record)
    for record in records:
        platform.wake(KIND, record.key)
    return {"tasks": [describe_task(record) for record in records], "failures": failures}


def _failure(outcome: Unplaceable) -> dict[str, Any]:
    """RunTask's Failure: the closest instance's ARN and why it could not take the task."""
    failure: dict[str, Any] = {"reason": outcome.reason}
    if outcome.closest is not None:
        failure["arn"] = instances.instance_arn(outcome.closest)
    else:
        failure["detail"] = "No Container Instances were found in your cluster."
    return failure


def stop_task(platform: Platform, task: str, reason: str | None = None) -> dict[str, Any]:
    """StopTask: the task's desired status becomes STOPPED (UserInitiated)."""
    task_id = arn_name(task)
    with platform.store.transaction():
        record = platform.store.tasks.get(task_id)
        if record is None:
            raise NotFound(
                f"no task {task_id}",
                resource=f"task/{task_id}",
                hint="list tasks with `dockyard tasks` (stopped standalone tasks stay an hour)",
            )
        kind, _, name = record.owner.partition("/")
        if kind == "training-job":
            raise Conflict(
                f"task {task_id} is a host of training job {name}",
                resource=f"task/{task_id}",
                hint=f"stop the job instead: `dockyard stop-training-job {name}`",
            )
        stopped = request_stop(
            record.task, StopCode.USER_INITIATED, reason or USER_STOP_REASON, platform.clock()
        )
        record = replace(record, task=stopped)
        platform.store.tasks.put(record)
    if record.owner == STANDALONE_OWNER:
        platform.wake(KIND, task_id)
    elif kind == "service":
        platform.wake("service", name)
    return {"task": describe_task(record)}


def standalone_started_by(store: Store, started_by: str) -> list[TaskRecord]:
    """Standalone tasks a user tagged with ``startedBy``."""
    return [r for r in store.tasks.list(STANDALONE_OWNER) if r.task.started_by == started_by]


class StandaloneReconciler:
    """Start, follow, stop and, an hour after they stopped, reap standalone tasks."""

    kind = KIND

    def __init__(self, store: Store, tasks: TaskRunner) -> None:
        self.store = store
        self.tasks = tasks

    def keys(self) -> list[str]:
        return [record.key for record in self.store.tasks.list(STANDALONE_OWNER)]

    def reconcile(self, key: str, now: float) -> float | None:
        record = self.store.tasks.get(key)
        if record is None or record.owner != STANDALONE_OWNER:
            return None
        was_done = record.task.is_done
        record = self.tasks.step(record, self.tasks.observe_task(key), now)
        if record.task.is_done and not was_done:
            self.store.add_event(KIND, key, _stopped_event(record))
        step = plan_standalone(record.task, now)
        if step.reap:
            self.tasks.reap(record)
            log.info("reaped standalone task %s", key)
            return None
        return step.next_check_at


def _stopped_event(record: TaskRecord) -> str:
    task = record.task
    codes = ", ".join(
        f"{c.name} exit code {c.exit_code}" for c in task.containers if c.exit_code is not None
    )
    detail = f" ({codes})" if codes else ""
    return f"stopped: {task.stop_code}: {task.stopped_reason}{detail}"
