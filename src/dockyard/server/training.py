"""Training jobs: one task per host, run to completion, artifacts to the store.

``create`` validates the CreateTrainingJob request and records the job; the
reconcile loop then calls :meth:`TrainingJobs.step`, which gathers what is true
(host tasks, staged inputs, uploaded artifacts, failure files) and executes what
:func:`dockyard.control.training.plan_training` decides. Host containers share a
private network on which they resolve each other as algo-1..N; their logs are
copied to files under the job's directory as they run, so they outlive the
containers and a restarted daemon.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.control.training import (
    LaunchHost,
    PrepareInputs,
    StopHost,
    TrainingJobSummary,
    TrainingObservation,
    UploadArtifacts,
    plan_training,
)
from dockyard.control.training_contract import (
    ChannelInfo,
    TrainingHostConfig,
    hyperparameters_json,
)
from dockyard.control.training_status import TrainingJobState, new_training_job
from dockyard.errors import Conflict, DockyardError, SpecError
from dockyard.server.codec import from_doc, to_doc
from dockyard.server.platform import Platform
from dockyard.server.tasks import Placement, TaskManager, TaskRecord
from dockyard.server.training_files import JobLayout, ScriptMode, local_path_of, split_script_mode
from dockyard.server.training_logs import LogCopier, read_lines
from dockyard.spec.task_definition import TaskDefinition, parse_task_definition
from dockyard.spec.training_job import TrainingJobSpec, parse_training_job

log = logging.getLogger("dockyard.training")

KIND = "training_job"
CONTAINER = "training"
TRAIN_STOP_TIMEOUT_S = 120  # SIGTERM, then SIGKILL after 120 s (the training contract)


def owner_of(name: str) -> str:
    return f"training-job/{name}"


def network_of(name: str) -> str:
    return f"dockyard-train-{name}"


@dataclass(frozen=True)
class _JobPass:
    """What one pass over a training job knows while it executes the plan."""

    doc: dict[str, Any]
    spec: TrainingJobSpec
    layout: JobLayout
    records: dict[str, TaskRecord]
    now: float


class TrainingJobs:
    def __init__(self, platform: Platform, tasks: TaskManager) -> None:
        self.platform = platform
        self.tasks = tasks
        self.jobs_root = platform.settings.state_dir / "jobs"
        self.logs = LogCopier(platform.engine)

    # API side ------------------------------------------------------------------

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        spec = parse_training_job(request)
        name = spec.training_job_name
        if self.platform.store.get(KIND, name) is not None:
            raise Conflict(
                f"a training job named {name!r} already exists",
                resource=f"training-job/{name}",
                hint="training job names are unique: choose another name",
            )
        script = split_script_mode(spec.hyper_parameters)
        self._channels(spec)  # every channel must exist before anything is recorded
        image = spec.algorithm_specification.training_image
        if image and self.platform.engine.image(image) is None:
            raise SpecError(
                f"training image {image} is not on this machine",
                field="AlgorithmSpecification.TrainingImage",
                hint="build it (`dockyard build`) or use --framework sklearn",
            )
        state = new_training_job(time.time())
        self.platform.store.create(
            KIND,
            name,
            {
                "spec": spec.to_aws(),
                "state": to_doc(state),
                "script": script.__dict__ | {"host_code_dir": str(script.host_code_dir or "")},
                "inputs_ready": False,
                "artifacts_uploaded": False,
                "stop_requested": False,
                "platform_error": None,
                "artifacts": {},
            },
        )
        self.platform.store.add_event(KIND, name, f"created with image {image}")
        self.platform.wake.set()
        return self.describe(name)

    def stop(self, name: str) -> None:
        doc = self.platform.store.require(KIND, name)
        doc["stop_requested"] = True
        self.platform.store.put(KIND, name, doc)
        self.platform.store.add_event(KIND, name, "stop requested")
        self.platform.wake.set()

    def describe(self, name: str) -> dict[str, Any]:
        doc = self.platform.store.require(KIND, name)
        return _describe(doc)

    def summaries(self) -> list[dict[str, Any]]:
        return [_describe(doc) for doc in self.platform.store.list(KIND)]

    # reconcile side ------------------------------------------------------------

    def active(self) -> list[str]:
        return [
            doc["spec"]["TrainingJobName"]
            for doc in self.platform.store.list(KIND)
            if not doc.get("done")
        ]

    def step(self, name: str, now: float) -> float | None:
        doc = self.platform.store.require(KIND, name)
        spec = parse_training_job(doc["spec"])
        layout = JobLayout(self.jobs_root, name)
        records = {
            r.placement.hostnames.get(CONTAINER, ""): r for r in self.tasks.records(owner_of(name))
        }
        records = {host: self.tasks.step(r, now) for host, r in records.items()}
        for host, record in records.items():
            self._follow_logs(record, layout.log_path(host))
        observed = TrainingObservation(
            hosts={host: r.task for host, r in records.items()},
            inputs_ready=doc["inputs_ready"],
            artifacts_uploaded=doc["artifacts_uploaded"],
            stop_requested=doc["stop_requested"],
            failure_texts={
                host: text for host in spec.hosts if (text := layout.failure_reason(host))
            },
            platform_error=doc["platform_error"],
        )
        state = from_doc(TrainingJobState, doc["state"])
        plan = plan_training(
            TrainingJobSummary(spec.hosts, float(spec.max_runtime_s)), state, observed, now
        )
        job = _JobPass(doc, spec, layout, records, now)
        for action in plan.actions:
            self._execute(action, job)
        if plan.state != state:
            if plan.state.secondary_status != state.secondary_status:
                self.platform.store.add_event(
                    KIND, name, f"{plan.state.status} [{plan.state.secondary_status}]"
                )
            doc["state"] = to_doc(plan.state)
        if plan.done:
            for record in records.values():
                self.tasks.reap(record)
            self._remove_network(name)
            doc["done"] = True
        self.platform.store.put(KIND, name, doc)
        return plan.next_check_at

    def _execute(self, action: object, job: _JobPass) -> None:
        doc, spec, layout, records, now = job.doc, job.spec, job.layout, job.records, job.now
        try:
            if isinstance(action, PrepareInputs):
                self._prepare(spec, doc, layout)
                doc["inputs_ready"] = True
            elif isinstance(action, LaunchHost):
                self._launch(spec, doc, layout, action.host, now)
            elif isinstance(action, StopHost) and action.host in records:
                self.tasks.request_stop(records[action.host], action.stop_code, action.reason, now)
            elif isinstance(action, UploadArtifacts):
                model_uri, output_uri = layout.upload(
                    list(spec.hosts),
                    spec.output_data_config.s3_output_path,
                    spec.training_job_name,
                    self.platform.artifacts,
                )
                doc["artifacts"] = {
                    "model": str(model_uri),
                    "output": str(output_uri) if output_uri else None,
                }
                doc["artifacts_uploaded"] = True
        except DockyardError as error:
            doc["platform_error"] = str(error)
            log.warning(
                "training job %s: %s failed: %s",
                spec.training_job_name,
                type(action).__name__,
                error,
            )

    # actions -------------------------------------------------------------------

    def _channels(self, spec: TrainingJobSpec) -> dict[str, Path]:
        channels = {}
        for index, channel in enumerate(spec.input_data_config):
            source = channel.data_source.s3_data_source
            assert source is not None  # the spec requires it
            field = f"InputDataConfig[{index}].DataSource.S3DataSource.S3Uri"
            if source.s3_uri.startswith("s3://"):
                path = self.platform.settings.artifacts_dir / source.s3_uri.removeprefix("s3://")
                if not path.exists():
                    raise SpecError(
                        f"nothing in the artifact store at {source.s3_uri}",
                        field=field,
                        hint="upload the data there, or use a file:///absolute/path channel",
                    )
                channels[channel.channel_name] = path
            else:
                channels[channel.channel_name] = local_path_of(source.s3_uri, field)
        return channels

    def _prepare(self, spec: TrainingJobSpec, doc: dict[str, Any], layout: JobLayout) -> None:
        script = _script(doc)
        hyperparameters = hyperparameters_json(
            script.user_hyperparameters, script.program, script.container_submit_dir
        )
        channels = {
            c.channel_name: ChannelInfo(
                content_type=c.content_type,
                input_mode=spec.input_mode(c),
                s3_distribution_type=c.data_source.s3_data_source.s3_data_distribution_type
                if c.data_source.s3_data_source
                else "FullyReplicated",
                record_wrapper_type=c.record_wrapper_type or "None",
            )
            for c in spec.input_data_config
        }
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

    def _launch(
        self, spec: TrainingJobSpec, doc: dict[str, Any], layout: JobLayout, host: str, now: float
    ) -> None:
        name = spec.training_job_name
        placement = Placement(
            name_prefix=f"{name}-{host}",
            labels={"dockyard.training-job": name, "dockyard.host": host},
            network=network_of(name),
            hostnames={CONTAINER: host},
            extra_env={"TRAINING_JOB_NAME": name},
            extra_mounts={
                CONTAINER: tuple(layout.mounts(host, self._channels(spec), _script(doc)))
            },
            init=True,
        )
        self.tasks.create(
            owner_of(name),
            _definition(spec),
            f"training-{name}:1",
            placement,
            now=now,
        )

    def _remove_network(self, name: str) -> None:
        with contextlib.suppress(DockyardError):
            self.platform.engine.remove_network(network_of(name))

    # logs ----------------------------------------------------------------------

    def _follow_logs(self, record: TaskRecord, path: Path) -> None:
        """Copy a host container's output to its log file while it runs."""
        seen = self.tasks.observe(record.task.task_id).get(CONTAINER)
        if seen is not None:
            self.logs.follow(record.task.task_id, seen.id, path)

    def log_lines(self, name: str, follow: bool) -> Iterator[dict[str, Any]]:
        """Every host's log lines, then (when following) until the job has ended."""
        doc = self.platform.store.require(KIND, name)
        layout = JobLayout(self.jobs_root, name)
        hosts = parse_training_job(doc["spec"]).hosts

        def status() -> tuple[str, bool]:
            current = self.platform.store.require(KIND, name)
            state = current["state"]
            return f"{state['status']} [{state['secondary_status']}]", bool(current.get("done"))

        yield from read_lines({h: layout.log_path(h) for h in hosts}, follow, status)


def _script(doc: dict[str, Any]) -> ScriptMode:
    saved = doc["script"]
    return ScriptMode(
        user_hyperparameters=saved["user_hyperparameters"],
        program=saved["program"],
        container_submit_dir=saved["container_submit_dir"],
        host_code_dir=Path(saved["host_code_dir"]) if saved["host_code_dir"] else None,
    )


def _definition(spec: TrainingJobSpec) -> TaskDefinition:
    """A training host as a one-container task definition (the ``train`` argument)."""
    algorithm = spec.algorithm_specification
    limits = spec.host_limits().clamped(float(os.cpu_count() or 1), _host_memory_mib())
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": algorithm.training_image,
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


def _host_memory_mib() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)


def _describe(doc: dict[str, Any]) -> dict[str, Any]:
    """DescribeTrainingJob's shape (times as epoch seconds)."""
    spec = doc["spec"]
    state = doc["state"]
    described: dict[str, Any] = {
        **spec,
        "TrainingJobStatus": state["status"],
        "SecondaryStatus": state["secondary_status"],
        "CreationTime": state["created_at"],
        "LastModifiedTime": state["last_modified_at"],
        "TrainingStartTime": state["training_started_at"],
        "TrainingEndTime": state["training_ended_at"],
        "SecondaryStatusTransitions": [
            {
                "Status": t["status"],
                "StartTime": t["start_time"],
                "EndTime": t["end_time"],
                "StatusMessage": t["message"],
            }
            for t in state["transitions"]
        ],
    }
    if state.get("failure_reason"):
        described["FailureReason"] = state["failure_reason"]
    if doc["artifacts"].get("model"):
        described["ModelArtifacts"] = {"S3ModelArtifacts": doc["artifacts"]["model"]}
    if doc["artifacts"].get("output"):
        described["OutputDataArtifacts"] = doc["artifacts"]["output"]
    return described
