"""Services: keep N healthy tasks of one revision behind the load balancer.

One reconcile of a service observes everything the scheduler needs — its tasks'
containers (one engine query), the load balancer's view of its targets (one query),
one health check of each running replica — folds the checks into each replica's
health record (:func:`dockyard.control.health.record_check`), asks
:func:`dockyard.control.service.plan_service` what to do, and does it. Endpoints are
services (one per variant), and so will be ECS services: replacement of dead
replicas, health gating, rolling updates and draining live here once.

Nothing waits: a replica whose check has not passed yet, or a target still draining,
is simply looked at again on a later pass (the plan says when).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from dockyard.adapters.engine.fleet import INSTANCE_LABEL
from dockyard.control import events
from dockyard.control.deployments import finished_draining
from dockyard.control.health import record_check
from dockyard.control.launch_throttle import next_launch_at, unable_to_start
from dockyard.control.placement import Unplaceable, unable_to_place
from dockyard.control.readiness import ReplicaHealth
from dockyard.control.runs import reapable
from dockyard.control.service import ServiceState, plan_service, saved_state
from dockyard.control.service_actions import (
    DeregisterTarget,
    RegisterTarget,
    RemoveTarget,
    ServiceAction,
    ServicePlan,
    StartTask,
    StopTask,
)
from dockyard.control.task import HealthStatus, StopCode, Task, TaskStatus
from dockyard.errors import Conflict, DockyardError
from dockyard.ports.lb import LoadBalancer, Target
from dockyard.ports.probe import HealthProbe
from dockyard.ports.store import Store
from dockyard.records.placement import Placement
from dockyard.records.service import LbTarget, ServiceRecord
from dockyard.records.task import ReplicaState, TaskRecord
from dockyard.server import deployment_breaker, task_definitions
from dockyard.server.instances import Placer, placing
from dockyard.server.tasks import TaskRunner
from dockyard.spec.task_definition import TaskDefinition

#: marks the deployment of a task that must move off its container instance
MOVING_OFF = "@moving-off-instance"
log = logging.getLogger("dockyard.services")

KIND = ServiceRecord.KIND
FAST_REQUEUE_S = 0.1  # while a service converges, look again this soon
#: a replica whose verdict is HEALTHY is checked this often, however often its service
#: is reconciled (a starting one is checked on every reconcile); the data plane is
#: guarded between checks by the load balancer's own checks and retries
HEALTHY_CHECK_INTERVAL_S = 1.0


def save_service(
    store: Store,
    state: ServiceState,
    definition: TaskDefinition,
    placement: Placement,
    *,
    target: LbTarget | None,
    owner: str | None,
) -> bool:
    """Create or update a service to run ``definition``; True when it must roll or resize.

    A definition identical to the current one keeps its revision (no rollout);
    anything else becomes the next revision and the scheduler rolls to it.
    """
    _refuse_taking_user_service(store, state, owner)
    revision = task_definitions.ensure_registered(store, definition)
    with store.transaction():
        existing = store.services.get(state.name)
        current = existing.state if existing is not None else None
        saved, changed = saved_state(current, replace(state, revision=revision))
        store.services.put(ServiceRecord(saved, placement, target, owner))
    return changed


def _refuse_taking_user_service(store: Store, state: ServiceState, owner: str | None) -> None:
    """A service saved for an owner (an endpoint's variant) must not replace, or share a
    load-balancer route with, an ECS service a user created (see ``ecs_services``)."""
    for record in store.services.list():
        if record.ecs is None or record.owner == owner:
            continue
        if record.name == state.name:
            raise Conflict(
                f"service {state.name} already exists: an ECS service a user created",
                resource=f"service/{record.name}",
                hint="choose another name (an endpoint's variant service is ENDPOINT-VARIANT)",
            )
        if state.target_group is not None and record.state.target_group == state.target_group:
            raise Conflict(
                f"the load-balancer route {state.target_group} is already used by service "
                f"{record.name}",
                resource=f"service/{record.name}",
                hint="choose another endpoint name",
            )


def set_desired_count(store: Store, name: str, count: int) -> None:
    """Change only the desired count (a scale-to-zero never races a deploy's revision)."""
    with store.transaction():
        current = store.services.get(name)
        if current is not None and current.state.desired_count != count:
            state = replace(current.state, desired_count=count, steady=False)
            store.services.put(replace(current, state=state))


@dataclass
class _LaunchFailures:
    """A service's consecutive failed launches (memory only: a restart forgives them)."""

    times: list[float] = field(default_factory=list)
    counted: set[str] = field(default_factory=set)
    told: bool = False  # the throttle's event is written once per episode

    def observe(self, tasks: list[Task], now: float) -> None:
        """Count tasks the engine refused; forget them all once a later one runs."""
        last = self.times[-1] if self.times else None
        if last is not None and any(
            t.last_status is TaskStatus.RUNNING and t.created_at > last for t in tasks
        ):
            self.times.clear()
            self.counted.clear()
            self.told = False
        for task in tasks:
            refused = task.stop_code is StopCode.TASK_FAILED_TO_START
            if refused and task.task_id not in self.counted:
                self.counted.add(task.task_id)
                self.times.append(task.stopped_at if task.stopped_at is not None else now)


@dataclass(frozen=True)
class _Pass:
    """What one reconcile of a service knows while it executes the plan."""

    service: ServiceRecord
    route: str | None
    by_id: dict[str, TaskRecord]  # updated as actions change records
    in_load_balancer: frozenset[str]  # task ids the balancer holds (registered or draining)
    now: float


class ServiceReconciler:
    kind = KIND

    def __init__(
        self,
        store: Store,
        tasks: TaskRunner,
        lb: LoadBalancer,
        probe: HealthProbe,
        notify_owner: Callable[[str], None] = lambda _owner: None,
        placer: Placer | None = None,
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.lb = lb
        self.probe = probe
        #: told when a service's replicas changed (``endpoint/NAME``): its status follows
        self.notify_owner = notify_owner
        self._starter = ThreadPoolExecutor(max_workers=8, thread_name_prefix="start")
        self._checked_at: dict[str, float] = {}  # task id -> last health check (memory only)
        #: places EC2 tasks on container instances (None: every task on the one engine)
        self.placer = placer
        self._unplaced: dict[str, str] = {}  # service -> the placement failure last told
        self._launch_failures: dict[str, _LaunchFailures] = {}

    def close(self) -> None:
        self._starter.shutdown(wait=False, cancel_futures=True)

    def keys(self) -> list[str]:
        return [record.name for record in self.store.services.list()]

    def reconcile(self, key: str, now: float) -> float | None:
        service = self.store.services.get(key)
        if service is None:
            self._launch_failures.pop(key, None)
            return None
        route = service.state.target_group if service.target is not None else None
        targets = {t.name: t for t in self.lb.targets(route)} if route else {}
        records = self._observe(service, targets, now)
        records = self._check_health(service, records, now)
        health = {
            r.task.task_id: replica_health(r.replica, targets.get(r.task.task_id)) for r in records
        }
        for name, target in targets.items():  # targets whose task is gone (reaped, lost)
            health.setdefault(name, replica_health(ReplicaState(), target))
        tasks = [r.task for r in records]
        planned = self._moving_off_instances(records)
        plan = plan_service(service.state, planned, health, now)
        verdict = deployment_breaker.apply(self.store, service, tasks, plan, now)
        if verdict.replan:  # the circuit breaker tripped: act on its state, not the old one
            plan = plan_service(verdict.service.state, planned, health, now)
        service = verdict.service
        plan, launch_at = self._throttled(service.name, plan, tasks, now)
        by_id = {r.task.task_id: r for r in records}
        context = _Pass(service, route, by_id, frozenset(targets), now)
        self._execute(plan.actions, context)
        for event in plan.events:
            self.store.add_event(KIND, key, event)
        self._save_steady(service, plan.steady)
        self._reap(records, health)
        if self._finish_delete(service, route):
            return None
        if service.owner is not None and (plan.actions or plan.steady != service.state.steady):
            self.notify_owner(service.owner)
        if launch_at is not None:  # nothing to do before the next launch may go
            return launch_at if plan.next_check_at is None else min(launch_at, plan.next_check_at)
        if not plan.steady:
            soon = now + FAST_REQUEUE_S
            return soon if plan.next_check_at is None else min(soon, plan.next_check_at)
        return plan.next_check_at

    def _throttled(
        self, name: str, plan: ServicePlan, tasks: list[Task], now: float
    ) -> tuple[ServicePlan, float | None]:
        """The plan without its launches while the service is throttled
        (:mod:`dockyard.control.launch_throttle`), and when it may launch again."""
        failures = self._launch_failures.setdefault(name, _LaunchFailures())
        failures.observe(tasks, now)
        launch_at = next_launch_at(failures.times)
        starts = [a for a in plan.actions if isinstance(a, StartTask)]
        if launch_at is None or launch_at <= now or not starts:
            return plan, None
        if not failures.told:
            failures.told = True
            self.store.add_event(KIND, name, unable_to_start(name))
        kept = tuple(a for a in plan.actions if not isinstance(a, StartTask))
        return replace(plan, actions=kept), launch_at

    def _moving_off_instances(self, records: list[TaskRecord]) -> list[Task]:
        """The tasks as the scheduler should see them: one on a container instance that
        is DRAINING or deregistered belongs to no deployment the service runs, so it is
        replaced like a task of an old deployment (a new one first, within the
        deployment's bounds) and then stopped, as ECS moves tasks off a draining
        instance."""
        retiring = self.placer.retiring(records) if self.placer is not None else frozenset()
        return [
            replace(r.task, deployment=f"{r.task.deployment}{MOVING_OFF}")
            if r.task.task_id in retiring
            else r.task
            for r in records
        ]

    # -- observing ------------------------------------------------------------------------

    def _observe(
        self, service: ServiceRecord, targets: Mapping[str, Target], now: float
    ) -> list[TaskRecord]:
        seen = self.tasks.observe_owner(service.tasks_owner)
        return [
            self.tasks.step(
                record,
                seen.get(record.task.task_id, {}),
                now,
                held=_in_load_balancer(targets.get(record.task.task_id)),
            )
            for record in self.tasks.records(service.tasks_owner)
        ]

    def _check_health(
        self, service: ServiceRecord, records: list[TaskRecord], now: float
    ) -> list[TaskRecord]:
        """One check of every running replica, folded into its health record."""
        target = service.target
        if target is None:
            return records
        urls = {}
        for record in records:
            address = record.address(target.container, target.port)
            running = record.task.last_status is TaskStatus.RUNNING
            if running and address and self._check_due(record, now):
                urls[record.task.task_id] = f"http://{address}/ping"
        answers = self.probe.check(urls)
        for task_id in answers:
            self._checked_at[task_id] = now
        checked = []
        for record in records:
            passed = answers.get(record.task.task_id)
            if passed is None:
                checked.append(record)
                continue
            history = record_check(record.replica.health, passed, now)
            if history == record.replica.health:
                checked.append(record)
                continue
            updated = replace(record, replica=replace(record.replica, health=history))
            checked.append(self.tasks.save(updated))
        return checked

    def _check_due(self, record: TaskRecord, now: float) -> bool:
        if record.replica.health.status is not HealthStatus.HEALTHY:
            return True
        last = self._checked_at.get(record.task.task_id)
        return last is None or now - last >= HEALTHY_CHECK_INTERVAL_S

    # -- acting ---------------------------------------------------------------------------

    def _execute(self, actions: tuple[ServiceAction, ...], ctx: _Pass) -> None:
        starts = [a for a in actions if isinstance(a, StartTask)]
        for action in actions:
            if not isinstance(action, StartTask):
                self._guarded(action, ctx)
        if len(starts) > 1:  # each waits on the engine, not on the CPU
            list(self._starter.map(lambda a: self._guarded(a, ctx), starts))
        elif starts:
            self._guarded(starts[0], ctx)

    def _guarded(self, action: ServiceAction, ctx: _Pass) -> None:
        try:
            self._do(action, ctx)
        except DockyardError as error:
            name = ctx.service.name
            self.store.add_event(KIND, name, f"(service {name}) {error}")
            log.warning("service %s: %s failed: %s", name, type(action).__name__, error)

    def _do(self, action: ServiceAction, ctx: _Pass) -> None:
        service, by_id, now = ctx.service, ctx.by_id, ctx.now
        if isinstance(action, StartTask):
            definition = task_definitions.get(self.store, action.revision).definition
            record = self._start(service, definition, action, now)
            if record is None:
                return
            started = events.started(service.name, [record.task.task_id])
            self.store.add_event(KIND, service.name, started)
        elif isinstance(action, StopTask) and action.task_id in by_id:
            # a target's containers stop once the balancer has let go of it (a later pass)
            held = action.task_id in ctx.in_load_balancer
            stopping = by_id[action.task_id]
            by_id[action.task_id] = self.tasks.request_stop(
                stopping, action.stop_code, action.reason, now, held=held
            )
        elif isinstance(action, RegisterTarget) and ctx.route and service.target:
            joining = by_id.get(action.task_id)
            target = service.target
            address = joining.address(target.container, target.port) if joining else None
            if address:
                self.lb.register(ctx.route, Target(action.task_id, address))
        elif isinstance(action, DeregisterTarget) and ctx.route:
            self.lb.drain(ctx.route, action.task_id)
            leaving = by_id.get(action.task_id)
            if leaving is not None:  # later actions of this plan see the drain's start
                replica = replace(leaving.replica, drain_started_at=now)
                by_id[action.task_id] = self.tasks.save(replace(leaving, replica=replica))
        elif isinstance(action, RemoveTarget) and ctx.route:
            self.lb.remove(ctx.route, action.task_id)

    def _start(
        self, service: ServiceRecord, definition: TaskDefinition, action: StartTask, now: float
    ) -> TaskRecord | None:
        """Create the task, on a container instance for an EC2 service (None, with the
        service event ECS writes, when no instance can take it)."""

        def create(placement: Placement) -> TaskRecord:
            return self.tasks.create(
                service.tasks_owner,
                definition,
                action.revision,
                placement,
                now=now,
                deployment=action.deployment,
            )

        if self.placer is None or not self.placer.applies(service):
            return create(service.placement)
        with placing:
            outcome = self.placer(service, definition)
            if isinstance(outcome, Unplaceable):
                message = unable_to_place(service.name, outcome)
                if self._unplaced.get(service.name) != message:
                    self._unplaced[service.name] = message
                    self.store.add_event(KIND, service.name, message)
                return None
            self._unplaced.pop(service.name, None)
            labels = {**service.placement.labels, INSTANCE_LABEL: outcome.instance_id}
            return create(replace(service.placement, labels=labels))

    def _save_steady(self, service: ServiceRecord, steady: bool) -> None:
        """Store the verdict unless the desired state changed meanwhile (a deploy)."""
        if steady == service.state.steady:
            return
        with self.store.transaction():
            current = self.store.services.get(service.name)
            if current is None or replace(current.state, steady=service.state.steady) != (
                service.state
            ):
                return
            self.store.services.put(replace(current, state=replace(current.state, steady=steady)))

    def _reap(self, records: list[TaskRecord], health: Mapping[str, ReplicaHealth]) -> None:
        for record in records:
            entry = health.get(record.task.task_id, ReplicaHealth())
            if reapable(record.task, in_load_balancer=entry.in_load_balancer):
                self.tasks.reap(record)
                self._checked_at.pop(record.task.task_id, None)

    # -- deleting -------------------------------------------------------------------------

    def _finish_delete(self, service: ServiceRecord, route: str | None) -> bool:
        """A deleted (DRAINING) service a user made goes with its route once its last
        task is gone (ECS's DeleteService); True when it went."""
        status = service.ecs.status if service.ecs is not None else None
        if status is None or not finished_draining(status, 0):
            return False
        with self.store.transaction():
            current = self.store.services.get(service.name)
            left = len(self.tasks.records(service.tasks_owner))
            if (
                current is None
                or current.ecs is None
                or not finished_draining(current.ecs.status, left)
            ):
                return False
            self.store.services.delete(service.name)
        if route is not None:
            self.lb.remove_route(route)
        self.store.add_event(KIND, service.name, f"(service {service.name}) was deleted.")
        return True

    def delete_if_empty(self, name: str) -> bool:
        """Remove a service once it has no task left; False while tasks remain."""
        if self.tasks.records(f"service/{name}"):
            return False
        self.store.services.delete(name)
        return True


def _in_load_balancer(target: Target | None) -> bool:
    return target is not None


def replica_health(replica: ReplicaState, target: Target | None) -> ReplicaHealth:
    """The scheduler's view of a replica: its own health record plus the balancer's."""
    draining = target is not None and target.health == "draining"
    return ReplicaHealth(
        status=replica.health.status,
        first_healthy_at=replica.health.first_healthy_at,
        registered=target is not None and not draining,
        draining=draining,
        in_flight=target.in_flight if target is not None else 0,
        drain_started_at=replica.drain_started_at,
    )
