"""Batch transform jobs: the model's replicas as run-to-completion tasks, fed by a driver.

The API side (``create``, ``stop``, ``describe``) validates and records; the reconcile
side (:class:`TransformReconciler`) observes the replicas through the run facility
(:class:`~dockyard.server.runs.Runs`, as training hosts are), executes what
:func:`dockyard.control.transform.plan_transform` decides, and keeps one
:class:`~dockyard.server.transform_driver.TransformDriver` per running job in this
process. A restarted daemon has none: the next pass starts one, which resumes from the
checkpoint in the job's record.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import replace
from typing import Any

from dockyard.control.endpoint import MODEL_PORT, serving_task_definition
from dockyard.control.runs import run_outcome
from dockyard.control.transform import (
    HaltDriver,
    LaunchReplica,
    ReplaceReplica,
    RunDriver,
    StopReplica,
    TransformAction,
    TransformObservation,
    new_transform_job,
    plan_transform,
    replica_names,
)
from dockyard.control.transform_filters import FilterError, record_filters
from dockyard.control.transform_params import container_environment
from dockyard.errors import Conflict, DockyardError, SpecError
from dockyard.records.placement import Placement
from dockyard.records.task import TaskRecord
from dockyard.records.transform import TransformJobRecord
from dockyard.server import endpoints
from dockyard.server.image_lookup import image_here
from dockyard.server.platform import Platform
from dockyard.server.runs import Runs
from dockyard.server.transform_driver import TransformDriver, request_of
from dockyard.server.transform_io import output_location
from dockyard.spec.endpoint import Model, parse_model
from dockyard.spec.transform_job import TransformJobSpec, parse_transform_job

log = logging.getLogger("dockyard.transform")

KIND = TransformJobRecord.KIND
ACTIVE_REQUEUE_S = 0.5


# -- the API side ---------------------------------------------------------------------------


def create(platform: Platform, request: dict[str, Any]) -> dict[str, Any]:
    """CreateTransformJob: validate everything (model, input, output), then record the job."""
    request = dict(request)
    container = request.get("Container")
    archive = None
    if isinstance(container, dict) and container.get("ModelDataUrl"):
        archive = platform.inputs.model_archive(
            str(container["ModelDataUrl"]), "Container.ModelDataUrl"
        )
        request["Container"] = {**container, "ModelDataUrl": archive.uri}
    spec = parse_transform_job(request)
    name = spec.transform_job_name
    if platform.store.transform_jobs.get(name) is not None:
        raise Conflict(
            f"a transform job named {name!r} already exists",
            resource=f"transform-job/{name}",
            hint="transform job names are unique: choose another name",
        )
    source = spec.transform_input.data_source.s3_data_source.s3_uri
    inputs = platform.inputs.data(source, "TransformInput.DataSource.S3DataSource.S3Uri")
    output_location(platform, spec.transform_output.s3_output_path)  # refused now if bad
    try:
        record_filters(
            spec.data_processing.input_filter,
            spec.data_processing.output_filter,
            spec.data_processing.join_source,
            spec.transform_input.content_type,
            spec.transform_output.accept,
        )
    except FilterError as error:
        raise SpecError(
            str(error),
            field="DataProcessing",
            hint='use "$", "$.name", "$[1:]" or "$[\'a\',\'b\']" on CSV or JSON records',
        ) from None
    model, model_dir = _model(platform, spec)
    record = TransformJobRecord(
        spec=spec,
        model=model,
        state=new_transform_job(platform.clock()),
        input_path=str(inputs.path),
        model_dir=model_dir,
    )
    platform.store.transform_jobs.create(record)
    image = model.primary_container.image if model.primary_container else ""
    platform.store.add_event(KIND, name, f"created with model {model.model_name} ({image})")
    platform.wake(KIND, name)
    return describe(platform.store.transform_jobs.require(name))


def _model(platform: Platform, spec: TransformJobSpec) -> tuple[Model, str | None]:
    """The model the job runs (a stored one, else the request's Container), image pinned."""
    stored = platform.store.models.get(spec.model_name)
    if stored is not None:
        model, field = stored.model, "ModelName"
    elif spec.container is not None:
        model = parse_model(
            {"ModelName": spec.model_name, "PrimaryContainer": spec.container.to_aws()}
        )
        field = "Container.Image"
    else:
        raise SpecError(
            f'Could not find model "{spec.model_name}".',
            field="ModelName",
            hint="create it first (CreateModel), or name an image: "
            "`dockyard transform NAME --model IMAGE`",
        )
    container = model.primary_container
    if container is None or container.mode != "SingleModel":
        raise SpecError(
            f"model {model.model_name} is not a single-container model",
            field=field,
            hint="batch transform runs a model with one PrimaryContainer",
        )
    image, info = image_here(platform, container.image, field)
    model_dir = None
    if container.model_data_url:
        archive = platform.inputs.model_archive(container.model_data_url, f"{field}.ModelDataUrl")
        model_dir = endpoints.model_dirs_of(platform, {model.model_name: archive.path})[
            model.model_name
        ]
    ref = endpoints.pinned_image(platform, image, info, field)
    pinned = container.model_copy(update={"image": ref})
    return model.model_copy(update={"primary_container": pinned}), model_dir


def stop(platform: Platform, name: str) -> dict[str, Any]:
    """StopTransformJob: the driver halts, the replicas stop; the job ends Stopped."""
    with platform.store.transaction():
        record = platform.store.transform_jobs.require(name)
        if not record.state.is_terminal:
            platform.store.transform_jobs.put(replace(record, stop_requested=True))
    platform.store.add_event(KIND, name, "stop requested")
    platform.wake(KIND, name)
    return describe(platform.store.transform_jobs.require(name))


def describe(record: TransformJobRecord) -> dict[str, Any]:
    """DescribeTransformJob's shape (times as epoch seconds), plus Dockyard's ``Progress``."""
    state = record.state
    aws = record.spec.to_aws()
    aws.pop("Container", None)
    described: dict[str, Any] = {
        **aws,
        "TransformJobArn": f"arn:aws:sagemaker:local:000000000000:transform-job/{record.name}",
        "TransformJobStatus": state.status,
        "CreationTime": state.created_at,
        "LastModifiedTime": state.last_modified_at,
    }
    if state.started_at is not None:
        described["TransformStartTime"] = state.started_at
    if state.ended_at is not None:
        described["TransformEndTime"] = state.ended_at
    if state.failure_reason:
        described["FailureReason"] = state.failure_reason
    described["Progress"] = {
        "Files": len(record.files),
        "FilesCompleted": sum(1 for f in record.files if f.status == "Completed"),
        "FilesFailed": sum(1 for f in record.files if f.status == "Failed"),
        "Records": record.records_total,
        "RecordsDone": record.records_done,
        "Parameters": dict(record.parameters),
        "FileStatus": [
            {"Key": f.key, "Status": f.status, "Records": f.records, "RecordsDone": f.records_done}
            | ({"Failure": f.failure} if f.failure else {})
            for f in record.files
        ],
    }
    return described


def summary(record: TransformJobRecord) -> dict[str, Any]:
    """ListTransformJobs' TransformJobSummary, plus the progress counts."""
    described = describe(record)
    keys = (
        "TransformJobName",
        "TransformJobArn",
        "CreationTime",
        "TransformEndTime",
        "LastModifiedTime",
        "TransformJobStatus",
        "FailureReason",
    )
    row = {key: described[key] for key in keys if key in described}
    progress = described["Progress"]
    row["Progress"] = {k: progress[k] for k in ("Files", "Records", "RecordsDone")}
    return row


# -- the reconcile side ---------------------------------------------------------------------


class TransformReconciler:
    kind = KIND

    def __init__(self, platform: Platform, runs: Runs) -> None:
        self.platform = platform
        self.runs = runs
        self.staging_root = platform.settings.state_dir / "transform"
        self._drivers: dict[str, TransformDriver] = {}
        self._lock = threading.Lock()

    def keys(self) -> list[str]:
        return [r.name for r in self.platform.store.transform_jobs.list() if not r.done]

    def close(self) -> None:
        """Halt every driver (the daemon is stopping; the checkpoints stay)."""
        with self._lock:
            drivers, self._drivers = list(self._drivers.values()), {}
        for driver in drivers:
            driver.halt()

    def reconcile(self, key: str, now: float) -> float | None:
        record = self.platform.store.transform_jobs.get(key)
        if record is None or record.done:
            return None
        replicas = self.runs.step(record.as_owner, now)
        names = replica_names(record.spec.transform_resources.instance_count)
        observed = TransformObservation(
            replicas={name: r.task for name, r in replicas.items()},
            stop_requested=record.stop_requested,
            driver_finished=record.driver_finished,
            failures=record.failures,
            driver_error=record.driver_error,
        )
        plan = plan_transform(names, record.state, observed, now)
        for action in plan.actions:
            self._execute(action, record, replicas, now)
        if plan.state.status != record.state.status:
            message = str(plan.state.status)
            if plan.state.failure_reason:
                message += f": {plan.state.failure_reason}"
            self.platform.store.add_event(KIND, key, message)
        done = plan.done and self.runs.reap(record.as_owner, result_collected=True)
        if done:
            shutil.rmtree(self.staging_root / key, ignore_errors=True)  # part files: spent
        self._update(key, state=plan.state, done=done)
        if done:
            return None
        return now + ACTIVE_REQUEUE_S

    def _update(self, key: str, **changes: Any) -> None:
        """Write the reconciler's fields, keeping what the driver and the API wrote."""
        with self.platform.store.transaction():
            current = self.platform.store.transform_jobs.get(key)
            if current is None:
                return
            updated = replace(current, **changes)
            if updated != current:
                self.platform.store.transform_jobs.put(updated)

    def _execute(
        self,
        action: TransformAction,
        record: TransformJobRecord,
        replicas: dict[str, TaskRecord],
        now: float,
    ) -> None:
        try:
            if isinstance(action, LaunchReplica):
                self._launch(record, action.replica, now)
            elif isinstance(action, ReplaceReplica):
                old = replicas[action.replica]
                outcome = run_outcome(old.task)
                self.platform.store.add_event(
                    KIND,
                    record.name,
                    f"{action.replica} stopped ({outcome.reason or outcome.status}); replacing it",
                )
                self.runs.tasks.reap(old)
                self._launch(record, action.replica, now)
            elif isinstance(action, StopReplica) and action.replica in replicas:
                self.runs.stop(replicas[action.replica], action.stop_code, action.reason, now)
            elif isinstance(action, RunDriver):
                self._driver(record).update_replicas(_addresses(replicas))
            elif isinstance(action, HaltDriver):
                with self._lock:
                    driver = self._drivers.pop(record.name, None)
                if driver is not None:
                    driver.halt()
        except DockyardError as error:
            log.warning(
                "transform job %s: %s failed: %s", record.name, type(action).__name__, error
            )
            self._update(record.name, driver_error=f"ClientError: {error}")

    def _driver(self, record: TransformJobRecord) -> TransformDriver:
        with self._lock:
            driver = self._drivers.get(record.name)
            if driver is None or not driver.alive:
                driver = TransformDriver(
                    self.platform, record.name, self.staging_root / record.name
                )
                self._drivers[record.name] = driver
                driver.start()
            return driver

    def _launch(self, record: TransformJobRecord, replica: str, now: float) -> None:
        name = record.name
        model = record.model
        container = model.primary_container
        assert container is not None  # checked at creation
        environment = {
            **container.environment,
            **record.spec.environment,
            **container_environment(request_of(record.spec)),
        }
        batch_model = model.model_copy(
            update={"primary_container": container.model_copy(update={"environment": environment})}
        )
        dirs = {model.model_name: record.model_dir} if record.model_dir else {}
        definition = serving_task_definition(f"transform-{name}", batch_model, dirs)
        placement = Placement(
            name_prefix=f"{name}-{replica}",
            labels={"dockyard.transform-job": name, "dockyard.replica": replica},
        )
        self.runs.launch(record.as_owner, replica, definition, placement, now)


def _addresses(replicas: dict[str, TaskRecord]) -> dict[str, str]:
    """Where each running replica's model server answers."""
    found = {}
    for name, record in replicas.items():
        if record.task.is_done or record.task.is_stopping:
            continue
        for item in record.addresses:
            if item.port == MODEL_PORT:
                found[name] = item.address
    return found
