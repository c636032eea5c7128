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
