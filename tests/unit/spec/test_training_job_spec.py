"""Training jobs: CreateTrainingJob JSON in, TrainingJobSpec out, or a located SpecError."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from dockyard.errors import SpecError
from dockyard.spec.training_job import (
    INSTANCE_RESOURCES,
    HostLimits,
    parse_training_job,
)

pytestmark = pytest.mark.unit

Doc = dict[str, Any]


def base() -> Doc:
    return {
        "TrainingJobName": "iris-1",
        "AlgorithmSpecification": {
            "TrainingImage": "dockyard/sklearn:1.5",
            "TrainingInputMode": "File",
        },
        "HyperParameters": {"max_depth": "5"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file:///data/train"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://models/iris"},
    }


def with_(change: Callable[[Doc], object]) -> Doc:
    doc = copy.deepcopy(base())
    change(doc)
    return doc


def channel(doc: Doc) -> Doc:
    found: Doc = doc["InputDataConfig"][0]
    return found


def test_minimal_job_gets_sagemaker_defaults() -> None:
    job = parse_training_job(base())
    assert job.algorithm_specification.training_input_mode == "File"
    assert job.max_runtime_s == 86_400
    assert job.resource_config.instance_type == "local"
    assert job.hosts == ("algo-1",)
    assert job.role_arn is None
    source = job.input_data_config[0].data_source.s3_data_source
    assert source is not None
    assert source.s3_data_distribution_type == "FullyReplicated"
    assert source.location.path == "/data/train"


def test_instance_count_names_the_hosts() -> None:
    job = parse_training_job(with_(lambda d: d.update(ResourceConfig={"InstanceCount": 3})))
    assert job.hosts == ("algo-1", "algo-2", "algo-3")


def test_channel_input_mode_overrides_the_algorithms() -> None:
    job = parse_training_job(with_(lambda d: channel(d).update(InputMode="FastFile")))
    assert job.input_mode(job.input_data_config[0]) == "FastFile"
    assert parse_training_job(base()).input_mode(job.input_data_config[0]) == "FastFile"
    plain = parse_training_job(base())
    assert plain.input_mode(plain.input_data_config[0]) == "File"


def test_local_instance_type_runs_without_limits() -> None:
    assert parse_training_job(base()).host_limits() == HostLimits()


def test_resource_limits_cap_each_host() -> None:
    job = parse_training_job(
        with_(lambda d: d.update(ResourceLimits={"Cpus": 2, "MemoryMiB": 4096}))
    )
    assert job.host_limits() == HostLimits(cpus=2.0, memory_mib=4096)


def test_known_instance_types_are_capped_at_their_published_size() -> None:
    for instance_type, (vcpus, gib) in INSTANCE_RESOURCES.items():
        doc = base()
        doc["ResourceConfig"] = {"InstanceType": instance_type}
        job = parse_training_job(doc)
        assert job.host_limits() == HostLimits(cpus=float(vcpus), memory_mib=gib * 1024)


def test_other_instance_types_are_informational() -> None:
    job = parse_training_job(
        with_(lambda d: d.update(ResourceConfig={"InstanceType": "ml.p3.2xlarge"}))
    )
    assert job.host_limits() == HostLimits()


def test_resource_limits_win_over_the_instance_type() -> None:
    doc = with_(
        lambda d: d.update(
            ResourceConfig={"InstanceType": "ml.m5.xlarge"}, ResourceLimits={"Cpus": 0.5}
        )
    )
    assert parse_training_job(doc).host_limits() == HostLimits(cpus=0.5)


def test_limits_are_clamped_to_the_machine() -> None:
    limits = HostLimits(cpus=16.0, memory_mib=65536)
    assert limits.clamped(host_cpus=4.0, host_memory_mib=8192) == HostLimits(4.0, 8192)
    assert HostLimits().clamped(4.0, 8192) == HostLimits()


def test_resource_limits_are_left_out_of_what_sagemaker_would_get_only_by_the_caller() -> None:
    job = parse_training_job(with_(lambda d: d.update(ResourceLimits={"Cpus": 1})))
    assert job.to_aws()["ResourceLimits"] == {"Cpus": 1.0}
    assert "ResourceLimits" in type(job).dockyard_only


def test_other_sagemaker_fields_are_kept() -> None:
    job = parse_training_job(with_(lambda d: d.update(Tags=[{"Key": "a", "Value": "b"}])))
    assert job.unmodelled_fields() == ["Tags"]


def test_checkpoint_local_path_defaults_to_opt_ml_checkpoints() -> None:
    job = parse_training_job(with_(lambda d: d.update(CheckpointConfig={"S3Uri": "s3://b/ckpt"})))
    assert job.checkpoint_config is not None
    assert job.checkpoint_config.local_path == "/opt/ml/checkpoints"


def test_role_arn_is_accepted_when_valid() -> None:
    arn = "arn:aws:iam::123456789012:role/SageMakerRole"
    assert parse_training_job(with_(lambda d: d.update(RoleArn=arn))).role_arn == arn


INVALID: list[tuple[str, Doc, str, str]] = [
    (
        "empty-entrypoint",
        with_(lambda d: d["AlgorithmSpecification"].update(ContainerEntrypoint=[])),
        "AlgorithmSpecification.ContainerEntrypoint",
        "add an item",
    ),
    (
        "checkpoint-bad-uri",
        with_(lambda d: d.update(CheckpointConfig={"S3Uri": "/ckpt"})),
        "CheckpointConfig.S3Uri",
        "file:///absolute/path",
    ),
    (
        "checkpoint-relative-path",
        with_(lambda d: d.update(CheckpointConfig={"S3Uri": "s3://b/c", "LocalPath": "ckpt"})),
        "CheckpointConfig.LocalPath",
        'start it with "/"',
    ),
    (
        "name-underscore",
        with_(lambda d: d.update(TrainingJobName="iris_1")),
        "TrainingJobName",
        "letters, digits and hyphens",
    ),
    (
        "name-too-long",
        with_(lambda d: d.update(TrainingJobName="a" * 64)),
        "TrainingJobName",
        "1-63",
    ),
    (
        "name-missing",
        with_(lambda d: d.pop("TrainingJobName")),
        "TrainingJobName",
        'add "TrainingJobName"',
    ),
    (
        "image-missing",
        with_(lambda d: d["AlgorithmSpecification"].pop("TrainingImage")),
        "AlgorithmSpecification.TrainingImage",
        'add "TrainingImage"',
    ),
    (
        "input-mode-missing",  # botocore requires it
        with_(lambda d: d["AlgorithmSpecification"].pop("TrainingInputMode")),
        "AlgorithmSpecification.TrainingInputMode",
        'add "TrainingInputMode"',
    ),
    (
        "no-channels",  # botocore's min: 1 (leave the member out for a job without data)
        with_(lambda d: d.update(InputDataConfig=[])),
        "InputDataConfig",
        "add entries",
    ),
    (
        "network-isolation-not-a-boolean",  # not modelled, still botocore's type
        with_(lambda d: d.update(EnableNetworkIsolation="yes")),
        "EnableNetworkIsolation",
        "true or false",
    ),
    (
        "tags-not-a-list",
        with_(lambda d: d.update(Tags="nope")),
        "Tags",
        "[ ]",
    ),
    (
        "tag-without-a-value",
        with_(lambda d: d.update(Tags=[{"Key": "team"}])),
        "Tags[0].Value",
        'add "Value"',
    ),
    (
        "vpc-config-wrong-type",
        with_(lambda d: d.update(VpcConfig={"SecurityGroupIds": "sg-1", "Subnets": ["s"]})),
        "VpcConfig.SecurityGroupIds",
        "[ ]",
    ),
    (
        "checkpoint-uri-missing",
        with_(lambda d: d.update(CheckpointConfig={"LocalPath": "/opt/ml/ckpt"})),
        "CheckpointConfig.S3Uri",
        'add "S3Uri"',
    ),
    (
        "pipe-mode",
        with_(lambda d: d["AlgorithmSpecification"].update(TrainingInputMode="Pipe")),
        "AlgorithmSpecification.TrainingInputMode",
        "use File",
    ),
    (
        "input-mode-typo",
        with_(lambda d: d["AlgorithmSpecification"].update(TrainingInputMode="file")),
        "AlgorithmSpecification.TrainingInputMode",
        'did you mean "File"',
    ),
    (
        "hyperparameter-number",
        with_(lambda d: d["HyperParameters"].update(epochs=10)),
        "HyperParameters.epochs",
        'quote it: write "10"',
    ),
    (
        "hyperparameter-float",
        with_(lambda d: d["HyperParameters"].update(lr=0.1)),
        "HyperParameters.lr",
        'quote it: write "0.1"',
    ),
    (
        "hyperparameter-bool",
        with_(lambda d: d["HyperParameters"].update(shuffle=True)),
        "HyperParameters.shuffle",
        'quote it: write "true"',
    ),
    (
        "hyperparameter-list",
        with_(lambda d: d["HyperParameters"].update(layers=[1, 2])),
        "HyperParameters.layers",
        "JSON-encode",
    ),
    (
        "hyperparameter-too-long",
        with_(lambda d: d["HyperParameters"].update(big="x" * 2501)),
        "HyperParameters.big",
        "shorten it",
    ),
    (
        "hyperparameter-key-too-long",
        with_(lambda d: d["HyperParameters"].update({"k" * 257: "1"})),
        "HyperParameters." + "k" * 257,
        "at most 256 characters",
    ),
    (
        "too-many-hyperparameters",
        with_(lambda d: d.update(HyperParameters={f"p{i}": "1" for i in range(101)})),
        "HyperParameters",
        "remove 1 of them",
    ),
    (
        "hyperparameters-not-object",
        with_(lambda d: d.update(HyperParameters=["a"])),
        "HyperParameters",
        "write it as {",
    ),
    (
        "environment-bad-name",
        with_(lambda d: d.update(Environment={"1X": "a"})),
        'Environment["1X"]',
        "[a-zA-Z_][a-zA-Z0-9_]*",
    ),
    (
        "environment-number",
        with_(lambda d: d.update(Environment={"X": 1})),
        "Environment.X",
        'quote it: write "1"',
    ),
    (
        "environment-value-too-long",
        with_(lambda d: d.update(Environment={"X": "v" * 513})),
        "Environment.X",
        "shorten it",
    ),
    (
        "channel-name-invalid",
        with_(lambda d: channel(d).update(ChannelName="tr ain")),
        "InputDataConfig[0].ChannelName",
        "letters, digits, dots",
    ),
    (
        "channel-duplicate",
        with_(lambda d: d["InputDataConfig"].append(copy.deepcopy(channel(d)))),
        "InputDataConfig[1].ChannelName",
        "its own ChannelName",
    ),
    (
        "too-many-channels",
        with_(
            lambda d: d.update(
                InputDataConfig=[
                    {
                        "ChannelName": f"c{i}",
                        "DataSource": {
                            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/k"}
                        },
                    }
                    for i in range(21)
                ]
            )
        ),
        "InputDataConfig",
        "remove 1 of them",
    ),
    (
        "manifest-data",
        with_(lambda d: channel(d)["DataSource"]["S3DataSource"].update(S3DataType="ManifestFile")),
        "InputDataConfig[0].DataSource.S3DataSource.S3DataType",
        "use S3Prefix",
    ),
    (
        "relative-file-uri",
        with_(lambda d: channel(d)["DataSource"]["S3DataSource"].update(S3Uri="file://data")),
        "InputDataConfig[0].DataSource.S3DataSource.S3Uri",
        "absolute path",
    ),
    (
        "bad-distribution",
        with_(
            lambda d: channel(d)["DataSource"]["S3DataSource"].update(
                S3DataDistributionType="Sharded"
            )
        ),
        "InputDataConfig[0].DataSource.S3DataSource.S3DataDistributionType",
        "ShardedByS3Key",
    ),
    (
        "file-system-source",
        with_(
            lambda d: channel(d)["DataSource"].update(FileSystemDataSource={"FileSystemId": "fs-1"})
        ),
        "InputDataConfig[0].DataSource.FileSystemDataSource",
        '"S3DataSource"',
    ),
    (
        "no-data-source",
        with_(lambda d: channel(d).update(DataSource={})),
        "InputDataConfig[0].DataSource.S3DataSource",
        'add "S3DataSource"',
    ),
    (
        "channel-pipe",
        with_(lambda d: channel(d).update(InputMode="Pipe")),
        "InputDataConfig[0].InputMode",
        "use File",
    ),
    (
        "output-missing",
        with_(lambda d: d.pop("OutputDataConfig")),
        "OutputDataConfig",
        'add "OutputDataConfig"',
    ),
    (
        "output-https",
        with_(
            lambda d: d.update(OutputDataConfig={"S3OutputPath": "https://b.s3.amazonaws.com/x"})
        ),
        "OutputDataConfig.S3OutputPath",
        "s3://bucket/key",
    ),
    (
        "instance-count-zero",
        with_(lambda d: d.update(ResourceConfig={"InstanceCount": 0})),
        "ResourceConfig.InstanceCount",
        "1 or more",
    ),
    (
        "instance-type-typo",
        with_(lambda d: d.update(ResourceConfig={"InstanceType": "ml.m5.larg"})),
        "ResourceConfig.InstanceType",
        'did you mean "ml.m5.large"',
    ),
    (
        "volume-size-zero",
        with_(lambda d: d.update(ResourceConfig={"VolumeSizeInGB": 0})),
        "ResourceConfig.VolumeSizeInGB",
        "1 or more",
    ),
    (
        "instance-groups",
        with_(lambda d: d.update(ResourceConfig={"InstanceGroups": []})),
        "ResourceConfig.InstanceGroups",
        "InstanceType and InstanceCount",
    ),
    (
        "runtime-over-28-days",
        with_(lambda d: d.update(StoppingCondition={"MaxRuntimeInSeconds": 28 * 86400 + 1})),
        "StoppingCondition.MaxRuntimeInSeconds",
        "from 1 to 2419200",
    ),
    (
        "runtime-zero",
        with_(lambda d: d.update(StoppingCondition={"MaxRuntimeInSeconds": 0})),
        "StoppingCondition.MaxRuntimeInSeconds",
        "from 1 to 2419200",
    ),
    (
        "role-not-an-arn",
        with_(lambda d: d.update(RoleArn="SageMakerRole-for-training")),
        "RoleArn",
        "arn:aws:iam::<account>:role/<name>",
    ),
    (
        "limits-zero-cpus",
        with_(lambda d: d.update(ResourceLimits={"Cpus": 0})),
        "ResourceLimits.Cpus",
        "0.01 or more",
    ),
    (
        "limits-tiny-memory",
        with_(lambda d: d.update(ResourceLimits={"MemoryMiB": 1})),
        "ResourceLimits.MemoryMiB",
        "6 or more",
    ),
    (
        "limits-typo",
        with_(lambda d: d.update(ResourceLimits={"MemoryMB": 512})),
        "ResourceLimits.MemoryMB",
        'did you mean "MemoryMiB"',
    ),
    (
        "resource-limit-typo",
        with_(lambda d: d.update(ResourceLimit={"Cpus": 1})),
        "ResourceLimit",
        'did you mean "ResourceLimits"',
    ),
    (
        "status-given",
        with_(lambda d: d.update(TrainingJobStatus="Completed")),
        "TrainingJobStatus",
        "remove it",
    ),
    (
        "camel-case-field",
        with_(lambda d: d.update(trainingJobName="x")),
        "trainingJobName",
        'did you mean "TrainingJobName"',
    ),
]


@pytest.mark.parametrize(
    ("doc", "field", "hint"),
    [pytest.param(doc, field, hint, id=name) for name, doc, field, hint in INVALID],
)
def test_invalid_training_job_points_at_the_field_and_the_fix(
    doc: Doc, field: str, hint: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_training_job(doc)
    assert caught.value.field == field
    assert caught.value.hint is not None and hint in caught.value.hint, caught.value.hint


# -- MetricDefinitions ------------------------------------------------------------------------


def with_metrics(*definitions: Doc) -> Doc:
    return with_(lambda d: d["AlgorithmSpecification"].update(MetricDefinitions=list(definitions)))


def test_metric_definitions_are_kept_and_sent_back_as_written() -> None:
    written = {"Name": "train:loss", "Regex": "loss: ([0-9\\.]+)"}
    job = parse_training_job(with_metrics(written))
    assert [(d.name, d.regex) for d in job.algorithm_specification.metric_definitions] == [
        ("train:loss", "loss: ([0-9\\.]+)")
    ]
    assert job.to_aws()["AlgorithmSpecification"]["MetricDefinitions"] == [written]


@pytest.mark.parametrize(
    ("definitions", "field", "words"),
    [
        (
            [{"Name": "loss", "Regex": "loss: ([0-9"}],
            "AlgorithmSpecification.MetricDefinitions[0].Regex",
            "not a valid regular expression",
        ),
        (
            [{"Name": "loss", "Regex": "loss: [0-9.]+"}],
            "AlgorithmSpecification.MetricDefinitions[0].Regex",
            "no capturing group",
        ),
        (
            [{"Name": "loss", "Regex": "(a)"}, {"Name": "loss", "Regex": "(b)"}],
            "AlgorithmSpecification.MetricDefinitions[1].Name",
            "already defined",
        ),
        (
            [{"Name": "", "Regex": "(a)"}],
            "AlgorithmSpecification.MetricDefinitions[0].Name",
            "empty",
        ),
        (
            [{"Name": "loss", "Regex": "(a)" * 200}],
            "AlgorithmSpecification.MetricDefinitions[0].Regex",
            "at most 500",
        ),
        (
            [{"Name": f"m{i}", "Regex": "(a)"} for i in range(41)],
            "AlgorithmSpecification.MetricDefinitions",
            "40",
        ),
    ],
)
def test_bad_metric_definitions_are_refused_naming_the_field(
    definitions: list[Doc], field: str, words: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_training_job(with_metrics(*definitions))
    assert caught.value.field == field
    assert words in str(caught.value)
