"""Images between the engine and the registry: push, pull, and pulls for deploys.

The daemon moves images with credentials it issues for exactly the repository and
action at hand (push: pull+push on one repository; pull: pull only), so a task or an
endpoint never holds more than it needs. Pushes go through the registry's front like
any client's, so immutable tags hold and the push is recorded there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dockyard.errors import DockyardError, SpecError
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
