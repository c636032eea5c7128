"""Kubernetes manifests of stored resources (``dockyard export kubernetes``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dockyard.server import kubernetes
from dockyard.server.deps import PlatformDep

router = APIRouter(tags=["kubernetes"])


@router.get("/kubernetes/manifests/{ref:path}")
def kubernetes_manifests(ref: str, platform: PlatformDep) -> dict[str, Any]:
    """The Kubernetes objects that run ``ref`` (NAME, or endpoint/, service/,
    training-job/ or task/ NAME), rendered from the stored records. Secrets carry
    no values: an export never holds a secret in clear."""
    return kubernetes.render(platform, ref).to_api()


@router.post("/kubernetes/apply/{ref:path}")
def kubernetes_apply(ref: str, platform: PlatformDep) -> dict[str, Any]:
    """Apply ``ref``'s objects to the cluster (``DOCKYARD_BACKEND=kubernetes``) with
    server-side apply, its secrets' values filled in from Dockyard's secret store for
    this request only; from then on the cluster runs it and its status is read back.
    409 when the daemon drives no cluster, naming the setting that makes it."""
    return kubernetes.apply(platform, ref).to_api()
