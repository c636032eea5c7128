"""A SageMaker batch transform job, as ``CreateTransformJob`` takes it (PascalCase JSON).

Names, enums and limits are botocore's. Local differences, all deliberate:

* the input and output may be ``file:///absolute/path`` as well as ``s3://bucket/key``
  (see :mod:`dockyard.spec.uris`); only ``S3Prefix`` input (every object under the
  prefix is one input file), no manifest files;
* ``TransformResources`` may be left out: one instance of InstanceType ``local``;
* ``Container`` is a **Dockyard-only** key (remove it before sending the request to
  AWS): a ``ContainerDefinition`` (``Image``, ``ModelDataUrl``, ``Environment``) to run
  when no model named ``ModelName`` was created with CreateModel — what ``dockyard
  transform --model IMAGE`` sends.

The rules AWS states in its documentation rather than its model are checked here:
``MaxPayloadInMB`` at most 100, and ``MaxConcurrentTransforms x MaxPayloadInMB`` at
most 100 when both are given (the values a container's ``/execution-parameters``
returns are held to the same rules by :mod:`dockyard.control.transform_params`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, model_validator

from dockyard.spec import aws_model
from dockyard.spec.base import SageMakerModel, validate_document
from dockyard.spec.endpoint import ModelContainer
from dockyard.spec.errors import SpecValueError
from dockyard.spec.fields import Int, aws_string, in_range, instance_type_of, one_of, string_map
from dockyard.spec.names import SAGEMAKER_NAME_RULE, ModelName
from dockyard.spec.uris import DataUri, DataUriText, parse_data_uri

MAX_PAYLOAD_MB = 100  # "The value of MaxPayloadInMB cannot be greater than 100 MB"
MAX_TOTAL_PAYLOAD_MB = 100  # MaxConcurrentTransforms * MaxPayloadInMB must not exceed 100

TransformJobName = Annotated[
    str, aws_string("sagemaker", "TransformJobName", rule=SAGEMAKER_NAME_RULE)
]
JsonPathText = Annotated[
    str, aws_string("sagemaker", "JsonPath", rule='a JSONPath of up to 63 characters, e.g. "$[1:]"')
]


def _s3_prefix_only(kind: str) -> str:
    if kind != "S3Prefix":
        raise SpecValueError(
            f"S3DataType {kind} is not supported locally",
            hint="use S3Prefix: every object under the URI is one input file",
        )
    return kind


class TransformS3DataSource(SageMakerModel):
    aws_shape: ClassVar[str | None] = "TransformS3DataSource"
    s3_data_type: Annotated[str, one_of("sagemaker", "S3DataType"), AfterValidator(_s3_prefix_only)]
    s3_uri: DataUriText

    @property
    def location(self) -> DataUri:
        return parse_data_uri(self.s3_uri)


class TransformDataSource(SageMakerModel):
    aws_shape: ClassVar[str | None] = "TransformDataSource"
    s3_data_source: TransformS3DataSource


class TransformInput(SageMakerModel):
    """Where the input files are, their content type, compression and record framing."""

    aws_shape: ClassVar[str | None] = "TransformInput"
    data_source: TransformDataSource
    content_type: str | None = None
    compression_type: Annotated[str, one_of("sagemaker", "CompressionType")] = "None"
    split_type: Annotated[str, one_of("sagemaker", "SplitType")] = "None"


class TransformOutput(SageMakerModel):
    """Where ``X.out`` goes for each input ``X``, its Accept type and record separator."""

    aws_shape: ClassVar[str | None] = "TransformOutput"
    s3_output_path: DataUriText
    accept: str | None = None
    assemble_with: Annotated[str, one_of("sagemaker", "AssemblyType")] = "None"


class TransformResources(SageMakerModel):
    """How many instances (replicas of the model container) and of which type."""

    aws_shape: ClassVar[str | None] = "TransformResources"
    instance_type: Annotated[str, instance_type_of("TransformInstanceType")] = "local"
    instance_count: Annotated[Int, in_range(1, None)] = 1


class ModelClientConfig(SageMakerModel):
    """How long one invocation may take and how often a failed one is retried."""

    aws_shape: ClassVar[str | None] = "ModelClientConfig"
    invocations_timeout_in_seconds: Annotated[Int, in_range(1, 3600, "seconds")] = 600
    invocations_max_retries: Annotated[Int, in_range(0, 3)] = 3


class DataProcessing(SageMakerModel):
    """JSONPath filters on each input record and output record, and whether to join them."""

    aws_shape: ClassVar[str | None] = "DataProcessing"
    input_filter: JsonPathText = "$"
    output_filter: JsonPathText = "$"
    join_source: Annotated[str, one_of("sagemaker", "JoinSource")] = "None"


class TransformJobSpec(SageMakerModel):
    """A CreateTransformJob request (plus the Dockyard-only ``Container``)."""

    aws_shape: ClassVar[str | None] = "CreateTransformJobRequest"
    output_only: ClassVar[frozenset[str]] = frozenset(
        aws_model.members("sagemaker", "DescribeTransformJobResponse")
    ) - frozenset(aws_model.members("sagemaker", "CreateTransformJobRequest"))
    dockyard_only: ClassVar[frozenset[str]] = frozenset({"Container"})

    transform_job_name: TransformJobName
    model_name: ModelName
    max_concurrent_transforms: Annotated[Int, in_range(0, None)] | None = None
    max_payload_in_mb: Annotated[Int, in_range(0, MAX_PAYLOAD_MB, "MB")] | None = Field(
        default=None, alias="MaxPayloadInMB"
    )
    batch_strategy: Annotated[str, one_of("sagemaker", "BatchStrategy")] | None = None
    model_client_config: ModelClientConfig = Field(default_factory=ModelClientConfig)
    environment: Annotated[
        dict[str, str], string_map("sagemaker", "TransformEnvironmentMap", "environment variable")
    ] = Field(default_factory=dict)
    transform_input: TransformInput
    transform_output: TransformOutput
    transform_resources: TransformResources = Field(default_factory=TransformResources)
    data_processing: DataProcessing = Field(default_factory=DataProcessing)
    container: ModelContainer | None = None

    @model_validator(mode="after")
    def _total_payload(self) -> TransformJobSpec:
        concurrent, payload = self.max_concurrent_transforms, self.max_payload_in_mb
        if concurrent and payload and concurrent * payload > MAX_TOTAL_PAYLOAD_MB:
            raise SpecValueError(
                f"MaxConcurrentTransforms x MaxPayloadInMB is {concurrent * payload} MB, "
                f"more than {MAX_TOTAL_PAYLOAD_MB}",
                hint="lower one of them so that their product is at most 100",
                at=("MaxPayloadInMB",),
            )
        return self

    @property
    def name(self) -> str:
        return self.transform_job_name


def parse_transform_job(doc: Mapping[str, Any]) -> TransformJobSpec:
    """Validate a user's CreateTransformJob JSON; raise SpecError naming the field and fix."""
    return validate_document(TransformJobSpec, doc, what="transform job")
