"""The deployment circuit breaker, the server side: judge each pass, store the verdict.

The decision is :func:`dockyard.control.circuit_breaker.judge`; this module hands it
the pass's tasks and plan (which tasks it stops for failed health, which are ready),
stores the deployments it returns on the service's record, and records its events.
A rollback changes the scheduler's state (another revision and deployment), so the
reconciler plans again before it acts: no task of the failed deployment is started
after the breaker tripped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from dockyard.control.circuit_breaker import judge
from dockyard.control.service_actions import ServicePlan
from dockyard.control.task import Task
from dockyard.ports.store import Store
from dockyard.records.service import ServiceRecord

KIND = ServiceRecord.KIND


@dataclass(frozen=True)
class Verdict:
    service: ServiceRecord  # as stored now
    replan: bool  # the scheduler's state changed: plan this pass again


def apply(
    store: Store, service: ServiceRecord, tasks: Sequence[Task], plan: ServicePlan, now: float
) -> Verdict:
    """Judge ``service``'s PRIMARY deployment after ``plan``; store what changed."""
    ecs = service.ecs
    if ecs is None:
        return Verdict(service, replan=False)
    judgement = judge(
        ecs.deployments,
        service.state,
        tasks,
        breaker=ecs.spec.deployment_configuration.deployment_circuit_breaker,
        failed_stops={stop.task_id for stop in plan.stops if stop.failed},
        ready=set(plan.ready),
        steady=plan.steady,
        now=now,
    )
    if judgement.deployments == ecs.deployments and judgement.state == service.state:
        return Verdict(service, replan=False)
    spec = ecs.spec
    if judgement.state.revision != service.state.revision:
        spec = spec.model_copy(update={"task_definition": judgement.state.revision})
    updated = replace(
        service,
        state=judgement.state,
        ecs=replace(ecs, spec=spec, deployments=judgement.deployments),
    )
    with store.transaction():
        if store.services.get(service.name) != service:
            # changed meanwhile (an update, a delete): judged again on the next pass
            return Verdict(service, replan=False)
        store.services.put(updated)
    for event in judgement.events:
        store.add_event(KIND, service.name, event)
    return Verdict(updated, replan=judgement.state != service.state)
