"""The model server in a batch transform job takes requests as large as the job's
MaxPayloadInMB (the contract's SAGEMAKER_* variables); elsewhere the real-time 6 MB."""

from __future__ import annotations

import pytest

from dockyard.runtime.serve.config import (
    MAX_PAYLOAD_BYTES,
    UNLIMITED_PAYLOAD_BYTES,
    ConfigError,
    ServeConfig,
)

pytestmark = pytest.mark.unit

MB = 1024 * 1024


def test_real_time_requests_keep_the_6_mb_limit() -> None:
    assert ServeConfig.from_env({}).max_payload_bytes == MAX_PAYLOAD_BYTES == 6 * MB
    env = {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "50"}  # not a batch job: ignored
    assert ServeConfig.from_env(env).max_payload_bytes == 6 * MB


def test_a_batch_job_takes_its_max_payload() -> None:
    env = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "50"}
    assert ServeConfig.from_env(env).max_payload_bytes == 50 * MB


def test_a_batch_job_without_the_setting_keeps_the_default() -> None:
    assert ServeConfig.from_env({"SAGEMAKER_BATCH": "true"}).max_payload_bytes == 6 * MB


def test_zero_means_no_limit() -> None:
    env = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "0"}
    assert ServeConfig.from_env(env).max_payload_bytes == UNLIMITED_PAYLOAD_BYTES


def test_a_bad_value_names_the_variable() -> None:
    env = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "six"}
    with pytest.raises(ConfigError, match="SAGEMAKER_MAX_PAYLOAD_IN_MB"):
        ServeConfig.from_env(env)
