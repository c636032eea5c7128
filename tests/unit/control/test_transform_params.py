"""A transform job's parameters: request, then /execution-parameters, then defaults."""

from __future__ import annotations

import pytest

from dockyard.control.transform_params import (
    ParameterError,
    TransformRequest,
    container_environment,
    read_execution_parameters,
    resolve,
)

pytestmark = pytest.mark.unit


def test_defaults_apply_when_nobody_says_otherwise() -> None:
    parameters = resolve(TransformRequest(), None)
    assert (parameters.max_payload_mb, parameters.max_concurrent, parameters.strategy) == (
        6,
        1,
        "MultiRecord",
    )
    assert set(parameters.sources.values()) == {"default"}


def test_the_container_overrides_defaults_and_the_request_overrides_the_container() -> None:
    offered = read_execution_parameters(
        {"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 2}
    )
    parameters = resolve(TransformRequest(max_payload_mb=5), offered)
    assert parameters.max_payload_mb == 5
    assert parameters.max_concurrent == 4
    assert parameters.strategy == "SingleRecord"
    assert parameters.sources == {
        "MaxPayloadInMB": "request",
        "MaxConcurrentTransforms": "container",
        "BatchStrategy": "container",
    }


def test_payload_over_100_mb_is_refused() -> None:
    with pytest.raises(ParameterError, match="more than 100"):
        resolve(TransformRequest(), TransformRequest(max_payload_mb=101))


def test_concurrency_times_payload_over_100_is_refused_naming_the_sources() -> None:
    with pytest.raises(ParameterError, match="from the container and the request"):
        resolve(TransformRequest(max_payload_mb=30), TransformRequest(max_concurrent=4))


def test_zero_mb_means_no_payload_limit() -> None:
    assert resolve(TransformRequest(max_payload_mb=0), None).max_payload_bytes is None
    assert resolve(TransformRequest(max_payload_mb=1), None).max_payload_bytes == 1024 * 1024


def test_containers_get_sagemaker_batch_and_only_the_settings_the_user_gave() -> None:
    assert container_environment(TransformRequest()) == {"SAGEMAKER_BATCH": "true"}
    assert container_environment(TransformRequest(8, 2, "SingleRecord")) == {
        "SAGEMAKER_BATCH": "true",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": "8",
        "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "2",
        "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD",
    }


@pytest.mark.parametrize(
    "body",
    [[], {"MaxPayloadInMB": "6"}, {"MaxConcurrentTransforms": -1}, {"BatchStrategy": "ALL"}],
)
def test_malformed_execution_parameters_are_refused(body: object) -> None:
    with pytest.raises(ParameterError):
        read_execution_parameters(body)
