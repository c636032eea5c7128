"""Training jobs: CreateTrainingJob / DescribeTrainingJob / ListTrainingJobs / Stop, logs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Body
from starlette.responses import StreamingResponse

from dockyard.server import training, training_metrics
from dockyard.server.deps import ControlPlaneDep, PlatformDep

router = APIRouter(tags=["training jobs"])


@router.post("/training-jobs", status_code=201)
def create_training_job(
    platform: PlatformDep,
    request: dict[str, Any] = Body(..., description="A CreateTrainingJob request."),  # noqa: B008
) -> dict[str, Any]:
    """Start a training job (SageMaker's CreateTrainingJob shape)."""
    return training.create(platform, request)


@router.get("/training-jobs")
def list_training_jobs(platform: PlatformDep) -> dict[str, Any]:
    jobs = platform.store.training_jobs.list()
    return {
        "TrainingJobSummaries": [training.describe(job, platform.store.metrics) for job in jobs]
    }


@router.get("/training-jobs/{name}")
def describe_training_job(name: str, platform: PlatformDep) -> dict[str, Any]:
    return training.describe(platform.store.training_jobs.require(name), platform.store.metrics)


@router.get("/training-jobs/{name}/metrics")
def training_job_metrics(
    name: str, platform: PlatformDep, since: float | None = None
) -> dict[str, Any]:
    """The job's MetricDefinitions as series: one per metric and host, oldest point first."""
    platform.store.training_jobs.require(name)
    return {
        "TrainingJobName": name,
        "Metrics": training_metrics.metric_series(platform.store.metrics, name, since),
    }


@router.post("/training-jobs/{name}/stop")
def stop_training_job(name: str, platform: PlatformDep) -> dict[str, Any]:
    """SIGTERM to every host, SIGKILL after 120 s; the job ends Stopped."""
    return training.stop(platform, name)


@router.get("/training-jobs/{name}/logs", response_class=StreamingResponse)
def training_job_logs(
    name: str, platform: PlatformDep, control_plane: ControlPlaneDep, follow: bool = False
) -> StreamingResponse:
    """The hosts' output as JSON lines ``{host, line}``; with ``follow``, status lines too."""
    platform.store.training_jobs.require(name)  # 404 before the stream starts

    def lines() -> Iterator[bytes]:
        for item in training.log_lines(platform, control_plane.runs, name, follow):
            yield (json.dumps(item) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")
