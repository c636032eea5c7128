"""Tags of SageMaker resources on the AWS front, driven by real boto3 clients.

AddTags / ListTags / DeleteTags on every kind Dockyard keeps, the ``Tags`` of the
Create* calls, the limits botocore's model and AWS set, ARNs of resources that are not
there, and tags that do not outlive their resource.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from dockyard.server.aws.tags import sweep

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit

IMAGE = "model:1"
ROLE = "arn:aws:iam::000000000000:role/dockyard"
PREFIX = "arn:aws:sagemaker:eu-west-1:000000000000:"


def tags(**pairs: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in pairs.items()]


def listed(sm: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def test_tags_given_at_create_are_listed_then_added_overwritten_and_deleted(sm: Any) -> None:
    arn = sm.create_model(
        ModelName="iris",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE},
        Tags=tags(team="ml", stage="dev"),
    )["ModelArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == tags(team="ml", stage="dev")
    added = sm.add_tags(ResourceArn=arn, Tags=tags(stage="prod", cost="42"))
    assert added["Tags"] == tags(team="ml", stage="prod", cost="42")
    assert listed(sm, arn) == {"team": "ml", "stage": "prod", "cost": "42"}
    sm.delete_tags(ResourceArn=arn, TagKeys=["team", "not-there"])
    assert listed(sm, arn) == {"stage": "prod", "cost": "42"}


def test_every_kind_dockyard_keeps_takes_tags(sm: Any, world: World, data_dir: Path) -> None:
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint_config(
        EndpointConfigName="c", ProductionVariants=[{"VariantName": "v", "ModelName": "m"}]
    )
    sm.create_endpoint(EndpointName="e", EndpointConfigName="c")
    sm.create_model_package_group(ModelPackageGroupName="g")
    spec = {"Containers": [{"Image": IMAGE}]}
    sm.create_model_package(ModelPackageGroupName="g", InferenceSpecification=spec)
    sm.create_model_package(ModelPackageName="solo", InferenceSpecification=spec)
    request = {**world.training_request("job-1", data_dir), "RoleArn": ROLE}
    sm.create_training_job(**request, Tags=tags(at="create"))
    arns = [
        f"{PREFIX}model/m",
        f"{PREFIX}endpoint-config/c",
        f"{PREFIX}endpoint/e",
        f"{PREFIX}model-package-group/g",
        f"{PREFIX}model-package/g/1",
        f"{PREFIX}model-package/solo",
        f"{PREFIX}training-job/job-1",
    ]
    for arn in arns:
        sm.add_tags(ResourceArn=arn, Tags=tags(owner=arn.rsplit(":", 1)[1]))
    for arn in arns:
        assert listed(sm, arn)["owner"] == arn.rsplit(":", 1)[1]
    assert listed(sm, f"{PREFIX}training-job/job-1")["at"] == "create"
    # Dockyard's own API writes region "local"; the region never selects another state
    assert listed(sm, "arn:aws:sagemaker:local:000000000000:model/m") == {"owner": "model/m"}


def test_an_arn_of_a_resource_that_is_not_there_is_a_validation_exception(
    sm: Any, world: World
) -> None:
    for arn in (
        f"{PREFIX}model/ghost",
        f"{PREFIX}notebook-instance/nb",
        "arn:aws:sagemaker:eu-west-1:123456789012:model/iris",
    ):
        for call, extra in (
            (sm.add_tags, {"Tags": tags(a="b")}),
            (sm.list_tags, {}),
            (sm.delete_tags, {"TagKeys": ["a"]}),
        ):
            with pytest.raises(ClientError) as raised:
                call(ResourceArn=arn, **extra)
            code, message = error_of(raised)
            assert code == "ValidationException"
            assert arn in message
    assert world.store.tags.list() == []


def test_botocore_s_tag_limits_apply_and_change_nothing(loose: Any, sm: Any, world: World) -> None:
    arn = sm.create_model(
        ModelName="iris", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
    )["ModelArn"]
    for bad in (
        [{"Key": "k" * 129, "Value": "v"}],
        [{"Key": "", "Value": "v"}],
        [{"Key": "k", "Value": "v" * 257}],
        [{"Key": "k"}],
        [{"Key": f"k{n}", "Value": "v"} for n in range(51)],
    ):
        with pytest.raises(ClientError) as raised:
            loose.add_tags(ResourceArn=arn, Tags=bad)
        assert error_of(raised)[0] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        loose.create_model(
            ModelName="other",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE},
            Tags=[{"Key": "k" * 129, "Value": "v"}],
        )
    assert error_of(raised)[0] == "ValidationException"
    assert world.store.models.get("other") is None
    assert world.store.tags.list() == []


def test_a_resource_carries_at_most_fifty_tags(sm: Any, world: World) -> None:
    arn = sm.create_model(
        ModelName="iris",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE},
        Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(40)],
    )["ModelArn"]
    with pytest.raises(ClientError) as raised:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"new{n}", "Value": "v"} for n in range(11)])
    assert error_of(raised)[0] == "ValidationException"
    assert len(sm.list_tags(ResourceArn=arn)["Tags"]) == 40
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{n}", "Value": "w"} for n in range(40)])
    assert set(listed(sm, arn).values()) == {"w"}


def test_a_refused_create_sets_no_tags(sm: Any, world: World) -> None:
    with pytest.raises(ClientError):
        sm.create_model(
            ModelName="iris",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": "not-here:1"},
            Tags=tags(team="ml"),
        )
    assert world.store.tags.list() == []


def test_tags_do_not_outlive_their_resource(sm: Any, world: World) -> None:
    def create(**extra: Any) -> str:
        arn: str = sm.create_model(
            ModelName="iris", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}, **extra
        )["ModelArn"]
        return arn

    arn = create(Tags=tags(team="ml"))
    sm.delete_model(ModelName="iris")
    assert world.store.tags.list() == []
    create()
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []


def test_tags_left_by_an_earlier_resource_of_the_same_name_are_not_shown(
    sm: Any, world: World
) -> None:
    """However the old resource went (here: around this front), its tags stay its own."""
    arn = sm.create_model(
        ModelName="iris",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE},
        Tags=tags(team="ml"),
    )["ModelArn"]
    world.store.models.delete("iris")
    world.platform.clock = lambda: 2e9  # a later creation
    sm.create_model(ModelName="iris", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []
    sm.add_tags(ResourceArn=arn, Tags=tags(new="1"))
    assert listed(sm, arn) == {"new": "1"}


def test_the_sweep_drops_the_tags_of_resources_gone_or_replaced_and_keeps_the_rest(
    sm: Any, world: World
) -> None:
    """An endpoint's delete finishes in its reconciler, away from this front: the
    housekeeping sweep is what drops the tags it leaves."""
    for name in ("gone", "replaced", "kept"):
        sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE},
            Tags=tags(team="ml"),
        )
    world.store.models.delete("gone")
    world.store.models.delete("replaced")
    world.platform.clock = lambda: 2e9  # a later creation
    sm.create_model(ModelName="replaced", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})

    assert sorted(sweep(world.store)) == ["model/gone", "model/replaced"]
    assert [r.resource for r in world.store.tags.list()] == ["model/kept"]
    assert listed(sm, f"{PREFIX}model/kept") == {"team": "ml"}
