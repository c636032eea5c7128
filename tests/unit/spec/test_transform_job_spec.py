"""CreateTransformJob as Dockyard reads it: botocore's names, enums and limits."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.errors import SpecError
from dockyard.spec.transform_job import parse_transform_job

pytestmark = pytest.mark.unit


def request(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "TransformJobName": "score-iris",
        "ModelName": "iris",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": "s3://data/out/", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 2},
    }
    doc.update(changes)
    return doc


def test_a_full_request_reads_with_aws_defaults() -> None:
    spec = parse_transform_job(request())
    assert spec.transform_resources.instance_count == 2
    assert spec.model_client_config.invocations_timeout_in_seconds == 600
    assert spec.model_client_config.invocations_max_retries == 3
    assert spec.data_processing.join_source == "None"
    assert spec.max_payload_in_mb is None  # not given: the container or the default decides


def test_transform_resources_default_to_one_local_instance() -> None:
    doc = request()
    del doc["TransformResources"]
    spec = parse_transform_job(doc)
    assert (spec.transform_resources.instance_type, spec.transform_resources.instance_count) == (
        "local",
        1,
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"BatchStrategy": "Multi"}, "BatchStrategy", "MultiRecord"),
        ({"MaxPayloadInMB": 101}, "MaxPayloadInMB", "100"),
        ({"MaxPayloadInMB": 30, "MaxConcurrentTransforms": 4}, "MaxPayloadInMB", "120 MB"),
        ({"TransformJobName": "no_underscores"}, "TransformJobName", "letters"),
        ({"ModelClientConfig": {"InvocationsMaxRetries": 4}}, "InvocationsMaxRetries", "3"),
        ({"TransformJobStatus": "Completed"}, "TransformJobStatus", "responses"),
    ],
)
def test_bad_requests_name_the_field(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_transform_job(request(**changes))
    error = raised.value
    assert field in (error.field or "")
    assert words in f"{error.message} {error.hint}"


def test_a_split_type_aws_lacks_gets_a_did_you_mean() -> None:
    doc = request()
    doc["TransformInput"]["SplitType"] = "Lines"
    with pytest.raises(SpecError) as raised:
        parse_transform_job(doc)
    assert raised.value.field == "TransformInput.SplitType"
    assert raised.value.hint == 'did you mean "Line"?'


def test_manifest_input_is_refused_locally() -> None:
    doc = request()
    doc["TransformInput"]["DataSource"]["S3DataSource"]["S3DataType"] = "ManifestFile"
    with pytest.raises(SpecError, match="not supported locally"):
        parse_transform_job(doc)
