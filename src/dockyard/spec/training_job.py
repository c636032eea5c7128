"""A SageMaker training job, as ``CreateTrainingJob`` takes it (PascalCase JSON).

Names, enums and limits are botocore's. Local differences, all deliberate:

* Input channels and the output path may be ``file:///absolute/path`` (as in
  SageMaker local mode) as well as ``s3://bucket/key`` (see :mod:`dockyard.spec.uris`).
* ``RoleArn`` is optional: nothing local needs it (it is kept when given).
* ``ResourceConfig`` may be left out: one host of InstanceType ``local``.
* Only what Dockyard can honour is accepted: S3Prefix data, File or FastFile input
  (Pipe needs SageMaker's FIFO channels), S3 data sources (no EFS/FSx).
* ``ResourceLimits`` is a **Dockyard-only** key (not part of SageMaker's API; remove it
  before sending the request to AWS): ``{"Cpus": 2, "MemoryMiB": 4096}`` caps each
  training host's container. Without it, InstanceType ``local`` runs unlimited, and the
  few ``ml.*`` types in :data:`INSTANCE_RESOURCES` are capped at their published size.

Everything else is botocore's: the whole request is checked against its
``CreateTrainingJobRequest`` shape (:func:`~dockyard.spec.aws_shape.check_shape`) with
only the departures above relaxed (:data:`LOCAL_DEPARTURES`), so members Dockyard does not
act on (``Tags``, ``EnableNetworkIsolation``, ``VpcConfig``…) are still held to AWS's
types, enums, required members and limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, ValidationError, model_validator

from dockyard.errors import SpecError
from dockyard.spec import aws_model
from dockyard.spec.aws_shape import Relaxations, check_shape
from dockyard.spec.base import AWS_NAMES, SageMakerModel
from dockyard.spec.errors import InvalidDocument, SpecValueError, merge_problems, problems_of
from dockyard.spec.fields import (
    AbsolutePath,
    Float,
    Int,
    NonEmpty,
    aws_string,
    count_between,
    in_range,
    instance_type_of,
    one_of,
    reject_repeats,
    string_map,
)
from dockyard.spec.names import ChannelName, TrainingJobName, training_hosts
from dockyard.spec.uris import DataUri, DataUriText, parse_data_uri

DEFAULT_MAX_RUNTIME_S = 86_400  # 1 day (botocore: "The default value is 1 day")
MAX_MAX_RUNTIME_S = 28 * 86_400  # "The maximum value is 28 days"
LOCAL_INPUT_MODES = ("File", "FastFile")
DEFAULT_CHECKPOINT_PATH = "/opt/ml/checkpoints"

# vCPUs and GiB of memory of the EC2 instance behind each ml.* type, from the Amazon EC2
# User Guide, "General purpose instances", hardware specifications table.
INSTANCE_RESOURCES: Mapping[str, tuple[int, int]] = {
    "ml.m4.xlarge": (4, 16),
    "ml.m5.large": (2, 8),
    "ml.m5.xlarge": (4, 16),
    "ml.m5.2xlarge": (8, 32),
    "ml.m5.4xlarge": (16, 64),
}


def _local_input_mode(mode: str) -> str:
    if mode not in LOCAL_INPUT_MODES:
        raise SpecValueError(
            f"input mode {mode} is not supported locally",
            hint="use File (or FastFile); Pipe mode streams through SageMaker's FIFOs",
        )
    return mode


InputMode = Annotated[
    str, one_of("sagemaker", "TrainingInputMode"), AfterValidator(_local_input_mode)
]


def _metric_regex(pattern: str) -> str:
    """A metric regex must compile and capture the value in its first group."""
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise SpecValueError(
            f"is not a valid regular expression ({error})",
            hint='e.g. "loss: ([0-9\\.]+)": the first group captures the value',
        ) from None
    if compiled.groups < 1:
        raise SpecValueError(
            "has no capturing group, so it can never yield a value",
            hint='put the number in parentheses, e.g. "loss: ([0-9\\.]+)"',
        )
    return pattern


class MetricDefinition(SageMakerModel):
    """A metric read from the job's output: each line the regex matches gives a point,
    the number its first group captures (SageMaker's MetricDefinitions)."""

    aws_shape: ClassVar[str | None] = "MetricDefinition"
    name: Annotated[NonEmpty, aws_string("sagemaker", "MetricName", rule="a metric name")]
    regex: Annotated[
        str,
        aws_string("sagemaker", "MetricRegex", rule="a regular expression, up to 500 characters"),
        AfterValidator(_metric_regex),
    ]


class AlgorithmSpecification(SageMakerModel):
    """Which image trains, how it reads its data, and which metrics its output reports."""

    aws_shape: ClassVar[str | None] = "AlgorithmSpecification"
    training_image: Annotated[
        NonEmpty, aws_string("sagemaker", "AlgorithmImage", rule="an image reference")
    ]
    training_input_mode: InputMode = "File"
    container_entrypoint: Annotated[tuple[str, ...], count_between(1, 100, "item")] | None = None
    container_arguments: Annotated[tuple[str, ...], count_between(1, 100, "argument")] | None = None
    metric_definitions: Annotated[
        tuple[MetricDefinition, ...], count_between(0, 40, "metric definition")
    ] = ()

    @model_validator(mode="after")
    def _unique_metrics(self) -> AlgorithmSpecification:
        reject_repeats(
            [definition.name for definition in self.metric_definitions],
            noun="metric",
            where="MetricDefinitions",
            field="Name",
            hint="give every metric its own Name",
        )
        return self


def _s3_prefix_only(kind: str) -> str:
    if kind != "S3Prefix":
        raise SpecValueError(
            f"S3DataType {kind} is not supported locally",
            hint="use S3Prefix: every object under the URI becomes a file of the channel",
        )
    return kind


class S3DataSource(SageMakerModel):
    aws_shape: ClassVar[str | None] = "S3DataSource"
    s3_data_type: Annotated[str, one_of("sagemaker", "S3DataType"), AfterValidator(_s3_prefix_only)]
    s3_uri: DataUriText
    s3_data_distribution_type: Annotated[str, one_of("sagemaker", "S3DataDistribution")] = (
        "FullyReplicated"
    )

    @property
    def location(self) -> DataUri:
        return parse_data_uri(self.s3_uri)


class DataSource(SageMakerModel):
    """Where a channel's data comes from; locally only ``S3DataSource``."""

    aws_shape: ClassVar[str | None] = "DataSource"
    s3_data_source: S3DataSource | None = None

    @model_validator(mode="after")
    def _s3_only(self) -> DataSource:
        for other in self.model_extra or {}:
            raise SpecValueError(
                f"{other} is not supported locally",
                hint='use "S3DataSource" with an s3:// or file:/// S3Uri',
                at=(other,),
            )
        if self.s3_data_source is None:
            raise SpecValueError(
                "is required", hint='add "S3DataSource" to DataSource', at=("S3DataSource",)
            )
        return self


class Channel(SageMakerModel):
    """One named input (``/opt/ml/input/data/<ChannelName>/``)."""

    aws_shape: ClassVar[str | None] = "Channel"
    channel_name: ChannelName
    data_source: DataSource
    content_type: str | None = None
    compression_type: Annotated[str, one_of("sagemaker", "CompressionType")] | None = None
    record_wrapper_type: Annotated[str, one_of("sagemaker", "RecordWrapper")] | None = None
    input_mode: InputMode | None = None


class OutputDataConfig(SageMakerModel):
    """Where ``model.tar.gz`` (and ``output.tar.gz``) go: ``<S3OutputPath>/<job>/output/``."""

    aws_shape: ClassVar[str | None] = "OutputDataConfig"
    s3_output_path: DataUriText
    compression_type: Annotated[str, one_of("sagemaker", "OutputCompressionType")] | None = None


class ResourceConfig(SageMakerModel):
    """How many hosts (algo-1..N) and of which type."""

    aws_shape: ClassVar[str | None] = "ResourceConfig"
    instance_type: Annotated[str, instance_type_of("TrainingInstanceType")] = "local"
    instance_count: Annotated[Int, in_range(1, None)] = 1
    volume_size_in_gb: Annotated[Int, in_range(1, None, "GB")] | None = Field(
        default=None, alias="VolumeSizeInGB"
    )

    @model_validator(mode="after")
    def _no_instance_groups(self) -> ResourceConfig:
        if "InstanceGroups" in (self.model_extra or {}):
            raise SpecValueError(
                "heterogeneous clusters (InstanceGroups) are not supported locally",
                hint="use InstanceType and InstanceCount",
                at=("InstanceGroups",),
            )
        return self


class StoppingCondition(SageMakerModel):
    aws_shape: ClassVar[str | None] = "StoppingCondition"
    max_runtime_in_seconds: Annotated[Int, in_range(1, MAX_MAX_RUNTIME_S, "seconds")] = (
        DEFAULT_MAX_RUNTIME_S
    )
    max_wait_time_in_seconds: Annotated[Int, in_range(1, None, "seconds")] | None = None


class CheckpointConfig(SageMakerModel):
    """``LocalPath`` in the container is synced to ``S3Uri`` (and restored on start)."""

    aws_shape: ClassVar[str | None] = "CheckpointConfig"
    s3_uri: DataUriText
    local_path: AbsolutePath = DEFAULT_CHECKPOINT_PATH


class ResourceLimits(SageMakerModel):
    """Dockyard-only: per-host caps on CPUs and memory (no SageMaker counterpart)."""

    aws_shape: ClassVar[str | None] = None
    cpus: Annotated[Float, in_range(0.01, None, "CPUs")] | None = None
    memory_mib: Annotated[Int, in_range(6, None, "MiB")] | None = Field(
        default=None, alias="MemoryMiB"
    )


@dataclass(frozen=True)
class HostLimits:
    """Caps for one training host's container (``None``: not capped)."""

    cpus: float | None = None
    memory_mib: int | None = None

    def clamped(self, host_cpus: float, host_memory_mib: int) -> HostLimits:
        """These limits, no larger than the machine (an engine refuses more CPUs than exist)."""
        return HostLimits(
            cpus=None if self.cpus is None else min(self.cpus, host_cpus),
            memory_mib=None if self.memory_mib is None else min(self.memory_mib, host_memory_mib),
        )


class TrainingJobSpec(SageMakerModel):
    """A CreateTrainingJob request (plus the Dockyard-only ``ResourceLimits``)."""

    aws_shape: ClassVar[str | None] = "CreateTrainingJobRequest"
    output_only: ClassVar[frozenset[str]] = frozenset(
        aws_model.members("sagemaker", "DescribeTrainingJobResponse")
    ) - frozenset(aws_model.members("sagemaker", "CreateTrainingJobRequest"))
    dockyard_only: ClassVar[frozenset[str]] = frozenset({"ResourceLimits"})

    training_job_name: TrainingJobName
    hyper_parameters: Annotated[
        dict[str, str], string_map("sagemaker", "HyperParameters", "hyperparameter")
    ] = Field(default_factory=dict)
    algorithm_specification: AlgorithmSpecification
    role_arn: (
        Annotated[
            str,
            aws_string(
                "sagemaker", "RoleArn", rule="an IAM role ARN: arn:aws:iam::<account>:role/<name>"
            ),
        ]
        | None
    ) = None
    input_data_config: Annotated[tuple[Channel, ...], count_between(0, 20, "channel")] = ()
    output_data_config: OutputDataConfig
    resource_config: ResourceConfig = Field(default_factory=ResourceConfig)
    stopping_condition: StoppingCondition = Field(default_factory=StoppingCondition)
    environment: Annotated[
        dict[str, str], string_map("sagemaker", "TrainingEnvironmentMap", "environment variable")
    ] = Field(default_factory=dict)
    checkpoint_config: CheckpointConfig | None = None
    resource_limits: ResourceLimits | None = None

    @model_validator(mode="after")
    def _unique_channels(self) -> TrainingJobSpec:
        reject_repeats(
            [channel.channel_name for channel in self.input_data_config],
            noun="channel",
            where="InputDataConfig",
            field="ChannelName",
            hint="give every channel its own ChannelName",
        )
        return self

    @property
    def hosts(self) -> tuple[str, ...]:
        """algo-1 … algo-N, one per instance."""
        return training_hosts(self.resource_config.instance_count)

    @property
    def max_runtime_s(self) -> int:
        return self.stopping_condition.max_runtime_in_seconds

    def input_mode(self, channel: Channel) -> str:
        """The channel's InputMode, or the algorithm's TrainingInputMode when unset."""
        return channel.input_mode or self.algorithm_specification.training_input_mode

    def host_limits(self) -> HostLimits:
        """Caps per host: ResourceLimits, else the instance type's published size, else none."""
        if self.resource_limits is not None:
            return HostLimits(self.resource_limits.cpus, self.resource_limits.memory_mib)
        size = INSTANCE_RESOURCES.get(self.resource_config.instance_type)
        if size is None:
            return HostLimits()
        vcpus, gib = size
        return HostLimits(cpus=float(vcpus), memory_mib=gib * 1024)


REQUEST_SHAPE = "CreateTrainingJobRequest"
WHAT = "training job"

LOCAL_DEPARTURES = Relaxations(
    optional=frozenset({(REQUEST_SHAPE, "RoleArn")}),
    extra_members=frozenset({(REQUEST_SHAPE, "ResourceLimits")}),
    local_values={
        "S3Uri": lambda value: isinstance(value, str) and value.startswith("file://"),
        "TrainingInstanceType": lambda value: value == "local",
    },
)


def parse_training_job(doc: Mapping[str, Any]) -> TrainingJobSpec:
    """Validate a user's CreateTrainingJob JSON; raise SpecError naming the field and fix.

    Two passes, every problem of both reported at once: botocore's shape for the whole
    request, and the model for what Dockyard acts on (its message wins for a field both
    found, since it knows what runs locally).
    """
    if not isinstance(doc, Mapping):
        raise SpecError(
            f"a {WHAT} must be a JSON object, not {type(doc).__name__}",
            hint=f"write the {WHAT} as {{...}}",
        )
    shape_problems = check_shape("sagemaker", REQUEST_SHAPE, doc, relax=LOCAL_DEPARTURES)
    try:
        spec = TrainingJobSpec.model_validate(doc, by_name=False, context={AWS_NAMES: True})
    except ValidationError as exc:
        raise InvalidDocument(merge_problems(shape_problems, problems_of(exc)), what=WHAT) from None
    if shape_problems:
        raise InvalidDocument(merge_problems(shape_problems, []), what=WHAT)
    return spec
