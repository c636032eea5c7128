"""SageMaker hosting: Model → EndpointConfig (production variants) → Endpoint.

The three requests are SageMaker's ``CreateModel``, ``CreateEndpointConfig`` and
``CreateEndpoint`` (PascalCase, names per botocore's patterns). Locally:

* ``ModelDataUrl`` may be ``file:///absolute/path/model.tar.gz`` as well as ``s3://``;
* a variant's ``InstanceType`` may be ``local`` (the default) and its
  ``InitialInstanceCount`` defaults to 1;
* each production variant runs as one Dockyard service (see
  :mod:`dockyard.control.endpoint`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field, model_validator

from dockyard.spec import aws_model
from dockyard.spec.aws_shape import Relaxations, check_shape
from dockyard.spec.base import SageMakerModel, validate_document
from dockyard.spec.errors import InvalidDocument, SpecValueError, merge_problems
from dockyard.spec.fields import (
    Float,
    Int,
    aws_string,
    count_between,
    in_range,
    instance_type_of,
    one_of,
    reject_repeats,
    string_map,
)
from dockyard.spec.names import (
    SAGEMAKER_NAME_RULE,
    EndpointConfigName,
    EndpointName,
    ModelName,
    VariantName,
)
from dockyard.spec.uris import DataUriText

DEFAULT_STARTUP_HEALTH_CHECK_TIMEOUT_S = 240  # "4 minutes by default" (SageMaker contract)
MAX_PRODUCTION_VARIANTS = 10
_ROLE_RULE = "an IAM role ARN: arn:aws:iam::<account>:role/<name>"


class ModelContainer(SageMakerModel):
    """One container of a model (``PrimaryContainer`` or an entry of ``Containers``)."""

    aws_shape: ClassVar[str | None] = "ContainerDefinition"
    container_hostname: (
        Annotated[str, aws_string("sagemaker", "ContainerHostname", rule=SAGEMAKER_NAME_RULE)]
        | None
    ) = None
    image: Annotated[
        str, aws_string("sagemaker", "ContainerImage", rule="an image reference, no spaces")
    ]
    model_data_url: DataUriText | None = None
    environment: Annotated[
        dict[str, str], string_map("sagemaker", "EnvironmentMap", "environment variable")
    ] = Field(default_factory=dict)
    mode: Annotated[str, one_of("sagemaker", "ContainerMode")] = "SingleModel"


MIN_PIPELINE_CONTAINERS = 2
#: the name of the router among a multi-container replica's containers (see
#: :mod:`dockyard.runtime.pipeline.router`); no ContainerHostname may take it
ROUTER_CONTAINER = "dockyard-router"


class InferenceExecutionConfig(SageMakerModel):
    """How a model of several containers runs: Serial (a pipeline) or Direct."""

    aws_shape: ClassVar[str | None] = "InferenceExecutionConfig"
    mode: Annotated[str, one_of("sagemaker", "InferenceExecutionMode")]


class Model(SageMakerModel):
    """A CreateModel request: the image(s) and artifact an endpoint serves."""

    aws_shape: ClassVar[str | None] = "CreateModelInput"
    output_only: ClassVar[frozenset[str]] = frozenset(
        aws_model.members("sagemaker", "DescribeModelOutput")
    ) - frozenset(aws_model.members("sagemaker", "CreateModelInput"))

    model_name: ModelName
    primary_container: ModelContainer | None = None
    containers: Annotated[tuple[ModelContainer, ...], count_between(None, 15, "container")] = ()
    execution_role_arn: (
        Annotated[str, aws_string("sagemaker", "RoleArn", rule=_ROLE_RULE)] | None
    ) = None
    inference_execution_config: InferenceExecutionConfig | None = None

    @model_validator(mode="after")
    def _one_container_source(self) -> Model:
        if (self.primary_container is None) == (not self.containers):
            raise SpecValueError(
                "give exactly one of PrimaryContainer and Containers",
                hint="use PrimaryContainer for one image; Containers for a pipeline",
                at=("PrimaryContainer",),
            )
        return self

    @model_validator(mode="after")
    def _hostnames(self) -> Model:
        """Hostnames of several containers: unique, not the router's; all given in Direct
        mode (the caller names one per request)."""
        if not self.containers:
            return self
        reject_repeats(
            [self.hostname_of(index) for index in range(len(self.containers))],
            noun="container hostname",
            where="Containers",
            field="ContainerHostname",
            hint="give every container its own ContainerHostname",
        )
        for index, container in enumerate(self.containers):
            if container.container_hostname == ROUTER_CONTAINER:
                raise SpecValueError(
                    f"{ROUTER_CONTAINER} is the name of Dockyard's router container",
                    hint="choose another ContainerHostname",
                    at=("Containers", index, "ContainerHostname"),
                )
            if self.execution_mode == "Direct" and not container.container_hostname:
                raise SpecValueError(
                    "in Direct mode every container needs a ContainerHostname",
                    hint="callers name the container with TargetContainerHostname",
                    at=("Containers", index, "ContainerHostname"),
                )
        return self

    @property
    def execution_mode(self) -> str:
        """Serial (the default) or Direct."""
        config = self.inference_execution_config
        return config.mode if config is not None else "Serial"

    def hostname_of(self, index: int) -> str:
        """Container ``index``'s hostname (given, else ``container-N``, counted from 1)."""
        return self.containers[index].container_hostname or f"container-{index + 1}"

    @property
    def all_containers(self) -> tuple[ModelContainer, ...]:
        """The model's containers in order (just the primary one for a single-image model)."""
        return (self.primary_container,) if self.primary_container else self.containers


class ProductionVariant(SageMakerModel):
    """One variant of an endpoint: a model, a replica count and a traffic weight."""

    aws_shape: ClassVar[str | None] = "ProductionVariant"
    variant_name: VariantName
    model_name: ModelName
    initial_instance_count: Annotated[Int, in_range(1, None)] = 1
    instance_type: Annotated[str, instance_type_of("ProductionVariantInstanceType")] = "local"
    initial_variant_weight: Annotated[Float, in_range(0, None)] = 1.0
    container_startup_health_check_timeout_in_seconds: (
        Annotated[Int, in_range(60, 3600, "seconds")] | None
    ) = None

    @property
    def startup_timeout_s(self) -> int:
        """Seconds a replica has to pass /ping after it starts (default 240)."""
        value = self.container_startup_health_check_timeout_in_seconds
        return DEFAULT_STARTUP_HEALTH_CHECK_TIMEOUT_S if value is None else value


class EndpointConfig(SageMakerModel):
    """A CreateEndpointConfig request: 1-10 production variants with unique names."""

    aws_shape: ClassVar[str | None] = "CreateEndpointConfigInput"
    output_only: ClassVar[frozenset[str]] = frozenset(
        aws_model.members("sagemaker", "DescribeEndpointConfigOutput")
    ) - frozenset(aws_model.members("sagemaker", "CreateEndpointConfigInput"))

    endpoint_config_name: EndpointConfigName
    production_variants: Annotated[
        tuple[ProductionVariant, ...],
        count_between(1, MAX_PRODUCTION_VARIANTS, "production variant"),
    ]

    @model_validator(mode="after")
    def _unique_variants(self) -> EndpointConfig:
        reject_repeats(
            [variant.variant_name for variant in self.production_variants],
            noun="variant",
            where="ProductionVariants",
            field="VariantName",
            hint="give every production variant its own VariantName",
        )
        return self


class Endpoint(SageMakerModel):
    """A CreateEndpoint request: a name bound to an endpoint config."""

    aws_shape: ClassVar[str | None] = "CreateEndpointInput"
    output_only: ClassVar[frozenset[str]] = frozenset(
        aws_model.members("sagemaker", "DescribeEndpointOutput")
    ) - frozenset(aws_model.members("sagemaker", "CreateEndpointInput"))

    endpoint_name: EndpointName
    endpoint_config_name: EndpointConfigName


#: where a CreateModel document may depart from botocore's shape: file:// artifacts
MODEL_DEPARTURES = Relaxations(
    local_values={"Url": lambda value: isinstance(value, str) and value.startswith("file://")}
)


def parse_model(doc: Mapping[str, Any]) -> Model:
    """Validate a user's CreateModel JSON; raise SpecError naming the field and fix.

    Members the model does not declare (``InferenceExecutionConfig``, ``VpcConfig``,
    ``Tags``…) are held to botocore's ``CreateModelInput`` shape as well.
    """
    model = validate_document(Model, doc, what="model")
    problems = check_shape("sagemaker", "CreateModelInput", doc, relax=MODEL_DEPARTURES)
    if problems:
        raise InvalidDocument(merge_problems(problems, []), what="model")
    return model


def parse_endpoint_config(doc: Mapping[str, Any]) -> EndpointConfig:
    """Validate a user's CreateEndpointConfig JSON; raise SpecError naming the field and fix."""
    return validate_document(EndpointConfig, doc, what="endpoint config")


def parse_endpoint(doc: Mapping[str, Any]) -> Endpoint:
    """Validate a user's CreateEndpoint JSON; raise SpecError naming the field and fix."""
    return validate_document(Endpoint, doc, what="endpoint")
