"""The log groups and streams CloudWatch Logs would hold for what Dockyard runs.

Named as AWS names them, so ``logs`` clients (the SageMaker SDK's ``fit()``, ``aws
logs filter-log-events``) read them unchanged:

* **training jobs**: ``/aws/sagemaker/TrainingJobs``, one stream per host,
  ``JOB/algo-N-EPOCH``; **transform jobs**: ``/aws/sagemaker/TransformJobs``,
  ``JOB/replica-N-EPOCH``. Dockyard copies these runs' output to files as it is
  written, each line with its time (:func:`dockyard.server.run_logs.timed_lines`); the
  epoch is the job's creation, so a stream's name never changes while the job runs.
* **endpoints**: ``/aws/sagemaker/Endpoints/NAME``, one stream per replica,
  ``VARIANT/TASK-ID`` (AWS: ``VARIANT/INSTANCE-ID``), read from the engine while the
  replica runs, then from the tail Dockyard keeps of a stopped one.
* **ECS tasks** whose container has ``logConfiguration`` ``awslogs``: the group its
  ``awslogs-group`` option names, one stream per container, ``PREFIX/CONTAINER/TASK-ID``
  (ECS's form with ``awslogs-stream-prefix``), or ``CONTAINER/TASK-ID`` without one.

A stream appears once its container has run, as on AWS. Kept tails carry no line
times: their lines take the time the tail was kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from dockyard.records.endpoint import EndpointRecord
from dockyard.records.service import service_tasks_owner
from dockyard.server.containers import CONTAINER_LABEL, OWNER_LABEL, TASK_LABEL
from dockyard.server.platform import Platform
from dockyard.server.run_logs import engine_lines, timed_lines
from dockyard.server.runs import log_path, logs_root, owner_logs
from dockyard.server.task_output import kept_files, output_root
from dockyard.server.training import CONTAINER as TRAINING_CONTAINER

TRAINING_GROUP = "/aws/sagemaker/TrainingJobs"
TRANSFORM_GROUP = "/aws/sagemaker/TransformJobs"
ENDPOINT_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
AWSLOGS = "awslogs"

Events = list[tuple[int, str]]


@dataclass(frozen=True)
class LogStream:
    """One container's output, under its CloudWatch name."""

    name: str
    created_ms: int
    read: Callable[[], Events]

    def events(self) -> Events:
        """``(timestamp ms, message)`` of every line so far, oldest first."""
        return self.read()


@dataclass(frozen=True)
class LogGroup:
    name: str
    created_ms: int
    list_streams: Callable[[], list[LogStream]]


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _file(path: Path) -> Callable[[], Events]:
    return lambda: timed_lines(path)


# -- jobs: the runs' output copies ------------------------------------------------------------


def _training_streams(platform: Platform) -> list[LogStream]:
    root = logs_root(platform.settings)
    streams = []
    for record in platform.store.training_jobs.list():
        epoch = int(record.state.created_at)
        for host in record.spec.hosts:
            path = log_path(root, record.as_owner, host, TRAINING_CONTAINER)
            if path.exists():
                name = f"{record.name}/{host}-{epoch}"
                streams.append(LogStream(name, _ms(record.state.created_at), _file(path)))
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
                streams.append(LogStream(name, _ms(record.state.created_at), _file(path)))
    return streams


# -- services' tasks: the engine while they run, the kept tail after --------------------------

#: a container's stream name from (task id, container name); None: not in this group
Namer = Callable[[str, str], str | None]


def _task_streams(
    platform: Platform, owner: str, created_ms: int, name_of: Namer
) -> list[LogStream]:
    """The streams of ``owner``'s tasks: each container the engine has, then the tails
    kept of removed ones (a name seen live is not listed twice)."""
    engine = platform.engine
    streams: dict[str, LogStream] = {}
    for state in engine.list({OWNER_LABEL: owner}):
        task_id, container = state.labels.get(TASK_LABEL), state.labels.get(CONTAINER_LABEL)
        name = name_of(task_id, container) if task_id and container else None
        if name is not None:
            read = functools.partial(engine_lines, engine, state.id)
            streams[name] = LogStream(name, created_ms, read)
    for task_id, container, path in kept_files(output_root(platform.settings), owner):
        name = name_of(task_id, container)
        if name is not None and name not in streams:
            streams[name] = LogStream(name, created_ms, _file(path))
    return list(streams.values())


def _replica_stream(variant: str, task_id: str, _container: str) -> str:
    return f"{variant}/{task_id}"


def _endpoint_group(platform: Platform, record: EndpointRecord) -> LogGroup:
    created = _ms(record.created_at)

    def streams() -> list[LogStream]:
        found = []
        for variant in (*record.variants, *record.retired):
            owner = service_tasks_owner(variant.service_name)
            name_of = functools.partial(_replica_stream, variant.variant_name)
            found += _task_streams(platform, owner, created, name_of)
        return found

    return LogGroup(f"{ENDPOINT_GROUP_PREFIX}{record.name}", created, streams)


@dataclass(frozen=True)
class _AwsLogsRoute:
    """Where one ECS service's containers log: stream prefix by container name."""

    service_owner: str
    created_ms: int
    prefixes: dict[str, str]

    def name_of(self, task_id: str, container: str) -> str | None:
        if container not in self.prefixes:
            return None
        prefix = self.prefixes[container]
        return f"{prefix}/{container}/{task_id}" if prefix else f"{container}/{task_id}"

    def streams(self, platform: Platform) -> list[LogStream]:
        return _task_streams(platform, self.service_owner, self.created_ms, self.name_of)


def _awslogs_routes(platform: Platform) -> dict[str, list[_AwsLogsRoute]]:
    """By ``awslogs-group``: the ECS services whose current task definition logs there."""
    routes: dict[str, list[_AwsLogsRoute]] = {}
    for service in platform.store.services.list():
        record = platform.store.task_definitions.get(service.state.revision)
        if record is None or service.ecs is None:  # endpoint variants have no awslogs
            continue
        groups: dict[str, dict[str, str]] = {}
        for container in record.registered.definition.container_definitions:
            config = container.log_configuration
            group = config.options.get("awslogs-group") if config is not None else None
            if config is not None and config.log_driver == AWSLOGS and group:
                prefix = config.options.get("awslogs-stream-prefix", "")
                groups.setdefault(group, {})[container.name] = prefix
        created = _ms(service.ecs.created_at)
        for group, prefixes in groups.items():
            routes.setdefault(group, []).append(
                _AwsLogsRoute(service.tasks_owner, created, prefixes)
            )
    return routes


def _awslogs_groups(platform: Platform) -> list[LogGroup]:
    groups = []
    for name, routes in _awslogs_routes(platform).items():

        def streams(routes: list[_AwsLogsRoute] = routes) -> list[LogStream]:
            return [stream for route in routes for stream in route.streams(platform)]

        groups.append(LogGroup(name, min(r.created_ms for r in routes), streams))
    return groups


def _earliest_ms(created: Iterable[float]) -> int | None:
    times = list(created)
    return _ms(min(times)) if times else None


def log_groups(platform: Platform) -> list[LogGroup]:
    """Every group that exists now, by name (a job group once a job of its kind does)."""
    groups = []
    training = _earliest_ms(r.state.created_at for r in platform.store.training_jobs.list())
    if training is not None:
        groups.append(LogGroup(TRAINING_GROUP, training, lambda: _training_streams(platform)))
    transform = _earliest_ms(r.state.created_at for r in platform.store.transform_jobs.list())
    if transform is not None:
        groups.append(LogGroup(TRANSFORM_GROUP, transform, lambda: _transform_streams(platform)))
    groups += [_endpoint_group(platform, record) for record in platform.store.endpoints.list()]
    groups += _awslogs_groups(platform)
    return sorted(groups, key=lambda group: group.name)
