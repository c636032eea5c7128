"""An image repository, as ECR's ``CreateRepository`` takes it, and the references to images.

The JSON is ECR's request (camelCase). Names, enums and limits are read from botocore's
``ecr`` model: ``repositoryName`` must match ``RepositoryName`` (2-256 characters,
lowercase path components joined by ``/``), ``imageTagMutability`` is one of
``ImageTagMutability`` (MUTABLE, IMMUTABLE and the ``*_WITH_EXCLUSION`` variants, whose
``imageTagMutabilityExclusionFilters`` name the tags that take the opposite setting),
``imageScanningConfiguration.scanOnPush`` is a boolean (default false). Fields Dockyard
does not act on (``tags``, ``encryptionConfiguration``, ``registryId``) are kept as
written.

An image reference is what ``docker push`` takes: ``[registry/]repository[:tag][@digest]``
(``models/iris:v1``, ``models/iris@sha256:…``, ``localhost:5000/models/iris:v1``). The
repository obeys ECR's name rule, a tag ECR's ``ImageTag`` limits and the OCI
distribution tag grammar, a digest is ``sha256:`` and 64 lowercase hex digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from dockyard.errors import SpecError
from dockyard.spec import aws_model
from dockyard.spec.base import SpecModel, validate_document
from dockyard.spec.errors import SpecValueError
from dockyard.spec.fields import Bool, aws_string, count_between, one_of

REPOSITORY_NAME_RULE = (
    "use 2-256 lowercase letters and digits; inside a name, '.', '_', '__' or hyphens "
    "may separate them, and '/' separates namespace parts (e.g. models/iris)"
)
TAG_RULE = (
    "use letters, digits, '_', '.' and '-', starting with a letter, digit or '_' "
    "(e.g. v1, 2024-06-01, latest)"
)
DIGEST_RULE = 'write "sha256:" followed by 64 lowercase hex digits'
WILDCARD = "*"
DEFAULT_TAG = "latest"  # what docker pushes and pulls when a reference names no tag

_TAG_CHARS = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")  # OCI distribution-spec tag
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_REGISTRY = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?")


class EcrModel(SpecModel):
    """An ECR object: camelCase names, as in ECR's API."""

    model_config = ConfigDict(alias_generator=to_camel)
    aws_service: ClassVar[aws_model.Service] = "ecr"


def check_repository_name(value: str) -> str:
    """``value`` if it is a valid ECR repository name; SpecValueError with the rule otherwise."""
    bounds = aws_model.limits("ecr", "RepositoryName")
    regex = aws_model.compiled_pattern("ecr", "RepositoryName")
    if bounds.min is not None and len(value) < bounds.min:
        shown = f'"{value}" is too short' if value else "must not be empty"
        raise SpecValueError(
            f"{shown}: a repository name has at least {int(bounds.min)} characters",
            hint=REPOSITORY_NAME_RULE,
        )
    if bounds.max is not None and len(value) > bounds.max:
        raise SpecValueError(
            f"must be at most {int(bounds.max)} characters (got {len(value)})",
            hint=REPOSITORY_NAME_RULE,
        )
    if regex is not None and not regex.fullmatch(value):
        lower = value.lower()
        if lower != value and regex.fullmatch(lower):
            hint = f'repository names are lowercase: write "{lower}"'
        else:
            hint = REPOSITORY_NAME_RULE
        raise SpecValueError(f'"{value}" is not a valid repository name', hint=hint)
    return value


def check_image_tag(value: str) -> str:
    """``value`` if it is a valid image tag; SpecValueError with the rule otherwise.

    Length is botocore's ``ImageTag`` (1-300); the characters are the OCI distribution
    grammar's, which every registry (and ``docker tag``) enforces.
    """
    bounds = aws_model.limits("ecr", "ImageTag")
    if not value:
        raise SpecValueError("an image tag must not be empty", hint=TAG_RULE)
    if bounds.max is not None and len(value) > bounds.max:
        raise SpecValueError(
            f"an image tag must be at most {int(bounds.max)} characters (got {len(value)})",
            hint="shorten the tag",
        )
    if not _TAG_CHARS.fullmatch(value):
        raise SpecValueError(f'"{value}" is not a valid image tag', hint=TAG_RULE)
    return value


def check_digest(value: str) -> str:
    """``value`` if it is a sha256 content digest; SpecValueError saying what is off otherwise."""
    if _DIGEST.fullmatch(value):
        return value
    algorithm, sep, encoded = value.partition(":")
    if not sep:
        message = f'"{value}" is not a digest (it has no "sha256:" in front)'
    elif algorithm != "sha256":
        message = f'digest algorithm "{algorithm}" is not supported (only sha256)'
    elif len(encoded) != 64:
        message = f"a sha256 digest has 64 hex digits (got {len(encoded)})"
    elif _DIGEST.fullmatch(f"sha256:{encoded.lower()}"):
        message = "the hex digits of a digest are lowercase"
    else:
        message = f'"{value}" is not a sha256 digest (its digits must be 0-9 and a-f)'
    raise SpecValueError(message, hint=DIGEST_RULE)


RepositoryName = Annotated[str, AfterValidator(check_repository_name)]
ImageTag = Annotated[str, AfterValidator(check_image_tag)]
Digest = Annotated[str, AfterValidator(check_digest)]


@cache
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split(WILDCARD)))


def wildcard_match(pattern: str, tag: str) -> bool:
    """Whether ``tag`` matches ``pattern``, where ``*`` stands for any run of characters.

    The whole tag must match: ``prod*`` matches ``prod`` and ``prod-1``, ``*prod*``
    matches ``repo-prod-2``, ``prod`` matches only ``prod`` (ECR's tag filters).
    """
    return _wildcard_regex(pattern).fullmatch(tag) is not None


class ImageScanningConfiguration(EcrModel):
    """Whether images are scanned as they are pushed (ECR's default: no)."""

    aws_shape: ClassVar[str | None] = "ImageScanningConfiguration"
    scan_on_push: Bool = False


class ImageTagMutabilityExclusionFilter(EcrModel):
    """Tags that take the opposite of the repository's mutability (``filterType`` WILDCARD)."""

    aws_shape: ClassVar[str | None] = "ImageTagMutabilityExclusionFilter"
    filter_type: Annotated[str, one_of("ecr", "ImageTagMutabilityExclusionFilterType")]
    filter: Annotated[
        str,
        aws_string(
            "ecr",
            "ImageTagMutabilityExclusionFilterValue",
            rule="use 1-128 letters, digits, '.', '_', '-' and '*' wildcards (e.g. release-*)",
        ),
    ]

    def matches(self, tag: str) -> bool:
        return wildcard_match(self.filter, tag)


_EXCLUSION_SUFFIX = "_WITH_EXCLUSION"


def _list_bounds(shape: str) -> tuple[int | None, int | None]:
    bounds = aws_model.limits("ecr", shape)
    low = None if bounds.min is None else int(bounds.min)
    high = None if bounds.max is None else int(bounds.max)
    return low, high


class RepositorySpec(EcrModel):
    """A CreateRepository request: the fields Dockyard acts on, the rest kept as written."""

    aws_shape: ClassVar[str | None] = "CreateRepositoryRequest"
    output_only: ClassVar[frozenset[str]] = frozenset(
        aws_model.members("ecr", "Repository")
    ) - frozenset(aws_model.members("ecr", "CreateRepositoryRequest"))

    repository_name: RepositoryName
    image_tag_mutability: Annotated[str, one_of("ecr", "ImageTagMutability")] = "MUTABLE"
    image_tag_mutability_exclusion_filters: (
        Annotated[
            tuple[ImageTagMutabilityExclusionFilter, ...],
            count_between(*_list_bounds("ImageTagMutabilityExclusionFilters"), "exclusion filter"),
        ]
        | None
    ) = None
    image_scanning_configuration: ImageScanningConfiguration = Field(
        default_factory=ImageScanningConfiguration
    )

    @model_validator(mode="after")
    def _filters_go_with_exclusion(self) -> RepositorySpec:
        with_exclusion = self.image_tag_mutability.endswith(_EXCLUSION_SUFFIX)
        filters = self.image_tag_mutability_exclusion_filters
        if with_exclusion and not filters:
            raise SpecValueError(
                f"imageTagMutability {self.image_tag_mutability} needs "
                "imageTagMutabilityExclusionFilters",
                hint='add e.g. "imageTagMutabilityExclusionFilters": '
                '[{"filterType": "WILDCARD", "filter": "latest"}]',
                at=("imageTagMutabilityExclusionFilters",),
            )
        if filters and not with_exclusion:
            plain = self.image_tag_mutability
            raise SpecValueError(
                f"exclusion filters only apply to {plain}{_EXCLUSION_SUFFIX}, not to {plain}",
                hint=f'set imageTagMutability to "{plain}{_EXCLUSION_SUFFIX}", or remove '
                "the filters",
                at=("imageTagMutabilityExclusionFilters",),
            )
        return self

    @property
    def scan_on_push(self) -> bool:
        return self.image_scanning_configuration.scan_on_push

    def tag_is_immutable(self, tag: str) -> bool:
        """Whether pushing ``tag`` again must fail (ECR: ImageTagAlreadyExistsException).

        With ``*_WITH_EXCLUSION``, the tags matching an exclusion filter take the
        opposite setting: ``IMMUTABLE_WITH_EXCLUSION`` + ``latest`` keeps ``latest``
        movable while every other tag is fixed.
        """
        base = self.image_tag_mutability.removesuffix(_EXCLUSION_SUFFIX)
        immutable = base == "IMMUTABLE"
        filters = self.image_tag_mutability_exclusion_filters or ()
        if any(item.matches(tag) for item in filters):
            return not immutable
        return immutable


def parse_repository(doc: Mapping[str, Any]) -> RepositorySpec:
    """Validate a user's CreateRepository JSON; raise SpecError naming the field and fix."""
    return validate_document(RepositorySpec, doc, what="repository")


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: ``[registry/]repository[:tag][@digest]``.

    ``tag`` is ``latest`` when neither a tag nor a digest was written (docker's default);
    when both are written the digest is what identifies the image.
    """

    repository: str
    tag: str | None = None
    digest: str | None = None
    registry: str | None = None

    @property
    def reference(self) -> str:
        """What a registry looks the manifest up by: the digest if given, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}" if self.registry else self.repository
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse_image_ref(text: str, *, field: str | None = None) -> ImageRef:
    """``models/iris:v1``, ``models/iris@sha256:…``, ``localhost:5000/models/iris:v1`` → ref.

    Raises :class:`SpecError` (``field`` names where ``text`` came from) that says which
    part is wrong and how to write it.
    """
    try:
        return _parse_image_ref(text)
    except SpecValueError as exc:
        raise SpecError(exc.message, field=field, hint=exc.hint) from None


def _parse_image_ref(text: str) -> ImageRef:
    if not text or text != text.strip():
        raise SpecValueError(
            f"{_quoted(text)} is not an image reference",
            hint="write repository[:tag] or repository@sha256:<digest>, e.g. models/iris:v1",
        )
    name, at, digest = text.partition("@")
    if at:
        check_digest(digest)
    registry, path = _split_registry(name)
    tag: str | None = None
    colon = path.rfind(":")
    if colon > path.rfind("/"):
        path, tag = path[:colon], path[colon + 1 :]
        if not tag:
            raise SpecValueError(
                f'"{text}" ends its name with ":" but gives no tag',
                hint=f'write the tag after ":" (e.g. {path}:v1), or drop the ":"',
            )
        check_image_tag(tag)
    check_repository_name(path)
    if tag is None and not at:
        tag = DEFAULT_TAG
    return ImageRef(repository=path, tag=tag, digest=digest if at else None, registry=registry)


def _split_registry(name: str) -> tuple[str | None, str]:
    """Docker's rule: the first part is a registry if it has a '.' or ':' or is localhost."""
    first, slash, rest = name.partition("/")
    if not slash or not (first == "localhost" or "." in first or ":" in first):
        return None, name
    if not _REGISTRY.fullmatch(first):
        raise SpecValueError(
            f'"{first}" is not a registry address',
            hint="write host[:port] before the first '/', e.g. localhost:5000/models/iris",
        )
    return first, rest


def _quoted(text: str) -> str:
    return f'"{text}"' if text else "an empty string"
