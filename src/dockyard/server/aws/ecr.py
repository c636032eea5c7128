"""``ecr`` (JSON 1.1, target prefix ``AmazonEC2ContainerRegistry_V20150921``).

Repositories, images and lifecycle policies are Dockyard's registry
(:mod:`dockyard.server.registry.operations`, :mod:`~dockyard.server.registry.repositories`):
a repository created here is the one ``dockyard repo list`` shows and ``dockyard
push`` fills, and GetAuthorizationToken hands out the same short-lived password as
``dockyard login``. There is one registry, id ``000000000000``; its images are named
``repositoryUri`` = ``127.0.0.1:<registry port>/<name>``.

Errors are ECR's: RepositoryNotFoundException, RepositoryAlreadyExistsException,
RepositoryNotEmptyException, ImageNotFoundException, LifecyclePolicyNotFoundException,
and InvalidParameterException for a request the model or Dockyard's rules refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.records.registry import ImageRecord, RepositoryRecord
from dockyard.server.aws.errors import AwsError, ErrorNames
from dockyard.server.aws.listing import token_page
from dockyard.server.aws.service import ACCOUNT_ID, AwsService, Call, Handler
from dockyard.server.registry import operations, repositories

ERRORS = ErrorNames(
    invalid="InvalidParameterException",
    missing="InvalidParameterException",
    conflict="InvalidParameterException",
    server="ServerException",
)
INVALID = ERRORS.invalid
PAGE = 100  # ECR's default maxResults


def _registry(call: Call) -> None:
    """The one registry: ``registryId``, when given, must be its id."""
    registry_id = call.params.get("registryId")
    if registry_id is not None and registry_id != ACCOUNT_ID:
        raise AwsError(
            INVALID,
            f"registryId {registry_id} is not this registry: Dockyard has one, "
            f"{ACCOUNT_ID} (leave registryId out)",
        )


def _name(call: Call) -> str:
    _registry(call)
    return str(call.params["repositoryName"])


def _repository(call: Call, record: RepositoryRecord) -> dict[str, Any]:
    return {
        **repositories.describe_repository(call.platform, record),
        "repositoryArn": call.arn(f"repository/{record.name}"),
        "registryId": ACCOUNT_ID,
    }


# -- repositories -------------------------------------------------------------------------


def create_repository(call: Call) -> Mapping[str, Any]:
    _registry(call)
    doc = {k: v for k, v in call.params.items() if k != "registryId"}
    record = operations.create_repository(call.platform.store, doc, call.platform.clock())
    call.platform.wake("registry", record.name)
    return {"repository": _repository(call, record)}


def describe_repositories(call: Call) -> Mapping[str, Any]:
    _registry(call)
    store = call.platform.store
    names = call.params.get("repositoryNames")
    if names:
        records = [operations.repository(store, str(name)) for name in names]
    else:
        records = store.repositories.list()
    described = [_repository(call, record) for record in records]
    return token_page(described, call.params, "repositories", default_size=PAGE, invalid=INVALID)


def delete_repository(call: Call) -> Mapping[str, Any]:
    name = _name(call)
    force = bool(call.params.get("force"))
    record = repositories.delete_repository(call.platform, name, force=force)
    return {"repository": _repository(call, record)}


# -- images -------------------------------------------------------------------------------


def _tag_status(image: ImageRecord, wanted: object) -> bool:
    if wanted == "TAGGED":
        return bool(image.tags)
    if wanted == "UNTAGGED":
        return not image.tags
    return True


def _images(call: Call, name: str) -> list[ImageRecord]:
    """The repository's images, newest push first, or those ``imageIds`` names."""
    store = call.platform.store
    ids = call.params.get("imageIds")
    if ids:
        found: list[ImageRecord] = []
        for image_id in ids:
            reference = image_id.get("imageDigest") or image_id.get("imageTag")
            if not reference:
                raise AwsError(INVALID, "an imageId needs an imageDigest or an imageTag")
            image = operations.image_by_reference(store, name, str(reference))
            if image not in found:
                found.append(image)
        return found
    wanted = (call.params.get("filter") or {}).get("tagStatus")
    return [i for i in operations.images(store, name) if _tag_status(i, wanted)]


def describe_images(call: Call) -> Mapping[str, Any]:
    name = _name(call)
    details = [
        {**repositories.describe_image(image), "registryId": ACCOUNT_ID}
        for image in _images(call, name)
    ]
    return token_page(details, call.params, "imageDetails", default_size=PAGE, invalid=INVALID)


def _ids(image: ImageRecord) -> list[dict[str, str]]:
    """ListImages' entries for one image: one per tag, or its digest alone."""
    if not image.tags:
        return [{"imageDigest": image.digest}]
    return [{"imageDigest": image.digest, "imageTag": tag} for tag in image.tags]


def list_images(call: Call) -> Mapping[str, Any]:
    name = _name(call)
    ids = [entry for image in _images(call, name) for entry in _ids(image)]
    return token_page(ids, call.params, "imageIds", default_size=PAGE, invalid=INVALID)


def batch_delete_image(call: Call) -> Mapping[str, Any]:
    """Each image named by digest goes with all its tags; one named by tag goes when
    that is its last tag. Dockyard's registry deletes whole manifests, so a tag of an
    image that has others is answered as a failure that says to name the digest."""
    name = _name(call)
    store = call.platform.store
    operations.repository(store, name)
    deleted: list[dict[str, str]] = []
    failures: list[dict[str, Any]] = []
    for image_id in call.params["imageIds"]:
        digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")

        def fail(code: str, reason: str, image_id: Mapping[str, Any] = image_id) -> None:
            failure = {"imageId": dict(image_id), "failureCode": code, "failureReason": reason}
            failures.append(failure)

        if not digest and not tag:
            fail("MissingDigestAndTag", "Missing request parameters: imageDigest or imageTag")
            continue
        image = next(
            (
                i
                for i in store.images.list(name)
                if ((i.digest == digest) if digest else (tag in i.tags))
            ),
            None,
        )
        if image is None:
            fail("ImageNotFound", "Requested image not found")
            continue
        if digest and tag and tag not in image.tags:
            fail("ImageTagDoesNotMatchDigest", f"Tag {tag} does not name image {digest}")
            continue
        if not digest and len(image.tags) > 1:
            others = ", ".join(t for t in image.tags if t != tag)
            fail(
                "InvalidImageTag",
                f"image {image.digest} also has the tags {others}; Dockyard's registry "
                "deletes whole images: name it by imageDigest to delete it with all its tags",
            )
            continue
        repositories.delete_image(call.platform, image)
        deleted.extend(_ids(image))
    return {"imageIds": deleted, "failures": failures}


# -- scans --------------------------------------------------------------------------------


def _reference(call: Call) -> str:
    image_id = call.params["imageId"]
    reference = image_id.get("imageDigest") or image_id.get("imageTag")
    if not reference:
        raise AwsError(INVALID, "imageId needs an imageDigest or an imageTag")
    return str(reference)


def start_image_scan(call: Call) -> Mapping[str, Any]:
    started = repositories.start_scan(call.platform, _name(call), _reference(call))
    return {**started, "registryId": ACCOUNT_ID}


def describe_image_scan_findings(call: Call) -> Mapping[str, Any]:
    """The scan's findings, one page of them; ScanNotFoundException for an image never
    scanned (as ECR answers)."""
    name, reference = _name(call), _reference(call)
    if operations.image_by_reference(call.platform.store, name, reference).scan is None:
        raise AwsError(
            "ScanNotFoundException",
            f"Image scan does not exist for the image with '{reference}' in the repository "
            f"with name '{name}' (start one with StartImageScan or `dockyard scan`)",
        )
    found = repositories.scan_findings(call.platform, name, reference)
    report = dict(found["imageScanFindings"])
    findings = token_page(
        report.pop("findings"), call.params, "findings", default_size=PAGE, invalid=INVALID
    )
    report["findings"] = findings["findings"]
    answer = {**found, "imageScanFindings": report, "registryId": ACCOUNT_ID}
    if "nextToken" in findings:
        answer["nextToken"] = findings["nextToken"]
    return answer


# -- logins and lifecycle policies ----------------------------------------------------------


def get_authorization_token(call: Call) -> Mapping[str, Any]:
    for registry_id in call.params.get("registryIds") or []:
        if registry_id != ACCOUNT_ID:
            raise AwsError(INVALID, f"registryIds: {registry_id} is not this registry's id")
    return {"authorizationData": [repositories.login(call.platform)]}


def put_lifecycle_policy(call: Call) -> Mapping[str, Any]:
    name = _name(call)
    text = str(call.params["lifecyclePolicyText"])
    operations.put_lifecycle_policy(call.platform.store, name, text)
    call.platform.wake("registry", name)
    return {"registryId": ACCOUNT_ID, "repositoryName": name, "lifecyclePolicyText": text}


def get_lifecycle_policy(call: Call) -> Mapping[str, Any]:
    name = _name(call)
    record = operations.repository(call.platform.store, name)
    if record.lifecycle_policy is None:
        raise AwsError(
            "LifecyclePolicyNotFoundException",
            f"Lifecycle policy does not exist for the repository with name '{name}' "
            f"in the registry with id '{ACCOUNT_ID}'",
        )
    return {
        "registryId": ACCOUNT_ID,
        "repositoryName": name,
        "lifecyclePolicyText": record.lifecycle_policy,
        "lastEvaluatedAt": record.lifecycle_applied_at,
    }


def delete_lifecycle_policy(call: Call) -> Mapping[str, Any]:
    name = _name(call)
    text = operations.delete_lifecycle_policy(call.platform.store, name)
    return {"registryId": ACCOUNT_ID, "repositoryName": name, "lifecyclePolicyText": text}


HANDLERS: dict[str, Handler] = {
    "CreateRepository": create_repository,
    "DescribeRepositories": describe_repositories,
    "DeleteRepository": delete_repository,
    "DescribeImages": describe_images,
    "ListImages": list_images,
    "BatchDeleteImage": batch_delete_image,
    "StartImageScan": start_image_scan,
    "DescribeImageScanFindings": describe_image_scan_findings,
    "GetAuthorizationToken": get_authorization_token,
    "PutLifecyclePolicy": put_lifecycle_policy,
    "GetLifecyclePolicy": get_lifecycle_policy,
    "DeleteLifecyclePolicy": delete_lifecycle_policy,
}

SERVICE = AwsService(name="ecr", arn_namespace="ecr", handlers=HANDLERS, errors=ERRORS)
