"""AWS's framework image URIs run on Dockyard's framework images, through boto3.

The SageMaker SDK names AWS's prebuilt images (``…/sagemaker-scikit-learn:1.2-1-cpu-py3``
for ``SKLearn(framework_version="1.2-1")``); they cannot be pulled here, so Dockyard's
``dockyard/sklearn:latest`` runs instead, the request keeping the URI it named.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from test_aws_front import ROLE, training_request

from dockyard.errors import SpecError
from dockyard.server.aws_framework_images import aws_framework, stand_in
from dockyard.testing import FakeEngine

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit

SKLEARN_URI = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
STAND_IN = "dockyard/sklearn:latest"


@pytest.mark.parametrize(
    ("image", "framework"),
    [
        (SKLEARN_URI, "sklearn"),
        ("683313688378.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1", "xgboost"),
        ("763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:2.1-cpu-py310", "pytorch"),
        ("763104351884.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-inference:2.1", "pytorch"),
        (
            f"683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost@sha256:{'a' * 64}",
            "xgboost",
        ),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/my-team/sklearn:1", None),
        ("dockyard/sklearn:latest", None),
        ("sagemaker-scikit-learn:1.2-1", None),
    ],
)
def test_only_aws_s_framework_repositories_are_recognised(
    image: str, framework: str | None
) -> None:
    assert aws_framework(image) == framework


def test_an_image_of_that_name_here_runs_itself_and_a_missing_stand_in_says_how_to_build_it() -> (
    None
):
    engine = FakeEngine()
    with pytest.raises(SpecError) as raised:
        stand_in(engine, SKLEARN_URI, "PrimaryContainer.Image")
    assert raised.value.field == "PrimaryContainer.Image"
    assert "dockyard setup --framework sklearn" in str(raised.value.hint)
    engine.add_image(STAND_IN)
    assert stand_in(engine, SKLEARN_URI, "f") == STAND_IN
    engine.add_image(SKLEARN_URI)  # pushed here by its own name: that image runs
    assert stand_in(engine, SKLEARN_URI, "f") is None


def test_a_training_job_naming_aws_s_image_runs_dockyard_s_and_says_so(
    sm: Any, world: World, data_dir: Path
) -> None:
    world.engine.add_image(STAND_IN)
    request = training_request("job-1", data_dir)
    request["AlgorithmSpecification"]["TrainingImage"] = SKLEARN_URI
    sm.create_training_job(**request)
    host = world.launched("job-1")["algo-1"]
    assert world.container_of(host.task.task_id).image == STAND_IN
    described = sm.describe_training_job(TrainingJobName="job-1")
    assert described["AlgorithmSpecification"]["TrainingImage"] == SKLEARN_URI
    events = [e.message for e in world.store.events("training_job", "job-1")]
    assert any("runs as dockyard/sklearn:latest" in message for message in events)


def test_an_endpoint_naming_aws_s_image_serves_on_dockyard_s(sm: Any, world: World) -> None:
    stand_in_id = world.engine.add_image(STAND_IN).id
    sm.create_model(
        ModelName="iris", PrimaryContainer={"Image": SKLEARN_URI}, ExecutionRoleArn=ROLE
    )
    sm.create_endpoint_config(
        EndpointConfigName="iris",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "iris",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName="iris", EndpointConfigName="iris")
    world.in_service("iris", 1)
    (variant,) = sm.describe_endpoint(EndpointName="iris")["ProductionVariants"]
    assert variant["DeployedImages"][0]["SpecifiedImage"] == SKLEARN_URI
    assert variant["DeployedImages"][0]["ResolvedImage"] == stand_in_id
    assert sm.describe_model(ModelName="iris")["PrimaryContainer"]["Image"] == SKLEARN_URI


def test_without_the_stand_in_built_the_request_is_refused_and_nothing_is_made(
    sm: Any, world: World, data_dir: Path
) -> None:
    request = training_request("job-1", data_dir)
    request["AlgorithmSpecification"]["TrainingImage"] = SKLEARN_URI
    with pytest.raises(ClientError) as raised:
        sm.create_training_job(**request)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "dockyard setup --framework sklearn" in raised.value.response["Error"]["Message"]
    assert world.store.training_jobs.list() == []
