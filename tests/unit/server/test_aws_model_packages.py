"""SageMaker's model registry on the AWS front, driven by real boto3 clients.

Groups and their versions, unversioned packages, describe/list/update/delete in
AWS's shapes and errors; CreateModel from a package (the package's container, the
request's environment over its own) deploying like any model; refusals that change
nothing; and the registry read back by a daemon restarted on the same state file.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aws_client import client
from botocore.exceptions import ClientError

from dockyard.adapters.store.sqlite import SqliteStore
from dockyard.server.aws.credentials import AccessKeys
from dockyard.server.aws.front import AwsFront

if TYPE_CHECKING:
    from conftest import World, WorldFactory

pytestmark = pytest.mark.unit

IMAGE = "model:1"
ROLE = "arn:aws:iam::000000000000:role/dockyard"
PREFIX = "arn:aws:sagemaker:eu-west-1:000000000000:"


@pytest.fixture
def archive(tmp_path: Path) -> str:
    """A model.tar.gz on the daemon's machine, as a file:// URL."""
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = b"weights"
        info = tarfile.TarInfo("model.joblib")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path.as_uri()


def inference(archive: str, **environment: str) -> dict[str, Any]:
    container: dict[str, Any] = {"Image": IMAGE, "ModelDataUrl": archive}
    if environment:
        container["Environment"] = environment
    return {
        "Containers": [container],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["application/json"],
    }


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def make_versions(sm: Any, archive: str, count: int = 2) -> list[str]:
    sm.create_model_package_group(
        ModelPackageGroupName="churn", ModelPackageGroupDescription="churn models"
    )
    return [
        sm.create_model_package(
            ModelPackageGroupName="churn",
            ModelPackageDescription=f"try {n}",
            InferenceSpecification=inference(archive, ROUND=str(n)),
        )["ModelPackageArn"]
        for n in range(1, count + 1)
    ]


# -- groups and versions ------------------------------------------------------------------


def test_a_group_numbers_its_versions_and_describes_them_in_aws_shapes(
    sm: Any, archive: str
) -> None:
    arns = make_versions(sm, archive)
    assert arns == [f"{PREFIX}model-package/churn/1", f"{PREFIX}model-package/churn/2"]
    group = sm.describe_model_package_group(ModelPackageGroupName="churn")
    assert group["ModelPackageGroupArn"] == f"{PREFIX}model-package-group/churn"
    assert (group["ModelPackageGroupStatus"], group["ModelPackageGroupDescription"]) == (
        "Completed",
        "churn models",
    )
    for name in (arns[1], "churn/2"):
        described = sm.describe_model_package(ModelPackageName=name)
        assert described["ModelPackageName"] == "churn"
        assert (described["ModelPackageGroupName"], described["ModelPackageVersion"]) == (
            "churn",
            2,
        )
        assert described["ModelPackageArn"] == arns[1]
        assert described["ModelApprovalStatus"] == "PendingManualApproval"
        assert described["ModelPackageStatus"] == "Completed"
        assert described["ModelPackageDescription"] == "try 2"
        assert described["InferenceSpecification"] == inference(archive, ROUND="2")


def test_an_unversioned_package_stands_alone_under_its_name(sm: Any, archive: str) -> None:
    arn = sm.create_model_package(
        ModelPackageName="iris-pkg", InferenceSpecification=inference(archive)
    )["ModelPackageArn"]
    assert arn == f"{PREFIX}model-package/iris-pkg"
    described = sm.describe_model_package(ModelPackageName="iris-pkg")
    assert described["ModelPackageArn"] == arn
    assert "ModelPackageVersion" not in described
    assert "ModelApprovalStatus" not in described


def test_list_model_packages_filters_by_kind_group_and_approval_and_pages(
    sm: Any, archive: str
) -> None:
    arns = make_versions(sm, archive, count=3)
    sm.create_model_package(ModelPackageName="solo", InferenceSpecification=inference(archive))
    sm.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Approved")

    def listed(**params: Any) -> list[str]:
        return [
            p["ModelPackageArn"]
            for p in sm.list_model_packages(**params)["ModelPackageSummaryList"]
        ]

    assert listed() == [f"{PREFIX}model-package/solo"]  # Unversioned by default
    assert listed(ModelPackageGroupName="churn") == arns
    assert listed(ModelPackageType="Both") == [*arns, f"{PREFIX}model-package/solo"]
    assert listed(ModelPackageGroupName="churn", ModelApprovalStatus="Approved") == [arns[1]]
    assert listed(ModelPackageGroupName="churn", SortOrder="Descending") == arns[::-1]
    first = sm.list_model_packages(ModelPackageGroupName="churn", MaxResults=2)
    assert [p["ModelPackageVersion"] for p in first["ModelPackageSummaryList"]] == [1, 2]
    rest = sm.list_model_packages(
        ModelPackageGroupName="churn", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [p["ModelPackageVersion"] for p in rest["ModelPackageSummaryList"]] == [3]
    assert "NextToken" not in rest
    summary = first["ModelPackageSummaryList"][0]
    assert (summary["ModelPackageStatus"], summary["ModelPackageDescription"]) == (
        "Completed",
        "try 1",
    )
    paginated = sm.get_paginator("list_model_packages").paginate(
        ModelPackageType="Versioned", PaginationConfig={"PageSize": 1}
    )
    assert [
        p["ModelPackageArn"] for page in paginated for p in page["ModelPackageSummaryList"]
    ] == arns


def test_list_model_package_groups_filters_and_sorts(sm: Any) -> None:
    for name in ("b-churn", "a-fraud", "b-credit"):
        sm.create_model_package_group(ModelPackageGroupName=name)
    groups = sm.list_model_package_groups(NameContains="b-", SortBy="Name")
    assert [g["ModelPackageGroupName"] for g in groups["ModelPackageGroupSummaryList"]] == [
        "b-churn",
        "b-credit",
    ]
    assert (
        sm.list_model_package_groups(CrossAccountFilterOption="CrossAccount")[
            "ModelPackageGroupSummaryList"
        ]
        == []
    )


def test_update_approves_a_version_and_merges_its_metadata(sm: Any, archive: str) -> None:
    _, arn = make_versions(sm, archive)
    sm.create_model_package(
        ModelPackageGroupName="churn",
        InferenceSpecification=inference(archive),
        CustomerMetadataProperties={"owner": "ana", "ticket": "1"},
    )
    third = f"{PREFIX}model-package/churn/3"
    before = sm.describe_model_package(ModelPackageName=third)["LastModifiedTime"]
    answer = sm.update_model_package(
        ModelPackageArn=third,
        ModelApprovalStatus="Approved",
        ApprovalDescription="beats v2",
        CustomerMetadataProperties={"owner": "bo"},
        CustomerMetadataPropertiesToRemove=["ticket"],
    )
    assert answer["ModelPackageArn"] == third
    described = sm.describe_model_package(ModelPackageName=third)
    assert (described["ModelApprovalStatus"], described["ApprovalDescription"]) == (
        "Approved",
        "beats v2",
    )
    assert described["CustomerMetadataProperties"] == {"owner": "bo"}
    assert described["LastModifiedTime"] >= before
    assert sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == (
        "PendingManualApproval"
    )


def test_versions_are_never_renumbered_after_a_delete(sm: Any, archive: str) -> None:
    first, second = make_versions(sm, archive)
    sm.delete_model_package(ModelPackageName=second)
    with pytest.raises(ClientError) as raised:
        sm.describe_model_package(ModelPackageName=second)
    assert error_of(raised)[0] == "ValidationException"
    third = sm.create_model_package(
        ModelPackageGroupName="churn", InferenceSpecification=inference(archive)
    )["ModelPackageArn"]
    assert third.endswith("model-package/churn/3")
    assert sm.describe_model_package(ModelPackageName=first)["ModelPackageVersion"] == 1


def test_a_group_with_versions_is_a_conflict_until_they_are_deleted(
    sm: Any, archive: str, world: World
) -> None:
    arns = make_versions(sm, archive)
    with pytest.raises(ClientError) as raised:
        sm.delete_model_package_group(ModelPackageGroupName="churn")
    assert error_of(raised)[0] == "ConflictException"
    assert world.store.model_package_groups.get("churn") is not None
    for arn in arns:
        sm.delete_model_package(ModelPackageName=arn)
    sm.delete_model_package_group(ModelPackageGroupName=f"{PREFIX}model-package-group/churn")
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    with pytest.raises(ClientError) as raised:
        sm.describe_model_package_group(ModelPackageGroupName="churn")
    assert error_of(raised) == ("ValidationException", "Model Package Group does not exist.")


def test_a_retried_create_with_the_same_client_token_makes_one_version(
    sm: Any, archive: str, world: World
) -> None:
    sm.create_model_package_group(ModelPackageGroupName="churn")
    request = {
        "ModelPackageGroupName": "churn",
        "InferenceSpecification": inference(archive),
        "ClientToken": "retry-1",
    }
    first = sm.create_model_package(**request)["ModelPackageArn"]
    assert sm.create_model_package(**request)["ModelPackageArn"] == first
    assert [p.key for p in world.store.model_packages.list()] == ["churn/1"]


@pytest.mark.parametrize(
    ("request_members", "field"),
    [
        ({"ModelPackageGroupName": "ghost"}, "Model Package Group does not exist."),
        ({}, "ModelPackageName"),
        ({"ModelPackageName": "a", "ModelPackageGroupName": "churn"}, "ModelPackageName"),
        ({"ModelPackageName": "a", "ModelApprovalStatus": "Approved"}, "ModelApprovalStatus"),
        ({"ModelPackageName": "a", "InferenceSpecification": None}, "InferenceSpecification"),
        (
            {
                "ModelPackageName": "a",
                "InferenceSpecification": {
                    "Containers": [{"ModelDataUrl": "s3://models/m.tar.gz"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
            },
            "InferenceSpecification.Containers[0].Image",
        ),
    ],
    ids=["no-group", "no-name", "name-and-group", "unversioned-approval", "no-spec", "no-image"],
)
def test_a_package_dockyard_cannot_make_is_refused_and_nothing_is_stored(
    sm: Any, archive: str, world: World, request_members: dict[str, Any], field: str
) -> None:
    sm.create_model_package_group(ModelPackageGroupName="churn")
    request = {"InferenceSpecification": inference(archive), **request_members}
    request = {k: v for k, v in request.items() if v is not None}
    with pytest.raises(ClientError) as raised:
        sm.create_model_package(**request)
    code, message = error_of(raised)
    assert code == "ValidationException"
    assert field in message
    assert world.store.model_packages.list() == []
    assert world.store.model_package_groups.require("churn").last_version == 0


def test_update_of_an_unversioned_or_missing_package_is_refused(sm: Any, archive: str) -> None:
    sm.create_model_package(ModelPackageName="solo", InferenceSpecification=inference(archive))
    for arn in (f"{PREFIX}model-package/solo", f"{PREFIX}model-package/ghost/1"):
        with pytest.raises(ClientError) as raised:
            sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        assert error_of(raised)[0] == "ValidationException"


# -- models from packages -----------------------------------------------------------------


def test_create_model_from_an_approved_version_runs_its_container_and_deploys(
    sm: Any, archive: str, world: World
) -> None:
    _, arn = make_versions(sm, archive)
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    sm.create_model(
        ModelName="churn",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"ModelPackageName": arn, "Environment": {"LOG_LEVEL": "debug"}},
    )
    container = sm.describe_model(ModelName="churn")["PrimaryContainer"]
    assert container == {
        "Image": IMAGE,
        "ModelDataUrl": archive,
        "Environment": {"ROUND": "2", "LOG_LEVEL": "debug"},
        "ModelPackageName": arn,
        "Mode": "SingleModel",
    }
    sm.create_endpoint_config(
        EndpointConfigName="churn",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "churn"}],
    )
    sm.create_endpoint(EndpointName="churn", EndpointConfigName="churn")
    world.in_service("churn", 1)
    (variant,) = sm.describe_endpoint(EndpointName="churn")["ProductionVariants"]
    assert variant["DeployedImages"][0]["SpecifiedImage"] == IMAGE
    (replica,) = world.replicas("churn")
    environment = world.engine.spec(world.container_of(replica.task.task_id).name).env
    assert (environment["ROUND"], environment["LOG_LEVEL"]) == ("2", "debug")


def test_request_environment_wins_and_containers_take_packages_too(sm: Any, archive: str) -> None:
    sm.create_model_package(
        ModelPackageName="solo", InferenceSpecification=inference(archive, A="package", B="b")
    )
    sm.create_model(
        ModelName="pipe",
        ExecutionRoleArn=ROLE,
        Containers=[
            {"ContainerHostname": "first", "Image": IMAGE},
            {"ContainerHostname": "second", "ModelPackageName": "solo", "Environment": {"A": "me"}},
        ],
    )
    second = sm.describe_model(ModelName="pipe")["Containers"][1]
    assert second["Image"] == IMAGE
    assert second["Environment"] == {"A": "me", "B": "b"}


@pytest.mark.parametrize(
    ("container", "field"),
    [
        ({"ModelPackageName": "ghost"}, "PrimaryContainer.ModelPackageName"),
        (
            {"ModelPackageName": f"{PREFIX}model-package/churn/9"},
            "PrimaryContainer.ModelPackageName",
        ),
        (
            {"ModelPackageName": f"{PREFIX}model-package/churn/1"},
            "PrimaryContainer.ModelPackageName",
        ),
        ({"ModelPackageName": "churn/1", "Image": IMAGE}, "PrimaryContainer.Image"),
    ],
    ids=["unknown-name", "unknown-version", "not-approved", "image-too"],
)
def test_create_model_from_a_package_it_cannot_run_is_refused_and_creates_nothing(
    sm: Any, archive: str, world: World, container: dict[str, Any], field: str
) -> None:
    make_versions(sm, archive, count=1)
    with pytest.raises(ClientError) as raised:
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    code, message = error_of(raised)
    assert code == "ValidationException"
    assert message.startswith(f"{field}: ")
    assert world.store.models.list() == []


# -- restart ------------------------------------------------------------------------------


def test_the_registry_survives_a_daemon_restart(
    make_world: WorldFactory, tmp_path: Path, archive: str
) -> None:
    state = tmp_path / "state.db"
    first = make_world(SqliteStore(state))
    key = AccessKeys(first.settings.run_dir).issue()
    sm = client(AwsFront(first.platform), "sagemaker", key)
    _, arn = make_versions(sm, archive)
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    first.control_plane.stop()
    first.store.close()

    again = make_world(SqliteStore(state))
    sm = client(AwsFront(again.platform), "sagemaker", key)
    assert sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Approved"
    third = sm.create_model_package(
        ModelPackageGroupName="churn", InferenceSpecification=inference(archive)
    )["ModelPackageArn"]
    assert third.endswith("/churn/3")
    sm.create_model(
        ModelName="churn", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": arn}
    )
    assert sm.describe_model(ModelName="churn")["PrimaryContainer"]["Image"] == IMAGE
