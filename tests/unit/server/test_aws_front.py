"""The AWS front on in-memory fakes, driven by real boto3 clients.

Requests are built, signed and parsed by botocore (see :mod:`aws_client`); the front
authenticates, validates against botocore's model, runs the operation on a
:class:`World` and answers in AWS's shapes. Covers SigV4 refusals, validation errors
that change nothing, the hosting and training operations with their waiters, and
InvokeEndpoint's pass-through and ModelError.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aws_client import client, signed_request
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.aws import runtime
from dockyard.server.aws.credentials import AccessKey, AccessKeys
from dockyard.server.aws.front import AwsFront, create_aws_front
from dockyard.server.aws.sigv4 import SignedRequest, verify

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit

IMAGE = "model:1"
ROLE = "arn:aws:iam::000000000000:role/dockyard"


@pytest.fixture
def loose(front: AwsFront, key: AccessKey) -> Any:
    """A sagemaker client that sends whatever it is given (no client-side validation)."""
    return client(front, "sagemaker", key, validate=False)


@pytest.fixture
def smr(front: AwsFront, key: AccessKey) -> Any:
    return client(front, "sagemaker-runtime", key)


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def training_request(name: str, data: Path) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": "trainer:1", "TrainingInputMode": "File"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data.as_uri()}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://dockyard/training-jobs"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def make_endpoint(sm: Any, name: str = "iris", count: int = 2) -> None:
    sm.create_model(ModelName=name, PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": count,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


# -- SigV4 --------------------------------------------------------------------------------


def _post(
    front: AwsFront, headers: dict[str, str], body: bytes = b"{}"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = SignedRequest("POST", "/", "", {"host": "127.0.0.1:9090", **headers}, body)
    answer = front.answer(request)
    return answer.status, json.loads(answer.body), dict(answer.headers)


def test_an_unsigned_request_is_refused_with_missing_authentication_token(front: AwsFront) -> None:
    status, body, headers = _post(front, {"x-amz-target": "SageMaker.ListEndpoints"})
    assert status == 403
    assert body["__type"] == "MissingAuthenticationToken"
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationToken"


def test_a_malformed_authorization_header_is_an_incomplete_signature(front: AwsFront) -> None:
    status, body, _ = _post(front, {"authorization": "AWS4-HMAC-SHA256 Credential=x"})
    assert (status, body["__type"]) == (400, "IncompleteSignature")


def test_a_wrong_secret_is_an_invalid_signature_and_changes_nothing(
    front: AwsFront, key: AccessKey, world: World
) -> None:
    forged = AccessKey(key.access_key_id, "not-the-secret", key.created_at)
    with pytest.raises(ClientError) as raised:
        client(front, "sagemaker", forged).create_model(
            ModelName="m", PrimaryContainer={"Image": IMAGE}
        )
    assert error_of(raised) == ("InvalidSignatureException", 403)
    assert world.store.models.list() == []


def test_a_key_dockyard_never_issued_or_deleted_is_unrecognized(
    front: AwsFront, key: AccessKey, world: World
) -> None:
    AccessKeys(world.settings.run_dir).delete(key.access_key_id)
    with pytest.raises(ClientError) as raised:
        client(front, "sagemaker", key).list_endpoints()
    assert error_of(raised) == ("UnrecognizedClientException", 403)


def test_a_signature_older_than_fifteen_minutes_is_refused(world: World, key: AccessKey) -> None:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9090/",
        headers={"X-Amz-Target": "SageMaker.ListEndpoints"},
        data=b"{}",
    )
    SigV4Auth(
        Credentials(key.access_key_id, key.secret_access_key), "sagemaker", "us-east-1"
    ).add_auth(request)
    signed = signed_request(request.prepare())
    keys = AccessKeys(world.settings.run_dir)
    assert verify(signed, keys).region == "us-east-1"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
    with pytest.raises(Exception, match="Signature expired") as raised:
        verify(signed, keys, now=later)
    assert getattr(raised.value, "code", None) == "InvalidSignatureException"


def test_the_credentials_file_is_owner_only(world: World, key: AccessKey) -> None:
    path = AccessKeys(world.settings.run_dir).path
    assert path.stat().st_mode & 0o777 == 0o600
    assert key.secret_access_key in path.read_text()


# -- validation by botocore's model ---------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r.pop("RoleArn"), 'Missing required parameter in input: "RoleArn"'),
        (
            lambda r: r["AlgorithmSpecification"].update(TrainingInputMode="Sideways"),
            "Member must satisfy enum value set",
        ),
        (
            lambda r: r["StoppingCondition"].update(MaxRuntimeInSeconds="ten"),
            "Invalid type for parameter StoppingCondition.MaxRuntimeInSeconds",
        ),
        (lambda r: r.update(TrainingJobName="no spaces"), "regular expression pattern"),
    ],
    ids=["missing-required", "wrong-enum", "wrong-type", "pattern"],
)
def test_a_bad_create_training_job_is_a_validation_exception_that_changes_nothing(
    loose: Any, world: World, data_dir: Path, change: Any, expected: str
) -> None:
    request = training_request("job-1", data_dir)
    change(request)
    with pytest.raises(ClientError) as raised:
        loose.create_training_job(**request)
    assert error_of(raised) == ("ValidationException", 400)
    assert expected in raised.value.response["Error"]["Message"]
    assert world.store.training_jobs.list() == []
    assert world.engine.containers() == []


def test_an_operation_not_implemented_answers_not_implemented_naming_it(sm: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sm.list_processing_jobs()
    assert error_of(raised) == ("NotImplemented", 501)
    assert "ListProcessingJobs" in raised.value.response["Error"]["Message"]


def send_json(
    front: AwsFront, key: AccessKey, target: str, doc: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """A correctly signed JSON 1.1 request of any content (botocore sends only modelled members)."""
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9090/",
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
        data=json.dumps(doc).encode(),
    )
    credentials = Credentials(key.access_key_id, key.secret_access_key)
    SigV4Auth(credentials, "sagemaker", "us-east-1").add_auth(request)
    answer = front.answer(signed_request(request.prepare()))
    return answer.status, json.loads(answer.body)


def test_an_unknown_target_is_an_unknown_operation(front: AwsFront, key: AccessKey) -> None:
    status, body = send_json(front, key, "SageMaker.MakeCoffee", {})
    assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_an_unknown_member_is_a_validation_exception_that_changes_nothing(
    front: AwsFront, key: AccessKey, world: World, data_dir: Path
) -> None:
    doc = {**training_request("job-1", data_dir), "Colour": "blue"}
    status, body = send_json(front, key, "SageMaker.CreateTrainingJob", doc)
    assert (status, body["__type"]) == (400, "ValidationException")
    assert 'Unknown parameter in input: "Colour"' in body["message"]
    assert world.store.training_jobs.list() == []


# -- hosting ------------------------------------------------------------------------------


def test_model_config_endpoint_come_up_in_service_with_aws_arns_and_counts(
    sm: Any, world: World
) -> None:
    make_endpoint(sm)
    described = sm.describe_endpoint(EndpointName="iris")
    assert described["EndpointStatus"] == "Creating"
    assert described["EndpointArn"] == "arn:aws:sagemaker:eu-west-1:000000000000:endpoint/iris"
    world.in_service("iris", 2)
    sm.get_waiter("endpoint_in_service").wait(EndpointName="iris", WaiterConfig={"Delay": 0})
    (variant,) = sm.describe_endpoint(EndpointName="iris")["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)
    assert variant["DeployedImages"][0]["SpecifiedImage"] == IMAGE
    model = sm.describe_model(ModelName="iris")
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["ModelArn"].endswith(":model/iris")
    config = sm.describe_endpoint_config(EndpointConfigName="iris")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 2
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == ["iris"]
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["iris"]


def test_an_endpoint_dockyard_deployed_has_a_model_and_config_the_aws_apis_describe(
    sm: Any, world: World
) -> None:
    """``dockyard deploy`` builds both from one request; boto3 follows DescribeEndpoint's
    EndpointConfigName to the config and its ModelName to the model."""
    world.deploy("iris", count=2)
    named = sm.describe_endpoint(EndpointName="iris")["EndpointConfigName"]
    config = sm.describe_endpoint_config(EndpointConfigName=named)
    (variant,) = config["ProductionVariants"]
    assert variant["InitialInstanceCount"] == 2
    assert sm.describe_model(ModelName=variant["ModelName"])["PrimaryContainer"]["Image"] == IMAGE

    world.engine.add_image("model:2")
    world.deploy("iris", count=3, Image="model:2")  # a redeploy replaces what it made
    assert sm.describe_model(ModelName="iris")["PrimaryContainer"]["Image"] == "model:2"
    config = sm.describe_endpoint_config(EndpointConfigName="iris")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 3


def test_a_deploy_never_replaces_a_model_or_config_someone_created(sm: Any, world: World) -> None:
    make_endpoint(sm, "iris", count=1)  # CreateModel and CreateEndpointConfig named iris
    world.engine.add_image("model:2")
    world.deploy("iris", count=2, Image="model:2")

    assert sm.describe_model(ModelName="iris")["PrimaryContainer"]["Image"] == IMAGE
    config = sm.describe_endpoint_config(EndpointConfigName="iris")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 1


def test_missing_hosting_resources_are_validation_exceptions_as_on_aws(sm: Any) -> None:
    for call, name in [
        (sm.describe_endpoint, {"EndpointName": "nope"}),
        (sm.describe_model, {"ModelName": "nope"}),
        (sm.describe_endpoint_config, {"EndpointConfigName": "nope"}),
        (sm.delete_endpoint, {"EndpointName": "nope"}),
    ]:
        with pytest.raises(ClientError) as raised:
            call(**name)
        assert error_of(raised) == ("ValidationException", 400)
        assert "Could not find" in raised.value.response["Error"]["Message"]


def test_an_endpoint_config_naming_a_missing_model_is_refused_and_not_stored(
    sm: Any, world: World
) -> None:
    with pytest.raises(ClientError) as raised:
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[{"VariantName": "v", "ModelName": "ghost"}],
        )
    assert 'Could not find model "arn:aws:sagemaker:eu-west-1:000000000000:model/ghost"' in str(
        raised.value
    )
    assert world.store.endpoint_configs.list() == []


def test_a_second_create_endpoint_is_refused_and_update_rolls(sm: Any, world: World) -> None:
    make_endpoint(sm, count=1)
    world.in_service("iris", 1)
    with pytest.raises(ClientError) as raised:
        sm.create_endpoint(EndpointName="iris", EndpointConfigName="iris")
    assert error_of(raised)[0] == "ValidationException"
    sm.create_endpoint_config(
        EndpointConfigName="iris-2",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "iris", "InitialInstanceCount": 2}
        ],
    )
    sm.update_endpoint(EndpointName="iris", EndpointConfigName="iris-2")
    assert sm.describe_endpoint(EndpointName="iris")["EndpointConfigName"] == "iris-2"
    world.in_service("iris", 2)
    assert sm.describe_endpoint(EndpointName="iris")["EndpointStatus"] == "InService"


def test_delete_endpoint_goes_deleting_then_the_deleted_waiter_succeeds(
    sm: Any, world: World
) -> None:
    make_endpoint(sm, count=1)
    world.in_service("iris", 1)
    sm.delete_endpoint(EndpointName="iris")
    assert sm.describe_endpoint(EndpointName="iris")["EndpointStatus"] == "Deleting"
    world.settle(lambda: world.store.endpoints.get("iris") is None, "iris deleted")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="iris", WaiterConfig={"Delay": 0})
    sm.delete_endpoint_config(EndpointConfigName="iris")
    sm.delete_model(ModelName="iris")
    assert sm.list_models()["Models"] == []


def test_list_endpoints_pages_with_next_token_and_filters(sm: Any) -> None:
    for name in ("a-1", "a-2", "b-1"):
        make_endpoint(sm, name, count=1)
    first = sm.list_endpoints(MaxResults=2, SortBy="Name", SortOrder="Ascending")
    assert [e["EndpointName"] for e in first["Endpoints"]] == ["a-1", "a-2"]
    rest = sm.list_endpoints(
        MaxResults=2, SortBy="Name", SortOrder="Ascending", NextToken=first["NextToken"]
    )
    assert [e["EndpointName"] for e in rest["Endpoints"]] == ["b-1"]
    assert "NextToken" not in rest
    assert [e["EndpointName"] for e in sm.list_endpoints(NameContains="b-")["Endpoints"]] == ["b-1"]


# -- training -----------------------------------------------------------------------------


def test_a_training_job_runs_to_completed_and_the_waiter_returns(
    sm: Any, world: World, data_dir: Path
) -> None:
    arn = sm.create_training_job(**training_request("job-1", data_dir))["TrainingJobArn"]
    assert arn == "arn:aws:sagemaker:eu-west-1:000000000000:training-job/job-1"
    host = world.launched("job-1")["algo-1"]
    (world.host_dir("job-1") / "model" / "model.joblib").write_bytes(b"weights")
    world.engine.exit(world.container_of(host.task.task_id).id, 0)
    world.ended("job-1")
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="job-1", WaiterConfig={"Delay": 0}
    )
    described = sm.describe_training_job(TrainingJobName="job-1")
    assert described["TrainingJobStatus"] == "Completed"
    assert described["ModelArtifacts"]["S3ModelArtifacts"].endswith("job-1/output/model.tar.gz")
    assert isinstance(described["CreationTime"], dt.datetime)
    summaries = sm.list_training_jobs(StatusEquals="Completed")["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in summaries] == ["job-1"]


def test_training_job_errors_use_the_documented_names(
    sm: Any, world: World, data_dir: Path
) -> None:
    with pytest.raises(ClientError) as raised:
        sm.describe_training_job(TrainingJobName="nope")
    assert error_of(raised)[0] == "ResourceNotFound"
    sm.create_training_job(**training_request("job-1", data_dir))
    with pytest.raises(ClientError) as raised:
        sm.create_training_job(**training_request("job-1", data_dir))
    assert error_of(raised)[0] == "ResourceInUse"
    sm.stop_training_job(TrainingJobName="job-1")
    world.ended("job-1")
    assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as raised:
        sm.stop_training_job(TrainingJobName="job-1")
    assert error_of(raised)[0] == "ValidationException"


# -- sagemaker-runtime --------------------------------------------------------------------


@pytest.fixture
def model_answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx.Request]]:
    """The model behind the balancer: echoes, or answers the status named in the body."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.content.startswith(b"status="):
            return httpx.Response(int(request.content[7:]), text="bad row")
        return httpx.Response(
            200,
            content=b"[0, 1]",
            headers={
                "Content-Type": "application/json",
                "X-Amzn-SageMaker-Custom-Attributes": "seen",
            },
        )

    fake = httpx.Client(transport=httpx.MockTransport(handle))
    monkeypatch.setattr(runtime, "_http", lambda: fake)
    yield seen
    fake.close()


def test_invoke_endpoint_passes_headers_and_names_the_variant(
    sm: Any, smr: Any, world: World, model_answers: list[httpx.Request]
) -> None:
    make_endpoint(sm, count=1)
    world.in_service("iris", 1)
    answer = smr.invoke_endpoint(
        EndpointName="iris",
        Body=b"5.1,3.5,1.4,0.2",
        ContentType="text/csv",
        Accept="application/json",
        CustomAttributes="trace=1",
    )
    assert answer["Body"].read() == b"[0, 1]"
    assert answer["ContentType"] == "application/json"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["CustomAttributes"] == "seen"
    (request,) = model_answers
    assert str(request.url) == world.lb.url_for("iris")
    assert request.headers["content-type"] == "text/csv"
    assert request.headers["accept"] == "application/json"
    assert request.headers["x-amzn-sagemaker-custom-attributes"] == "trace=1"


def test_a_model_4xx_is_a_model_error_with_the_original_status(
    sm: Any, smr: Any, world: World, model_answers: list[httpx.Request]
) -> None:
    make_endpoint(sm, count=1)
    world.in_service("iris", 1)
    with pytest.raises(ClientError) as raised:
        smr.invoke_endpoint(EndpointName="iris", Body=b"status=400", ContentType="text/csv")
    assert error_of(raised) == ("ModelError", 424)
    assert raised.value.response["OriginalStatusCode"] == 400
    assert raised.value.response["OriginalMessage"] == "bad row"


def test_invoking_a_missing_endpoint_or_a_target_model_is_a_validation_error(
    sm: Any, smr: Any, world: World, model_answers: list[httpx.Request]
) -> None:
    with pytest.raises(ClientError) as raised:
        smr.invoke_endpoint(EndpointName="nope", Body=b"1")
    assert error_of(raised) == ("ValidationError", 400)
    make_endpoint(sm, count=1)
    world.in_service("iris", 1)
    with pytest.raises(ClientError) as raised:
        smr.invoke_endpoint(EndpointName="iris", Body=b"1", TargetModel="a.tar.gz")
    assert error_of(raised) == ("ValidationError", 400)
    assert model_answers == []


# -- the daemon's API for keys, and the ASGI app ---------------------------------------------


def test_keys_issued_through_the_api_sign_and_deleted_keys_are_refused(
    world: World, front: AwsFront
) -> None:
    with TestClient(create_app(world.platform, world.control_plane)) as api:
        issued = api.post("/v1/aws/credentials").json()
        assert issued["EndpointUrl"] == f"http://127.0.0.1:{world.settings.aws_port}"
        key = AccessKey(issued["AccessKeyId"], issued["SecretAccessKey"], issued["CreateDate"])
        assert client(front, "sagemaker", key).list_endpoints()["Endpoints"] == []
        listed = api.get("/v1/aws/credentials").json()["AccessKeys"]
        assert [k["AccessKeyId"] for k in listed] == [key.access_key_id]
        assert "SecretAccessKey" not in listed[0]
        assert api.delete(f"/v1/aws/credentials/{key.access_key_id}").status_code == 200
        assert api.delete(f"/v1/aws/credentials/{key.access_key_id}").status_code == 404
    with pytest.raises(ClientError) as raised:
        client(front, "sagemaker", key).list_endpoints()
    assert error_of(raised)[0] == "UnrecognizedClientException"


def test_the_asgi_app_answers_an_unsigned_request_in_aws_shape(world: World) -> None:
    with TestClient(create_aws_front(world.platform)) as http:
        answer = http.post("/", headers={"X-Amz-Target": "SageMaker.ListEndpoints"}, content=b"{}")
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationToken"
    assert answer.headers["x-amzn-RequestId"]
    assert answer.json()["__type"] == "MissingAuthenticationToken"


# -- production variants and multi-container models -------------------------------------


def test_update_endpoint_weights_and_capacities_changes_the_split_and_describe(
    sm: Any, world: World
) -> None:
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint_config(
        EndpointConfigName="ab",
        ProductionVariants=[
            {"VariantName": "a", "ModelName": "m", "InitialInstanceCount": 1},
            {"VariantName": "b", "ModelName": "m", "InitialInstanceCount": 1},
        ],
    )
    sm.create_endpoint(EndpointName="ab", EndpointConfigName="ab")
    world.settle(lambda: world.status("ab") == "InService", "ab InService")
    answer = sm.update_endpoint_weights_and_capacities(
        EndpointName="ab",
        DesiredWeightsAndCapacities=[{"VariantName": "b", "DesiredWeight": 3.0}],
    )
    assert answer["EndpointArn"].endswith(":endpoint/ab")
    variants = sm.describe_endpoint(EndpointName="ab")["ProductionVariants"]
    assert {v["VariantName"]: v["CurrentWeight"] for v in variants} == {"a": 1.0, "b": 3.0}
    world.settle(lambda: [s.weight for s in world.lb.splits()["ab"]] == [1.0, 3.0], "the new split")
    with pytest.raises(ClientError) as raised:
        sm.update_endpoint_weights_and_capacities(
            EndpointName="ab",
            DesiredWeightsAndCapacities=[{"VariantName": "zz", "DesiredWeight": 1.0}],
        )
    assert error_of(raised)[1] == 400


def test_target_container_hostname_is_refused_where_the_contract_says(
    sm: Any, smr: Any, world: World, model_answers: list[httpx.Request]
) -> None:
    make_endpoint(sm, count=1)
    world.in_service("iris", 1)
    with pytest.raises(ClientError) as raised:  # not a Direct endpoint
        smr.invoke_endpoint(EndpointName="iris", Body=b"1", TargetContainerHostname="a")
    assert error_of(raised) == ("ValidationError", 400)
    assert model_answers == []
