"""The config files a training host sees, as the SageMaker platform writes them."""

from __future__ import annotations

import json

import pytest

from dockyard.control.training_contract import (
    HYPERPARAMETERS_FILE,
    INPUT_DATA_CONFIG_FILE,
    RESOURCE_CONFIG_FILE,
    ChannelInfo,
    TrainingHostConfig,
    hyperparameters_json,
    input_data_config,
    render_config_files,
    resource_config,
)
from dockyard.errors import SpecError

pytestmark = pytest.mark.unit


def test_hyperparameters_keep_user_strings_verbatim() -> None:
    hps = {"C": "1.0", "name": '"x"', "plain": "abc"}
    assert hyperparameters_json(hps, None, None) == hps


def test_script_mode_settings_are_json_encoded_like_the_sdk() -> None:
    result = hyperparameters_json({"C": "1.0"}, "train.py", "/opt/ml/code/src.tar.gz")
    assert result["sagemaker_program"] == '"train.py"'
    assert result["sagemaker_submit_directory"] == '"/opt/ml/code/src.tar.gz"'
    assert json.loads(result["sagemaker_program"]) == "train.py"


def test_program_given_twice_is_rejected() -> None:
    with pytest.raises(SpecError) as info:
        hyperparameters_json({"sagemaker_program": '"a.py"'}, "b.py", None)
    assert info.value.field == "HyperParameters.sagemaker_program"


def test_program_in_hyperparameters_alone_passes_through() -> None:
    result = hyperparameters_json({"sagemaker_program": '"a.py"'}, None, None)
    assert result == {"sagemaker_program": '"a.py"'}


def test_more_than_100_hyperparameters_are_rejected() -> None:
    hps = {f"k{i}": "1" for i in range(100)}
    assert len(hyperparameters_json(hps, None, None)) == 100
    with pytest.raises(SpecError) as info:
        hyperparameters_json(hps, "train.py", None)
    assert info.value.field == "HyperParameters"


def test_hyperparameter_value_over_2500_characters_is_rejected() -> None:
    with pytest.raises(SpecError) as info:
        hyperparameters_json({"big": "x" * 2501}, None, None)
    assert info.value.field == "HyperParameters.big"
    assert hyperparameters_json({"big": "x" * 2500}, None, None)["big"] == "x" * 2500


def test_resource_config_has_the_platform_shape() -> None:
    assert resource_config("algo-2", ["algo-1", "algo-2"], "ml.m5.xlarge") == {
        "current_host": "algo-2",
        "current_instance_type": "ml.m5.xlarge",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1", "algo-2"],
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": "ml.m5.xlarge",
                "hosts": ["algo-1", "algo-2"],
            }
        ],
        "network_interface_name": "eth0",
    }


def test_resource_config_sorts_hosts_lexicographically() -> None:
    config = resource_config("algo-1", ["algo-2", "algo-10", "algo-1"], "local")
    assert config["hosts"] == ["algo-1", "algo-10", "algo-2"]


def test_resource_config_takes_another_network_interface() -> None:
    config = resource_config("algo-1", ["algo-1"], "local", network_interface_name="ethwe")
    assert config["network_interface_name"] == "ethwe"


def test_resource_config_rejects_a_current_host_outside_the_job() -> None:
    with pytest.raises(SpecError) as info:
        resource_config("algo-3", ["algo-1", "algo-2"], "local")
    assert info.value.field == "current_host"


def test_input_data_config_writes_platform_defaults() -> None:
    assert input_data_config({"train": ChannelInfo()}) == {
        "train": {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
    }


def test_input_data_config_includes_content_type_only_when_given() -> None:
    config = input_data_config(
        {
            "train": ChannelInfo(content_type="text/csv", s3_distribution_type="ShardedByS3Key"),
            "test": ChannelInfo(input_mode="FastFile", record_wrapper_type="RecordIO"),
        }
    )
    assert config["train"] == {
        "ContentType": "text/csv",
        "TrainingInputMode": "File",
        "S3DistributionType": "ShardedByS3Key",
        "RecordWrapperType": "None",
    }
    assert "ContentType" not in config["test"]
    assert config["test"]["TrainingInputMode"] == "FastFile"
    assert config["test"]["RecordWrapperType"] == "RecordIO"


def test_channel_rejects_an_unknown_input_mode() -> None:
    with pytest.raises(SpecError) as info:
        ChannelInfo(input_mode="Stream")
    assert info.value.field == "TrainingInputMode"
    assert "FastFile" in (info.value.hint or "")


def test_channel_name_must_match_the_api_pattern() -> None:
    with pytest.raises(SpecError) as info:
        input_data_config({"bad name": ChannelInfo()})
    assert info.value.field == "InputDataConfig.bad name"


def test_render_writes_three_json_files() -> None:
    host = TrainingHostConfig(
        current_host="algo-1",
        hosts=("algo-1", "algo-2"),
        instance_type="ml.m5.large",
        hyperparameters=hyperparameters_json({"epochs": "3"}, "train.py", None),
        channels={"train": ChannelInfo(content_type="text/csv")},
    )
    files = render_config_files(host)
    assert set(files) == {HYPERPARAMETERS_FILE, RESOURCE_CONFIG_FILE, INPUT_DATA_CONFIG_FILE}
    hps = json.loads(files[HYPERPARAMETERS_FILE])
    assert hps == {"epochs": "3", "sagemaker_program": '"train.py"'}
    assert all(isinstance(value, str) for value in hps.values())
    assert json.loads(files[RESOURCE_CONFIG_FILE]) == resource_config(
        "algo-1", ["algo-1", "algo-2"], "ml.m5.large"
    )
    assert json.loads(files[INPUT_DATA_CONFIG_FILE]) == input_data_config(host.channels)
