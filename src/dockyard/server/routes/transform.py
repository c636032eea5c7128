"""Batch transform jobs: CreateTransformJob / DescribeTransformJob / ListTransformJobs / Stop."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from dockyard.server import transform
from dockyard.server.deps import PlatformDep

router = APIRouter(tags=["transform jobs"])


@router.post("/transform-jobs", status_code=201)
def create_transform_job(
    platform: PlatformDep,
    request: dict[str, Any] = Body(..., description="A CreateTransformJob request."),  # noqa: B008
) -> dict[str, Any]:
    """Start a batch transform job (SageMaker's CreateTransformJob shape; ``Container``,
    a ContainerDefinition, may stand in for a model made with CreateModel)."""
    return transform.create(platform, request)


@router.get("/transform-jobs")
def list_transform_jobs(platform: PlatformDep) -> dict[str, Any]:
    jobs = platform.store.transform_jobs.list()
    return {"TransformJobSummaries": [transform.summary(job) for job in jobs]}


@router.get("/transform-jobs/{name}")
def describe_transform_job(name: str, platform: PlatformDep) -> dict[str, Any]:
    return transform.describe(platform.store.transform_jobs.require(name))


@router.post("/transform-jobs/{name}/stop")
def stop_transform_job(name: str, platform: PlatformDep) -> dict[str, Any]:
    """The driver halts, the replicas get SIGTERM; the job ends Stopped."""
    return transform.stop(platform, name)
