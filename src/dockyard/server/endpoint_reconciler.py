"""Endpoints, the reconcile side: status from what the variants' services report.

Each reconcile observes the endpoint's variants (their services' revisions, every
replica's health record and whether the load balancer routes to it), asks
:func:`dockyard.control.endpoint.plan_endpoint` for the next status and actions, and
carries them out: scale the variants to zero (Failed, Deleting), finish a delete once
no replica is left. The replicas themselves are the services' business.
"""

from __future__ import annotations

from dataclasses import replace

from dockyard.control.endpoint import (
    CONVERGING,
    EndpointPlan,
    EndpointStatus,
    FinishDelete,
    RollBack,
    ScaleToZero,
    VariantReplicas,
    plan_endpoint,
)
from dockyard.control.variants import VariantTraffic, traffic_shares
from dockyard.ports.lb import Share, Target
from dockyard.records.endpoint import EndpointRecord, VariantRecord
from dockyard.server.platform import Platform
from dockyard.server.services import ServiceReconciler, replica_health, set_desired_count

KIND = EndpointRecord.KIND
FAST_REQUEUE_S = 0.1  # after a rollback starts
DELETE_REQUEUE_S = 0.25
SETTLED = (EndpointStatus.IN_SERVICE,)


class EndpointReconciler:
    kind = KIND

    def __init__(self, platform: Platform, services: ServiceReconciler) -> None:
        self.platform = platform
        self.services = services

    def keys(self) -> list[str]:
        return [record.name for record in self.platform.store.endpoints.list()]

    def reconcile(self, key: str, now: float) -> float | None:
        record = self.platform.store.endpoints.get(key)
        if record is None:
            return None
        targets = self._targets(record)
        if record.status in SETTLED:
            self._split(record, targets, settled=True)
            return self._retire(record, now)
        plan = plan_endpoint(
            record.status,
            self._variants(record, targets),
            record.status_since,
            now,
            services_at_zero=self._at_zero(record),
            can_roll_back=record.rollback is not None,
            failure_reason=record.failure_reason,
        )
        for action in plan.actions:
            if isinstance(action, ScaleToZero):
                for name in record.service_names:
                    set_desired_count(self.platform.store, name, 0)
                    self.platform.wake("service", name)
            elif isinstance(action, FinishDelete):
                self._finish_delete(record)
                return None
            elif isinstance(action, RollBack):
                self._roll_back(record, plan, now)
                return now + FAST_REQUEUE_S
        if plan.update.status is not EndpointStatus.DELETING:
            self._split(record, targets, settled=plan.update.status in SETTLED)
        self._save_status(record, plan)
        if plan.update.status in SETTLED and record.retired:
            return now + FAST_REQUEUE_S  # drain the variants the update removed
        # the variants' services wake this endpoint when their replicas change; time
        # alone changes a converging status only at a startup deadline
        if plan.update.status in CONVERGING:
            return plan.update.next_check_at
        if plan.update.status is EndpointStatus.DELETING:
            return now + DELETE_REQUEUE_S  # replicas are reaped without telling anyone
        return None

    def _targets(self, record: EndpointRecord) -> dict[str, dict[str, Target]]:
        """Each route's targets by name (one balancer query per route)."""
        return {r: {t.name: t for t in self.platform.lb.targets(r)} for r in record.routes}

    def _split(
        self, record: EndpointRecord, targets: dict[str, dict[str, Target]], *, settled: bool
    ) -> None:
        """Spread the endpoint's route over its variants' routes as they serve now (see
        :mod:`dockyard.control.variants`); the balancer does nothing when it is unchanged."""

        def serving(route: str) -> bool:
            return any(t.health != "draining" for t in targets.get(route, {}).values())

        variants = [
            VariantTraffic(
                v.variant_name, record.route_of(v), v.weight, serving(record.route_of(v)), retired
            )
            for retired, group in ((False, record.variants), (True, record.retired))
            for v in group
        ]
        shares = traffic_shares(variants, settled=settled)
        self.platform.lb.split(
            record.name, [Share(s.name, s.route, s.weight, s.pinnable) for s in shares]
        )

    def _retire(self, record: EndpointRecord, now: float) -> float | None:
        """Once an update is over, drain the variants it removed (the split sends them
        nothing any more) and forget each whose last replica is gone."""
        if not record.retired:
            return None
        gone = []
        for variant in record.retired:
            set_desired_count(self.platform.store, variant.service_name, 0)
            self.platform.wake("service", variant.service_name)
            if self.services.delete_if_empty(variant.service_name):
                gone.append(variant)
        if gone:
            store = self.platform.store
            with store.transaction():
                current = store.endpoints.get(record.name)
                if current is None:
                    return None
                names = {v.variant_name for v in gone}
                left = tuple(v for v in current.retired if v.variant_name not in names)
                store.endpoints.put(replace(current, retired=left))
            in_use = {current.route_of(v) for v in (*current.variants, *left)} | {record.name}
            for variant in gone:
                if record.route_of(variant) not in in_use:
                    self.platform.lb.remove_route(record.route_of(variant))
                store.add_event(KIND, record.name, f"variant {variant.variant_name} retired")
            if not left:
                return None
        return now + DELETE_REQUEUE_S

    def _variants(
        self, record: EndpointRecord, routes: dict[str, dict[str, Target]]
    ) -> list[VariantReplicas]:
        variants = []
        for variant in record.variants:
            targets = routes.get(record.route_of(variant), {})
            service = self.platform.store.services.get(variant.service_name)
            tasks = self.platform.store.tasks.list(f"service/{variant.service_name}")
            variants.append(
                VariantReplicas(
                    variant_name=variant.variant_name,
                    desired=variant.desired,
                    startup_timeout_s=variant.startup_timeout_s,
                    revision=service.state.revision if service else None,
                    replicas=tuple(
                        (t.task, replica_health(t.replica, targets.get(t.task.task_id)))
                        for t in tasks
                    ),
                )
            )
        return variants

    def _at_zero(self, record: EndpointRecord) -> bool:
        services = (self.platform.store.services.get(n) for n in record.service_names)
        return all(s is None or s.state.desired_count == 0 for s in services)

    def _save_status(self, record: EndpointRecord, plan: EndpointPlan) -> None:
        """Store a new status unless a deploy or delete changed the endpoint meanwhile."""
        update = plan.update
        if update.status == record.status:
            return
        store = self.platform.store
        with store.transaction():
            current = store.endpoints.get(record.name)
            if current != record:
                return
            settled = update.status is EndpointStatus.IN_SERVICE
            store.endpoints.put(
                replace(
                    record,
                    status=update.status,
                    failure_reason=update.failure_reason,
                    rollback=None if settled else record.rollback,
                )
            )
        store.add_event(KIND, record.name, f"endpoint is {update.status}")

    def _roll_back(self, record: EndpointRecord, plan: EndpointPlan, now: float) -> None:
        """Put every variant back on what served before the update, then the record."""
        rollback = record.rollback
        if rollback is None:
            return
        store = self.platform.store
        with store.transaction():
            if store.endpoints.get(record.name) != record:
                return  # a deploy or delete came first
            for previous in rollback.services:
                service = store.services.get(previous.service_name)
                if service is not None:
                    state = replace(
                        service.state,
                        revision=previous.revision,
                        desired_count=previous.desired_count,
                        steady=False,
                    )
                    store.services.put(replace(service, state=state))
            store.endpoints.put(
                replace(
                    record,
                    config=rollback.config,
                    model=rollback.model,
                    image_id=rollback.image_id,
                    variants=rollback.variants,
                    retired=_not_in(rollback.variants, (*record.retired, *record.variants)),
                    status=plan.update.status,
                    status_since=now,
                    failure_reason=plan.update.failure_reason,
                    rollback=None,
                )
            )
        store.add_event(
            KIND, record.name, f"endpoint is {plan.update.status}: {plan.update.failure_reason}"
        )
        for previous in rollback.services:
            self.platform.wake("service", previous.service_name)

    def _finish_delete(self, record: EndpointRecord) -> None:
        if all(self.services.delete_if_empty(name) for name in record.service_names):
            for route in record.routes:
                self.platform.lb.remove_route(route)
            self.platform.store.endpoints.delete(record.name)
            self.platform.store.add_event(KIND, record.name, "deleted")


def _not_in(
    kept: tuple[VariantRecord, ...], variants: tuple[VariantRecord, ...]
) -> tuple[VariantRecord, ...]:
    """``variants`` whose name is not among ``kept``'s (once each)."""
    names = {v.variant_name for v in kept}
    found: dict[str, VariantRecord] = {}
    for variant in variants:
        if variant.variant_name not in names:
            found.setdefault(variant.variant_name, variant)
    return tuple(found.values())
