"""The scaling reconciler (kind ``scaling``): Application Auto Scaling for ECS services.

One key per service with a scalable target. Each pass, about once a second:

1. runs the service's scheduled actions that are due (they change MinCapacity and
   MaxCapacity only);
2. reads what its policies need (:mod:`dockyard.server.scaling_inputs`);
3. asks :func:`dockyard.control.autoscaling.decide` for the desired count;
4. if it changes: ``set_desired_count``, wakes the service, records a service event
   (AAS's activity text) and the activity with the cooldown clocks on the target.

The count is written with :func:`~dockyard.server.services.set_desired_count`, the
same read-modify-write the API uses, so a scaling decision never races a deploy's
revision. The reconciler writes only its own parts of the target (clocks,
activities) and of a scheduled action (``last_run_at``), read again inside the
transaction, so an API write meanwhile is kept.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from dockyard.control.autoscaling import Capacity, Decision, Direction, Policy, decide
from dockyard.control.deployments import ServiceStatus
from dockyard.control.schedules import next_run, parse_schedule
from dockyard.records.autoscaling import (
    MAX_ACTIVITIES,
    ScalableTargetRecord,
    ScalingActivity,
    ScheduledActionRecord,
)
from dockyard.records.service import ServiceRecord
from dockyard.server.platform import Platform
from dockyard.server.scaling_inputs import readings
from dockyard.server.services import set_desired_count

log = logging.getLogger("dockyard.scaling")

KIND = "scaling"
EVALUATE_INTERVAL_S = 1.0


class ScalingReconciler:
    kind = KIND

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def keys(self) -> list[str]:
        return [target.service for target in self.platform.store.scalable_targets.list()]

    def reconcile(self, key: str, now: float) -> float | None:
        store = self.platform.store
        target = store.scalable_targets.get(key)
        service = store.services.get(key)
        if target is None or service is None or not _scalable(service):
            return None
        for action in store.scheduled_actions.list(key):
            target = self._run_if_due(action, target, now)
        decision = evaluate(self.platform, service, target, now)
        if decision.changes:
            self._act(service, decision, now)
        return now + EVALUATE_INTERVAL_S

    def _run_if_due(
        self, action: ScheduledActionRecord, target: ScalableTargetRecord, now: float
    ) -> ScalableTargetRecord:
        due = next_run(
            parse_schedule(action.schedule),
            action.last_run_at if action.last_run_at is not None else action.created_at,
            anchor=action.start_time if action.start_time is not None else action.created_at,
            start=action.start_time,
            end=action.end_time,
        )
        if due is None or due > now:
            return target
        store = self.platform.store
        with store.transaction():
            current = store.scalable_targets.get(target.service)
            if current is None:
                return target
            low = action.min_capacity if action.min_capacity is not None else current.min_capacity
            high = action.max_capacity if action.max_capacity is not None else current.max_capacity
            target = replace(current, min_capacity=low, max_capacity=max(low, high))
            store.scalable_targets.put(target)
            latest = store.scheduled_actions.get(action.key)
            if latest is not None:
                store.scheduled_actions.put(replace(latest, last_run_at=now))
        store.add_event(
            "service",
            target.service,
            f"(service {target.service}) scheduled action {action.action_name} "
            f"({action.schedule}) set MinCapacity {low}, MaxCapacity {max(low, high)}.",
        )
        return target

    def _act(self, service: ServiceRecord, decision: Decision, now: float) -> None:
        store = self.platform.store
        name = service.name
        set_desired_count(store, name, decision.desired)
        activity = ScalingActivity(
            at=now,
            description=f"Setting desired count to {decision.desired}.",
            cause=decision.reason,
            desired=decision.desired,
        )
        with store.transaction():
            current = store.scalable_targets.get(name)
            if current is not None:
                activities = (*current.activities, activity)[-MAX_ACTIVITIES:]
                updated = replace(current, activities=activities)
                if decision.direction is Direction.OUT:
                    updated = replace(updated, last_scale_out_at=now)
                else:
                    updated = replace(updated, last_scale_in_at=now)
                store.scalable_targets.put(updated)
            if decision.policy is not None:
                record = store.scaling_policies.get(f"{name}/{decision.policy}")
                if record is not None and record.step is not None:
                    store.scaling_policies.put(replace(record, last_activity_at=now))
        store.add_event("service", name, f"(service {name}) {decision.reason}")
        log.info("service %s: %s", name, decision.reason)
        self.platform.wake("service", name)


def _scalable(service: ServiceRecord) -> bool:
    return service.ecs is not None and service.ecs.status is ServiceStatus.ACTIVE


def policies_of(platform: Platform, service: str) -> list[Policy]:
    return [
        Policy(r.policy_name, r.target_tracking, r.step, r.last_activity_at)
        for r in platform.store.scaling_policies.list(service)
    ]


def evaluate(
    platform: Platform, service: ServiceRecord, target: ScalableTargetRecord, now: float
) -> Decision:
    """What the service's scaling would do now (the reconciler acts on it; describe shows it)."""
    policies = policies_of(platform, service.name)
    capacity = Capacity(
        target.min_capacity,
        target.max_capacity,
        service.state.desired_count,
        target.last_scale_out_at,
        target.last_scale_in_at,
    )
    measured = readings(platform, service, {p.metric for p in policies}, now)
    return decide(capacity, policies, measured, now)
