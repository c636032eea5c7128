"""The registry, ECR's API shapes: repositories, images, lifecycle policies, scans, logins.

Repository names contain slashes (``models/iris``), so they travel as the
``repository`` query parameter rather than in the path. Pushes and pulls between the
engine and the registry stream their progress as JSON lines, like builds.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from starlette.responses import StreamingResponse

from dockyard.server.deps import PlatformDep
from dockyard.server.registry import operations, repositories, transfer
from dockyard.server.registry.reconciler import apply_lifecycle
from dockyard.server.registry.repositories import describe_image, describe_repository
from dockyard.server.streaming import ndjson

router = APIRouter(tags=["registry"])

Repository = Annotated[str, Query(description="Repository name, e.g. models/iris.")]


@router.post("/repositories", status_code=201)
def create_repository(
    platform: PlatformDep,
    request: dict[str, Any] = Body(..., description="A CreateRepository request."),  # noqa: B008
) -> dict[str, Any]:
    record = operations.create_repository(platform.store, request, platform.clock())
    platform.wake("registry", record.name)
    return {"repository": describe_repository(platform, record)}


@router.get("/repositories")
def list_repositories(platform: PlatformDep) -> dict[str, Any]:
    records = platform.store.repositories.list()
    return {"repositories": [describe_repository(platform, r) for r in records]}


@router.delete("/repositories")
def delete_repository(
    platform: PlatformDep, repository: Repository, force: bool = False
) -> dict[str, Any]:
    """DeleteRepository: refused while it holds images, unless ``force``."""
    record = repositories.delete_repository(platform, repository, force=force)
    return {"repository": describe_repository(platform, record)}


@router.get("/images")
def list_images(platform: PlatformDep, repository: Repository) -> dict[str, Any]:
    """DescribeImages: newest push first."""
    found = operations.images(platform.store, repository)
    return {"imageDetails": [describe_image(image) for image in found]}


@router.put("/lifecycle-policy")
def put_lifecycle_policy(
    platform: PlatformDep,
    repository: Repository,
    policy: dict[str, Any] = Body(..., description="An ECR lifecycle policy."),  # noqa: B008
) -> dict[str, Any]:
    text = json.dumps(policy, indent=2)
    record = operations.put_lifecycle_policy(platform.store, repository, text)
    platform.wake("registry", repository)
    return {"repositoryName": record.name, "lifecyclePolicyText": text}


@router.post("/lifecycle-policy/preview")
def preview_lifecycle_policy(
    platform: PlatformDep,
    repository: Repository,
    policy: dict[str, Any] | None = Body(default=None),  # noqa: B008
) -> dict[str, Any]:
    """GetLifecyclePolicyPreview: what the policy (given, or the repository's) expires now."""
    text = json.dumps(policy) if policy is not None else None
    preview = operations.lifecycle_preview(platform.store, repository, platform.clock(), text)
    return {
        "repositoryName": repository,
        "status": "COMPLETE",
        "previewResults": preview.aws_results(),
        "summary": {"expiringImageTotalCount": len(preview.expiring)},
        "decisions": [
            {
                "imageDigest": d.image.digest,
                "imageTags": list(d.image.tags),
                "action": d.action.value,
                "appliedRulePriority": d.rule_priority,
                "reason": d.reason,
            }
            for d in preview.decisions
        ],
    }


@router.post("/lifecycle-policy/apply")
def apply_lifecycle_policy(platform: PlatformDep, repository: Repository) -> dict[str, Any]:
    """Apply the repository's lifecycle policy now (it also runs on a schedule)."""
    repositories.handles(platform)
    record = operations.repository(platform.store, repository)
    expired = apply_lifecycle(platform, record, platform.clock())
    return {"repositoryName": repository, "expiredImageDigests": expired}


@router.post("/scans", status_code=202)
def start_scan(platform: PlatformDep, repository: Repository, reference: str) -> dict[str, Any]:
    """StartImageScan: queue a scan of the image (tag or digest)."""
    return repositories.start_scan(platform, repository, reference)


@router.get("/scans")
def scan_findings(platform: PlatformDep, repository: Repository, reference: str) -> dict[str, Any]:
    """DescribeImageScanFindings."""
    return repositories.scan_findings(platform, repository, reference)


@router.post("/registry/login")
def login(platform: PlatformDep) -> dict[str, Any]:
    """GetAuthorizationToken: a short-lived password for ``docker login -u AWS``."""
    return {"authorizationData": [repositories.login(platform)]}


@router.post("/registry/push", response_class=StreamingResponse)
def push(platform: PlatformDep, image: str, repository: Repository, tag: str) -> StreamingResponse:
    """Push a local engine image to ``repository:tag``; progress lines, then the result."""
    handles = repositories.handles(platform)
    return ndjson(lambda say: transfer.push(platform, handles, image, repository, tag, say))


@router.post("/registry/pull", response_class=StreamingResponse)
def pull(platform: PlatformDep, repository: Repository, reference: str) -> StreamingResponse:
    """Pull ``repository:reference`` into the engine (tagged ``repository:tag`` locally too)."""
    handles = repositories.handles(platform)
    return ndjson(lambda say: transfer.pull(platform, handles, repository, reference, say))


@router.post("/registry/gc")
def garbage_collect(platform: PlatformDep) -> dict[str, Any]:
    """Free the blobs no manifest references (pulls go on; pushes wait meanwhile)."""
    report = repositories.handles(platform).process.garbage_collect(delete_untagged=False)
    return {
        "BytesBefore": report.bytes_before,
        "BytesAfter": report.bytes_after,
        "FreedBytes": report.freed_bytes,
        "Seconds": report.seconds,
    }
