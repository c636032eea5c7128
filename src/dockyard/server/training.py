"""Training jobs: one run-to-completion task per host, artifacts to the store.

The API side (``create``, ``stop``, ``describe``) validates and records; the
reconcile side (:class:`TrainingReconciler`) observes the hosts through the run
facility (:class:`~dockyard.server.runs.Runs`), gathers what else is true (staged
inputs, uploaded artifacts, failure files) and executes what
:func:`dockyard.control.training.plan_training` decides. Host containers share a
private network on which they resolve each other as algo-1..N; their output is
captured by the run facility, so it outlives the containers and a restarted daemon.
In a job of several hosts each host's name is held by a namespace holder that its
container joins (:mod:`dockyard.server.task_network`), so a host that finished first
still resolves for its peers; the holders go when the job's hosts are reaped.

Before the hosts start, each gets its own writable copy of the code and of its share of
every channel, and the checkpoints stored at CheckpointConfig.S3Uri; while they train
and after they end, what they write to LocalPath is saved back there
(:mod:`dockyard.server.training_checkpoints`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from dockyard.control.training import (
    LaunchHost,
    PrepareInputs,
    SaveCheckpoints,
    StopHost,
    TrainingAction,
    TrainingJobSummary,
    TrainingObservation,
    UploadArtifacts,
    plan_training,
)
from dockyard.control.training_channels import channel_infos
from dockyard.control.training_contract import TrainingHostConfig, hyperparameters_json
from dockyard.control.training_status import new_training_job
from dockyard.errors import Conflict, DockyardError
from dockyard.ports.metrics import MetricStore
from dockyard.records.placement import Placement
from dockyard.records.task import TaskRecord
from dockyard.records.training import TrainingJobRecord
from dockyard.server import training_metrics
from dockyard.server.aws_framework_images import stand_in_note
from dockyard.server.image_lookup import image_here
from dockyard.server.platform import Platform
from dockyard.server.registry import transfer
from dockyard.server.runs import Runs
from dockyard.server.training_checkpoints import CheckpointLocation
from dockyard.server.training_files import JobLayout, split_script_mode
from dockyard.spec.task_definition import TaskDefinition, parse_task_definition
from dockyard.spec.training_job import (
    DEFAULT_CHECKPOINT_PATH,
    TrainingJobSpec,
    parse_training_job,
)

log = logging.getLogger("dockyard.training")

KIND = TrainingJobRecord.KIND
CONTAINER = "training"
TRAIN_STOP_TIMEOUT_S = 120  # SIGTERM, then SIGKILL after 120 s (the training contract)
ACTIVE_REQUEUE_S = 0.25
CHECKPOINT_SAVE_S = 5.0  # how often a training job's checkpoints are saved to S3Uri


def network_of(name: str) -> str:
    return f"dockyard-train-{name}"


# -- the API side ---------------------------------------------------------------------------


def create(platform: Platform, request: dict[str, Any]) -> dict[str, Any]:
    """CreateTrainingJob: validate everything (inputs included), then record the job."""
    spec = parse_training_job(request)
    name = spec.training_job_name
    if platform.store.training_jobs.get(name) is not None:
        raise Conflict(
            f"a training job named {name!r} already exists",
            resource=f"training-job/{name}",
            hint="training job names are unique: choose another name",
        )
    inputs = platform.inputs
    script = split_script_mode(
        spec.hyper_parameters, lambda text, field: inputs.data(text, field).path
    )
    channels = {}
    for index, channel in enumerate(spec.input_data_config):
        source = channel.data_source.s3_data_source
        assert source is not None  # the spec requires it
        field = f"InputDataConfig[{index}].DataSource.S3DataSource.S3Uri"
        channels[channel.channel_name] = inputs.data(source.s3_uri, field).path
    if spec.checkpoint_config is not None:
        CheckpointLocation(spec.checkpoint_config.s3_uri, platform.artifacts)  # refuses a bad one
    image = spec.algorithm_specification.training_image
    field = "AlgorithmSpecification.TrainingImage"
    runs = image
    if image:
        runs, _ = image_here(
            platform, image, field, hint="build it (`dockyard build`) or use --framework sklearn"
        )
    image_ref = runs if runs != image else None  # AWS's framework image, stood in for
    if runs and platform.engine.nodes_pull_images:
        image_ref = transfer.node_reference(platform, runs, field)
    record = TrainingJobRecord(
        spec=spec,
        state=new_training_job(platform.clock()),
        script=script,
        channels=channels,
        image_ref=image_ref,
    )
    platform.store.training_jobs.create(record)
    platform.store.add_event(KIND, name, f"created with image {image}")
    if image and runs != image:
        platform.store.add_event(KIND, name, stand_in_note(image, runs))
    platform.wake(KIND, name)
    return describe(platform.store.training_jobs.require(name), platform.store.metrics)


def stop(platform: Platform, name: str) -> dict[str, Any]:
    """StopTrainingJob: SIGTERM to every host, SIGKILL after 120 s; the job ends Stopped."""
    with platform.store.transaction():
        record = platform.store.training_jobs.require(name)
        platform.store.training_jobs.put(replace(record, stop_requested=True))
    platform.store.add_event(KIND, name, "stop requested")
    platform.wake(KIND, name)
    return describe(platform.store.training_jobs.require(name), platform.store.metrics)


def describe(record: TrainingJobRecord, metrics: MetricStore | None = None) -> dict[str, Any]:
    """DescribeTrainingJob's shape (times as epoch seconds).

    With ``metrics``, a job that has ended carries ``FinalMetricDataList``: the last
    value of each of its MetricDefinitions (as SageMaker sets it when a job ends).
    """
    state = record.state
    described: dict[str, Any] = {
        **record.spec.to_aws(),
        "TrainingJobStatus": state.status,
        "SecondaryStatus": state.secondary_status,
        "CreationTime": state.created_at,
        "LastModifiedTime": state.last_modified_at,
        "TrainingStartTime": state.training_started_at,
        "TrainingEndTime": state.training_ended_at,
        "SecondaryStatusTransitions": [
            {
                "Status": t.status,
                "StartTime": t.start_time,
                "EndTime": t.end_time,
                "StatusMessage": t.message,
            }
            for t in state.transitions
        ],
    }
    if state.failure_reason:
        described["FailureReason"] = state.failure_reason
    if record.model_artifact:
        described["ModelArtifacts"] = {"S3ModelArtifacts": record.model_artifact}
    if record.output_artifact:
        described["OutputDataArtifacts"] = record.output_artifact
    if metrics is not None and state.is_terminal:
        final = training_metrics.final_metric_data(metrics, record.name)
        if final:
            described["FinalMetricDataList"] = final
    return described


def log_lines(platform: Platform, runs: Runs, name: str, follow: bool) -> Iterator[dict[str, Any]]:
    """Every host's log lines, then (when following) until the job has ended."""
    record = platform.store.training_jobs.require(name)

    def status() -> tuple[str, bool]:
        job = platform.store.training_jobs.require(name)
        return f"{job.state.status} [{job.state.secondary_status}]", job.done

    ended = record.state.is_terminal
    yield from runs.log_lines(
        record.as_owner, record.spec.hosts, CONTAINER, follow, status, ended=ended
    )


# -- the reconcile side ---------------------------------------------------------------------


@dataclass(frozen=True)
class _JobPass:
    """What one reconcile of a training job knows while it executes the plan."""

    record: TrainingJobRecord
    layout: JobLayout
    hosts: dict[str, TaskRecord]
    now: float


class TrainingReconciler:
    kind = KIND

    def __init__(self, platform: Platform, runs: Runs) -> None:
        self.platform = platform
        self.runs = runs
        self.jobs_root = platform.settings.state_dir / "jobs"

    def keys(self) -> list[str]:
        return [r.name for r in self.platform.store.training_jobs.list() if not r.done]

    def reconcile(self, key: str, now: float) -> float | None:
        record = self.platform.store.training_jobs.get(key)
        if record is None or record.done:
            return None
        spec = record.spec
        layout = JobLayout(self.jobs_root, key)
        watch = training_metrics.watchers(self.platform.store.metrics, record)
        hosts = self.runs.step(record.as_owner, now, watch)
        observed = TrainingObservation(
            hosts={host: r.task for host, r in hosts.items()},
            inputs_ready=record.inputs_ready,
            artifacts_uploaded=record.artifacts_uploaded,
            stop_requested=record.stop_requested,
            failure_texts={
                host: text for host in spec.hosts if (text := layout.failure_reason(host))
            },
            platform_error=record.platform_error,
            checkpoints_saved_at=record.checkpoints_saved_at,
            checkpoints_final=record.checkpoints_final,
        )
        summary = TrainingJobSummary(
            spec.hosts,
            float(spec.max_runtime_s),
            CHECKPOINT_SAVE_S if spec.checkpoint_config is not None else None,
        )
        plan = plan_training(summary, record.state, observed, now)
        job = _JobPass(record, layout, hosts, now)
        updated = replace(record, state=plan.state)
        for action in plan.actions:
            updated = self._execute(action, job, updated)
        if plan.state.secondary_status != record.state.secondary_status:
            self.platform.store.add_event(
                KIND, key, f"{plan.state.status} [{plan.state.secondary_status}]"
            )
        if plan.done and self.runs.reap(record.as_owner, result_collected=True):
            self._remove_network(key)
            layout.discard_inputs(spec.hosts)
            updated = replace(updated, done=True)
        self._save(record, updated)
        if updated.done:
            return None
        # hosts are watched closely: an exit is the job's next step
        return now + ACTIVE_REQUEUE_S

    def _save(self, before: TrainingJobRecord, after: TrainingJobRecord) -> None:
        """Store what this pass did, keeping a stop the API requested meanwhile."""
        if after == before:
            return
        with self.platform.store.transaction():
            current = self.platform.store.training_jobs.get(before.name)
            stop = current is not None and current.stop_requested
            self.platform.store.training_jobs.put(
                replace(after, stop_requested=after.stop_requested or stop)
            )

    def _execute(
        self, action: TrainingAction, job: _JobPass, record: TrainingJobRecord
    ) -> TrainingJobRecord:
        if isinstance(action, SaveCheckpoints):
            return self._save_checkpoints(record, job, action.final)
        try:
            if isinstance(action, PrepareInputs):
                self._prepare(record, job.layout)
                return replace(record, inputs_ready=True)
            if isinstance(action, LaunchHost):
                self._launch(record, job.layout, action.host, job.now)
            elif isinstance(action, StopHost) and action.host in job.hosts:
                self.runs.stop(job.hosts[action.host], action.stop_code, action.reason, job.now)
            elif isinstance(action, UploadArtifacts):
                spec = record.spec
                model_uri, output_uri = job.layout.upload(
                    list(spec.hosts),
                    spec.output_data_config.s3_output_path,
                    spec.training_job_name,
                    self.platform.artifacts,
                )
                return replace(
                    record,
                    model_artifact=str(model_uri),
                    output_artifact=str(output_uri) if output_uri else None,
                    artifacts_uploaded=True,
                )
        except (DockyardError, OSError) as error:
            log.warning("training job %s: %s failed: %s", record.name, type(action).__name__, error)
            return replace(record, platform_error=str(error))
        return record

    def _save_checkpoints(
        self, record: TrainingJobRecord, job: _JobPass, final: bool
    ) -> TrainingJobRecord:
        """Save the hosts' checkpoints; a failure is reported, never retried forever."""
        config = record.spec.checkpoint_config
        assert config is not None  # the plan saves only for jobs that have one
        hosts = sorted(record.spec.hosts, reverse=True)  # algo-1 last: its files win
        try:
            location = CheckpointLocation(config.s3_uri, self.platform.artifacts)
            saved = location.save([job.layout.checkpoint_dir(host) for host in hosts])
        except (DockyardError, OSError) as error:
            log.warning("training job %s: saving checkpoints failed: %s", record.name, error)
            self.platform.store.add_event(
                KIND, record.name, f"could not save checkpoints to {config.s3_uri}: {error}"
            )
        else:
            if saved:
                self.platform.store.add_event(
                    KIND, record.name, f"saved {saved} checkpoint file(s) to {config.s3_uri}"
                )
        return replace(
            record,
            checkpoints_saved_at=job.now,
            checkpoints_final=record.checkpoints_final or final,
        )

    def _prepare(self, record: TrainingJobRecord, layout: JobLayout) -> None:
        spec, script = record.spec, record.script
        hyperparameters = hyperparameters_json(
            dict(script.user_hyperparameters), script.program, script.container_submit_dir
        )
        data = {
            c.channel_name: (
                record.channels[c.channel_name],
                c.data_source.s3_data_source.s3_data_distribution_type
                if c.data_source.s3_data_source
                else "FullyReplicated",
            )
            for c in spec.input_data_config
        }
        checkpoints = (
            CheckpointLocation(spec.checkpoint_config.s3_uri, self.platform.artifacts)
            if spec.checkpoint_config is not None
            else None
        )
        channels = channel_infos(spec)
        for host in spec.hosts:
            layout.prepare_host(
                TrainingHostConfig(
                    current_host=host,
                    hosts=spec.hosts,
                    instance_type=spec.resource_config.instance_type,
                    hyperparameters=hyperparameters,
                    channels=channels,
                )
            )
            layout.stage_inputs(host, spec.hosts, script, data)
            if checkpoints is not None:
                checkpoints.restore(layout.checkpoint_dir(host))

    def _launch(self, record: TrainingJobRecord, layout: JobLayout, host: str, now: float) -> None:
        name = record.name
        placement = Placement(
            name_prefix=f"{name}-{host}",
            labels={"dockyard.training-job": name, "dockyard.host": host},
            network=network_of(name),
            hostnames={CONTAINER: host},
            extra_env={"TRAINING_JOB_NAME": name},
            extra_mounts={
                CONTAINER: tuple(layout.mounts(host, record.script, _checkpoint_path(record.spec)))
            },
            init=True,
            hold_names=len(record.spec.hosts) > 1,  # peers resolve it until the job ends
        )
        definition = _definition(record.spec, record.image_ref)
        self.runs.launch(record.as_owner, host, definition, placement, now)

    def _remove_network(self, name: str) -> None:
        with contextlib.suppress(DockyardError):
            self.platform.engine.remove_network(network_of(name))


def _definition(spec: TrainingJobSpec, image_ref: str | None = None) -> TaskDefinition:
    """A training host as a one-container task definition (the ``train`` argument),
    running ``image_ref`` where the job has one (its image as every node pulls it)."""
    algorithm = spec.algorithm_specification
    limits = spec.host_limits().clamped(float(os.cpu_count() or 1), _host_memory_mib())
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image_ref or algorithm.training_image,
        "command": list(algorithm.container_arguments or ["train"]),
        "essential": True,
        "environment": [{"name": k, "value": v} for k, v in sorted(spec.environment.items())],
        "stopTimeout": TRAIN_STOP_TIMEOUT_S,
    }
    if algorithm.container_entrypoint:
        container["entryPoint"] = list(algorithm.container_entrypoint)
    if limits.cpus:
        container["cpu"] = max(1, round(limits.cpus * 1024))
    if limits.memory_mib:
        container["memory"] = limits.memory_mib
    return parse_task_definition(
        {"family": f"training-{spec.training_job_name}", "containerDefinitions": [container]}
    )


def _checkpoint_path(spec: TrainingJobSpec) -> str:
    """Where the container finds its checkpoints: CheckpointConfig.LocalPath."""
    config = spec.checkpoint_config
    return config.local_path if config is not None else DEFAULT_CHECKPOINT_PATH


def _host_memory_mib() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
