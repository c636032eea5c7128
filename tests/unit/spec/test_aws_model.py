"""botocore's models as the source of truth, and Dockyard's models checked against them."""

from __future__ import annotations

import pytest

from dockyard.spec import aws_model
from dockyard.spec import endpoint as endpoint_spec
from dockyard.spec import repository as repository_spec
from dockyard.spec import service as service_spec
from dockyard.spec import task_definition as task_spec
from dockyard.spec import training_job as training_spec
from dockyard.spec.base import SpecModel

pytestmark = pytest.mark.unit


def test_enum_reads_botocore_values_in_order() -> None:
    assert aws_model.enum("sagemaker", "TrainingJobStatus")[:2] == ("InProgress", "Completed")
    assert "EssentialContainerExited" in aws_model.enum("ecs", "TaskStopCode")


def test_enum_of_a_non_enum_shape_is_empty() -> None:
    assert aws_model.enum("ecs", "String") == ()


def test_pattern_and_limits_of_a_name_shape() -> None:
    assert aws_model.pattern("sagemaker", "TrainingJobName") is not None
    limits = aws_model.limits("sagemaker", "TrainingJobName")
    assert (limits.min, limits.max) == (1, 63)
    assert aws_model.compiled_pattern("sagemaker", "TrainingJobName") is not None
    assert aws_model.compiled_pattern("ecs", "String") is None


def test_limits_without_bounds_are_none() -> None:
    limits = aws_model.limits("ecs", "String")
    assert (limits.min, limits.max) == (None, None)


def test_members_required_and_member_shape() -> None:
    assert "containerDefinitions" in aws_model.members("ecs", "RegisterTaskDefinitionRequest")
    assert aws_model.required("ecs", "HealthCheck") == frozenset({"command"})
    assert aws_model.member_shape("ecs", "PortMapping", "protocol") == "TransportProtocol"


def test_unknown_shapes_and_members_are_named_in_the_error() -> None:
    with pytest.raises(KeyError, match="NoSuchShape"):
        aws_model.shape("ecs", "NoSuchShape")
    with pytest.raises(KeyError, match="nope"):
        aws_model.member_shape("ecs", "PortMapping", "nope")


def test_service_model_is_loaded_once() -> None:
    assert aws_model.service_model("ecs") is aws_model.service_model("ecs")


SPEC_MODULES = (
    task_spec,
    service_spec,
    training_spec,
    endpoint_spec,
    repository_spec,
)  # define the models


def _spec_models() -> list[type[SpecModel]]:
    """Every model class of the spec modules (all subclasses of SpecModel) with an AWS shape."""
    found: list[type[SpecModel]] = []
    pending: list[type[SpecModel]] = [SpecModel]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.aws_shape is not None:
            found.append(model)
    return sorted(found, key=lambda m: m.__name__)


SPEC_MODELS = _spec_models()


def test_the_model_walk_finds_the_nested_models() -> None:
    names = {model.__name__ for model in SPEC_MODELS}
    assert {"PortMapping", "HealthCheck", "S3DataSource", "ProductionVariant"} <= names


@pytest.mark.parametrize("model", SPEC_MODELS, ids=lambda m: m.__name__)
def test_every_field_uses_the_aws_name_of_its_shape(model: type[SpecModel]) -> None:
    assert model.aws_shape is not None
    aws_names = set(aws_model.members(model.aws_service, model.aws_shape))
    ours = {info.alias or name for name, info in model.model_fields.items()}
    assert ours - aws_names == set(model.dockyard_only)


def test_dockyard_only_keys_do_not_collide_with_sagemaker_fields() -> None:
    model = training_spec.TrainingJobSpec
    assert model.dockyard_only == {"ResourceLimits"}
    assert not model.dockyard_only & set(aws_model.members("sagemaker", "CreateTrainingJobRequest"))


def test_required_aws_fields_are_required_or_defaulted_locally() -> None:
    required = aws_model.required("ecs", "RegisterTaskDefinitionRequest")
    fields = {info.alias for info in task_spec.TaskDefinition.model_fields.values()}
    assert required <= fields
