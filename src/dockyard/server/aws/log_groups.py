"""The log groups and streams CloudWatch Logs would hold for Dockyard's jobs.

SageMaker writes a training job's output to the group ``/aws/sagemaker/TrainingJobs``,
one stream per host named ``JOB/algo-N-EPOCH``, and a transform job's to
``/aws/sagemaker/TransformJobs`` (``JOB/INSTANCE-EPOCH``). Dockyard already copies
every run's output to files as it is written, each line with its time
(:func:`dockyard.server.run_logs.timed_lines`); this module names those copies the way
SageMaker names its streams, so ``logs`` clients (the SageMaker SDK's ``fit()``,
``aws logs tail``) read them unchanged. A stream appears once its host has written
output, as on AWS; the epoch in its name is the job's creation time, so the name
never changes while the job runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from dockyard.server.platform import Platform
from dockyard.server.run_logs import timed_lines
from dockyard.server.runs import log_path, logs_root, owner_logs
from dockyard.server.training import CONTAINER as TRAINING_CONTAINER

TRAINING_GROUP = "/aws/sagemaker/TrainingJobs"
TRANSFORM_GROUP = "/aws/sagemaker/TransformJobs"


@dataclass(frozen=True)
class LogStream:
    """One container's output in one run, under its CloudWatch name."""

    name: str
    created_ms: int
    path: Path

    def events(self) -> list[tuple[int, str]]:
        """``(timestamp ms, message)`` of every line so far, oldest first."""
        return timed_lines(self.path)


@dataclass(frozen=True)
class LogGroup:
    name: str
    created_ms: int
    list_streams: Callable[[], list[LogStream]]


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _training_streams(platform: Platform) -> list[LogStream]:
    root = logs_root(platform.settings)
    streams = []
    for record in platform.store.training_jobs.list():
        epoch = int(record.state.created_at)
        for host in record.spec.hosts:
            path = log_path(root, record.as_owner, host, TRAINING_CONTAINER)
            if path.exists():
                name = f"{record.name}/{host}-{epoch}"
                streams.append(LogStream(name, _ms(record.state.created_at), path))
    return streams


def _transform_streams(platform: Platform) -> list[LogStream]:
    root = logs_root(platform.settings)
    streams = []
    for record in platform.store.transform_jobs.list():
        epoch = int(record.state.created_at)
        # every replica's folder, whatever its containers are called
        replicas = owner_logs(root, record.as_owner).glob("*")
        for replica in sorted(p for p in replicas if p.is_dir()):
            logs = sorted(replica.glob("*.log"))
            for path in logs:
                suffix = f"/{path.stem}" if len(logs) > 1 else ""
                name = f"{record.name}/{replica.name}-{epoch}{suffix}"
                streams.append(LogStream(name, _ms(record.state.created_at), path))
    return streams


def _earliest_ms(created: Iterable[float]) -> int | None:
    times = list(created)
    return _ms(min(times)) if times else None


def log_groups(platform: Platform) -> list[LogGroup]:
    """Every group that exists now (one exists once a job of its kind does), by name."""
    groups = []
    training = _earliest_ms(r.state.created_at for r in platform.store.training_jobs.list())
    if training is not None:
        groups.append(LogGroup(TRAINING_GROUP, training, lambda: _training_streams(platform)))
    transform = _earliest_ms(r.state.created_at for r in platform.store.transform_jobs.list())
    if transform is not None:
        groups.append(LogGroup(TRANSFORM_GROUP, transform, lambda: _transform_streams(platform)))
    return sorted(groups, key=lambda group: group.name)
