"""boto3 drives a real daemon through its AWS front, unchanged but for ``endpoint_url``.

One daemon (on a private state directory and its own ports) serves the module. The
SageMaker flow runs on real containers: credentials from ``dockyard credentials
create``, CreateTrainingJob of the iris example in the framework image, the
``training_job_completed_or_stopped`` waiter, CreateModel from the job's artifact,
CreateEndpointConfig, CreateEndpoint, the ``endpoint_in_service`` waiter, predictions
through InvokeEndpoint, a ModelError for a row the model cannot read, DeleteEndpoint
and the ``endpoint_deleted`` waiter. Bad requests (missing member, wrong enum, wrong
type, bad signature) get AWS's error names and leave no record and no container.

The ECS flow runs a one-script HTTP server image: RegisterTaskDefinition,
CreateService behind the load balancer, ``services_stable``, UpdateService to a new
revision (the URL then answers the new one), a scalable target and a target-tracking
policy on it, DeleteService; RunTask, ``tasks_running``, StopTask, ``tasks_stopped``.
ECR: CreateRepository, an image pushed with ``dockyard push``, DescribeImages,
ListImages, GetAuthorizationToken, BatchDeleteImage, DeleteRepository. The AWS CLI
(``pip install awscli``) answers from the same daemon where it is installed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from dockyard_daemon import Daemon, free_port, wait_until
from test_ecs_services import SERVER, TIMEOUT

from dockyard.adapters.engine import DockerEngine

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"
ROLE = "arn:aws:iam::000000000000:role/dockyard"
REGION = "us-east-1"
#: waiters poll every 2 s instead of AWS's 30/120 s; attempts bound the wait (6 min)
FAST = {"Delay": 2, "MaxAttempts": 180}


class AwsDaemon(Daemon):
    """A test daemon whose AWS front (on a port of its own) the tests call."""

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
    return issue_keys(daemon)


def issue_keys(daemon: AwsDaemon) -> dict[str, str]:
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


def test_the_sagemaker_flow_trains_deploys_predicts_updates_and_deletes(
    daemon: AwsDaemon,
    keys: dict[str, str],
    sm: Any,
    smr: Any,
    framework_image: str,
    unique_name: Callable[..., str],
) -> None:
    job = unique_name("aws-iris")
    arn = sm.create_training_job(**training_request(job, framework_image))["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:{REGION}:000000000000:training-job/{job}"
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=job, WaiterConfig=FAST)
    trained = sm.describe_training_job(TrainingJobName=job)
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    artifact = trained["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact.startswith("s3://dockyard/aws-front/") and artifact.endswith("model.tar.gz")
    logs = aws_client(daemon, keys, "logs")  # the job's output, as SageMaker logs it
    group = "/aws/sagemaker/TrainingJobs"
    (stream,) = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job}/")[
        "logStreams"
    ]
    assert stream["logStreamName"].startswith(f"{job}/algo-1-")
    events = logs.get_log_events(
        logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
    )["events"]
    assert any("accuracy" in event["message"] for event in events), events

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
    (replica,) = logs.describe_log_streams(logGroupName=f"/aws/sagemaker/Endpoints/{name}")[
        "logStreams"
    ]
    assert replica["logStreamName"].startswith("AllTraffic/")
    served = logs.get_log_events(
        logGroupName=f"/aws/sagemaker/Endpoints/{name}",
        logStreamName=replica["logStreamName"],
        startFromHead=True,
    )["events"]
    assert served, "the model server's own output"

    with pytest.raises(ClientError) as raised:
        smr.invoke_endpoint(EndpointName=name, Body=b"not,a,flower", ContentType="text/csv")
    assert error_of(raised) == ("ModelError", 424)
    assert raised.value.response["OriginalStatusCode"] >= 400

    # update to a config with a second variant, then ask that variant by name
    variant = {"ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-2",
        ProductionVariants=[
            {**variant, "VariantName": "AllTraffic", "InitialVariantWeight": 0.9},
            {**variant, "VariantName": "Canary", "InitialVariantWeight": 0.1},
        ],
    )
    sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-2")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)
    updated = sm.describe_endpoint(EndpointName=name)
    assert updated["EndpointConfigName"] == f"{name}-2"
    assert sorted(v["VariantName"] for v in updated["ProductionVariants"]) == [
        "AllTraffic",
        "Canary",
    ]
    canary = smr.invoke_endpoint(
        EndpointName=name,
        Body=b"5.1,3.5,1.4,0.2\n6.7,3.1,4.7,1.5\n",
        ContentType="text/csv",
        TargetVariant="Canary",
    )
    assert canary["InvokedProductionVariant"] == "Canary"
    assert len(json.loads(canary["Body"].read())) == 2

    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=FAST)
    sm.delete_endpoint_config(EndpointConfigName=name)
    sm.delete_endpoint_config(EndpointConfigName=f"{name}-2")
    sm.delete_model(ModelName=name)
    assert name not in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]


#: an inference server that answers $WHO (the image started as ``IMAGE serve``)
WHO_SERVER = """
import os, signal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def _answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._answer(200 if self.path == "/ping" else 404)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(200, os.environ.get("WHO", "?").encode())

signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
"""


def test_a_model_made_from_an_approved_package_version_serves(
    sm: Any, smr: Any, script_image: Callable[..., str], unique_name: Callable[..., str]
) -> None:
    """Model registry to endpoint: the package's image and environment are what runs."""
    image = script_image("who", WHO_SERVER, inference=True)
    name = unique_name("aws-pkg")
    sm.create_model_package_group(ModelPackageGroupName=name)
    arn = sm.create_model_package(
        ModelPackageGroupName=name,
        InferenceSpecification={
            "Containers": [{"Image": image, "Environment": {"WHO": "package-v1"}}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/plain"],
        },
    )["ModelPackageArn"]
    assert arn == f"arn:aws:sagemaker:{REGION}:000000000000:model-package/{name}/1"
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    model_arn = sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"ModelPackageName": arn},
        Tags=[{"Key": "source", "Value": "registry"}],
    )["ModelArn"]
    assert sm.list_tags(ResourceArn=model_arn)["Tags"] == [{"Key": "source", "Value": "registry"}]
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name}],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)
    answer = smr.invoke_endpoint(EndpointName=name, Body=b"1", ContentType="text/csv")
    assert answer["Body"].read() == b"package-v1"
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=FAST)


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


def aws_cli() -> str | None:
    """The ``aws`` command: on PATH, or installed beside this Python (the venv)."""
    beside = Path(sys.executable).parent / "aws"
    return shutil.which("aws") or (str(beside) if beside.exists() else None)


@pytest.mark.skipif(aws_cli() is None, reason="the AWS CLI is not installed (pip install awscli)")
@pytest.mark.parametrize(
    ("command", "key"),
    [
        (["sagemaker", "list-endpoints"], "Endpoints"),
        (["ecs", "list-clusters"], "clusterArns"),
        (["ecr", "describe-repositories"], "repositories"),
        (
            ["application-autoscaling", "describe-scalable-targets", "--service-namespace", "ecs"],
            "ScalableTargets",
        ),
        (["sts", "get-caller-identity"], "Account"),
        (["logs", "describe-log-groups"], "logGroups"),
    ],
    ids=["sagemaker", "ecs", "ecr", "application-autoscaling", "sts", "logs"],
)
def test_the_aws_cli_answers_from_dockyard(
    daemon: AwsDaemon, keys: dict[str, str], command: list[str], key: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKYARD_"))}
    env.update(
        AWS_ACCESS_KEY_ID=keys["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=keys["SecretAccessKey"],
        AWS_DEFAULT_REGION=REGION,
    )
    done = subprocess.run(
        [aws_cli() or "aws", *command, "--endpoint-url", daemon.aws_url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert key in json.loads(done.stdout)


class AwsCli:
    """``aws …`` against the daemon, with a Dockyard key; JSON out."""

    def __init__(self, daemon: AwsDaemon, keys: dict[str, str], workdir: Path) -> None:
        self.url = daemon.aws_url
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKYARD_"))}
        self.env.update(
            AWS_ACCESS_KEY_ID=keys["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=keys["SecretAccessKey"],
            AWS_DEFAULT_REGION=REGION,
        )

    def __call__(self, *command: str) -> Any:
        done = subprocess.run(
            [aws_cli() or "aws", *command, "--endpoint-url", self.url, "--output", "json"],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr)
        return json.loads(done.stdout) if done.stdout.strip() else None

    def input_json(self, name: str, request: dict[str, Any]) -> str:
        path = self.workdir / f"{name}.json"
        path.write_text(json.dumps(request))
        return f"file://{path}"


@pytest.mark.skipif(aws_cli() is None, reason="the AWS CLI is not installed (pip install awscli)")
def test_the_sagemaker_flow_through_the_aws_cli(
    daemon: AwsDaemon,
    keys: dict[str, str],
    framework_image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    aws = AwsCli(daemon, keys, tmp_path)
    job = unique_name("cli-iris")
    request = aws.input_json("job", training_request(job, framework_image))
    aws("sagemaker", "create-training-job", "--cli-input-json", request)
    # the CLI's own waiters poll every 30 s or more: poll the same call faster
    wait_until(
        lambda: (
            aws("sagemaker", "describe-training-job", "--training-job-name", job)[
                "TrainingJobStatus"
            ]
            in ("Completed", "Failed", "Stopped")
        ),
        timeout=300,
        what=f"{job} to end",
        interval=2,
    )
    trained = aws("sagemaker", "describe-training-job", "--training-job-name", job)
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    artifact = trained["ModelArtifacts"]["S3ModelArtifacts"]

    name = unique_name("cli-ep")
    container = json.dumps({"Image": framework_image, "ModelDataUrl": artifact})
    aws("sagemaker", "create-model", "--model-name", name, "--primary-container", container,
        "--execution-role-arn", ROLE)  # fmt: skip
    variants = [{"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
                 "InstanceType": "ml.m5.large"}]  # fmt: skip
    aws("sagemaker", "create-endpoint-config", "--endpoint-config-name", name,
        "--production-variants", json.dumps(variants))  # fmt: skip
    aws("sagemaker", "create-endpoint", "--endpoint-name", name, "--endpoint-config-name", name)
    wait_until(
        lambda: (
            aws("sagemaker", "describe-endpoint", "--endpoint-name", name)["EndpointStatus"]
            == "InService"
        ),
        timeout=300,
        what=f"{name} InService",
        interval=2,
    )
    (tmp_path / "rows.csv").write_text("5.1,3.5,1.4,0.2\n7.7,3.0,6.1,2.3\n")
    answer = aws("sagemaker-runtime", "invoke-endpoint", "--endpoint-name", name,
                 "--content-type", "text/csv", "--accept", "application/json",
                 "--body", "fileb://rows.csv", "out.json")  # fmt: skip
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert len(json.loads((tmp_path / "out.json").read_text())) == 2

    aws("sagemaker", "delete-endpoint", "--endpoint-name", name)
    wait_until(
        lambda: (
            name not in [e["EndpointName"] for e in aws("sagemaker", "list-endpoints")["Endpoints"]]
        ),
        timeout=120,
        what=f"{name} deleted",
        interval=1,
    )
    aws("sagemaker", "delete-endpoint-config", "--endpoint-config-name", name)
    aws("sagemaker", "delete-model", "--model-name", name)


# -- ecs, application-autoscaling, ecr --------------------------------------------------------


@pytest.fixture(scope="module")
def web_image(script_image: Callable[[str, str], str]) -> str:
    """The one-script server of the ECS tests: /ping, and /invocations answers $COLOR."""
    return script_image("aws-ecs-web", SERVER)


@pytest.fixture(scope="module")
def ecs(daemon: AwsDaemon, keys: dict[str, str]) -> Any:
    return aws_client(daemon, keys, "ecs")


@pytest.fixture(scope="module")
def aas(daemon: AwsDaemon, keys: dict[str, str]) -> Any:
    return aws_client(daemon, keys, "application-autoscaling")


@pytest.fixture(scope="module")
def ecr(daemon: AwsDaemon, keys: dict[str, str]) -> Any:
    return aws_client(daemon, keys, "ecr")


def container_definitions(image: str, color: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "web",
            "image": image,
            "memory": 128,
            "portMappings": [{"containerPort": 8080}],
            "environment": [{"name": "COLOR", "value": color}],
            "stopTimeout": 5,
        }
    ]


def answers(url: str, expected: str) -> bool:
    try:
        response = httpx.post(url, content=b"x", timeout=10)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.text == expected


def test_the_ecs_flow_serves_rolls_scales_and_deletes(
    daemon: AwsDaemon,
    ecs: Any,
    aas: Any,
    engine: DockerEngine,
    web_image: str,
    unique_name: Callable[..., str],
) -> None:
    family, name = unique_name("aws-web"), unique_name("aws-svc")
    arn = f"arn:aws:ecs:{REGION}:000000000000"
    first = ecs.register_task_definition(
        family=family, containerDefinitions=container_definitions(web_image, "blue")
    )["taskDefinition"]
    assert first["taskDefinitionArn"] == f"{arn}:task-definition/{family}:1"
    created = ecs.create_service(
        cluster="default",
        serviceName=name,
        taskDefinition=family,
        desiredCount=1,
        loadBalancers=[{"targetGroupArn": name, "containerName": "web", "containerPort": 8080}],
    )["service"]
    assert created["serviceArn"] == f"{arn}:service/default/{name}"
    try:
        ecs.get_waiter("services_stable").wait(services=[name], WaiterConfig=FAST)
        url = daemon.api("GET", f"/v1/services/{name}")["url"]  # Dockyard's own API: one state
        wait_until(lambda: answers(url, "blue"), timeout=TIMEOUT, what="blue answers")

        ecs.register_task_definition(
            family=family, containerDefinitions=container_definitions(web_image, "green")
        )
        updated = ecs.update_service(service=created["serviceArn"], taskDefinition=f"{family}:2")
        assert updated["service"]["taskDefinition"] == f"{arn}:task-definition/{family}:2"
        ecs.get_waiter("services_stable").wait(services=[name], WaiterConfig=FAST)
        (service,) = ecs.describe_services(services=[name])["services"]
        assert service["deployments"][0]["taskDefinition"].endswith(f"{family}:2")
        wait_until(lambda: answers(url, "green"), timeout=TIMEOUT, what="green answers")

        target = {
            "ServiceNamespace": "ecs",
            "ResourceId": f"service/default/{name}",
            "ScalableDimension": "ecs:service:DesiredCount",
        }
        aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=3)
        aas.put_scaling_policy(
            **target,
            PolicyName="cpu50",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 50.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                },
            },
        )
        (registered,) = aas.describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[target["ResourceId"]]
        )["ScalableTargets"]
        assert (registered["MinCapacity"], registered["MaxCapacity"]) == (1, 3)
        (policy,) = aas.describe_scaling_policies(
            ServiceNamespace="ecs", ResourceId=target["ResourceId"]
        )["ScalingPolicies"]
        assert policy["PolicyName"] == "cpu50"
        scaling = daemon.api("GET", f"/v1/autoscaling/services/{name}")
        assert [p["PolicyName"] for p in scaling["ScalingPolicies"]] == ["cpu50"]
        aas.deregister_scalable_target(**target)
    finally:
        ecs.delete_service(service=name, force=True)
    wait_until(
        lambda: ecs.describe_services(services=[name])["failures"],
        timeout=TIMEOUT,
        what=f"{name} gone",
    )
    assert engine.list({"dockyard.service": name}) == []


@pytest.mark.skipif(aws_cli() is None, reason="the AWS CLI is not installed (pip install awscli)")
def test_the_ecs_flow_through_the_aws_cli(
    daemon: AwsDaemon,
    keys: dict[str, str],
    web_image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    aws = AwsCli(daemon, keys, tmp_path)
    family, name = unique_name("cli-web"), unique_name("cli-svc")

    def stable(count: int, revision: int) -> bool:
        (service,) = aws("ecs", "describe-services", "--services", name)["services"]
        (deployment, *others) = service["deployments"]
        return (
            not others
            and service["runningCount"] == count
            and deployment["rolloutState"] == "COMPLETED"
            and deployment["taskDefinition"].endswith(f"{family}:{revision}")
        )

    for color in ("blue", "green"):
        definition = {
            "family": family,
            "containerDefinitions": container_definitions(web_image, color),
        }
        aws(
            "ecs", "register-task-definition", "--cli-input-json", aws.input_json(color, definition)
        )
    load_balancers = json.dumps(
        [{"targetGroupArn": name, "containerName": "web", "containerPort": 8080}]
    )
    aws("ecs", "create-service", "--service-name", name, "--task-definition", f"{family}:1",
        "--desired-count", "1", "--load-balancers", load_balancers)  # fmt: skip
    try:
        wait_until(lambda: stable(1, 1), timeout=TIMEOUT, what=f"{name} stable", interval=1)
        url = daemon.api("GET", f"/v1/services/{name}")["url"]
        wait_until(lambda: answers(url, "blue"), timeout=TIMEOUT, what="blue answers")
        aws("ecs", "update-service", "--service", name, "--task-definition", f"{family}:2",
            "--desired-count", "2")  # fmt: skip
        wait_until(lambda: stable(2, 2), timeout=TIMEOUT, what=f"{name} on :2", interval=1)
        wait_until(lambda: answers(url, "green"), timeout=TIMEOUT, what="green answers")
    finally:
        aws("ecs", "delete-service", "--service", name, "--force")
    wait_until(
        lambda: (
            not any(arn.endswith(f"/{name}") for arn in aws("ecs", "list-services")["serviceArns"])
        ),
        timeout=TIMEOUT,
        what=f"{name} deleted",
        interval=1,
    )


def test_run_task_waits_running_and_stop_task_waits_stopped(
    ecs: Any, web_image: str, unique_name: Callable[..., str]
) -> None:
    family = unique_name("aws-task")
    ecs.register_task_definition(
        family=family, containerDefinitions=container_definitions(web_image, "red")
    )
    (task,) = ecs.run_task(taskDefinition=family, startedBy="aws-front-test")["tasks"]
    assert re.fullmatch(rf"arn:aws:ecs:{REGION}:000000000000:task/default/\S+", task["taskArn"])
    ecs.get_waiter("tasks_running").wait(tasks=[task["taskArn"]], WaiterConfig=FAST)
    assert task["taskArn"] in ecs.list_tasks(startedBy="aws-front-test")["taskArns"]

    ecs.stop_task(task=task["taskArn"], reason="done with it")
    ecs.get_waiter("tasks_stopped").wait(tasks=[task["taskArn"]], WaiterConfig=FAST)
    (stopped,) = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"]
    assert (stopped["stopCode"], stopped["stoppedReason"]) == ("UserInitiated", "done with it")


def test_ecr_repository_images_login_and_delete(
    daemon: AwsDaemon,
    ecr: Any,
    engine: DockerEngine,
    base_image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    repository = f"models/{unique_name('aws-repo')}"
    created = ecr.create_repository(repositoryName=repository)["repository"]
    assert created["repositoryArn"] == f"arn:aws:ecr:{REGION}:000000000000:repository/{repository}"
    assert created["repositoryUri"] == f"127.0.0.1:{daemon.registry_port}/{repository}"

    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nENV MODE=aws-front\n")
    local = f"{unique_name('aws-img')}:v1"
    for _ in engine.build(str(tmp_path), local):
        pass
    pushed = daemon.cli("push", f"{repository}:v1", "--source", local)
    assert pushed.returncode == 0, pushed.stderr

    (image,) = ecr.describe_images(repositoryName=repository)["imageDetails"]
    assert image["imageTags"] == ["v1"] and image["imageSizeInBytes"] > 0
    assert ecr.list_images(repositoryName=repository)["imageIds"] == [
        {"imageDigest": image["imageDigest"], "imageTag": "v1"}
    ]
    (login,) = ecr.get_authorization_token()["authorizationData"]
    user, _, password = base64.b64decode(login["authorizationToken"]).decode().partition(":")
    assert (user, login["proxyEndpoint"]) == ("AWS", f"http://127.0.0.1:{daemon.registry_port}")
    # the engine logs in with it, as `docker login -u AWS` does with ECR's token
    logged_in = engine._api.login(user, password, registry=login["proxyEndpoint"], reauth=True)
    assert logged_in["Status"] == "Login Succeeded"

    with pytest.raises(ClientError) as raised:
        ecr.delete_repository(repositoryName=repository)
    assert error_of(raised) == ("RepositoryNotEmptyException", 400)
    deleted = ecr.batch_delete_image(
        repositoryName=repository, imageIds=[{"imageDigest": image["imageDigest"]}]
    )
    assert (deleted["imageIds"], deleted["failures"]) == (
        [{"imageDigest": image["imageDigest"], "imageTag": "v1"}],
        [],
    )
    assert ecr.list_images(repositoryName=repository)["imageIds"] == []
    assert daemon.api("GET", "/v1/images", params={"repository": repository})["imageDetails"] == []
    ecr.delete_repository(repositoryName=repository)
    with pytest.raises(ClientError) as raised:
        ecr.describe_repositories(repositoryNames=[repository])
    assert error_of(raised) == ("RepositoryNotFoundException", 400)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.pop("serviceName"),
        lambda r: r.update(launchType="MOON"),
        lambda r: r.update(desiredCount="two"),
    ],
    ids=["missing-required", "wrong-enum", "wrong-type"],
)
def test_bad_ecs_requests_get_ecs_errors_and_change_nothing(
    daemon: AwsDaemon,
    keys: dict[str, str],
    engine: DockerEngine,
    web_image: str,
    unique_name: Callable[..., str],
    change: Callable[[dict[str, Any]], Any],
) -> None:
    loose = aws_client(daemon, keys, "ecs", parameter_validation=False)
    family, name = unique_name("aws-bad"), unique_name("aws-bad-svc")
    loose.register_task_definition(
        family=family, containerDefinitions=container_definitions(web_image, "x")
    )
    request = {"serviceName": name, "taskDefinition": family, "desiredCount": 1}
    change(request)
    with pytest.raises(ClientError) as raised:
        loose.create_service(**request)
    assert error_of(raised) == ("InvalidParameterException", 400)
    assert loose.describe_services(services=[name])["failures"][0]["reason"] == "MISSING"
    assert engine.list({"dockyard.service": name}) == []


def test_bad_autoscaling_ecr_and_signatures_get_aws_errors(
    daemon: AwsDaemon, keys: dict[str, str], unique_name: Callable[..., str]
) -> None:
    loose = aws_client(daemon, keys, "application-autoscaling", parameter_validation=False)
    with pytest.raises(ClientError) as raised:
        loose.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId="service/default/nothing",
            ScalableDimension="ecs:service:Sideways",
        )
    assert error_of(raised) == ("ValidationException", 400)
    assert loose.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []

    repository = unique_name("Aws-Bad")  # uppercase: not an ECR name
    loose_ecr = aws_client(daemon, keys, "ecr", parameter_validation=False)
    with pytest.raises(ClientError) as raised:
        loose_ecr.create_repository(repositoryName=repository)
    assert error_of(raised) == ("InvalidParameterException", 400)

    forged = aws_client(daemon, {**keys, "SecretAccessKey": "x" * 40}, "ecs")
    name = unique_name("aws-forged-svc")
    with pytest.raises(ClientError) as raised:
        forged.create_service(serviceName=name, taskDefinition="nothing", desiredCount=1)
    assert error_of(raised) == ("InvalidSignatureException", 403)
    with pytest.raises(ClientError) as raised:
        aws_client(daemon, {**keys, "SecretAccessKey": "x" * 40}, "ecr").describe_repositories()
    assert error_of(raised) == ("InvalidSignatureException", 403)
