"""Image references: split them, check them, and recognise Dockyard's own images.

Docker's grammar, reduced to what a local build needs: ``[host[:port]/]path[:tag][@digest]``
with lower-case path components. A reference without a tag means ``:latest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard import __version__
from dockyard.errors import SpecError
from dockyard.package.frameworks import BASE_REPOSITORY, IMAGE_NAMESPACE, Framework, get_framework

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?/)?"
_REPOSITORY = re.compile(rf"^{_HOST}{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def with_default_tag(self) -> str:
        """The reference as the engine stores it (``:latest`` when no tag was given)."""
        if self.tag or self.digest:
            return str(self)
        return f"{self.repository}:latest"


def split_ref(text: str) -> ImageRef:
    """Split without validating (for references read from a Dockerfile)."""
    rest, _, digest = text.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return ImageRef(rest[:colon], rest[colon + 1 :], digest or None)
    return ImageRef(rest, None, digest or None)


def parse_image_ref(text: str, *, field: str = "tag") -> ImageRef:
    """Validate an image reference a user typed; :class:`SpecError` names ``field``."""
    ref = split_ref(text.strip())
    hint = "use lower-case names like 'iris' or 'team/iris:2' (tags: letters, digits, . _ -)"
    if not ref.repository or not _REPOSITORY.match(ref.repository):
        raise SpecError(f"'{text}' is not a valid image name", field=field, hint=hint)
    if ref.tag is not None and not _TAG.match(ref.tag):
        raise SpecError(f"'{ref.tag}' is not a valid image tag", field=field, hint=hint)
    if ref.digest is not None and not _DIGEST.match(ref.digest):
        raise SpecError(f"'{ref.digest}' is not a valid image digest", field=field, hint=hint)
    return ref


def _strip_docker_hub(repository: str) -> str:
    for prefix in ("docker.io/", "index.docker.io/"):
        if repository.startswith(prefix):
            return repository[len(prefix) :]
    return repository


@dataclass(frozen=True)
class FrameworkImageRef:
    """A reference to a Dockyard framework image, as found in a ``FROM`` line."""

    framework: Framework
    ref: str  # what the engine must hold, tag made explicit
    current: bool  # the tag this Dockyard version builds (so it can build it if missing)
    floating: bool  # no tag or ``latest``: follows whatever this Dockyard builds


def framework_image_ref(
    text: str, *, field: str = "Dockerfile", dockyard_version: str = __version__
) -> FrameworkImageRef | None:
    """Recognise ``dockyard/<framework>[:tag]``; ``None`` for any other image.

    ``dockyard/base`` is the plain base image, not a framework image. Any other name
    under ``dockyard/`` that is not a known framework is a mistake worth stopping on.
    """
    ref = split_ref(text)
    repository = _strip_docker_hub(ref.repository)
    namespace, _, name = repository.partition("/")
    if namespace != IMAGE_NAMESPACE or not name or repository == BASE_REPOSITORY:
        return None
    framework = get_framework(name, field=field)
    current_ref = framework.image_ref(dockyard_version)
    floating = ref.digest is None and ref.tag in (None, "latest")
    if floating:
        return FrameworkImageRef(framework, current_ref, current=True, floating=True)
    explicit = str(ImageRef(framework.repository, ref.tag, ref.digest))
    return FrameworkImageRef(framework, explicit, current=explicit == current_ref, floating=False)
