"""Dockyard's records as Kubernetes objects (pure: no I/O, no client).

The Kubernetes backend runs the same endpoints, ECS services, tasks and training jobs
on a cluster instead of the local engine. This package only *renders*: it turns the
typed records the local backend stores (:mod:`dockyard.records`) into manifests —
plain dicts in the API's own field names, one per object — in a stable order, so an
export diffs cleanly and an apply is idempotent. Applying them and reading status
back is an adapter's job (:mod:`dockyard.adapters.cluster.kubernetes_api`); mapping
what the cluster reports back onto Dockyard's statuses is :mod:`dockyard.kube.status`.

Every shape is validated in the test suite against the real schemas of
:data:`KUBERNETES_VERSION` (``kubernetes-validate``).
"""

from __future__ import annotations

#: the Kubernetes minor version the manifests are written and validated for
KUBERNETES_VERSION = "1.34"
