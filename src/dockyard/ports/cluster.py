"""A cluster Dockyard hands workloads to (the Kubernetes backend).

The renderer (:mod:`dockyard.kube`) decides what objects run a resource; a
:class:`Cluster` makes them so (server-side apply, owned by the ``dockyard`` field
manager) and reads back what the cluster reports, as :mod:`dockyard.kube.status`'s
values, which map onto the statuses the local backend reports.
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
