"""Which backend runs a resource, and what its cluster last reported about it.

A record without a :class:`ClusterState` runs on this machine's engine (the local
backend). Applying a resource to a cluster sets one on its record: the objects
applied (``KIND/NAMESPACE/NAME``, what the read-back asks the cluster about), and, once
the daemon's sync has read them back, the replica counts and status the cluster
reports — what ``describe`` shows for the resource from then on.

Under ``DOCKYARD_BACKEND=kubernetes`` every endpoint, ECS service, training job and
standalone task is the cluster's; one without a ClusterState yet has not been applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOCAL = "local"


@dataclass(frozen=True)
class ClusterState:
    backend: str  # "kubernetes"
    applied_at: float
    objects: tuple[str, ...] = ()  # "Deployment/NAMESPACE/NAME", as applied
    observed_at: float | None = None
    desired: int = 0
    running: int = 0  # replicas available (pods running, for a Job)
    pending: int = 0
    status: str | None = None  # the Dockyard status the cluster's report maps to
    message: str | None = None  # why it is not where it should be (a failure reason)
    #: :func:`dockyard.kube.removal.digest` of the objects last applied (rendered without
    #: secret values): when the records render differently, the daemon applies again
    digest: str | None = None


def backend_of(record: Any) -> str:
    """``local``, or the backend named by the record's :class:`ClusterState`."""
    cluster: ClusterState | None = getattr(record, "cluster", None)
    return cluster.backend if cluster is not None else LOCAL
