"""A cluster Dockyard hands workloads to (the Kubernetes backend).

The renderer (:mod:`dockyard.kube`) decides what objects run a resource; a
:class:`Cluster` makes them so (server-side apply, owned by the ``dockyard`` field
manager) and reads back what the cluster reports, as :mod:`dockyard.kube.status`'s
values, which map onto the statuses the local backend reports. Apply never removes
anything, so :meth:`Cluster.delete_objects` removes what a deleted, stopped or
re-rendered resource no longer needs (:mod:`dockyard.kube.removal` decides what).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from dockyard.kube.status import Observation


class Cluster(Protocol):
    def apply(self, manifests: Sequence[dict[str, Any]]) -> list[str]:
        """Apply every object in order; ``KIND/NAMESPACE/NAME`` of each applied."""

    def observe(self, resource: str, manifests: Sequence[dict[str, Any]]) -> Observation:
        """The workloads among ``manifests`` as the cluster reports them now."""

    def delete_objects(self, objects: Sequence[str]) -> list[str]:
        """Delete each ``KIND/NAMESPACE/NAME`` in the order given. Dependents (a
        Deployment's ReplicaSets and pods, a Job's pods) are deleted by the cluster after
        their owner is gone, so a resource deleted and created again under the same name
        never meets its old objects. An object already gone counts as deleted; returns
        every object that is gone now."""
