"""Services: keep N healthy tasks of one revision behind the load balancer.

Each pass, per service: step its tasks (observe containers, start/stop them), probe
the replicas' ``/ping``, ask :func:`dockyard.control.service.plan_service` what to
do, do it, record its events. Endpoints are services (one per variant), and so will
be ECS services: replacement of dead replicas, health gating, rolling updates and
draining live here once.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from dockyard.adapters.store.sqlite import Store
from dockyard.control import events
from dockyard.control.readiness import ReplicaHealth
from dockyard.control.service import ServiceState, plan_service
from dockyard.control.service_actions import (
    DeregisterTarget,
    RegisterTarget,
    ServicePlan,
    StartTask,
    StopTask,
)
from dockyard.control.task import HealthStatus, TaskStatus
from dockyard.errors import DockyardError
from dockyard.ports.lb import LoadBalancer, Target
from dockyard.server import task_definitions
from dockyard.server.codec import from_doc, to_doc
from dockyard.server.health import Prober
from dockyard.server.tasks import (
    Placement,
    TaskManager,
    TaskRecord,
    placement_from_doc,
    placement_to_doc,
)
from dockyard.spec.task_definition import TaskDefinition

log = logging.getLogger("dockyard.services")

KIND = "service"
DRAIN_SECONDS = 5.0
#: actions of one plan that may run at once: starting replicas, registering them
SIDE_BY_SIDE = (StartTask, RegisterTarget)


@dataclass(frozen=True)
class _Pass:
    """What one pass over a service knows while it executes the plan."""

    doc: dict[str, Any]
    state: ServiceState
    target: LbTarget | None
    by_id: dict[str, TaskRecord]
    now: float


@dataclass(frozen=True)
class LbTarget:
    """Which container port of a task the load balancer sends traffic to."""

    container: str
    port: int


def owner_of(service_name: str) -> str:
    return f"service/{service_name}"


def save_service(
    store: Store,
    state: ServiceState,
    definition: TaskDefinition,
    placement: Placement,
    *,
    target: LbTarget | None,
    owner: str | None,
) -> str:
    """Create or update a service to run ``definition``; returns the revision it runs.

    A definition identical to the current one keeps its revision (no rollout);
    anything else becomes the next revision and the scheduler rolls to it.
    """
    existing = store.get(KIND, state.name)
    current: str | None = existing["state"]["revision"] if existing else None
    revision = task_definitions.ensure_registered(store, definition)
    unchanged = (
        existing is not None
        and revision == current
        and state.desired_count == existing["state"]["desired_count"]
        and bool(existing["state"]["steady"])
    )
    state = replace(state, revision=revision, steady=unchanged)
    store.put(
        KIND,
        state.name,
        {
            "state": to_doc(state),
            "placement": placement_to_doc(placement),
            "target": None if target is None else dataclasses.asdict(target),
            "owner": owner,
        },
        owner=owner,
    )
    return revision


class ServiceController:
    """Steps every service once per pass; owns the replicas' health probes."""

    def __init__(self, store: Store, tasks: TaskManager, lb: LoadBalancer) -> None:
        self.store = store
        self.tasks = tasks
        self.lb = lb
        self.prober = Prober()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="service-action")

    def close(self) -> None:
        self.prober.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def names(self) -> list[str]:
        return [doc["state"]["name"] for doc in self.store.list(KIND)]

    def step(self, name: str, now: float) -> ServicePlan | None:
        doc = self.store.get(KIND, name)
        if doc is None:
            return None
        state = from_doc(ServiceState, doc["state"])
        target = LbTarget(**doc["target"]) if doc.get("target") else None
        records = [self.tasks.step(r, now) for r in self.tasks.records(owner_of(name))]
        health = self._health(records, target, now)
        plan = plan_service(state, [r.task for r in records], health, now)
        context = _Pass(doc, state, target, {r.task.task_id: r for r in records}, now)
        for kind, group in itertools.groupby(plan.actions, key=type):
            batch = list(group)
            if kind in SIDE_BY_SIDE and len(batch) > 1:
                # each waits on the engine or on HAProxy's checks, not on the CPU
                list(self._pool.map(lambda a: self._execute(a, context), batch))
            else:
                for action in batch:
                    self._execute(action, context)
        for event in plan.events:
            self.store.add_event(KIND, name, event)
        if plan.steady != state.steady:
            doc["state"] = to_doc(replace(state, steady=plan.steady))
            self.store.put(KIND, name, doc, owner=doc.get("owner"))
        self._reap(records)
        return plan

    def records(self, name: str) -> list[TaskRecord]:
        return self.tasks.records(owner_of(name))

    def _health(
        self, records: list[TaskRecord], target: LbTarget | None, now: float
    ) -> dict[str, ReplicaHealth]:
        if target is None:
            return {}
        urls = {}
        for record in records:
            address = self.tasks.address(record, target.container, target.port)
            if record.task.last_status is TaskStatus.RUNNING and address:
                urls[record.task.task_id] = f"http://{address}/ping"
        probes = self.prober.probe(urls)
        health = {}
        for record in records:
            probe = probes.get(record.task.task_id)
            status = probe.status if probe is not None else HealthStatus.UNKNOWN
            first = record.extra.get("first_healthy_at")
            if first is None and status is HealthStatus.HEALTHY:
                first = record.extra["first_healthy_at"] = now  # kept across restarts
                self.tasks.save(record)
            health[record.task.task_id] = ReplicaHealth(
                status=status,
                first_healthy_at=first,
                registered=bool(record.extra.get("registered")),
            )
        return health

    def _execute(self, action: object, ctx: _Pass) -> None:
        by_id, target, now = ctx.by_id, ctx.target, ctx.now
        try:
            if isinstance(action, StartTask):
                record = self.tasks.create(
                    owner_of(ctx.state.name),
                    task_definitions.get(self.store, action.revision).definition,
                    action.revision,
                    placement_from_doc(ctx.doc["placement"]),
                    now=now,
                )
                started = events.started(ctx.state.name, [record.task.task_id])
                self.store.add_event(KIND, ctx.state.name, started)
            elif isinstance(action, StopTask) and action.task_id in by_id:
                self.tasks.request_stop(by_id[action.task_id], action.stop_code, action.reason, now)
            elif isinstance(action, RegisterTarget) and target and action.task_id in by_id:
                record = by_id[action.task_id]
                address = self.tasks.address(record, target.container, target.port)
                if address:
                    self.lb.register(action.target_group, Target(action.task_id, address))
                    record.extra["registered"] = True
                    self.tasks.save(record)
            elif isinstance(action, DeregisterTarget):
                self.lb.deregister(action.target_group, action.task_id, DRAIN_SECONDS)
                leaving = by_id.get(action.task_id)
                if leaving is not None:
                    leaving.extra["registered"] = False
                    self.tasks.save(leaving)
        except DockyardError as error:
            name = ctx.state.name
            self.store.add_event(KIND, name, f"(service {name}) {error}")
            log.warning("service %s: %s failed: %s", name, type(action).__name__, error)

    def _reap(self, records: list[TaskRecord]) -> None:
        for record in records:
            if record.task.is_done and not record.extra.get("registered"):
                self.tasks.reap(record)
                self.prober.forget(record.task.task_id)

    def delete(self, name: str) -> bool:
        """Remove a service once it has no task left; False while tasks remain."""
        if self.records(name):
            return False
        self.store.delete(KIND, name)
        return True
