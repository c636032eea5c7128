"""Model packages' pure rules: names and ARNs read back, updates, and a model's
container resolved from a package through a lookup (no store involved)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.errors import SpecError
from dockyard.records.tags import Tag, TagsRecord
from dockyard.spec.model_package import (
    PackageRef,
    group_ref,
    package_ref,
    resolve_packages,
    updated_request,
)
from dockyard.spec.sagemaker_arns import ResourceArn, parse_arn

pytestmark = pytest.mark.unit

ARN = "arn:aws:sagemaker:us-east-1:000000000000:"


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("iris", PackageRef("iris", None)),
        ("churn/3", PackageRef("churn", 3)),
        (f"{ARN}model-package/churn/12", PackageRef("churn", 12, "000000000000")),
        (f"{ARN}model-package/iris", PackageRef("iris", None, "000000000000")),
    ],
)
def test_package_ref_reads_names_versions_and_arns(text: str, ref: PackageRef) -> None:
    assert package_ref(text) == ref
    assert ref.key == (ref.name if ref.version is None else f"{ref.name}/{ref.version}")


def test_group_ref_and_parse_arn() -> None:
    assert group_ref("churn") == ("churn", None)
    assert group_ref(f"{ARN}model-package-group/churn") == ("churn", "000000000000")
    assert parse_arn(f"{ARN}endpoint-config/a") == ResourceArn(
        "000000000000", "endpoint-config", "a"
    )
    assert parse_arn("arn:aws:ecs:us-east-1:000000000000:service/a") is None
    assert parse_arn(f"{ARN}model") is None


def test_an_update_replaces_merges_and_appends() -> None:
    request = {
        "InferenceSpecification": {"Containers": [{"Image": "a:1"}]},
        "CustomerMetadataProperties": {"owner": "ana", "ticket": "1"},
        "AdditionalInferenceSpecifications": [{"Name": "one", "Containers": []}],
        "SourceUri": "s3://old",
    }
    updated = updated_request(
        request,
        {
            "ModelPackageArn": f"{ARN}model-package/churn/1",
            "InferenceSpecification": {"Containers": [{"Image": "b:1"}]},
            "CustomerMetadataProperties": {"stage": "prod"},
            "CustomerMetadataPropertiesToRemove": ["ticket"],
            "AdditionalInferenceSpecificationsToAdd": [{"Name": "two", "Containers": []}],
            "ModelApprovalStatus": "Approved",
        },
    )
    assert updated["InferenceSpecification"] == {"Containers": [{"Image": "b:1"}]}
    assert updated["CustomerMetadataProperties"] == {"owner": "ana", "stage": "prod"}
    assert [s["Name"] for s in updated["AdditionalInferenceSpecifications"]] == ["one", "two"]
    assert updated["SourceUri"] == "s3://old"
    assert "ModelApprovalStatus" not in updated and "ModelPackageArn" not in updated
    assert request["CustomerMetadataProperties"] == {"owner": "ana", "ticket": "1"}


def test_an_update_past_the_additional_specifications_limit_is_refused() -> None:
    request = {"AdditionalInferenceSpecifications": [{"Name": f"s{n}"} for n in range(15)]}
    with pytest.raises(SpecError) as raised:
        updated_request(request, {"AdditionalInferenceSpecificationsToAdd": [{"Name": "x"}]})
    assert raised.value.field == "AdditionalInferenceSpecificationsToAdd"


def test_resolve_packages_asks_the_lookup_with_the_field_and_merges() -> None:
    asked: list[tuple[str, str]] = []

    def lookup(name: str, field: str) -> dict[str, Any]:
        asked.append((name, field))
        return {"Image": "pkg:1", "ModelDataUrl": "s3://m/model.tar.gz", "Environment": {"A": "p"}}

    doc = {
        "ModelName": "m",
        "Containers": [
            {"Image": "own:1"},
            {"ModelPackageName": "churn/2", "Environment": {"A": "r", "B": "r"}},
        ],
    }
    resolved = resolve_packages(doc, lookup)
    assert asked == [("churn/2", "Containers[1].ModelPackageName")]
    assert resolved["Containers"][0] == {"Image": "own:1"}
    assert resolved["Containers"][1] == {
        "ModelPackageName": "churn/2",
        "Image": "pkg:1",
        "ModelDataUrl": "s3://m/model.tar.gz",
        "Environment": {"A": "r", "B": "r"},
    }
    assert "Image" not in doc["Containers"][1]  # the request itself is left as it came


def test_tags_records_add_in_place_and_remove() -> None:
    record = TagsRecord("model/iris", 1.0, (Tag("a", "1"), Tag("b", "2")))
    assert record.added([Tag("b", "3"), Tag("c", "4")]).tags == (
        Tag("a", "1"),
        Tag("b", "3"),
        Tag("c", "4"),
    )
    assert record.without(["a", "zz"]).tags == (Tag("b", "2"),)
