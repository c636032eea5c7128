"""ECR repositories: CreateRepository JSON in, RepositorySpec out, or a located SpecError."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.errors import SpecError
from dockyard.spec import aws_model
from dockyard.spec.repository import (
    ImageScanningConfiguration,
    ImageTagMutabilityExclusionFilter,
    RepositorySpec,
    parse_repository,
    wildcard_match,
)

pytestmark = pytest.mark.unit

Doc = dict[str, Any]


def refused(doc: Doc) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_repository(doc)
    return caught.value


def with_exclusion(mutability: str, *filters: str) -> Doc:
    return {
        "repositoryName": "models/iris",
        "imageTagMutability": mutability,
        "imageTagMutabilityExclusionFilters": [
            {"filterType": "WILDCARD", "filter": item} for item in filters
        ],
    }


def test_a_repository_gets_ecr_defaults() -> None:
    repo = parse_repository({"repositoryName": "models/iris"})
    assert repo.repository_name == "models/iris"
    assert repo.image_tag_mutability == "MUTABLE"
    assert repo.scan_on_push is False
    assert repo.image_tag_mutability_exclusion_filters is None


def test_scan_on_push_and_immutable_tags_are_read() -> None:
    repo = parse_repository(
        {
            "repositoryName": "iris",
            "imageTagMutability": "IMMUTABLE",
            "imageScanningConfiguration": {"scanOnPush": True},
        }
    )
    assert repo.scan_on_push is True
    assert repo.tag_is_immutable("v1")


def test_fields_dockyard_does_not_act_on_are_kept_as_written() -> None:
    doc = {
        "repositoryName": "iris",
        "tags": [{"Key": "team", "Value": "ml"}],
        "encryptionConfiguration": {"encryptionType": "AES256"},
    }
    repo = parse_repository(doc)
    assert repo.unmodelled_fields() == ["tags", "encryptionConfiguration"]
    assert repo.to_aws()["tags"] == [{"Key": "team", "Value": "ml"}]


def test_the_document_round_trips_to_aws_names() -> None:
    doc = with_exclusion("IMMUTABLE_WITH_EXCLUSION", "latest")
    assert parse_repository(doc).to_aws() == {
        **doc,
        "imageScanningConfiguration": {"scanOnPush": False},
    }


@pytest.mark.parametrize(
    "name",
    ["iris", "models/iris", "a1", "team-a/sub.project/my__model", "x--y", "0day", "a" * 256],
)
def test_valid_repository_names(name: str) -> None:
    assert parse_repository({"repositoryName": name}).repository_name == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a", "at least 2"),
        ("", "must not be empty"),
        ("a" * 257, "at most 256"),
        ("-iris", "not a valid repository name"),
        ("models//iris", "not a valid repository name"),
        ("models/iris/", "not a valid repository name"),
        ("my model", "not a valid repository name"),
        ("a___b", "not a valid repository name"),
    ],
)
def test_invalid_repository_names_are_refused_with_the_rule(name: str, message: str) -> None:
    error = refused({"repositoryName": name})
    assert error.field == "repositoryName"
    assert message in error.message
    assert error.hint is not None and "lowercase" in error.hint


def test_an_uppercase_name_gets_its_lowercase_spelling_as_the_hint() -> None:
    error = refused({"repositoryName": "Models/Iris"})
    assert error.hint == 'repository names are lowercase: write "models/iris"'


def test_repository_name_is_required() -> None:
    error = refused({"imageTagMutability": "MUTABLE"})
    assert error.field == "repositoryName"
    assert error.message.startswith("is required")


def test_the_name_rule_is_botocores() -> None:
    limits = aws_model.limits("ecr", "RepositoryName")
    assert (limits.min, limits.max) == (2, 256)
    assert aws_model.compiled_pattern("ecr", "RepositoryName") is not None


def test_mutability_values_are_botocores() -> None:
    for value in aws_model.enum("ecr", "ImageTagMutability"):
        filters = ["latest"] if value.endswith("_WITH_EXCLUSION") else []
        doc: Doc = {"repositoryName": "iris", "imageTagMutability": value}
        if filters:
            doc = with_exclusion(value, *filters)
        assert parse_repository(doc).image_tag_mutability == value


def test_a_misspelt_mutability_gets_a_did_you_mean() -> None:
    error = refused({"repositoryName": "iris", "imageTagMutability": "immutable"})
    assert error.field == "imageTagMutability"
    assert error.hint == 'did you mean "IMMUTABLE"?'


def test_scan_on_push_must_be_a_boolean() -> None:
    error = refused({"repositoryName": "iris", "imageScanningConfiguration": {"scanOnPush": "yes"}})
    assert error.field == "imageScanningConfiguration.scanOnPush"
    assert error.message == "must be true or false"


def test_with_exclusion_needs_filters() -> None:
    error = refused({"repositoryName": "iris", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION"})
    assert error.field == "imageTagMutabilityExclusionFilters"
    assert error.hint is not None and "WILDCARD" in error.hint


def test_filters_without_exclusion_say_which_setting_to_use() -> None:
    doc = with_exclusion("MUTABLE", "latest")
    error = refused(doc)
    assert error.field == "imageTagMutabilityExclusionFilters"
    assert error.hint is not None and '"MUTABLE_WITH_EXCLUSION"' in error.hint


def test_exclusion_filters_are_checked_against_botocore() -> None:
    assert refused(with_exclusion("IMMUTABLE_WITH_EXCLUSION", "bad tag")).field == (
        "imageTagMutabilityExclusionFilters[0].filter"
    )
    too_many = with_exclusion("IMMUTABLE_WITH_EXCLUSION", *[f"t{i}" for i in range(6)])
    error = refused(too_many)
    assert error.field == "imageTagMutabilityExclusionFilters"
    assert "at most 5" in error.message
    wrong_type = with_exclusion("IMMUTABLE_WITH_EXCLUSION", "latest")
    wrong_type["imageTagMutabilityExclusionFilters"][0]["filterType"] = "PREFIX"
    assert refused(wrong_type).field == "imageTagMutabilityExclusionFilters[0].filterType"


@pytest.mark.parametrize(
    ("mutability", "tag", "immutable"),
    [
        ("MUTABLE", "v1", False),
        ("IMMUTABLE", "latest", True),
        ("IMMUTABLE_WITH_EXCLUSION", "latest", False),
        ("IMMUTABLE_WITH_EXCLUSION", "dev-7", False),
        ("IMMUTABLE_WITH_EXCLUSION", "v1", True),
        ("MUTABLE_WITH_EXCLUSION", "release-1", True),
        ("MUTABLE_WITH_EXCLUSION", "latest", False),
    ],
)
def test_exclusion_filters_give_matching_tags_the_opposite_setting(
    mutability: str, tag: str, immutable: bool
) -> None:
    if mutability.endswith("_WITH_EXCLUSION"):
        filters = ("latest", "dev-*") if mutability.startswith("IMMUTABLE") else ("release-*",)
        repo = parse_repository(with_exclusion(mutability, *filters))
    else:
        repo = parse_repository({"repositoryName": "iris", "imageTagMutability": mutability})
    assert repo.tag_is_immutable(tag) is immutable


def test_output_only_fields_are_refused_with_a_hint() -> None:
    error = refused({"repositoryName": "iris", "repositoryUri": "x"})
    assert error.field == "repositoryUri"
    assert error.hint is not None and "remove it" in error.hint


def test_a_typo_in_a_field_name_gets_a_did_you_mean() -> None:
    error = refused({"repositoryName": "iris", "imageTagMutabilty": "MUTABLE"})
    assert error.hint == 'did you mean "imageTagMutability"?'


def test_snake_case_is_refused_in_documents() -> None:
    assert refused({"repository_name": "iris"}).field == "repository_name"


@pytest.mark.parametrize(
    ("pattern", "tag", "matches"),
    [
        ("prod*", "prod", True),
        ("prod*", "prod-1", True),
        ("prod*", "preprod", False),
        ("*prod*", "repo-prod-2", True),
        ("prod", "prod", True),
        ("prod", "prod1", False),
        ("*", "anything", True),
        ("v1.*", "v1x2", False),  # '.' is literal, not a regex
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "acb", False),
    ],
)
def test_wildcards_match_whole_tags(pattern: str, tag: str, matches: bool) -> None:
    assert wildcard_match(pattern, tag) is matches


def test_models_use_ecr_shapes() -> None:
    for model in (RepositorySpec, ImageScanningConfiguration, ImageTagMutabilityExclusionFilter):
        assert model.aws_service == "ecr"
        assert model.aws_shape is not None
        aws_names = set(aws_model.members("ecr", model.aws_shape))
        ours = {info.alias or name for name, info in model.model_fields.items()}
        assert ours <= aws_names
