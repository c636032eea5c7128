"""Model packages: CreateModelPackage's rules beyond botocore's shape, UpdateModelPackage's
changes, and how a model's container that names a package becomes a runnable one.

botocore's model has checked every member's type, enum and pattern before these run;
what it cannot say is which members go together: a package is either versioned (in a
group, ``ModelPackageGroupName``) or not (``ModelPackageName``), only a version has an
approval status, and Dockyard runs a package from its ``InferenceSpecification`` (it
has no algorithm resources). A model made from a package runs the package's first
container, with the request's ``Environment`` over the package's
(:func:`resolve_packages`); finding the package is the caller's part, passed in as a
lookup, so this module stays free of I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import SpecError
from dockyard.spec import aws_model
from dockyard.spec.sagemaker_arns import is_arn, parse_arn

APPROVED = "Approved"
#: a version's status when CreateModelPackage names none (AWS's documented default)
DEFAULT_APPROVAL = "PendingManualApproval"

#: CreateModelPackage members the record keeps itself, so not in its stored request
_OWN_MEMBERS = frozenset(
    {"ModelPackageName", "ModelPackageGroupName", "Tags", "ClientToken", "ModelApprovalStatus"}
)
#: UpdateModelPackage members kept on the record, or merged rather than replaced
_NOT_REPLACED = frozenset(
    {
        "ModelPackageArn",
        "ModelApprovalStatus",
        "ApprovalDescription",
        "CustomerMetadataProperties",
    }
)
#: what an update replaces as a whole: the members it shares with the description
REPLACED_BY_UPDATE = (
    frozenset(aws_model.members("sagemaker", "UpdateModelPackageInput"))
    & frozenset(aws_model.members("sagemaker", "DescribeModelPackageOutput"))
) - _NOT_REPLACED
_MAX_ADDITIONAL = aws_model.limits("sagemaker", "AdditionalInferenceSpecifications").max


def package_key(name: str, version: int | None) -> str:
    """How the store keys package ``name`` (a group's name for a version): ``NAME`` or
    ``GROUP/N``; a name has no ``/``, so the two kinds never collide."""
    return name if version is None else f"{name}/{version}"


@dataclass(frozen=True)
class PackageRef:
    """A package as a request names it: ``NAME``, ``GROUP/N`` or either's ARN.

    ``account`` is the ARN's (None for a bare name); ``name`` is as written, while
    ARNs carry names lower-cased, so a lookup compares without case when the exact
    key is not there."""

    name: str
    version: int | None
    account: str | None = None

    @property
    def key(self) -> str:
        return package_key(self.name, self.version)


def package_ref(text: str) -> PackageRef:
    """Read DescribeModelPackage's / CreateModel's ``ModelPackageName`` (botocore's
    ``VersionedArnOrName``: ``[ARN-PREFIX/]NAME[/VERSION]``)."""
    account = None
    rest = text
    if is_arn(text):
        arn = parse_arn(text)
        if arn is not None:
            account, rest = arn.account, arn.name
    name, slash, version = rest.partition("/")
    if slash and version.isdigit():
        return PackageRef(name, int(version), account)
    return PackageRef(rest, None, account)


def group_ref(text: str) -> tuple[str, str | None]:
    """``(group name, the ARN's account or None)`` of an ``ArnOrName``."""
    if is_arn(text):
        arn = parse_arn(text)
        if arn is not None:
            return arn.name, arn.account
    return text, None


def check_create(doc: Mapping[str, Any]) -> None:
    """Refuse a CreateModelPackage request Dockyard cannot make into a package."""
    named, grouped = doc.get("ModelPackageName"), doc.get("ModelPackageGroupName")
    if (named is None) == (grouped is None):
        raise SpecError(
            "give exactly one of ModelPackageName and ModelPackageGroupName",
            field="ModelPackageName",
            hint="ModelPackageGroupName adds the next version to a group; "
            "ModelPackageName makes a package of its own (unversioned)",
        )
    if named is not None and doc.get("ModelApprovalStatus") is not None:
        raise SpecError(
            "ModelApprovalStatus applies to versioned model packages only",
            field="ModelApprovalStatus",
            hint="drop it, or create the package in a group with ModelPackageGroupName",
        )
    if doc.get("SourceAlgorithmSpecification") is not None:
        raise SpecError(
            "Dockyard has no algorithm resources to make a model package from",
            field="SourceAlgorithmSpecification",
            hint="give InferenceSpecification: the image and model artifact to run",
        )
    check_inference_specification(doc.get("InferenceSpecification"))


def check_inference_specification(spec: Any) -> None:
    """A package's InferenceSpecification: present, and every container names its Image
    (botocore's shape leaves Image optional; a model cannot run without one)."""
    if not isinstance(spec, Mapping):
        raise SpecError(
            "a model package needs an InferenceSpecification",
            field="InferenceSpecification",
            hint='give {"Containers": [{"Image": …, "ModelDataUrl": …}]}: '
            "what a model made from the package runs",
        )
    for index, container in enumerate(spec.get("Containers") or ()):
        if isinstance(container, Mapping) and not container.get("Image"):
            raise SpecError(
                "every container of a model package names its Image",
                field=f"InferenceSpecification.Containers[{index}].Image",
                hint="name the image that serves the model (`dockyard images` lists them)",
            )


def stored_request(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The members of a CreateModelPackage request a package record keeps as given."""
    return {key: value for key, value in doc.items() if key not in _OWN_MEMBERS}


def updated_request(request: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """A package's stored request after UpdateModelPackage ``update``: members it shares
    with the description replaced, ``CustomerMetadataProperties`` merged (and
    ``…ToRemove`` taken out), ``AdditionalInferenceSpecificationsToAdd`` appended."""
    if "InferenceSpecification" in update:
        check_inference_specification(update["InferenceSpecification"])
    new = dict(request)
    for member in REPLACED_BY_UPDATE & update.keys():
        new[member] = update[member]
    metadata = {
        **(request.get("CustomerMetadataProperties") or {}),
        **(update.get("CustomerMetadataProperties") or {}),
    }
    for key in update.get("CustomerMetadataPropertiesToRemove") or ():
        metadata.pop(key, None)
    new.pop("CustomerMetadataProperties", None)
    if metadata:
        new["CustomerMetadataProperties"] = metadata
    added = update.get("AdditionalInferenceSpecificationsToAdd")
    if added:
        specs = [*(request.get("AdditionalInferenceSpecifications") or ()), *added]
        if _MAX_ADDITIONAL is not None and len(specs) > _MAX_ADDITIONAL:
            raise SpecError(
                f"a model package holds at most {int(_MAX_ADDITIONAL)} additional "
                f"inference specifications; this update makes {len(specs)}",
                field="AdditionalInferenceSpecificationsToAdd",
                hint="add fewer, or make a new version with the ones it needs",
            )
        new["AdditionalInferenceSpecifications"] = specs
    return new


PackageLookup = Callable[[str, str], Mapping[str, Any]]
"""``(ModelPackageName as given, the field that named it)`` → the container the package
runs (its InferenceSpecification's first); raises SpecError naming that field when
there is no such package or it may not be deployed."""


def resolve_packages(doc: Mapping[str, Any], lookup: PackageLookup) -> dict[str, Any]:
    """A CreateModel request with every container that names only a ModelPackageName
    made runnable: the package's Image and ModelDataUrl, its Environment under the
    request's. The container keeps ModelPackageName, so DescribeModel says where it
    came from. Containers without a ModelPackageName are left as they are."""
    resolved = dict(doc)
    primary = doc.get("PrimaryContainer")
    if isinstance(primary, Mapping):
        resolved["PrimaryContainer"] = _resolved(primary, "PrimaryContainer", lookup)
    containers = doc.get("Containers")
    if isinstance(containers, list):
        resolved["Containers"] = [
            _resolved(container, f"Containers[{index}]", lookup)
            if isinstance(container, Mapping)
            else container
            for index, container in enumerate(containers)
        ]
    return resolved


def _resolved(container: Mapping[str, Any], where: str, lookup: PackageLookup) -> Any:
    name = container.get("ModelPackageName")
    if not isinstance(name, str):
        return container
    for member in ("Image", "ModelDataUrl"):
        if container.get(member) is not None:
            raise SpecError(
                f"a container that names a ModelPackageName takes its {member} from the package",
                field=f"{where}.{member}",
                hint=f"drop {member}, or drop ModelPackageName and give the image yourself",
            )
    package = lookup(name, f"{where}.ModelPackageName")
    made = dict(container)
    for member in ("Image", "ModelDataUrl"):
        if package.get(member) is not None:
            made[member] = package[member]
    environment = {**(package.get("Environment") or {}), **(container.get("Environment") or {})}
    made.pop("Environment", None)
    if environment:
        made["Environment"] = environment
    return made
