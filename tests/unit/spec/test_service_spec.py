"""ECS services: CreateService JSON in, ServiceSpec out, or a located SpecError."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from dockyard.errors import SpecError
from dockyard.spec.service import (
    DeploymentCircuitBreaker,
    check_service_fits,
    parse_service,
)
from dockyard.spec.task_definition import parse_task_definition

pytestmark = pytest.mark.unit

Doc = dict[str, Any]
TG_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067"


def base() -> Doc:
    return {"serviceName": "web", "taskDefinition": "web:3", "desiredCount": 2}


def with_(change: Callable[[Doc], object]) -> Doc:
    doc = copy.deepcopy(base())
    change(doc)
    return doc


def balanced() -> Doc:
    return with_(
        lambda d: d.update(
            loadBalancers=[{"targetGroupArn": TG_ARN, "containerName": "app", "containerPort": 80}]
        )
    )


def test_service_gets_ecs_deployment_defaults() -> None:
    service = parse_service(base())
    assert service.deployment_configuration.minimum_healthy_percent == 100
    assert service.deployment_configuration.maximum_percent == 200
    assert service.health_check_grace_period_seconds == 0
    assert service.target_group is None
    assert str(service.task_definition_ref) == "web:3"


def test_target_group_arn_becomes_the_local_route_name_and_is_kept_as_written() -> None:
    service = parse_service(balanced())
    assert service.target_group == "web-tg"
    assert service.to_aws()["loadBalancers"][0]["targetGroupArn"] == TG_ARN


def test_classic_load_balancer_name_is_the_route_name() -> None:
    doc = with_(
        lambda d: d.update(
            loadBalancers=[{"loadBalancerName": "lb", "containerName": "app", "containerPort": 80}]
        )
    )
    assert parse_service(doc).target_group == "lb"


def test_other_create_service_fields_are_kept() -> None:
    service = parse_service(with_(lambda d: d.update(cluster="default", enableExecuteCommand=True)))
    assert service.unmodelled_fields() == ["cluster", "enableExecuteCommand"]


@pytest.mark.parametrize(
    ("config", "desired", "threshold"),
    [
        ({"enable": True, "rollback": True}, 2, 3),
        ({"enable": True, "rollback": True}, 10, 5),
        ({"enable": True, "rollback": True}, 1000, 200),
        (
            {
                "enable": True,
                "rollback": False,
                "thresholdConfiguration": {"type": "COUNT", "value": 7},
            },
            100,
            7,
        ),
        (
            {
                "enable": True,
                "rollback": False,
                "thresholdConfiguration": {"type": "UNBOUNDED_PERCENT", "value": 300},
            },
            100,
            300,
        ),
        (
            {
                "enable": True,
                "rollback": False,
                "thresholdConfiguration": {"type": "UNBOUNDED_PERCENT", "value": 0},
            },
            10,
            1,
        ),
    ],
)
def test_circuit_breaker_threshold(config: Doc, desired: int, threshold: int) -> None:
    breaker = DeploymentCircuitBreaker.model_validate(config)
    assert breaker.failure_threshold(desired) == threshold


INVALID: list[tuple[str, Doc, str, str]] = [
    ("name-missing", with_(lambda d: d.pop("serviceName")), "serviceName", 'add "serviceName"'),
    ("name-invalid", with_(lambda d: d.update(serviceName="web app")), "serviceName", "1-255"),
    (
        "task-def-revision-zero",
        with_(lambda d: d.update(taskDefinition="web:0")),
        "taskDefinition",
        '"family:revision"',
    ),
    (
        "desired-missing",
        with_(lambda d: d.pop("desiredCount")),
        "desiredCount",
        'add "desiredCount"',
    ),
    ("desired-negative", with_(lambda d: d.update(desiredCount=-1)), "desiredCount", "0 or more"),
    (
        "desired-string",
        with_(lambda d: d.update(desiredCount="2")),
        "desiredCount",
        "write 2 without quotes",
    ),
    (
        "min-healthy-above-100",
        with_(lambda d: d.update(deploymentConfiguration={"minimumHealthyPercent": 101})),
        "deploymentConfiguration.minimumHealthyPercent",
        "from 0 to 100",
    ),
    (
        "max-below-100",
        with_(lambda d: d.update(deploymentConfiguration={"maximumPercent": 50})),
        "deploymentConfiguration.maximumPercent",
        "100 or more",
    ),
    (
        "breaker-without-rollback",
        with_(
            lambda d: d.update(
                deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True}}
            )
        ),
        "deploymentConfiguration.deploymentCircuitBreaker.rollback",
        'add "rollback"',
    ),
    (
        "breaker-bad-threshold-type",
        with_(
            lambda d: d.update(
                deploymentConfiguration={
                    "deploymentCircuitBreaker": {
                        "enable": True,
                        "rollback": True,
                        "thresholdConfiguration": {"type": "PERCENT", "value": 5},
                    }
                }
            )
        ),
        "deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration.type",
        "COUNT, BOUNDED_PERCENT, UNBOUNDED_PERCENT",
    ),
    (
        "grace-negative",
        with_(lambda d: d.update(healthCheckGracePeriodSeconds=-5)),
        "healthCheckGracePeriodSeconds",
        "from 0 to 2147483647",
    ),
    (
        "lb-without-target",
        with_(lambda d: d.update(loadBalancers=[{"containerName": "app", "containerPort": 80}])),
        "loadBalancers[0].targetGroupArn",
        "name the target group",
    ),
    (
        "lb-bad-target",
        with_(
            lambda d: d.update(
                loadBalancers=[
                    {"targetGroupArn": "no/such thing", "containerName": "a", "containerPort": 80}
                ]
            )
        ),
        "loadBalancers[0].targetGroupArn",
        "target group's ARN or its name",
    ),
    (
        "lb-port-out-of-range",
        with_(
            lambda d: d.update(
                loadBalancers=[{"targetGroupArn": "tg", "containerName": "a", "containerPort": 0}]
            )
        ),
        "loadBalancers[0].containerPort",
        "from 1 to 65535",
    ),
    (
        "two-load-balancers",
        with_(
            lambda d: d.update(
                loadBalancers=[
                    {"targetGroupArn": "a", "containerName": "app", "containerPort": 80},
                    {"targetGroupArn": "b", "containerName": "app", "containerPort": 81},
                ]
            )
        ),
        "loadBalancers",
        "remove 1 of them",
    ),
    (
        "bad-launch-type",
        with_(lambda d: d.update(launchType="FARGATE_SPOT")),
        "launchType",
        'did you mean "FARGATE"',
    ),
    (
        "daemon",
        with_(lambda d: d.update(schedulingStrategy="DAEMON")),
        "schedulingStrategy",
        '"REPLICA"',
    ),
    ("output-only", with_(lambda d: d.update(runningCount=2)), "runningCount", "remove it"),
    (
        "typo",
        with_(lambda d: d.update(desiredcount=2)),
        "desiredcount",
        'did you mean "desiredCount"',
    ),
]


@pytest.mark.parametrize(
    ("doc", "field", "hint"),
    [pytest.param(doc, field, hint, id=name) for name, doc, field, hint in INVALID],
)
def test_invalid_service_points_at_the_field_and_the_fix(doc: Doc, field: str, hint: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_service(doc)
    assert caught.value.field == field
    assert caught.value.hint is not None and hint in caught.value.hint, caught.value.hint


def _task(**extra: Any) -> Any:
    doc: Doc = {
        "family": "web",
        "containerDefinitions": [
            {"name": "app", "image": "nginx", "portMappings": [{"containerPort": 80}]}
        ],
    }
    doc.update(extra)
    return parse_task_definition(doc)


def test_service_fits_a_task_definition_with_the_balanced_port() -> None:
    check_service_fits(parse_service(balanced()), _task())


def test_balanced_container_must_exist() -> None:
    doc = balanced()
    doc["loadBalancers"][0]["containerName"] = "ap"
    with pytest.raises(SpecError) as caught:
        check_service_fits(parse_service(doc), _task())
    assert caught.value.field == "loadBalancers[0].containerName"
    assert caught.value.hint == 'did you mean "app"?'


def test_balanced_unknown_container_lists_the_containers() -> None:
    doc = balanced()
    doc["loadBalancers"][0]["containerName"] = "zzzz"
    with pytest.raises(SpecError) as caught:
        check_service_fits(parse_service(doc), _task())
    assert caught.value.hint == "use one of: app"


def test_balanced_port_must_be_mapped() -> None:
    doc = balanced()
    doc["loadBalancers"][0]["containerPort"] = 8080
    with pytest.raises(SpecError) as caught:
        check_service_fits(parse_service(doc), _task())
    assert caught.value.field == "loadBalancers[0].containerPort"
    assert "did not have a container port 8080" in caught.value.message
    assert caught.value.hint is not None and "[80]" in caught.value.hint


def test_fargate_launch_type_needs_a_fargate_task_definition() -> None:
    service = parse_service(with_(lambda d: d.update(launchType="FARGATE")))
    with pytest.raises(SpecError) as caught:
        check_service_fits(service, _task())
    assert caught.value.field == "launchType"
    assert caught.value.hint is not None and "requiresCompatibilities" in caught.value.hint
