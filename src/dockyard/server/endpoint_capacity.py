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
