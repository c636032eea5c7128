"""The cluster the daemon drives, chosen once at start from the settings.

``DOCKYARD_BACKEND=kubernetes`` needs a kubeconfig: ``DOCKYARD_KUBECONFIG``, else the
first file of the standard ``KUBECONFIG``. Dockyard never falls back to
``~/.kube/config`` on its own: talking to a cluster is something a user asks for.
Any other backend drives no cluster (None).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dockyard.errors import SpecError
from dockyard.ports.cluster import Cluster
from dockyard.settings import Settings

KUBERNETES = "kubernetes"


def kubeconfig_path(settings: Settings, environ: Mapping[str, str] = os.environ) -> Path | None:
    """``DOCKYARD_KUBECONFIG``, else the first entry of ``KUBECONFIG``, else None."""
    if settings.kubeconfig is not None:
        return settings.kubeconfig
    first = next((p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p), None)
    return Path(first) if first else None


def no_kubeconfig() -> SpecError:
    return SpecError(
        "DOCKYARD_BACKEND=kubernetes needs a kubeconfig, and none is configured",
        field="DOCKYARD_KUBECONFIG",
        hint="set DOCKYARD_KUBECONFIG (or KUBECONFIG) to your cluster's kubeconfig, or "
        "unset DOCKYARD_BACKEND to run workloads on this machine",
    )


def connect(settings: Settings, environ: Mapping[str, str] = os.environ) -> Cluster | None:
    """The cluster of ``settings.backend``, or None for a backend that drives none."""
    if settings.backend != KUBERNETES:
        return None
    path = kubeconfig_path(settings, environ)
    if path is None:
        raise no_kubeconfig()
    try:
        from dockyard.adapters.cluster.kubernetes_api import (  # noqa: PLC0415
            KubernetesCluster,
        )

        return KubernetesCluster.from_kubeconfig(path, settings.kube_context)
    except ModuleNotFoundError:
        raise SpecError(
            "DOCKYARD_BACKEND=kubernetes needs the `kubernetes` client, which is not installed",
            field="DOCKYARD_BACKEND",
            hint="pip install 'dockyard[kubernetes]'",
        ) from None
