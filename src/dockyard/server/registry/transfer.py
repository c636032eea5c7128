"""Images between the engine and the registry: push, pull, and pulls for deploys.

The daemon moves images with credentials it issues for exactly the repository and
action at hand (push: pull+push on one repository; pull: pull only), so a task or an
endpoint never holds more than it needs. Pushes go through the registry's front like
any client's, so immutable tags hold and the push is recorded there.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from dockyard.errors import DockyardError, SpecError
from dockyard.package.dockerfile import LABEL_VERSION
from dockyard.ports.engine import RegistryAuth
from dockyard.server.platform import Platform
from dockyard.server.registry import operations
from dockyard.server.registry.credentials import issue_login
from dockyard.server.registry.handles import RegistryHandles
from dockyard.spec.repository import parse_image_ref

TRANSFER_CREDENTIAL_TTL_S = 15 * 60


def _auth(
    handles: RegistryHandles, repository: str, actions: list[str], now: float
) -> RegistryAuth:
    login = issue_login(
        handles.issuer, {repository: actions}, ttl_s=TRANSFER_CREDENTIAL_TTL_S, now=now
    )
    return RegistryAuth(login.username, login.password)


def push(
    platform: Platform,
    handles: RegistryHandles,
    image: str,
    repository: str,
    tag: str,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Push the engine's ``image`` as ``repository:tag``."""
    operations.repository(platform.store, repository)
    parse_image_ref(f"{repository}:{tag}", field="Tag")
    if platform.engine.image(image) is None:
        raise SpecError(
            f"image {image} is not on this machine",
            field="Image",
            hint="build it first (`dockyard build DIR -t NAME:TAG`), or check `docker images`",
        )
    target = handles.reference(repository, tag)
    platform.engine.tag(image, target)
    started = time.monotonic()
    auth = _auth(handles, repository, ["pull", "push"], platform.clock())
    digest = platform.engine.push(target, auth, progress=say)
    if not digest:  # an engine that does not say (Podman before 4.4): the front's record
        digest = operations.image_by_reference(platform.store, repository, tag).digest
    return {
        "Repository": repository,
        "Tag": tag,
        "Digest": digest,
        "ImageUri": target,
        "Seconds": round(time.monotonic() - started, 2),
    }


def pull(
    platform: Platform,
    handles: RegistryHandles,
    repository: str,
    reference: str,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Pull ``repository:reference`` into the engine; a tag is also kept as
    ``repository:tag`` locally, so ``dockyard deploy --image repository:tag`` finds it."""
    image = operations.image_by_reference(platform.store, repository, reference)
    ref = handles.reference(repository, reference)
    started = time.monotonic()
    say(f"pulling {ref}")
    if not platform.engine.pull(ref, _auth(handles, repository, ["pull"], platform.clock())):
        raise DockyardError(
            f"pulling {ref} failed",
            resource=f"repository/{repository}",
            hint="see the registry's log in STATE_DIR/logs/registry.log",
        )
    if not reference.startswith("sha256:"):
        platform.engine.tag(ref, f"{repository}:{reference}")
    info = platform.engine.image(ref)
    return {
        "ImageUri": ref,
        "Digest": image.digest,
        "ImageId": info.id if info else None,
        "Seconds": round(time.monotonic() - started, 2),
    }


def pull_auth(platform: Platform, ref: str) -> RegistryAuth | None:
    """A pull-only credential for ``ref``'s repository when the image is in Dockyard's
    registry (``127.0.0.1:5000/repo:tag`` or ``@sha256:…``); None for any other image."""
    handles = platform.registry
    if handles is None or not ref.startswith(handles.public_host + "/"):
        return None
    parsed = parse_image_ref(ref.removeprefix(handles.public_host + "/"), field="Image")
    return _auth(handles, parsed.repository, ["pull"], platform.clock())


def ensure_local(platform: Platform, ref: str) -> bool:
    """Make an image of Dockyard's registry present in the engine, pulled with a
    pull-only credential for its repository.

    False for any other reference (the caller says the image is missing).
    """
    auth = pull_auth(platform, ref)
    return auth is not None and platform.engine.pull(ref, auth)


def node_reference(platform: Platform, image: str, field: str, *, made_here: bool = False) -> str:
    """The reference the nodes of a multi-node engine pull ``image`` by: its name and
    digest in Dockyard's registry (``127.0.0.1:5000/repo@sha256:…``).

    An image id, which is what one engine runs endpoints and training hosts by, means
    nothing to another machine's engine. So an image already in Dockyard's registry is
    pinned by its digest there; an image Dockyard made (a framework image, a ``dockyard
    build``; they carry the ``dockyard.version`` label) is pushed there first, under its
    own name (the repository is created when missing); an image named in another
    registry is left to the nodes to pull as named. Any other image is only on this
    machine: refused, naming the push that fixes it. ``made_here``: the caller knows
    Dockyard made the image (its pipeline router), labelled or not.
    """
    handles = platform.registry
    if handles is not None and image.startswith(handles.public_host + "/"):
        own = parse_image_ref(image.removeprefix(handles.public_host + "/"), field=field)
        if own.digest is not None:
            return image
        record = operations.image_by_reference(platform.store, own.repository, own.reference)
        return handles.reference(own.repository, record.digest)
    info = platform.engine.image(image)
    if info is None:
        raise SpecError(
            f"image {image} is not on this machine",
            field=field,
            hint="build it with `dockyard build DIR -t NAME:TAG`, or name an image in "
            "Dockyard's registry (`dockyard images REPOSITORY` shows their URIs)",
        )
    named = image if not image.startswith("sha256:") else (info.tags or [""])[0]
    ref = parse_image_ref(named, field=field) if named else None
    if ref is not None and ref.registry is not None:
        return image  # the nodes pull it from the registry it names
    made = made_here or LABEL_VERSION in info.labels
    if handles is None or ref is None or not made:
        hint = (
            "push it to Dockyard's registry, which every node pulls from: `dockyard repo "
            "create NAME`, `dockyard push NAME:TAG --source "
            f"{image}`, then name the URI it prints"
        )
        if handles is None:
            hint = "start the daemon with its registry (it runs by default), then " + hint
        raise SpecError(
            f"image {image} is only on this machine, and the cluster's nodes pull each "
            "task's image from a registry",
            field=field,
            hint=hint,
        )
    if platform.store.repositories.get(ref.repository) is None:
        with contextlib.suppress(operations.RepositoryAlreadyExists):  # made meanwhile
            operations.create_repository(
                platform.store, {"repositoryName": ref.repository}, platform.clock()
            )
    tag = ref.tag or "latest"
    pushed = push(platform, handles, image, ref.repository, tag, say=lambda _line: None)
    return handles.reference(ref.repository, str(pushed["Digest"]))
