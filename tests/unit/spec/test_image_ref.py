"""Image references: [registry/]repository[:tag][@digest], checked part by part."""

from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.spec.errors import SpecValueError
from dockyard.spec.repository import (
    ImageRef,
    check_digest,
    check_image_tag,
    parse_image_ref,
)

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("models/iris:v1", ImageRef("models/iris", tag="v1")),
        ("iris", ImageRef("iris", tag="latest")),
        (f"models/iris@{DIGEST}", ImageRef("models/iris", digest=DIGEST)),
        (f"models/iris:v1@{DIGEST}", ImageRef("models/iris", tag="v1", digest=DIGEST)),
        (
            "localhost:5000/models/iris:v1",
            ImageRef("models/iris", tag="v1", registry="localhost:5000"),
        ),
        ("localhost/iris", ImageRef("iris", tag="latest", registry="localhost")),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/models/iris:2024.06",
            ImageRef(
                "models/iris",
                tag="2024.06",
                registry="123456789012.dkr.ecr.us-east-1.amazonaws.com",
            ),
        ),
        ("[::1]:5000/iris:v1", ImageRef("iris", tag="v1", registry="[::1]:5000")),
        ("models/iris:_x", ImageRef("models/iris", tag="_x")),
    ],
)
def test_references_parse_into_their_parts(text: str, ref: ImageRef) -> None:
    assert parse_image_ref(text) == ref


def test_a_reference_prints_as_written_with_the_default_tag() -> None:
    assert str(parse_image_ref("localhost:5000/models/iris:v1")) == "localhost:5000/models/iris:v1"
    assert str(parse_image_ref("iris")) == "iris:latest"
    assert str(parse_image_ref(f"iris@{DIGEST}")) == f"iris@{DIGEST}"


def test_the_digest_identifies_the_image_when_both_are_given() -> None:
    assert parse_image_ref(f"iris:v1@{DIGEST}").reference == DIGEST
    assert parse_image_ref("iris:v1").reference == "v1"
    assert parse_image_ref("iris").reference == "latest"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not an image reference"),
        (" iris", "not an image reference"),
        ("models/iris:", "gives no tag"),
        ("Models/Iris:v1", "not a valid repository name"),
        ("i:v1", "at least 2 characters"),
        ("iris:-v1", "not a valid image tag"),
        ("iris:v 1", "not a valid image tag"),
        ("iris:" + "a" * 301, "at most 300 characters"),
        ("iris@sha256:abc", "64 hex digits (got 3)"),
        ("iris@" + DIGEST.upper().replace("SHA256", "sha256"), "lowercase"),
        ("iris@md5:" + "a" * 32, "only sha256"),
        ("iris@" + "a" * 64, 'no "sha256:"'),
        ("iris@sha256:" + "g" * 64, "0-9 and a-f"),
        ("iris@", 'no "sha256:"'),
        ("bad_host.local:5000/iris", "not a registry address"),
    ],
)
def test_bad_references_say_which_part_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_image_ref(text, field="image")
    assert message in caught.value.message
    assert caught.value.field == "image"
    assert caught.value.hint


def test_a_reference_with_an_uppercase_repository_hints_the_lowercase_name() -> None:
    with pytest.raises(SpecError) as caught:
        parse_image_ref("Models/Iris:v1")
    assert caught.value.hint == 'repository names are lowercase: write "models/iris"'


def test_tags_up_to_ecrs_limit_are_accepted() -> None:
    assert check_image_tag("a" * 300) == "a" * 300
    with pytest.raises(SpecValueError, match="at most 300"):
        check_image_tag("a" * 301)
    with pytest.raises(SpecValueError, match="must not be empty"):
        check_image_tag("")


def test_a_valid_digest_passes() -> None:
    assert check_digest(DIGEST) == DIGEST
