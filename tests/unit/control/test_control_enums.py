"""Statuses and codes in the control layer are exactly AWS's (botocore's enums)."""

from __future__ import annotations

from enum import StrEnum

import pytest

from dockyard.control.endpoint import EndpointStatus
from dockyard.control.task import DesiredStatus, HealthStatus, StopCode
from dockyard.control.training_status import (
    STATUS_MESSAGES,
    SecondaryStatus,
    TrainingJobStatus,
)
from dockyard.control.transform import TransformJobStatus
from dockyard.spec import aws_model

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("ours", "service", "shape"),
    [
        (StopCode, "ecs", "TaskStopCode"),
        (HealthStatus, "ecs", "HealthStatus"),
        (TrainingJobStatus, "sagemaker", "TrainingJobStatus"),
        (SecondaryStatus, "sagemaker", "SecondaryStatus"),
        (EndpointStatus, "sagemaker", "EndpointStatus"),
        (TransformJobStatus, "sagemaker", "TransformJobStatus"),
    ],
)
def test_enum_matches_botocore(ours: type[StrEnum], service: aws_model.Service, shape: str) -> None:
    assert [member.value for member in ours] == list(aws_model.enum(service, shape))


def test_desired_status_is_a_subset_of_ecs() -> None:
    assert {s.value for s in DesiredStatus} <= set(aws_model.enum("ecs", "DesiredStatus"))


def test_every_secondary_status_dockyard_enters_has_a_message() -> None:
    entered = {
        SecondaryStatus.STARTING,
        SecondaryStatus.DOWNLOADING,
        SecondaryStatus.TRAINING,
        SecondaryStatus.UPLOADING,
        SecondaryStatus.STOPPING,
        SecondaryStatus.STOPPED,
        SecondaryStatus.MAX_RUNTIME_EXCEEDED,
        SecondaryStatus.COMPLETED,
        SecondaryStatus.FAILED,
    }
    assert entered == set(STATUS_MESSAGES)
