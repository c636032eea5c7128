"""boto3 drives a real daemon through its AWS front, unchanged but for ``endpoint_url``.

One daemon (on a private state directory and its own ports) serves the module. The
SageMaker flow runs on real containers: credentials from ``dockyard credentials
create``, CreateTrainingJob of the iris example in the framework image, the
``training_job_completed_or_stopped`` waiter, CreateModel from the job's artifact,
CreateEndpointConfig, CreateEndpoint, the ``endpoint_in_service`` waiter, predictions
through InvokeEndpoint, a ModelError for a row the model cannot read, DeleteEndpoint
and the ``endpoint_deleted`` waiter. Bad requests (missing member, wrong enum, wrong
type, bad signature) get AWS's error names and leave no record and no container.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from dockyard_daemon import Daemon, free_port

from dockyard.adapters.engine import DockerEngine

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"
ROLE = "arn:aws:iam::000000000000:role/dockyard"
REGION = "us-east-1"
#: waiters poll every 2 s instead of AWS's 30/120 s; attempts bound the wait (6 min)
FAST = {"Delay": 2, "MaxAttempts": 180}


class AwsDaemon(Daemon):
    """A test daemon whose AWS front listens on a port of its own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aws_port = free_port()

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "DOCKYARD_AWS_PORT": str(self.aws_port)}

    @property
    def aws_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"


@pytest.fixture(scope="module")
def daemon(engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsDaemon]:
    running = AwsDaemon(
        tmp_path_factory.mktemp("aws-daemon") / "state", engine.base_url, lb_port=free_port()
    )
    try:
        running.start()
        yield running
    finally:
        running.cleanup(engine)


@pytest.fixture(scope="module")
def keys(daemon: AwsDaemon) -> dict[str, str]:
    """An access key issued by ``dockyard credentials create`` (parsed from its output)."""
    done = daemon.cli("credentials", "create")
    assert done.returncode == 0, done.stderr
    found = dict(
        re.findall(r"^(AccessKeyId|SecretAccessKey|EndpointUrl)\s+(\S+)$", done.stdout, re.M)
    )
    assert found["EndpointUrl"] == daemon.aws_url
    return found


def aws_client(daemon: AwsDaemon, keys: dict[str, str], service: str, **config: Any) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=daemon.aws_url,
        region_name=REGION,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}, **config),
    )


@pytest.fixture(scope="module")
def sm(daemon: AwsDaemon, keys: dict[str, str]) -> Any:
    return aws_client(daemon, keys, "sagemaker")


@pytest.fixture(scope="module")
def smr(daemon: AwsDaemon, keys: dict[str, str]) -> Any:
    return aws_client(daemon, keys, "sagemaker-runtime")


def training_request(name: str, image: str) -> dict[str, Any]:
    """CreateTrainingJob in script mode, as the SageMaker SDK sends it (file:// inputs)."""
    return {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps((EXAMPLE / "code").as_uri()),
            "C": "1.0",
            "max-iter": "200",
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": (EXAMPLE / "data" / "train").as_uri(),
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://dockyard/aws-front"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_the_sagemaker_flow_trains_deploys_predicts_and_deletes(
    sm: Any, smr: Any, framework_image: str, unique_name: Callable[..., str]
) -> None:
    job = unique_name("aws-iris")
    arn = sm.create_training_job(**training_request(job, framework_image))["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:{REGION}:000000000000:training-job/{job}"
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=job, WaiterConfig=FAST)
    trained = sm.describe_training_job(TrainingJobName=job)
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    artifact = trained["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact.startswith("s3://dockyard/aws-front/") and artifact.endswith("model.tar.gz")

    name = unique_name("aws-ep")
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": framework_image, "ModelDataUrl": artifact},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)
    described = sm.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1

    answer = smr.invoke_endpoint(
        EndpointName=name,
        Body=b"5.1,3.5,1.4,0.2\n6.7,3.1,4.7,1.5\n7.7,3.0,6.1,2.3\n",
        ContentType="text/csv",
        Accept="application/json",
    )
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["ContentType"] == "application/json"
    predictions = json.loads(answer["Body"].read())
    assert len(predictions) == 3

    with pytest.raises(ClientError) as raised:
        smr.invoke_endpoint(EndpointName=name, Body=b"not,a,flower", ContentType="text/csv")
    assert error_of(raised) == ("ModelError", 424)
    assert raised.value.response["OriginalStatusCode"] >= 400

    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=FAST)
    sm.delete_endpoint_config(EndpointConfigName=name)
    sm.delete_model(ModelName=name)
    assert name not in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda r: r.pop("RoleArn"), "ValidationException"),
        (
            lambda r: r["AlgorithmSpecification"].update(TrainingInputMode="Sideways"),
            "ValidationException",
        ),
        (lambda r: r["ResourceConfig"].update(InstanceCount="two"), "ValidationException"),
    ],
    ids=["missing-required", "wrong-enum", "wrong-type"],
)
def test_bad_requests_get_aws_errors_and_change_nothing(
    daemon: AwsDaemon,
    keys: dict[str, str],
    engine: DockerEngine,
    framework_image: str,
    unique_name: Callable[..., str],
    change: Callable[[dict[str, Any]], Any],
    code: str,
) -> None:
    loose = aws_client(daemon, keys, "sagemaker", parameter_validation=False)
    name = unique_name("aws-bad")
    request = training_request(name, framework_image)
    change(request)
    with pytest.raises(ClientError) as raised:
        loose.create_training_job(**request)
    assert error_of(raised) == (code, 400)
    with pytest.raises(ClientError) as raised:
        loose.describe_training_job(TrainingJobName=name)
    assert error_of(raised)[0] == "ResourceNotFound"
    assert engine.list({"dockyard.training-job": name}) == []


def test_a_wrong_secret_is_refused_with_invalid_signature(
    daemon: AwsDaemon, keys: dict[str, str], unique_name: Callable[..., str]
) -> None:
    forged = aws_client(daemon, {**keys, "SecretAccessKey": "x" * 40}, "sagemaker")
    name = unique_name("aws-forged")
    with pytest.raises(ClientError) as raised:
        forged.create_model(ModelName=name, PrimaryContainer={"Image": "nothing:1"})
    assert error_of(raised) == ("InvalidSignatureException", 403)
    unsigned = boto3.session.Session().client(
        "sagemaker",
        endpoint_url=daemon.aws_url,
        region_name=REGION,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as raised:
        unsigned.list_models()
    assert error_of(raised) == ("MissingAuthenticationToken", 403)


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_the_aws_cli_lists_endpoints(daemon: AwsDaemon, keys: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKYARD_"))}
    env.update(
        AWS_ACCESS_KEY_ID=keys["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=keys["SecretAccessKey"],
        AWS_DEFAULT_REGION=REGION,
    )
    aws = shutil.which("aws") or "aws"
    done = subprocess.run(
        [aws, "sagemaker", "list-endpoints", "--endpoint-url", daemon.aws_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Endpoints" in json.loads(done.stdout)
