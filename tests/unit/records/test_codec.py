"""Every record survives the trip through the store's JSON unchanged, types and all."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from dockyard.control.endpoint import EndpointStatus
from dockyard.control.health import CheckHistory, record_check
from dockyard.control.service import ServiceState
from dockyard.control.task import (
    ContainerObservation,
    EngineState,
    HealthStatus,
    StopCode,
    Task,
    new_task,
    observe,
    request_stop,
)
from dockyard.control.training_status import (
    SecondaryStatus,
    TrainingJobState,
    enter,
    new_training_job,
)
from dockyard.control.transform import new_transform_job
from dockyard.ports.engine import Mount
from dockyard.records.codec import from_doc, to_doc
from dockyard.records.endpoint import EndpointRecord, VariantRecord
from dockyard.records.placement import Placement
from dockyard.records.service import LbTarget, ServiceRecord
from dockyard.records.task import PortAddress, ReplicaState, TaskRecord
from dockyard.records.task_definition import TaskDefinitionRecord
from dockyard.records.training import ScriptMode, TrainingJobRecord
from dockyard.records.transform import FileProgress, FileStatus, TransformJobRecord
from dockyard.spec.endpoint import parse_endpoint_config, parse_model
from dockyard.spec.task_definition import RegisteredTaskDefinition, parse_task_definition
from dockyard.spec.training_job import parse_training_job
from dockyard.spec.transform_job import parse_transform_job

pytestmark = pytest.mark.unit

T = TypeVar("T")

DEFINITION = parse_task_definition(
    {
        "family": "web",
        "containerDefinitions": [
            {"name": "app", "image": "app:1", "portMappings": [{"containerPort": 8080}]},
            {
                "name": "sidecar",
                "image": "side:1",
                "essential": False,
                "dependsOn": [{"containerName": "app", "condition": "START"}],
            },
        ],
    }
)


def through_json(cls: type[T], value: T) -> T:
    """``value`` as the SQLite store writes it and reads it back."""
    doc: Any = json.loads(json.dumps(to_doc(value)))
    return from_doc(cls, doc)


def a_check_history() -> CheckHistory:
    history = record_check(CheckHistory(), passed=True, now=101.0)
    return record_check(history, passed=False, now=102.0)


def a_placement() -> Placement:
    return Placement(
        name_prefix="iris-1-algo-1",
        labels={"dockyard.training-job": "iris-1"},
        network="dockyard-iris-1",
        hostnames={"algo": "algo-1"},
        extra_env={"TRAINING_JOB_NAME": "iris-1"},
        extra_mounts={
            "algo": (
                Mount("/var/dockyard/jobs/iris-1/input", "/opt/ml/input", read_only=True),
                Mount("/var/dockyard/jobs/iris-1/model", "/opt/ml/model"),
            )
        },
        init=True,
    )


def a_task_record() -> TaskRecord:
    task = new_task("a" * 32, DEFINITION, "web:1", 100.0, started_by="service/web")
    running = observe(task, {"app": ContainerObservation(EngineState.RUNNING, "c1")}, 101.0)
    return TaskRecord(
        task=running,
        owner="service/web",
        definition=DEFINITION,
        placement=Placement(name_prefix="web", labels={"dockyard.service": "web"}),
        start_errors={"sidecar": "image side:1 is not on this machine"},
        addresses=(PortAddress("app", 8080, "127.0.0.1:49153"),),
        replica=ReplicaState(health=a_check_history(), drain_started_at=103.0),
    )


def an_endpoint_record() -> EndpointRecord:
    model = parse_model(
        {
            "ModelName": "iris",
            "PrimaryContainer": {
                "Image": "dockyard/sklearn:1.5",
                "ModelDataUrl": "file:///models/iris.tar.gz",
                "Environment": {"LOG_LEVEL": "debug"},
            },
        }
    )
    config = parse_endpoint_config(
        {
            "EndpointConfigName": "iris-config",
            "ProductionVariants": [
                {"VariantName": "AllTraffic", "ModelName": "iris", "InitialInstanceCount": 2}
            ],
        }
    )
    return EndpointRecord(
        name="iris",
        config=config,
        model=model,
        image_id="sha256:abc",
        variants=(VariantRecord("AllTraffic", "iris-AllTraffic", 2, 600.0),),
        status=EndpointStatus.FAILED,
        status_since=100.0,
        created_at=90.0,
        last_modified_at=100.0,
        failure_reason="replica did not answer /ping within 600 s",
    )


def a_training_job_record() -> TrainingJobRecord:
    spec = parse_training_job(
        {
            "TrainingJobName": "iris-1",
            "AlgorithmSpecification": {
                "TrainingImage": "dockyard/sklearn:1.5",
                "TrainingInputMode": "File",
            },
            "HyperParameters": {"max_depth": "5", "sagemaker_program": '"train.py"'},
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file:///data/train"}
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": "s3://models/iris"},
        }
    )
    return TrainingJobRecord(
        spec=spec,
        state=enter(new_training_job(100.0), SecondaryStatus.TRAINING, 105.0),
        script=ScriptMode(
            user_hyperparameters={"max_depth": "5"},
            program="train.py",
            container_submit_dir="/opt/ml/code",
            code_source=Path("/home/me/iris/src"),
        ),
        channels={"train": Path("/data/train")},
        inputs_ready=True,
        platform_error="the engine went away",
    )


def test_new_task_round_trips() -> None:
    task = new_task("a" * 32, DEFINITION, "web:1", 100.0, started_by="service/web")
    assert through_json(Task, task) == task


def test_stopped_task_with_exit_codes_and_reason_round_trips() -> None:
    task = new_task("b" * 32, DEFINITION, "web:1", 100.0)
    running = observe(task, {"app": ContainerObservation(EngineState.RUNNING, "c1")}, 101.0)
    exited = observe(
        running, {"app": ContainerObservation(EngineState.EXITED, "c1", exit_code=3)}, 102.0
    )
    stopped = request_stop(exited, StopCode.USER_INITIATED, "by hand", 103.0)
    restored = through_json(Task, stopped)
    assert restored == stopped
    assert restored.container("app").exit_code == 3
    assert restored.stop_code is StopCode.ESSENTIAL_CONTAINER_EXITED


def test_training_state_round_trips() -> None:
    state = new_training_job(5.0)
    assert through_json(TrainingJobState, state) == state


def test_service_state_round_trips() -> None:
    state = ServiceState("iris-AllTraffic", "iris-AllTraffic:2", 2, target_group="iris")
    assert through_json(ServiceState, state) == state


def test_task_record_with_addresses_start_errors_and_health_round_trips() -> None:
    record = a_task_record()
    assert through_json(TaskRecord, record) == record


def test_replica_check_history_comes_back_with_its_verdict() -> None:
    replica = ReplicaState(health=a_check_history(), drain_started_at=103.0)
    restored = through_json(ReplicaState, replica)
    assert restored == replica
    assert restored.health.status is HealthStatus.HEALTHY
    assert restored.health.failures == 1


def test_placement_with_extra_mounts_round_trips() -> None:
    placement = a_placement()
    assert through_json(Placement, placement) == placement


def test_placement_mounts_come_back_as_mounts() -> None:
    restored = through_json(Placement, a_placement())
    assert restored.extra_mounts["algo"][0] == Mount(
        "/var/dockyard/jobs/iris-1/input", "/opt/ml/input", read_only=True
    )


def test_service_record_with_lb_target_round_trips() -> None:
    record = ServiceRecord(
        state=ServiceState("iris-AllTraffic", "iris-AllTraffic:2", 2, target_group="iris"),
        placement=Placement(name_prefix="iris-AllTraffic"),
        target=LbTarget("iris", 8080),
        owner="endpoint/iris",
    )
    assert through_json(ServiceRecord, record) == record


def test_service_record_without_lb_target_round_trips() -> None:
    record = ServiceRecord(state=ServiceState("web", "web:1", 1), placement=Placement("web"))
    assert through_json(ServiceRecord, record) == record


def test_endpoint_record_round_trips() -> None:
    record = an_endpoint_record()
    assert through_json(EndpointRecord, record) == record


def test_endpoint_status_comes_back_as_the_enum() -> None:
    restored = through_json(EndpointRecord, an_endpoint_record())
    assert restored.status is EndpointStatus.FAILED


def test_training_job_record_with_script_mode_round_trips() -> None:
    record = a_training_job_record()
    assert through_json(TrainingJobRecord, record) == record


def test_script_mode_code_dir_comes_back_as_a_path() -> None:
    restored = through_json(TrainingJobRecord, a_training_job_record())
    assert restored.script.code_source == Path("/home/me/iris/src")


def test_training_job_channels_come_back_as_paths() -> None:
    restored = through_json(TrainingJobRecord, a_training_job_record())
    assert restored.channels == {"train": Path("/data/train")}


def test_task_definition_record_round_trips() -> None:
    record = TaskDefinitionRecord(
        RegisteredTaskDefinition(
            family="web", revision=3, definition=DEFINITION, registered_at=100.0
        )
    )
    assert through_json(TaskDefinitionRecord, record) == record


def a_transform_job_record() -> TransformJobRecord:
    spec = parse_transform_job(
        {
            "TransformJobName": "score",
            "ModelName": "iris",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://d/in/"}},
                "SplitType": "Line",
            },
            "TransformOutput": {"S3OutputPath": "s3://d/out/"},
        }
    )
    model = parse_model({"ModelName": "iris", "PrimaryContainer": {"Image": "sha256:abc"}})
    state = replace(new_transform_job(1.0), replacements={"replica-1": 2})
    files = (
        FileProgress("a.csv", 10, FileStatus.COMPLETED, 10, 40),
        FileProgress("b.csv", 5, FileStatus.IN_PROGRESS, 3, 12),
        FileProgress("c.csv", 5, FileStatus.FAILED, failure="c.csv: record 2 (line 2): 500"),
    )
    return TransformJobRecord(
        spec, model, state, "/data/in", files=files, parameters={"MaxPayloadInMB": "6"}
    )


def test_transform_job_record_with_its_checkpoint_round_trips() -> None:
    record = a_transform_job_record()
    restored = through_json(TransformJobRecord, record)
    assert restored == record
    assert restored.files[1].status is FileStatus.IN_PROGRESS
    assert restored.records_done == 13
