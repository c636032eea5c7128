"""Resize an endpoint's variant in place (SageMaker's UpdateEndpointWeightsAndCapacities,
for the instance count).

Only the variant's replica count changes: the image, model and configuration stay, so
no replica is replaced; the variant's service adds or drains replicas the usual way,
and the endpoint stays InService meanwhile (its describe shows healthy against
desired replicas). A deploy later starts from the new count's record.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dockyard.control.endpoint import EndpointStatus
from dockyard.errors import Conflict, SpecError
from dockyard.records.endpoint import VariantRecord
from dockyard.server.endpoints import KIND
from dockyard.server.platform import Platform
from dockyard.server.services import set_desired_count

FIELD = "DesiredInstanceCount"


def _count(request: Any) -> int:
    if not isinstance(request, dict):
        raise SpecError(
            "the request body must be a JSON object",
            hint='send {"DesiredInstanceCount": N} (and "VariantName" when there are several)',
        )
    count = request.get(FIELD)
    if isinstance(count, bool) or not isinstance(count, int):
        raise SpecError(
            f"must be a whole number, not {count!r}",
            field=FIELD,
            hint="give the number of replicas the variant should run, e.g. 3",
        )
    if count < 1:
        raise SpecError(
            f"must be at least 1, not {count}",
            field=FIELD,
            hint="an endpoint serves with at least one replica; delete it to stop serving",
        )
    return count


def update_capacity(platform: Platform, name: str, request: Any) -> dict[str, Any]:
    """Set one variant's desired replicas; the variant and its new count."""
    count = _count(request)
    wanted = request.get("VariantName")
    store = platform.store
    with store.transaction():
        record = store.endpoints.require(name)
        if record.status is not EndpointStatus.IN_SERVICE:
            raise Conflict(
                f"endpoint {name} is {record.status}; only an InService endpoint is resized",
                resource=f"endpoint/{name}",
                hint="wait until it is InService (`dockyard endpoint NAME`)",
            )
        names = [v.variant_name for v in record.variants]
        if wanted is None and len(names) == 1:
            wanted = names[0]
        if wanted not in names:
            raise SpecError(
                f"no variant {wanted!r} in endpoint {name}"
                if wanted is not None
                else f"endpoint {name} has several variants",
                field="VariantName",
                hint=f"name one of: {', '.join(names)}",
            )
        variants = tuple(
            replace(v, desired=count) if v.variant_name == wanted else v for v in record.variants
        )
        variant = next(v for v in variants if v.variant_name == wanted)
        store.endpoints.put(replace(record, variants=variants, last_modified_at=platform.clock()))
        set_desired_count(store, variant.service_name, count)
    store.add_event(KIND, name, f"variant {wanted} resized to {count} replicas")
    platform.wake("service", variant.service_name)
    platform.wake(KIND, name)
    return {"EndpointName": name, "VariantName": wanted, FIELD: count}


_LIST = "DesiredWeightsAndCapacities"


def _desired(request: Any, names: list[str]) -> dict[str, tuple[float | None, int | None]]:
    """The request's changes per variant, validated (botocore's
    UpdateEndpointWeightsAndCapacitiesInput): variant -> (weight, count)."""
    items = request.get(_LIST) if isinstance(request, dict) else None
    if not isinstance(items, list) or not items:
        raise SpecError(
            "must be a list of one or more variants",
            field=_LIST,
            hint='send [{"VariantName": "A", "DesiredWeight": 0.8, "DesiredInstanceCount": 2}]',
        )
    changes: dict[str, tuple[float | None, int | None]] = {}
    for index, item in enumerate(items):
        at = f"{_LIST}[{index}]"
        if not isinstance(item, dict):
            raise SpecError("must be an object", field=at, hint="give VariantName and a change")
        name = item.get("VariantName")
        if name not in names:
            raise SpecError(
                f"no variant {name!r} in this endpoint",
                field=f"{at}.VariantName",
                hint=f"name one of: {', '.join(names)}",
            )
        if name in changes:
            raise SpecError(
                f"variant {name} is named twice",
                field=f"{at}.VariantName",
                hint="give each variant once",
            )
        weight = item.get("DesiredWeight")
        if weight is not None and (
            isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0
        ):
            raise SpecError(
                f"must be a number of 0 or more, not {weight!r}",
                field=f"{at}.DesiredWeight",
                hint="weights are relative: 0.8 and 0.2 send 80 % and 20 % of requests",
            )
        count = item.get("DesiredInstanceCount")
        if count is not None:
            _count({FIELD: count})
        if weight is None and count is None:
            raise SpecError(
                "changes nothing",
                field=at,
                hint="give DesiredWeight, DesiredInstanceCount or both",
            )
        changes[name] = (None if weight is None else float(weight), count)
    return changes


def _changed(variant: VariantRecord, weight: float | None, count: int | None) -> VariantRecord:
    return replace(
        variant,
        weight=variant.weight if weight is None else weight,
        desired=variant.desired if count is None else count,
    )


def update_weights_and_capacities(platform: Platform, name: str, request: Any) -> dict[str, Any]:
    """SageMaker's UpdateEndpointWeightsAndCapacities: new weights take effect in the load
    balancer at once (its split changes, no replica restarts); new counts add or drain
    replicas of the variant's service. The endpoint stays InService."""
    store = platform.store
    with store.transaction():
        record = store.endpoints.require(name)
        if record.status is not EndpointStatus.IN_SERVICE:
            raise Conflict(
                f"endpoint {name} is {record.status}; only an InService endpoint is updated",
                resource=f"endpoint/{name}",
                hint="wait until it is InService (`dockyard endpoint NAME`)",
            )
        changes = _desired(request, [v.variant_name for v in record.variants])
        variants = tuple(
            _changed(v, *changes[v.variant_name]) if v.variant_name in changes else v
            for v in record.variants
        )
        if not any(v.weight > 0 for v in variants):
            raise SpecError(
                "every variant would have weight 0, so no request could be routed",
                field=_LIST,
                hint="give at least one variant a DesiredWeight above 0",
            )
        store.endpoints.put(replace(record, variants=variants, last_modified_at=platform.clock()))
        for variant in variants:
            set_desired_count(store, variant.service_name, variant.desired)
    summary = "; ".join(
        f"{v.variant_name} weight {v.weight:g}, {v.desired} replicas" for v in variants
    )
    store.add_event(KIND, name, f"weights and capacities updated: {summary}")
    for variant in variants:
        platform.wake("service", variant.service_name)
    platform.wake(KIND, name)
    return {
        "EndpointName": name,
        "ProductionVariants": [
            {"VariantName": v.variant_name, "DesiredWeight": v.weight, FIELD: v.desired}
            for v in variants
        ],
    }
