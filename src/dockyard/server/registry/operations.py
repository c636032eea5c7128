"""Repositories and images, as ECR's API has them; shared by the API and the front.

Every function reads and writes records through the store; nothing here talks to
Distribution except where it must know what the registry holds (deleting an image).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dockyard.control.lifecycle import LifecyclePreview, RegistryImage, preview_lifecycle
from dockyard.errors import Conflict, NotFound
from dockyard.ports.store import Store
from dockyard.records.registry import ImageRecord, RepositoryRecord, ScanResult
from dockyard.spec.lifecycle import parse_lifecycle_policy_text
from dockyard.spec.repository import parse_repository

KIND = RepositoryRecord.KIND


class RepositoryNotFound(NotFound):
    code = "RepositoryNotFoundException"


class RepositoryAlreadyExists(Conflict):
    code = "RepositoryAlreadyExistsException"


class RepositoryNotEmpty(Conflict):
    code = "RepositoryNotEmptyException"


class ImageTagAlreadyExists(Conflict):
    code = "ImageTagAlreadyExistsException"


class ImageNotFound(NotFound):
    code = "ImageNotFoundException"


class LifecyclePolicyNotFound(NotFound):
    code = "LifecyclePolicyNotFoundException"


def create_repository(store: Store, request: Mapping[str, Any], now: float) -> RepositoryRecord:
    """CreateRepository: validated, then recorded; a taken name is ECR's error."""
    spec = parse_repository(request)
    name = spec.repository_name
    with store.transaction():
        if store.repositories.get(name) is not None:
            raise RepositoryAlreadyExists(
                f"The repository with name '{name}' already exists",
                resource=f"repository/{name}",
                hint="choose another name, or delete it first (`dockyard repo delete`)",
            )
        record = RepositoryRecord(spec, now)
        store.repositories.put(record)
    store.add_event(KIND, name, f"created ({spec.image_tag_mutability})")
    return record


def repository(store: Store, name: str) -> RepositoryRecord:
    record = store.repositories.get(name)
    if record is None:
        raise RepositoryNotFound(
            f"The repository with name '{name}' does not exist",
            resource=f"repository/{name}",
            hint=f"create it first: `dockyard repo create {name}`",
        )
    return record


def images(store: Store, name: str) -> list[ImageRecord]:
    """The repository's images, newest push first."""
    repository(store, name)
    return sorted(store.images.list(name), key=lambda i: (-i.pushed_at, i.digest))


def image_by_reference(store: Store, name: str, reference: str) -> ImageRecord:
    """An image by tag or digest."""
    for image in images(store, name):
        if image.digest == reference or reference in image.tags:
            return image
    raise ImageNotFound(
        f"The image with reference '{reference}' does not exist in the repository '{name}'",
        resource=f"repository/{name}",
        hint=f"list its images with `dockyard images {name}`",
    )


def check_tag_may_move(store: Store, name: str, tag: str, digest: str | None = None) -> None:
    """Refuse, before anything is stored, to overwrite a tag of an immutable repository.

    Pushing the same tag with the very same manifest again is not an overwrite.
    """
    record = repository(store, name)
    if not record.spec.tag_is_immutable(tag):
        return
    for image in store.images.list(name):
        if tag in image.tags and image.digest != digest:
            raise ImageTagAlreadyExists(
                f"The image tag '{tag}' already exists in the '{name}' repository and "
                "cannot be overwritten because the repository is immutable.",
                resource=f"repository/{name}",
                hint="push under a new tag, or make the repository MUTABLE",
            )


def record_push(
    store: Store,
    name: str,
    *,
    tag: str | None,
    digest: str,
    size: int,
    media_type: str,
    now: float,
) -> ImageRecord:
    """A manifest was stored: record the image, and move ``tag`` onto it.

    A tag lives on one image at a time (it leaves the image it named before). The
    image's scan is queued when the repository scans on push.
    """
    record = repository(store, name)
    with store.transaction():
        for other in store.images.list(name):
            if tag is not None and tag in other.tags and other.digest != digest:
                store.images.put(replace(other, tags=tuple(t for t in other.tags if t != tag)))
        existing = next((i for i in store.images.list(name) if i.digest == digest), None)
        if existing is None:
            queued = ScanResult("PENDING") if record.spec.scan_on_push else None
            image = ImageRecord(name, digest, (), now, size, media_type, queued)
        else:
            image = existing
        if tag is not None and tag not in image.tags:
            image = replace(image, tags=(*image.tags, tag), pushed_at=now)
        store.images.put(image)
    store.add_event(KIND, name, f"pushed {tag or digest} ({digest[:19]})")
    return image


def put_lifecycle_policy(store: Store, name: str, text: str) -> RepositoryRecord:
    """PutLifecyclePolicy: the text is validated in ECR's grammar and kept as given."""
    parse_lifecycle_policy_text(text)
    with store.transaction():
        record = replace(repository(store, name), lifecycle_policy=text)
        store.repositories.put(record)
    store.add_event(KIND, name, "lifecycle policy set")
    return record


def lifecycle_preview(
    store: Store, name: str, now: float, text: str | None = None
) -> LifecyclePreview:
    """What the policy (``text``, or the repository's own) would expire now."""
    record = repository(store, name)
    policy_text = text if text is not None else record.lifecycle_policy
    if policy_text is None:
        raise NotFound(
            f"the repository '{name}' has no lifecycle policy",
            resource=f"repository/{name}",
            hint=f"set one: `dockyard repo lifecycle {name} policy.json`",
        )
    policy = parse_lifecycle_policy_text(policy_text)
    found = [RegistryImage(i.digest, i.tags, i.pushed_at, i.size) for i in store.images.list(name)]
    return preview_lifecycle(policy, found, now)


def delete_lifecycle_policy(store: Store, name: str) -> str:
    """DeleteLifecyclePolicy: the repository keeps its images and loses its policy; the
    policy's text, or NotFound when it had none."""
    with store.transaction():
        record = repository(store, name)
        if record.lifecycle_policy is None:
            raise LifecyclePolicyNotFound(
                f"Lifecycle policy does not exist for the repository with name '{name}'",
                resource=f"repository/{name}",
                hint=f"set one with `dockyard repo lifecycle {name} policy.json`",
            )
        store.repositories.put(replace(record, lifecycle_policy=None))
    store.add_event(KIND, name, "lifecycle policy deleted")
    return record.lifecycle_policy
