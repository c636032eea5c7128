"""Transform jobs on in-memory fakes, through boto3 and the AWS front: the replicas are
run-to-completion tasks of the model's image, stopping ends the job Stopped, and the
shapes are SageMaker's."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit

IMAGE = "model:1"


def transform_request(name: str, data_dir: Path, out: Path, count: int = 2) -> dict[str, Any]:
    return {
        "TransformJobName": name,
        "ModelName": "iris",
        "MaxPayloadInMB": 2,
        "Environment": {"LOG_LEVEL": "debug"},
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data_dir.as_uri()}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": out.as_uri(), "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": count},
    }


def replicas(world: World, name: str) -> dict[str, Any]:
    tasks = world.store.tasks.list(f"transform-job/{name}")
    return {t.placement.labels["dockyard.replica"]: t for t in tasks}


def test_a_job_runs_its_replicas_with_the_batch_environment_and_stops(
    sm: Any, world: World, data_dir: Path, tmp_path: Path
) -> None:
    sm.create_model(ModelName="iris", PrimaryContainer={"Image": IMAGE})
    arn = sm.create_transform_job(**transform_request("score", data_dir, tmp_path / "out"))
    assert arn["TransformJobArn"].endswith(":transform-job/score")
    world.settle(lambda: len(replicas(world, "score")) == 2, "two replicas")

    replica = replicas(world, "score")["replica-1"]
    (container,) = replica.definition.container_definitions
    env = {e.name: e.value for e in container.environment}
    assert env == {
        "LOG_LEVEL": "debug",
        "SAGEMAKER_BATCH": "true",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": "2",
    }
    assert container.command == ("serve",)
    described = sm.describe_transform_job(TransformJobName="score")
    assert described["TransformJobStatus"] == "InProgress"

    sm.stop_transform_job(TransformJobName="score")
    world.settle(
        lambda: (
            sm.describe_transform_job(TransformJobName="score")["TransformJobStatus"] == "Stopped"
        ),
        "the job to stop",
    )
    sm.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="score", WaiterConfig={"Delay": 0}
    )
    world.settle(lambda: not replicas(world, "score"), "the replicas to be reaped")
    (summary,) = sm.list_transform_jobs(StatusEquals="Stopped")["TransformJobSummaries"]
    assert summary["TransformJobName"] == "score"
    with pytest.raises(ClientError, match="status Stopped"):
        sm.stop_transform_job(TransformJobName="score")


def test_a_job_naming_a_missing_model_is_refused_and_nothing_is_recorded(
    sm: Any, world: World, data_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(ClientError, match="Could not find model"):
        sm.create_transform_job(**transform_request("score", data_dir, tmp_path / "out"))
    assert world.store.transform_jobs.list() == []
    assert world.store.tasks.list() == []
