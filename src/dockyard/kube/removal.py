"""Which of a resource's objects go when it is deleted, stopped or re-rendered (pure).

Server-side apply only ever adds and changes objects; it never removes one. So when a
resource the cluster runs goes away (DeleteEndpoint, DeleteService, StopTask), when a
training job is stopped, or when a re-apply no longer renders an object it applied
before (a variant an update removed, an autoscaler deregistered), Dockyard deletes
those objects itself. What it must *not* delete:

* a Namespace — only training jobs have one, and it holds their output claim;
* a Secret or ServiceAccount another cluster-run record still lists — these are named
  after the Dockyard secret or the task role, so two services that use one secret
  share one Secret object;
* a claim for a shared Docker volume or EFS (``dockyard.io/source`` ``docker-volume/…``
  or ``efs/…``): its data outlives the tasks that mount it, as on ECS.

Objects are ``KIND/NAMESPACE/NAME``, the form the cluster port's ``apply`` returns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from dockyard.kube.bundle import KIND_ORDER
from dockyard.kube.names import SOURCE_ANNOTATION

#: kinds named after something other than the resource, which several resources share
SHARED_KINDS = frozenset({"Secret", "ServiceAccount"})
#: claims whose data lives on after the resources that mount it
KEPT_SOURCES = ("docker-volume/", "efs/")
#: what a re-apply prunes when it no longer renders it: what runs or routes something.
#: Claims (data) and Secrets/ServiceAccounts (possibly shared) stay until the resource goes.
PRUNED_KINDS = frozenset({"Deployment", "Job", "Service", "HorizontalPodAutoscaler", "ConfigMap"})


def object_id(manifest: dict[str, Any]) -> str:
    """``KIND/NAMESPACE/NAME`` of a manifest (an empty namespace for cluster-wide kinds)."""
    meta = manifest["metadata"]
    return f"{manifest['kind']}/{meta.get('namespace', '')}/{meta['name']}"


def digest(manifests: Iterable[dict[str, Any]]) -> str:
    """A digest of rendered objects: equal digests, nothing to apply again. Rendering is
    deterministic, so a change of digest means the records changed since the last apply."""
    text = json.dumps(list(manifests), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _delete_order(objects: Iterable[str]) -> list[str]:
    """Reverse apply order: the autoscaler and workloads first (their pods stop using
    the rest), then Services, claims, config maps, secrets."""

    def rank(item: str) -> tuple[int, str]:
        kind = item.split("/", 1)[0]
        return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), item)

    return sorted(set(objects), key=rank, reverse=True)


def _kept_claims(rendered: Sequence[dict[str, Any]]) -> set[str]:
    return {
        object_id(m)
        for m in rendered
        if m["kind"] == "PersistentVolumeClaim"
        and m["metadata"].get("annotations", {}).get(SOURCE_ANNOTATION, "").startswith(KEPT_SOURCES)
    }


def removal(
    recorded: Iterable[str],
    rendered: Sequence[dict[str, Any]],
    in_use: Collection[str],
    *,
    workloads_only: bool = False,
) -> list[str]:
    """The objects to delete when a resource goes, in delete order.

    ``recorded`` are the objects its last apply made, ``rendered`` what its records
    render now (which also covers an apply that failed halfway and so recorded
    nothing), ``in_use`` the objects other cluster-run records list. With
    ``workloads_only`` (a stopped training job) only its Jobs go: the claims keep the
    checkpoints and output the job wrote before it was stopped.
    """
    kept = _kept_claims(rendered)
    candidates = {*recorded, *(object_id(m) for m in rendered)}
    chosen = []
    for item in candidates:
        kind = item.split("/", 1)[0]
        if workloads_only and kind != "Job":
            continue
        if kind == "Namespace" or item in kept:
            continue
        if kind in SHARED_KINDS and item in in_use:
            continue
        chosen.append(item)
    return _delete_order(chosen)


def stale(previous: Iterable[str], applied: Collection[str], in_use: Collection[str]) -> list[str]:
    """What an earlier apply made that this one no longer renders, to prune: only the
    :data:`PRUNED_KINDS`, and none another record still lists."""
    return _delete_order(
        item
        for item in previous
        if item not in applied and item not in in_use and item.split("/", 1)[0] in PRUNED_KINDS
    )
