"""Models, endpoint configs and endpoints: SageMaker JSON in, or a located SpecError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dockyard.errors import SpecError
from dockyard.spec.endpoint import (
    DEFAULT_STARTUP_HEALTH_CHECK_TIMEOUT_S,
    parse_endpoint,
    parse_endpoint_config,
    parse_model,
)

pytestmark = pytest.mark.unit

Doc = dict[str, Any]


def model_doc(**extra: Any) -> Doc:
    doc: Doc = {
        "ModelName": "iris",
        "PrimaryContainer": {
            "Image": "dockyard/sklearn:1.5",
            "ModelDataUrl": "s3://m/model.tar.gz",
        },
    }
    doc.update(extra)
    return doc


def config_doc(*variants: Doc) -> Doc:
    return {
        "EndpointConfigName": "iris-config",
        "ProductionVariants": list(variants)
        or [{"VariantName": "AllTraffic", "ModelName": "iris"}],
    }


def test_model_with_primary_container() -> None:
    model = parse_model(model_doc())
    assert model.all_containers[0].image == "dockyard/sklearn:1.5"
    assert model.all_containers[0].mode == "SingleModel"


def test_model_with_containers() -> None:
    doc = {"ModelName": "pipe", "Containers": [{"Image": "a"}, {"Image": "b"}]}
    assert [c.image for c in parse_model(doc).all_containers] == ["a", "b"]


def test_local_model_data_url_is_accepted() -> None:
    doc = model_doc(PrimaryContainer={"Image": "i", "ModelDataUrl": "file:///models/m.tar.gz"})
    assert parse_model(doc).all_containers[0].model_data_url == "file:///models/m.tar.gz"


def test_variant_defaults() -> None:
    variant = parse_endpoint_config(config_doc()).production_variants[0]
    assert variant.initial_instance_count == 1
    assert variant.initial_variant_weight == 1.0
    assert variant.instance_type == "local"
    assert variant.startup_timeout_s == DEFAULT_STARTUP_HEALTH_CHECK_TIMEOUT_S


def test_variant_startup_timeout_is_taken_from_the_config() -> None:
    doc = config_doc(
        {"VariantName": "A", "ModelName": "m", "ContainerStartupHealthCheckTimeoutInSeconds": 600}
    )
    assert parse_endpoint_config(doc).production_variants[0].startup_timeout_s == 600


def test_weight_may_be_an_integer() -> None:
    doc = config_doc({"VariantName": "A", "ModelName": "m", "InitialVariantWeight": 2})
    assert parse_endpoint_config(doc).production_variants[0].initial_variant_weight == 2.0


def test_endpoint() -> None:
    endpoint = parse_endpoint({"EndpointName": "iris", "EndpointConfigName": "iris-config"})
    assert endpoint.endpoint_config_name == "iris-config"


def _error(parse: Callable[[Doc], object], doc: Doc) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse(doc)
    return caught.value


INVALID: list[tuple[str, Callable[[Doc], object], Doc, str, str]] = [
    (
        "model-name-invalid",
        parse_model,
        model_doc(ModelName="iris_model"),
        "ModelName",
        "letters, digits and hyphens",
    ),
    (
        "model-name-trailing-hyphen",
        parse_model,
        model_doc(ModelName="iris-"),
        "ModelName",
        "ending with a letter or digit",
    ),
    (
        "model-without-container",
        parse_model,
        {"ModelName": "m"},
        "PrimaryContainer",
        "PrimaryContainer for one image",
    ),
    (
        "model-with-both",
        parse_model,
        model_doc(Containers=[{"Image": "x"}]),
        "PrimaryContainer",
        "PrimaryContainer for one image",
    ),
    (
        "image-with-space",
        parse_model,
        model_doc(PrimaryContainer={"Image": "a b"}),
        "PrimaryContainer.Image",
        "no spaces",
    ),
    (
        "image-missing",
        parse_model,
        model_doc(PrimaryContainer={}),
        "PrimaryContainer.Image",
        'add "Image"',
    ),
    (
        "bad-model-url",
        parse_model,
        model_doc(PrimaryContainer={"Image": "i", "ModelDataUrl": "/models/m.tar.gz"}),
        "PrimaryContainer.ModelDataUrl",
        "file:///absolute/path",
    ),
    (
        "env-number",
        parse_model,
        model_doc(PrimaryContainer={"Image": "i", "Environment": {"WORKERS": 2}}),
        "PrimaryContainer.Environment.WORKERS",
        'quote it: write "2"',
    ),
    (
        "bad-mode",
        parse_model,
        model_doc(PrimaryContainer={"Image": "i", "Mode": "Multi"}),
        "PrimaryContainer.Mode",
        "MultiModel",
    ),
    (
        "too-many-containers",
        parse_model,
        {"ModelName": "m", "Containers": [{"Image": "i"}] * 16},
        "Containers",
        "remove 1 of them",
    ),
    (
        "role-invalid",
        parse_model,
        model_doc(ExecutionRoleArn="role"),
        "ExecutionRoleArn",
        "IAM role ARN",
    ),
    ("model-output-field", parse_model, model_doc(ModelArn="arn:x"), "ModelArn", "remove it"),
    (
        "no-variants",
        parse_endpoint_config,
        {"EndpointConfigName": "c", "ProductionVariants": []},
        "ProductionVariants",
        "add a production variant",
    ),
    (
        "eleven-variants",
        parse_endpoint_config,
        config_doc(*[{"VariantName": f"v{i}", "ModelName": "m"} for i in range(11)]),
        "ProductionVariants",
        "remove 1 of them",
    ),
    (
        "duplicate-variant",
        parse_endpoint_config,
        config_doc({"VariantName": "A", "ModelName": "m"}, {"VariantName": "A", "ModelName": "n"}),
        "ProductionVariants[1].VariantName",
        "its own VariantName",
    ),
    (
        "variant-without-model",
        parse_endpoint_config,
        config_doc({"VariantName": "A"}),
        "ProductionVariants[0].ModelName",
        'add "ModelName"',
    ),
    (
        "zero-instances",
        parse_endpoint_config,
        config_doc({"VariantName": "A", "ModelName": "m", "InitialInstanceCount": 0}),
        "ProductionVariants[0].InitialInstanceCount",
        "1 or more",
    ),
    (
        "negative-weight",
        parse_endpoint_config,
        config_doc({"VariantName": "A", "ModelName": "m", "InitialVariantWeight": -0.5}),
        "ProductionVariants[0].InitialVariantWeight",
        "0 or more",
    ),
    (
        "startup-timeout-too-short",
        parse_endpoint_config,
        config_doc(
            {
                "VariantName": "A",
                "ModelName": "m",
                "ContainerStartupHealthCheckTimeoutInSeconds": 59,
            }
        ),
        "ProductionVariants[0].ContainerStartupHealthCheckTimeoutInSeconds",
        "from 60 to 3600",
    ),
    (
        "startup-timeout-too-long",
        parse_endpoint_config,
        config_doc(
            {
                "VariantName": "A",
                "ModelName": "m",
                "ContainerStartupHealthCheckTimeoutInSeconds": 3601,
            }
        ),
        "ProductionVariants[0].ContainerStartupHealthCheckTimeoutInSeconds",
        "from 60 to 3600",
    ),
    (
        "bad-instance-type",
        parse_endpoint_config,
        config_doc({"VariantName": "A", "ModelName": "m", "InstanceType": "ml.t2.medum"}),
        "ProductionVariants[0].InstanceType",
        'did you mean "ml.t2.medium"',
    ),
    (
        "variant-name-invalid",
        parse_endpoint_config,
        config_doc({"VariantName": "All Traffic", "ModelName": "m"}),
        "ProductionVariants[0].VariantName",
        "letters, digits and hyphens",
    ),
    (
        "config-name-missing",
        parse_endpoint_config,
        {"ProductionVariants": []},
        "EndpointConfigName",
        'add "EndpointConfigName"',
    ),
    (
        "endpoint-name-invalid",
        parse_endpoint,
        {"EndpointName": "my_endpoint", "EndpointConfigName": "c"},
        "EndpointName",
        "letters, digits and hyphens",
    ),
    (
        "endpoint-status-given",
        parse_endpoint,
        {"EndpointName": "e", "EndpointConfigName": "c", "EndpointStatus": "InService"},
        "EndpointStatus",
        "remove it",
    ),
    (
        "endpoint-config-missing",
        parse_endpoint,
        {"EndpointName": "e"},
        "EndpointConfigName",
        'add "EndpointConfigName"',
    ),
]


@pytest.mark.parametrize(
    ("parse", "doc", "field", "hint"),
    [pytest.param(p, doc, field, hint, id=name) for name, p, doc, field, hint in INVALID],
)
def test_invalid_hosting_request_points_at_the_field_and_the_fix(
    parse: Callable[[Doc], object], doc: Doc, field: str, hint: str
) -> None:
    error = _error(parse, doc)
    assert error.field == field
    assert error.hint is not None and hint in error.hint, error.hint


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        (
            {"InferenceExecutionConfig": {"Mode": "Sideways"}},
            "InferenceExecutionConfig.Mode",
            "Serial",
        ),
        ({"EnableNetworkIsolation": "yes"}, "EnableNetworkIsolation", "true or false"),
        ({"Tags": "nope"}, "Tags", "must be a list"),
    ],
)
def test_model_members_the_spec_does_not_declare_follow_botocore(
    extra: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(SpecError) as raised:
        parse_model(model_doc(**extra))
    assert raised.value.field == field
    assert words in raised.value.message


def test_a_valid_inference_execution_config_is_kept() -> None:
    model = parse_model(model_doc(InferenceExecutionConfig={"Mode": "Direct"}))
    assert model.inference_execution_config is not None
    assert model.inference_execution_config.mode == "Direct"
