"""Training jobs: CreateTrainingJob / DescribeTrainingJob / ListTrainingJobs / Stop, logs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Body
from starlette.responses import StreamingResponse

from dockyard.server.deps import PlatformDep, ReconcilerDep

router = APIRouter(tags=["training jobs"])


@router.post("/training-jobs", status_code=201)
def create_training_job(
    platform: PlatformDep,
    reconciler: ReconcilerDep,
    request: dict[str, Any] = Body(..., description="A CreateTrainingJob request."),  # noqa: B008
) -> dict[str, Any]:
    """Start a training job (SageMaker's CreateTrainingJob shape)."""
    with platform.lock:
        return reconciler.training.create(request)


@router.get("/training-jobs")
def list_training_jobs(reconciler: ReconcilerDep) -> dict[str, Any]:
    return {"TrainingJobSummaries": reconciler.training.summaries()}


@router.get("/training-jobs/{name}")
def describe_training_job(name: str, reconciler: ReconcilerDep) -> dict[str, Any]:
    return reconciler.training.describe(name)


@router.post("/training-jobs/{name}/stop")
def stop_training_job(
    name: str, platform: PlatformDep, reconciler: ReconcilerDep
) -> dict[str, Any]:
    """SIGTERM to every host, SIGKILL after 120 s; the job ends Stopped."""
    with platform.lock:
        reconciler.training.stop(name)
    return reconciler.training.describe(name)


@router.get("/training-jobs/{name}/logs", response_class=StreamingResponse)
def training_job_logs(
    name: str, reconciler: ReconcilerDep, follow: bool = False
) -> StreamingResponse:
    """The hosts' output as JSON lines ``{host, line}``; with ``follow``, status lines too."""
    reconciler.training.describe(name)  # 404 before the stream starts

    def lines() -> Iterator[bytes]:
        for item in reconciler.training.log_lines(name, follow):
            yield (json.dumps(item) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")
